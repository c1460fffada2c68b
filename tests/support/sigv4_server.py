"""A loopback SageMaker Runtime stand-in that checks SigV4 with botocore as the oracle.

``SigV4Server`` listens on 127.0.0.1 on an ephemeral port (threads in the test process).
For every request it:

* checks the ``Authorization`` header: botocore's ``SigV4Auth`` recomputes the signature
  over the *signed headers only*, the raw path as received and the received body, for the
  known secret of the access key named in the credential scope;
* checks the request time against the server clock (``clock_offset`` shifts it) and
  answers 403 "Signature expired" / "Signature not yet current" like the service;
* records the request (:class:`Recorded`) and plays the next scripted :class:`Reply`,
  :class:`StreamReply` or :class:`Drop`, else the default echo answer (the body back,
  headers reflected; for the response-stream operation, the body back as two parts).

A :class:`StreamReply` writes an event stream step by step as HTTP chunks, with pauses,
gates (a ``threading.Event`` the test sets) and cuts, so that tests can prove a client
yields a part before the server has sent the next one. :func:`payload_part`,
:func:`stream_exception` and :func:`stream_error` build the events.

Every wait is bounded: delays are capped, and ``close()`` shuts the server down.
"""

from __future__ import annotations

import email.utils
import json
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from runtime_client.eventstream import encode_message

__all__ = [
    "KEYS",
    "Cut",
    "Drop",
    "Recorded",
    "Reply",
    "SigV4Server",
    "StreamReply",
    "payload_part",
    "stream_error",
    "stream_exception",
    "wire_summary",
]

#: access key id -> (secret, session token or None) that the server accepts.
KEYS: dict[str, tuple[str, str | None]] = {
    "AKIDEXAMPLE": ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    "ASIATEMPORARY": ("temporary/secret/key", "session-token-value"),
}
REGION = "us-east-1"
SERVICE = "sagemaker"
MAX_DELAY = 5.0
SKEW_LIMIT = timedelta(minutes=5)


@dataclass(frozen=True)
class Reply:
    """A scripted answer. ``delay`` seconds (capped) pass before the status line."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0

    @staticmethod
    def error(
        status: int,
        code: str,
        message: str,
        extra: dict[str, Any] | None = None,
        *,
        header_code: bool = True,
        request_id: str = "req-err",
    ) -> Reply:
        payload = {"message": message, **(extra or {})}
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        if header_code:
            headers.append(("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/"))
        else:
            payload["__type"] = f"com.amazon.coral#{code}"
        return Reply(status, tuple(headers), json.dumps(payload).encode())


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering (after reading the request)."""


@dataclass(frozen=True)
class Cut:
    """In a :class:`StreamReply`: close the connection here, without the final chunk."""


Step = bytes | float | threading.Event | Cut


@dataclass(frozen=True)
class StreamReply:
    """A chunked answer written step by step.

    ``bytes`` go out as one HTTP chunk (at once); a ``float`` pauses that many seconds and a
    ``threading.Event`` is waited for (both capped at ``MAX_DELAY``); :class:`Cut` closes the
    connection. ``finished`` is set once every step has been played.
    """

    steps: tuple[Step, ...]
    status: int = 200
    headers: tuple[tuple[str, str], ...] = (
        ("Content-Type", "application/vnd.amazon.eventstream"),
        ("x-amzn-RequestId", "req-stream"),
        ("X-Amzn-SageMaker-Content-Type", "text/event-stream"),
        ("x-Amzn-Invoked-Production-Variant", "AllTraffic"),
    )
    finished: threading.Event = field(default_factory=threading.Event, compare=False)


def payload_part(data: bytes) -> bytes:
    """A ``PayloadPart`` event, as SageMaker sends it."""
    headers = {
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    return encode_message(headers, data)


def stream_exception(kind: str, message: str, error_code: str | None = None) -> bytes:
    """A modeled exception event (``ModelStreamError``, ``InternalStreamFailure``)."""
    body: dict[str, str] = {"Message": message}
    if error_code is not None:
        body["ErrorCode"] = error_code
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps(body).encode())


