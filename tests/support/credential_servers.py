"""Loopback HTTP servers playing IMDS, the container endpoint, STS and the SSO portal.

Each server is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port,
served from a daemon thread, and records every request it gets. The "apps" are
small callables from a recorded request to ``(status, headers, body)``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ContainerApp",
    "ImdsApp",
    "LoopbackServer",
    "Recorded",
    "aws_env",
    "SsoApp",
    "StsApp",
    "creds_json",
    "iso",
    "serve",
    "verify_sigv4_with_botocore",
]

Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("ascii")).items()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # read by listen() during __init__


class LoopbackServer:
    """An HTTP server on 127.0.0.1:0 answering with ``app``; ``url`` is its base URL."""

    def __init__(self, app: Callable[[Recorded], Reply]) -> None:
        self.app = app
        self.requests: list[Recorded] = []
        self._guard = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with outer._guard:
                    outer.requests.append(recorded)
                status, headers, payload = outer.app(recorded)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (a timeout test)
                    self.close_connection = True

            do_GET = do_PUT = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def count(self, predicate: Callable[[Recorded], bool] = lambda r: True) -> int:
        with self._guard:
            return sum(1 for r in self.requests if predicate(r))

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serve(app: Callable[[Recorded], Reply]) -> Iterator[LoopbackServer]:
    server = LoopbackServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def creds_json(
    key: str = "ASIAFAKE", expires_in: timedelta | None = timedelta(hours=1), **extra: str
) -> dict[str, str]:
    data = {"AccessKeyId": key, "SecretAccessKey": "SECRET-" + key, "Token": "TOKEN-" + key}
    if expires_in is not None:
        data["Expiration"] = iso(datetime.now(timezone.utc) + expires_in)
    data.update(extra)
    return data


def _json_reply(status: int, data: object) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


CredsFactory = Callable[[], "dict[str, str] | None"]  # None: answer 500


@dataclass
class ImdsApp:
    """IMDS: token PUT, role listing, role credentials. ``credentials()`` per request."""

    credentials: CredsFactory = field(default=lambda: creds_json())
    role: str = "test-role"
    token: str = "imds-token"
    token_status: int = 200
    v1_allowed: bool = True
    delay: float = 0.0

    def __call__(self, r: Recorded) -> Reply:
        path = urlsplit(r.path).path
        if path == "/latest/api/token":
            if r.method != "PUT":
                return 405, {}, b""
            if self.token_status != 200:
                return self.token_status, {}, b""
            if r.headers.get("x-aws-ec2-metadata-token-ttl-seconds") != "21600":
                return 400, {}, b"missing ttl"
            return 200, {}, self.token.encode()
        if "x-aws-ec2-metadata-token" in r.headers:
            if r.headers["x-aws-ec2-metadata-token"] != self.token:
                return 401, {}, b""
        elif not self.v1_allowed:
            return 401, {}, b""
        base = "/latest/meta-data/iam/security-credentials/"
        if path == base:
            return (200, {}, self.role.encode()) if self.role else (404, {}, b"")
        if path == base + self.role:
            if self.delay:
                time.sleep(self.delay)
            data = self.credentials()
            if data is None:
                return 500, {}, b""
            return _json_reply(200, {"Code": "Success", "Type": "AWS-HMAC", **data})
        return 404, {}, b""


@dataclass
class ContainerApp:
    """The ECS/EKS container endpoint at ``path``; checks ``Authorization`` if given."""

    credentials: CredsFactory = field(default=lambda: creds_json())
    path: str = "/v2/credentials"
    authorization: str | None = None
    delay: float = 0.0

    def __call__(self, r: Recorded) -> Reply:
        if urlsplit(r.path).path != self.path:
            return 404, {}, b""
        if self.authorization is not None and r.headers.get("authorization") != self.authorization:
            return _json_reply(403, {"code": "AccessDenied", "message": "bad token"})
        if self.delay:
            time.sleep(self.delay)
        data = self.credentials()
        if data is None:
            return 500, {}, b""
        return _json_reply(200, data)


def verify_sigv4_with_botocore(
    r: Recorded, host: str, secret_for: Mapping[str, tuple[str, str | None]]
) -> str:
    """Recompute the request's SigV4 signature with botocore; return the access key id.

    ``secret_for`` maps access key ids to ``(secret, session_token)``. Raises
    ``AssertionError`` when the signature (or scope, or token header) is wrong.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    auth = r.headers["authorization"]
    algorithm, _, rest = auth.partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256", auth
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    key_id, date, region, service, terminator = parts["Credential"].split("/")
    assert (service, terminator) == ("sts", "aws4_request"), parts["Credential"]
    secret, token = secret_for[key_id]
    assert r.headers.get("x-amz-security-token") == token
    signed = parts["SignedHeaders"].split(";")
    assert "host" in signed
    assert r.headers["x-amz-date"].startswith(date)
    headers = {name: r.headers[name] for name in signed}
    request = AWSRequest(
        method=r.method, url=f"http://{host}{r.path}", data=r.body, headers=headers
    )
    request.context["timestamp"] = r.headers["x-amz-date"]
    signer = SigV4Auth(BotoCredentials(key_id, secret, token), "sts", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    assert parts["Signature"] == expected, "signature does not match botocore's"
    return key_id


_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def _sts_xml(action: str, data: Mapping[str, str]) -> bytes:
    return (
        f'<{action}Response xmlns="{_STS_NS}"><{action}Result><Credentials>'
        f"<AccessKeyId>{data['AccessKeyId']}</AccessKeyId>"
        f"<SecretAccessKey>{data['SecretAccessKey']}</SecretAccessKey>"
        f"<SessionToken>{data['Token']}</SessionToken>"
        f"<Expiration>{data['Expiration']}</Expiration>"
        f"</Credentials></{action}Result></{action}Response>"
    ).encode()


def _sts_error(status: int, code: str, message: str) -> Reply:
    body = (
        f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    ).encode()
    return status, {"Content-Type": "text/xml"}, body


@dataclass
class StsApp:
    """STS AssumeRole (signature checked with botocore) and AssumeRoleWithWebIdentity.

    ``keys`` maps access key ids the server accepts to ``(secret, session_token)``;
    each issued credential is added so chained roles can sign with it.
    """

    keys: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    web_identity_token: str = "jwt-token"
    expires_in: timedelta = timedelta(hours=1)
    error: tuple[int, str, str] | None = None
    issued: int = 0
    host: str = ""  # set by the test: "127.0.0.1:PORT"
    errors: list[str] = field(default_factory=list)

    def __call__(self, r: Recorded) -> Reply:
        if self.error is not None:
            return _sts_error(*self.error)
        form = r.form
        action = form.get("Action", "")
        if form.get("Version") != "2011-06-15" or urlsplit(r.path).path != "/":
            return _sts_error(400, "InvalidAction", "bad version or path")
        if action == "AssumeRole":
            try:
                verify_sigv4_with_botocore(r, self.host, self.keys)
            except (AssertionError, KeyError) as exc:
                self.errors.append(repr(exc))
                return _sts_error(403, "SignatureDoesNotMatch", "signature mismatch")
        elif action == "AssumeRoleWithWebIdentity":
            if "authorization" in r.headers:
                return _sts_error(400, "InvalidRequest", "must be unsigned")
            if form.get("WebIdentityToken") != self.web_identity_token:
                return _sts_error(400, "InvalidIdentityToken", "bad token")
        else:
            return _sts_error(400, "InvalidAction", action)
        self.issued += 1
        key = f"ASIA{'STS' if action == 'AssumeRole' else 'WEB'}{self.issued}"
        data = creds_json(key, self.expires_in)
        self.keys[key] = (data["SecretAccessKey"], data["Token"])
        return 200, {"Content-Type": "text/xml"}, _sts_xml(action, data)


@dataclass
class SsoApp:
    """The SSO portal's GetRoleCredentials."""

    bearer: str = "sso-access-token"
    account_id: str = "123456789012"
    role_name: str = "Dev"

    def __call__(self, r: Recorded) -> Reply:
        if urlsplit(r.path).path != "/federation/credentials":
            return 404, {}, b""
        if r.headers.get("x-amz-sso_bearer_token") != self.bearer:
            return _json_reply(401, {"message": "Session token not found or invalid"})
        query = r.query
        if query.get("account_id") != [self.account_id] or query.get("role_name") != [
            self.role_name
        ]:
            return _json_reply(403, {"message": "No access"})
        expiry = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp() * 1000)
        role = {
            "accessKeyId": "ASIASSO",
            "secretAccessKey": "SECRET-SSO",
            "sessionToken": "TOKEN-SSO",
            "expiration": expiry,
        }
        return _json_reply(200, {"roleCredentials": role})


def aws_env(tmp: Any, config: str = "", credentials: str = "", **extra: str) -> dict[str, str]:
    """An environment with a temporary HOME and config files; IMDS disabled unless overridden.

    Never points at the real ~/.aws.
    """
    from pathlib import Path

    base = Path(tmp)
    home = base / "home"
    home.mkdir(exist_ok=True)
    (base / "config").write_text(config)
    (base / "credentials").write_text(credentials)
    env = {
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(base / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(base / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(extra)
    return env
