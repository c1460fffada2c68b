"""Credential sources that talk HTTP, each written once as a sans-IO flow.

Every source here has a ``name`` (botocore's method name, used in messages and logs)
and a ``fetch()`` generator that yields :mod:`._sansio` steps and returns
:class:`sigv4.Credentials`, or raises :class:`CredentialsRetrievalError`. Each request
carries its own timeout (``request.extensions["timeout"]``), so one client of any kind
can drive every flow: IMDS asks for 1 s, the container endpoint for 2 s.

Wire formats:

* IMDSv2: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds: 21600``,
  then ``GET /latest/meta-data/iam/security-credentials/`` (the role name) and
  ``GET .../security-credentials/ROLE`` (JSON: Code, AccessKeyId, SecretAccessKey, Token,
  Expiration), both with ``X-aws-ec2-metadata-token``. Without a token (403/404/405 or a
  timeout on the PUT) the GETs go out without it (IMDSv1) unless v1 is disabled.
* Container: ``GET`` the full URI, ``Authorization: TOKEN`` when a token is configured;
  JSON: AccessKeyId, SecretAccessKey, Token, Expiration.

STS and SSO, which call AWS APIs, live in :mod:`._credentials_sts`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import httpx

from sigv4 import Credentials

from ._credentials_errors import CredentialsConfigError, CredentialsRetrievalError
from ._sansio import Call, Flow, Send, Sleep

__all__ = [
    "Clock",
    "ContainerSource",
    "ImdsSource",
    "Source",
    "StaticSource",
    "credentials_from",
    "describe",
    "json_body",
    "parse_timestamp",
    "read_text",
    "request_timeout",
    "send_with_retries",
    "utcnow",
    "validate_container_uri",
]

Clock = Callable[[], datetime]

IMDS_TOKEN_TTL = "21600"
IMDS_ROLE_PATH = "/latest/meta-data/iam/security-credentials/"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Source(Protocol):
    """Something that can be asked, again and again, for fresh credentials."""

    @property
    def name(self) -> str: ...

    def fetch(self) -> Flow[Credentials]: ...


@dataclass
class StaticSource:
    """Credentials already known (from a file or the environment)."""

    name: str
    credentials: Credentials

    def fetch(self) -> Flow[Credentials]:
        yield from ()  # a flow with no steps
        return self.credentials


# --- small helpers --------------------------------------------------------------------


def read_text(path: str) -> str:
    """Read a whole text file (blocking: always yielded through ``Call``)."""
    with open(path, encoding="utf-8") as f:
        return f.read()


def parse_timestamp(value: object, source: str, what: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z``, offsets, ``UTC`` suffix) or epoch milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith("UTC"):
            text = text[:-3] + "+00:00"
        elif text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        if "." in text:  # Python 3.10 accepts only 3 or 6 fractional digits
            head, _, tail = text.partition(".")
            digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
            text = head + "." + (digits + "000000")[:6] + tail[len(digits) :]
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise CredentialsRetrievalError(source, f"{what} is not a valid timestamp")


def request_timeout(seconds: float) -> dict[str, Any]:
    return {"timeout": httpx.Timeout(seconds).as_dict()}


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def credentials_from(source: str, data: object, keys: tuple[str, str, str, str]) -> Credentials:
    """Build credentials from a decoded JSON object, naming only missing *keys*."""
    if not isinstance(data, Mapping):
        raise CredentialsRetrievalError(source, "response is not a JSON object")
    key_id, secret, token, expiry = keys
    for required in (key_id, secret):
        if not isinstance(data.get(required), str) or not data[required]:
            raise CredentialsRetrievalError(source, f"response has no {required}")
    session_token = data.get(token)
    expiration = data.get(expiry)
    return Credentials(
        access_key_id=data[key_id],
        secret_access_key=data[secret],
        session_token=session_token if isinstance(session_token, str) else None,
        expiration=None
        if expiration in (None, "")
        else parse_timestamp(expiration, source, expiry),
    )


def json_body(source: str, response: httpx.Response) -> object:
    try:
        return json.loads(response.content)
    except ValueError:  # never echo the body: it may hold a secret
        raise CredentialsRetrievalError(source, "response is not valid JSON") from None


def send_with_retries(
    build: Callable[[], httpx.Request],
    source: str,
    *,
    attempts: int,
    delay: float,
    retry: Callable[[httpx.Response], bool],
) -> Flow[httpx.Response]:
    """Send with up to ``attempts`` tries, retrying transport errors and ``retry(response)``."""
    problem = ""
    for attempt in range(attempts):
        if attempt and delay > 0:
            yield Sleep(delay * 2 ** (attempt - 1))
        request = build()
        try:
            response: httpx.Response = yield Send(request)
        except httpx.TransportError as exc:
            problem = (
                f"{request.method} {request.url.copy_with(query=None)} failed: {describe(exc)}"
            )
            continue
        if attempt + 1 < attempts and retry(response):
            problem = f"HTTP {response.status_code}"
            continue
        return response
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    raise CredentialsRetrievalError(source, f"{problem} (after {tries})")


# --- EC2 instance metadata (IMDS) -------------------------------------------------------


@dataclass
class ImdsSource:
    """The instance profile's role credentials from IMDS (botocore ``iam-role``)."""

    endpoint: str = "http://169.254.169.254"
    v1_disabled: bool = False
    timeout: float = 1.0
    attempts: int = 1
    name: str = "iam-role"

    def _url(self, path: str) -> str:
        return self.endpoint.rstrip("/") + path

    def fetch(self) -> Flow[Credentials]:
        token = yield from self._token()
        role_response = yield from self._get(IMDS_ROLE_PATH, token)
        if role_response.status_code == 404:
            raise CredentialsRetrievalError(self.name, "no IAM role is attached to this instance")
        self._check(role_response, "the role name")
        lines = role_response.text.strip().splitlines()
        if not lines:
            raise CredentialsRetrievalError(self.name, "IMDS returned an empty role name")
        response = yield from self._get(IMDS_ROLE_PATH + lines[0].strip(), token)
        self._check(response, "the role credentials")
        data = json_body(self.name, response)
        if isinstance(data, Mapping) and data.get("Code", "Success") != "Success":
            raise CredentialsRetrievalError(self.name, f"IMDS answered Code={data['Code']!r}")
        return credentials_from(
            self.name, data, ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
        )

    def _token(self) -> Flow[str | None]:
        def build() -> httpx.Request:
            return httpx.Request(
                "PUT",
                self._url("/latest/api/token"),
                headers={"x-aws-ec2-metadata-token-ttl-seconds": IMDS_TOKEN_TTL},
                extensions=request_timeout(self.timeout),
            )

        try:
            response = yield from send_with_retries(
                build,
                self.name,
                attempts=self.attempts,
                delay=0.0,
                retry=lambda r: r.status_code >= 500,
            )
        except CredentialsRetrievalError as exc:
            if self.v1_disabled:
                raise CredentialsRetrievalError(
                    self.name, f"cannot get an IMDSv2 token and IMDSv1 is disabled: {exc.problem}"
                ) from None
            return None
        if response.status_code == 200 and response.text.strip():
            return response.text.strip()
        if response.status_code == 400:
            raise CredentialsRetrievalError(self.name, "IMDS rejected the token request (HTTP 400)")
        if self.v1_disabled:
            raise CredentialsRetrievalError(
                self.name,
                f"IMDS token request answered HTTP {response.status_code} and IMDSv1 is disabled",
            )
        return None  # 403/404/405 and friends: fall back to IMDSv1

    def _get(self, path: str, token: str | None) -> Flow[httpx.Response]:
        headers = {"x-aws-ec2-metadata-token": token} if token else {}

        def build() -> httpx.Request:
            return httpx.Request(
                "GET", self._url(path), headers=headers, extensions=request_timeout(self.timeout)
            )

        return (
            yield from send_with_retries(
                build,
                self.name,
                attempts=self.attempts,
                delay=0.0,
                retry=lambda r: r.status_code >= 500,
            )
        )

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code != 200:
            raise CredentialsRetrievalError(
                self.name, f"IMDS answered HTTP {response.status_code} for {what}"
            )