def stream_error(code: str, message: str) -> bytes:
    """An ``error`` message (the code and message travel in headers)."""
    return encode_message(
        {":message-type": "error", ":error-code": code, ":error-message": message}
    )


@dataclass
class Recorded:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    signature_ok: bool
    problem: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


# Headers that legitimately differ between two SDKs (identity, time, per-call ids).
_VOLATILE = {
    "user-agent",
    "x-amz-date",
    "authorization",
    "amz-sdk-invocation-id",
    "accept-encoding",
}
_TTL = re.compile(r"ttl=\d{8}T\d{6}Z")


def wire_summary(requests: list[Recorded]) -> list[Any]:
    """What reached the wire, less what legitimately differs between two SDKs: for
    comparing boto3's requests with ours. (``amz-sdk-request``'s ``ttl=`` is "now + read
    timeout" to the second, so two SDKs running one after the other may differ by one.)"""
    return [
        (
            r.method,
            r.path,
            r.body,
            r.signature_ok,
            sorted(
                (k.lower(), _TTL.sub("ttl=<time>", v))
                for k, v in r.headers
                if k.lower() not in _VOLATILE
            ),
        )
        for r in requests
    ]


def _amz_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def _fmt(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def verify_signature(
    method: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> str | None:
    """``None`` if the request carries a valid SigV4 signature, else what is wrong."""
    lookup = {k.lower(): v for k, v in headers}
    auth = lookup.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no AWS4-HMAC-SHA256 Authorization header"
    fields = dict(
        part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(",")
    )
    akid, date, region, service, terminator = fields["Credential"].split("/")
    if akid not in KEYS:
        return f"unknown access key {akid}"
    amz_date = lookup.get("x-amz-date", "")
    if not amz_date.startswith(date) or region != REGION or service != SERVICE:
        return f"bad scope {date}/{region}/{service} for {amz_date}"
    if terminator != "aws4_request":
        return "bad scope terminator"
    secret, token = KEYS[akid]
    if token is not None and lookup.get("x-amz-security-token") != token:
        return "missing or wrong session token"
    signed = fields["SignedHeaders"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return f"{required} is not signed"
    request = AWSRequest(
        method=method,
        url=f"http://{lookup['host']}{path}",
        headers={name: lookup[name] for name in signed if name in lookup},
        data=body,
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(BotoCredentials(akid, secret, token), SERVICE, REGION)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != fields["Signature"]:
        return f"signature mismatch; canonical request was:\n{canonical}"
    return None


def echo(recorded: Recorded) -> Reply | StreamReply:
    """The default answer: InvokeEndpoint echoes; InvokeEndpointAsync queues;
    InvokeEndpointWithResponseStream streams the body back in two parts."""
    if recorded.path.endswith("/invocations-response-stream"):
        half = len(recorded.body) // 2
        stream_headers = [
            ("Content-Type", "application/vnd.amazon.eventstream"),
            ("x-amzn-RequestId", "req-stream"),
            (
                "X-Amzn-SageMaker-Content-Type",
                recorded.header("X-Amzn-SageMaker-Accept") or "application/octet-stream",
            ),
            (
                "x-Amzn-Invoked-Production-Variant",
                recorded.header("X-Amzn-SageMaker-Target-Variant") or "AllTraffic",
            ),
        ]
        attributes = recorded.header("X-Amzn-SageMaker-Custom-Attributes")
        if attributes is not None:
            stream_headers.append(("X-Amzn-SageMaker-Custom-Attributes", attributes))
        return StreamReply(
            (payload_part(recorded.body[:half]), payload_part(recorded.body[half:])),
            headers=tuple(stream_headers),
        )
    if recorded.path.endswith("/async-invocations"):
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", "req-async"),
            ("X-Amzn-SageMaker-OutputLocation", "s3://bucket/out/1.out"),
            ("X-Amzn-SageMaker-FailureLocation", "s3://bucket/failure/1.out"),
        ]
        inference_id = recorded.header("X-Amzn-SageMaker-Inference-Id") or "generated-id"
        return Reply(202, tuple(headers), json.dumps({"InferenceId": inference_id}).encode())
    headers = [
        ("Content-Type", recorded.header("Accept") or "application/octet-stream"),
        (
            "x-Amzn-Invoked-Production-Variant",
            recorded.header("X-Amzn-SageMaker-Target-Variant") or "AllTraffic",
        ),
        ("x-amzn-RequestId", "req-1"),
    ]
    custom = recorded.header("X-Amzn-SageMaker-Custom-Attributes")
    if custom is not None:
        headers.append(("X-Amzn-SageMaker-Custom-Attributes", custom))
    session = recorded.header("X-Amzn-SageMaker-Session-Id")
    if session == "NEW_SESSION":
        headers.append(("X-Amzn-SageMaker-New-Session-Id", "sess-1; Expires=2030-01-01T00:00:00Z"))
    elif session is not None and session.startswith("close"):
        headers.append(("X-Amzn-SageMaker-Closed-Session-Id", session))
    return Reply(200, tuple(headers), recorded.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        headers = list(self.headers.items())
        owner = self.server.owner
        problem = verify_signature(self.command, self.path, headers, body)
        recorded = Recorded(self.command, self.path, headers, body, problem is None, problem)
        owner._record(recorded)
        now = datetime.now(timezone.utc) + owner.clock_offset
        reply: Reply | StreamReply | Drop
        if problem is not None:
            code = (
                "UnrecognizedClientException"
                if "unknown access key" in problem
                else ("InvalidSignatureException")
            )
            reply = Reply.error(403, code, "The request signature we calculated does not match")
        else:
            sent = _amz_time(recorded.header("x-amz-date") or "")
            if sent < now - SKEW_LIMIT:
                reply = Reply.error(
                    403,
                    "InvalidSignatureException",
                    f"Signature expired: {_fmt(sent)} is now earlier than "
                    f"{_fmt(now - SKEW_LIMIT)} ({_fmt(now)} - 5 min.)",
                )
            elif sent > now + SKEW_LIMIT:
                reply = Reply.error(
                    403,
                    "InvalidSignatureException",
                    f"Signature not yet current: {_fmt(sent)} is still later than "
                    f"{_fmt(now + SKEW_LIMIT)} ({_fmt(now)} + 5 min.)",
                )
            else:
                reply = owner._next_reply(recorded)
        if isinstance(reply, Drop):
            self.close_connection = True
            return
        if isinstance(reply, StreamReply):
            self._stream(reply, now)
            return
        if reply.delay:
            time.sleep(min(reply.delay, MAX_DELAY))
        self.send_response_only(reply.status)
        self.send_header("Date", email.utils.format_datetime(now, usegmt=True))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        try:
            self.wfile.write(reply.body)
        except OSError:  # the client gave up (a read timeout)
            self.close_connection = True

    def _stream(self, reply: StreamReply, now: datetime) -> None:
        self.send_response_only(reply.status)
        self.send_header("Date", email.utils.format_datetime(now, usegmt=True))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for step in reply.steps:
                if isinstance(step, bytes):
                    if step:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(step), step))
                elif isinstance(step, Cut):
                    self.close_connection = True
                    return
                elif isinstance(step, threading.Event):
                    step.wait(MAX_DELAY)
                else:
                    time.sleep(min(step, MAX_DELAY))
            reply.finished.set()  # before the last chunk: the client may see it at once
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client hung up
            self.close_connection = True
        finally:
            reply.finished.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: SigV4Server) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up mid-stream (the tests do it on purpose)
        super().handle_error(request, client_address)


@dataclass
class SigV4Server:
    """Start with ``start()`` (or as a context manager); ``url`` is ``http://127.0.0.1:PORT``."""

    clock_offset: timedelta = timedelta()
    requests: list[Recorded] = field(default_factory=list)
    script: deque[Reply | StreamReply | Drop] = field(default_factory=deque)
    _server: _Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> SigV4Server:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def play(self, *replies: Reply | StreamReply | Drop) -> None:
        with self._lock:
            self.script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.clock_offset = timedelta()

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _next_reply(self, recorded: Recorded) -> Reply | StreamReply | Drop:
        with self._lock:
            if self.script:
                return self.script.popleft()
        return echo(recorded)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SigV4Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
