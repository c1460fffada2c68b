"""What goes through the transport: :class:`Request` (ours, cheap to build, since one is
made per attempt), the :class:`Headers` of an answer, where to connect (:class:`Origin`)
and how long to wait (:class:`Timeouts`).

A request's body is ``bytes`` or a :class:`FileBody` (a seekable file sent in chunks from
its position, rewound for every attempt). The transport never changes a request.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import IO, NamedTuple, Protocol
from urllib.parse import urlsplit

__all__ = [
    "CHUNK_SIZE",
    "FileBody",
    "HTTPResponse",
    "Headers",
    "Origin",
    "Request",
    "Timeouts",
]

#: Bytes read from a file body per chunk.
CHUNK_SIZE = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    """Scheme, host and port: what a connection is opened to (and pooled by)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Origin:
        """The origin of an absolute ``http``/``https`` URL (``ValueError`` otherwise)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an absolute http(s) URL: {url!r}")
        return cls(scheme, parts.hostname, parts.port or _DEFAULT_PORTS[scheme])

    @property
    def authority(self) -> str:
        """``host`` or ``host:port`` (the port only when not the scheme's default); an IPv6
        host is bracketed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


class Timeouts(NamedTuple):
    """Seconds to wait (None: no limit): for the TCP connect and TLS handshake, for each
    read of the socket (as boto3), and for each write. There is no pool timeout: a call
    never waits for a pooled connection (beyond the pool's size it opens one more, as
    boto3 does)."""

    connect: float | None = 60.0
    read: float | None = 60.0
    write: float | None = 60.0


class FileBody:
    """``length`` bytes of a seekable binary file from ``start``, sent in chunks; each
    attempt starts again from ``start`` (:meth:`rewind`)."""

    __slots__ = ("_remaining", "chunk_size", "file", "length", "start")

    def __init__(
        self, file: IO[bytes], start: int, length: int, chunk_size: int = CHUNK_SIZE
    ) -> None:
        self.file = file
        self.start = start
        self.length = length
        self.chunk_size = chunk_size
        self._remaining = length

    @property
    def in_memory(self) -> bool:
        """A ``BytesIO``: reading it never blocks (no worker thread needed)."""
        return isinstance(self.file, io.BytesIO)

    def rewind(self) -> None:
        self.file.seek(self.start)
        self._remaining = self.length

    def next_chunk(self) -> bytes:
        """The next chunk (blocking disk I/O), ``b""`` at the end; ``OSError`` if the file
        ended early (it changed while it was being sent)."""
        if self._remaining <= 0:
            return b""
        chunk = self.file.read(min(self.chunk_size, self._remaining))
        if not chunk:
            sent = self.length - self._remaining
            raise OSError(
                f"the body file ended after {sent} of {self.length} bytes; "
                "it changed while it was being sent"
            )
        self._remaining -= len(chunk)
        return chunk

    def __repr__(self) -> str:
        return f"FileBody(length={self.length})"


class Request:
    """One HTTP request as the transport sends it.

    ``target`` is the request target as it goes on the wire (path and query, already
    percent-encoded); ``headers`` are ``(name, value)`` pairs in order, ``Host`` and
    ``Content-Length`` included. ``url`` is the absolute URL, for messages. ``timeouts``
    None: the sender's own (our transports: :class:`Timeouts`' defaults).
    """

    __slots__ = ("body", "headers", "method", "origin", "target", "timeouts", "url")

    def __init__(
        self,
        method: str,
        origin: Origin,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | FileBody = b"",
        timeouts: Timeouts | None = None,
        url: str | None = None,
    ) -> None:
        self.method = method
        self.origin = origin
        self.target = target
        self.headers = headers
        self.body = body
        self.timeouts = timeouts
        self.url = url if url is not None else f"{origin}{target}"

    def __repr__(self) -> str:  # headers may carry secrets: never shown
        return f"<Request {self.method} {self.url}>"


class Headers(dict[str, str]):
    """An answer's headers: lower-case names, repeated fields joined with ``", "`` (as
    ``httpx.Headers.items()`` gives them); lookups ignore case."""

    __slots__ = ()

    @classmethod
    def from_raw(cls, pairs: Sequence[tuple[bytes, bytes]]) -> Headers:
        """From ``(lower-case name, value)`` byte pairs as the connection parsed them."""
        # All decoded in one call, joined by NUL (which the parser never lets into a field)
        flat = b"\0".join(chain.from_iterable(pairs)).decode("latin-1").split("\0")
        if len(flat) == 2 * len(pairs):
            items = iter(flat)
            headers = cls(zip(items, items, strict=True))
            if len(headers) == len(pairs):
                return headers  # no name repeated
        headers = cls()
        get = dict.get
        put = dict.__setitem__
        for raw_name, raw_value in pairs:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            before = get(headers, name)
            put(headers, name, value if before is None else f"{before}, {value}")
        return headers

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __setitem__(self, key: str, value: str) -> None:
        dict.__setitem__(self, key.lower(), value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and dict.__contains__(self, key.lower())

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, key.lower(), default)


class HTTPResponse(Protocol):
    """What the clients' flows read of an answer, whichever sender made it (our transports'
    responses, or an ``httpx.Response`` behind a lent httpx client): the status, the
    headers (looked up by lower-case name), and the body once it was read."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    @property
    def is_closed(self) -> bool: ...

    @property
    def text(self) -> str: ...