# --- container credentials (ECS, EKS Pod Identity) ---------------------------------------


@dataclass
class ContainerSource:
    """Credentials from the container endpoint (botocore ``container-role``).

    The token file, when set, is read again on every fetch (EKS rotates it).
    """

    url: str
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    timeout: float = 2.0
    attempts: int = 3
    retry_delay: float = 1.0
    name: str = "container-role"

    def fetch(self) -> Flow[Credentials]:
        token = self.token
        if self.token_file is not None:
            try:
                token = yield Call(read_text, (self.token_file,))
            except OSError as exc:
                raise CredentialsRetrievalError(
                    self.name,
                    f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {self.token_file!r}: "
                    f"{type(exc).__name__}",
                ) from None
        headers = {"Accept": "application/json"}
        if token is not None:
            if "\r" in token or "\n" in token:
                raise CredentialsConfigError(
                    "the container authorization token contains CR or LF, "
                    "which is not allowed in a header value"
                )
            headers["Authorization"] = token

        def build() -> httpx.Request:
            return httpx.Request(
                "GET", self.url, headers=headers, extensions=request_timeout(self.timeout)
            )

        response = yield from send_with_retries(
            build,
            self.name,
            attempts=self.attempts,
            delay=self.retry_delay,
            retry=lambda r: r.status_code != 200,
        )
        if response.status_code != 200:
            raise CredentialsRetrievalError(
                self.name,
                f"container endpoint answered HTTP {response.status_code} "
                f"(after {self.attempts} attempts)",
            )
        return credentials_from(
            self.name,
            json_body(self.name, response),
            ("AccessKeyId", "SecretAccessKey", "Token", "Expiration"),
        )


def validate_container_uri(uri: str) -> str:
    """Allow https anywhere, http only to loopback or the ECS/EKS link-local hosts."""
    import ipaddress

    try:
        url = httpx.URL(uri)
    except httpx.InvalidURL:
        raise CredentialsConfigError(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid URL"
        ) from None
    if url.scheme == "https":
        return uri
    if url.scheme != "http":
        raise CredentialsConfigError(
            f"AWS_CONTAINER_CREDENTIALS_FULL_URI must use http or https, not {url.scheme!r}"
        )
    host = url.host.strip("[]").lower()
    allowed = {"localhost", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"}
    if host in allowed:
        return uri
    try:
        if ipaddress.ip_address(host).is_loopback:
            return uri
    except ValueError:
        pass
    raise CredentialsConfigError(
        f"AWS_CONTAINER_CREDENTIALS_FULL_URI host {host!r} is not allowed over http: use https, "
        "a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23"
    )
