"""What every credential source is, and the helpers the sources share.

A *source* has a ``name`` (botocore's method name, used in messages and logs) and a
``fetch()`` generator that yields :mod:`runtime_client._flow` steps and returns
:class:`sigv4.Credentials`, or raises :class:`CredentialsRetrievalError`. The sources are
in :mod:`._local` (environment, files, processes), :mod:`._metadata` (IMDS, container),
:mod:`._sts` (STS, SSO); the order they are tried in is :mod:`._chain`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Protocol
from urllib.parse import urlsplit

from sigv4 import Credentials
from sigv4._record import record

from .._flow import Flow, Send, Sleep
from ..http._exceptions import TransportError
from ..http._models import HTTPResponse, Origin, Request, Timeouts
from ._errors import CredentialsRetrievalError

__all__ = [
    "Clock",
    "Source",
    "StaticSource",
    "credentials_from",
    "describe",
    "json_body",
    "parse_timestamp",
    "read_text",
    "write_private_text",
    "http_request",
    "send_with_retries",
    "utcnow",
]

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Source(Protocol):
    """Something that can be asked, again and again, for fresh credentials."""

    @property
    def name(self) -> str: ...

    def fetch(self) -> Flow[Credentials]: ...


@record
class StaticSource:
    """Credentials already known (from a file or the environment)."""

    name: str
    credentials: Credentials

    def fetch(self) -> Flow[Credentials]:
        yield from ()  # a flow with no steps
        return self.credentials


def read_text(path: str) -> str:
    """Read a whole text file (blocking: always yielded through ``Call``)."""
    with open(path, encoding="utf-8") as f:
        return f.read()


def write_private_text(path: str, text: str) -> None:
    """Replace a text file whole (a temporary file beside it, then a rename: a reader never
    sees half of it), readable by its owner only. Blocking: always yielded through ``Call``."""
    import os
    import tempfile

    folder = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


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


def http_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    timeout: float,
) -> Request:
    """A request of a credential source to ``url`` (query included), with ``Host`` and
    ``Content-Length`` set and ``timeout`` for connecting, each read and each write."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    pairs = [("Host", parts.netloc.rpartition("@")[2]), *(headers or {}).items()]
    if body or method in ("POST", "PUT"):
        pairs.append(("Content-Length", str(len(body))))
    return Request(
        method,
        Origin.from_url(url),
        target,
        pairs,
        body,
        Timeouts(timeout, timeout, timeout),
        f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}",
    )


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


def json_body(source: str, response: HTTPResponse) -> object:
    import json  # here: most processes' credentials are not fetched (cold start)

    try:
        return json.loads(response.content)
    except ValueError:  # never echo the body: it may hold a secret
        raise CredentialsRetrievalError(source, "response is not valid JSON") from None


def send_with_retries(
    build: Callable[[], Request],
    source: str,
    *,
    attempts: int,
    delay: float,
    retry: Callable[[HTTPResponse], bool],
) -> Flow[HTTPResponse]:
    """Send with up to ``attempts`` tries, retrying transport errors and ``retry(response)``."""
    problem = ""
    for attempt in range(attempts):
        if attempt and delay > 0:
            yield Sleep(delay * 2 ** (attempt - 1))
        request = build()
        try:
            response: HTTPResponse = yield Send(request)
        except TransportError as exc:
            problem = f"{request.method} {request.url} failed: {describe(exc)}"  # no query
            continue
        if attempt + 1 < attempts and retry(response):
            problem = f"HTTP {response.status_code}"
            continue
        return response
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    raise CredentialsRetrievalError(source, f"{problem} (after {tries})")
