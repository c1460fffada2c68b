"""The blocking driver: sockets, no threads. It performs what the sans-IO core decides
(:mod:`._exchange` for one request, :mod:`._pool` for reuse, :mod:`._h1` for the bytes).

:class:`SyncTransport` sends a :class:`~._models.Request` and returns a :class:`SyncResponse`
as soon as its head is in; the body is read from the socket as the response is iterated.
The response owns its connection until the body is complete (then the connection goes back
to the pool, if it may be reused) or the response is closed or collected (then the
connection is closed: a half-read answer cannot be resumed by anyone else).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from ._exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ProxyError,
    ReadTimeout,
    TLSError,
    TransportError,
    WriteTimeout,
)
from ._exchange import NEXT_CHUNK, READ, Exchange, exchange, retry_on_new_connection, reusable
from ._h1 import NEED_DATA, Data, H1Connection, Response
from ._idle import IdleCheck
from ._models import FileBody, Headers, Origin, Request, Timeouts
from ._pool import Pool
from ._proxy import ProxyRoute, connect_request, parse_connect_reply, route_for
from ._tls import TLSSettings, is_ssl_error, is_tls, tls_closed

if TYPE_CHECKING:
    from ._sync_h2 import SyncH2Connection

__all__ = ["SyncConnection", "SyncResponse", "SyncTransport", "open_socket"]

_READ_SIZE = 65536
_WRITE_SIZE = 256 * 1024
SocketOption = tuple[int, int, int]
_DEFAULT_TIMEOUTS = Timeouts()


class SyncConnection:
    """One socket and its HTTP/1.1 state. ``reused`` is True once it served a request."""

    __slots__ = ("_idle", "h1", "origin", "reused", "sock", "tls")

    def __init__(self, sock: socket.socket, origin: Origin) -> None:
        self.sock = sock
        self.origin = origin
        self.h1 = H1Connection()
        self.reused = False
        self.tls = is_tls(sock)
        self._idle = IdleCheck(sock)

    def recv(self, timeout: float | None) -> bytes:
        sock = self.sock
        sock.settimeout(timeout)
        try:
            return sock.recv(_READ_SIZE)
        except TimeoutError:
            raise ReadTimeout(f"{self.origin} sent nothing for {timeout} s") from None
        except OSError as exc:  # ssl.SSLError is an OSError
            if self.tls and tls_closed(exc):
                return b""
            raise NetworkError(f"reading from {self.origin} failed: {exc}") from exc

    def send(self, data: bytes, timeout: float | None) -> None:
        sock = self.sock
        sock.settimeout(timeout)
        view = memoryview(data)
        sent = 0
        try:
            while sent < len(view):  # bounded: each send takes >= 1 byte or raises
                sent += sock.send(view[sent : sent + _WRITE_SIZE])
        except TimeoutError:
            error: TransportError = WriteTimeout(f"{self.origin} took nothing for {timeout} s")
            raise error from None
        except OSError as exc:
            broken = NetworkError(f"writing to {self.origin} failed: {exc}")
            broken.bytes_sent = sent  # type: ignore[attr-defined]
            raise broken from exc

    def alive(self) -> bool:
        """Still open and quiet: a pooled connection that the server closed (or that has
        unsolicited bytes) reads as ready, and is dropped."""
        sock = self.sock
        if self.tls and sock.pending():  # type: ignore[attr-defined]
            return False
        return self._idle.quiet()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _run(
    steps: Exchange, conn: SyncConnection, body: FileBody | bytes, timeouts: Timeouts
) -> Response:
    """Perform an exchange's steps on ``conn``."""
    value: bytes | None = None  # a generator starts with None
    error: TransportError | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(value)  # type: ignore[arg-type]
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        error = None
        if step is READ:
            try:
                value = conn.recv(timeouts.read)
            except TransportError as exc:
                error = exc  # after a failed write, the write error stands: the exchange decides
        elif step is NEXT_CHUNK:
            assert isinstance(body, FileBody)
            value = body.next_chunk()
        else:
            assert isinstance(step, bytes)
            try:
                conn.send(step, timeouts.write)
            except NetworkError as exc:
                error = exc  # an early answer may be waiting: the exchange decides
            value = b""


class SyncResponse:
    """A response whose body is read from the socket on demand; the API the clients use is
    the one of ``httpx.Response``: ``status_code``, ``headers``, ``read()``/``content``,
    ``iter_raw()``, ``close()``, ``is_closed``."""

    def __init__(
        self, transport: SyncTransport, conn: SyncConnection, head: Response, request: Request
    ) -> None:
        self.status_code = head.status_code
        self.headers = Headers.from_raw(head.headers)
        self._head = head
        self.raw_headers = head.headers  # (lower-case name, value) pairs, repeats apart
        self.request = request
        self._transport = transport
        self._conn: SyncConnection | None = conn
        self._content: bytes | None = None
        self._read_timeout = (request.timeouts or _DEFAULT_TIMEOUTS).read
        self.is_closed = False

    def __repr__(self) -> str:
        return f"<SyncResponse [{self.status_code}] {self.request.url}>"

    @property
    def reason_phrase(self) -> str:
        return self._head.reason.decode("latin-1")

    @property
    def http_version(self) -> str:
        return "HTTP/" + self._head.http_version.decode("ascii")

    def read_chunk(self) -> bytes | None:
        """The next piece of the body, None at its end (the connection then goes back)."""
        conn = self._conn
        if conn is None:
            return None
        h1 = conn.h1
        try:
            while True:  # bounded by the socket timeouts and the server's bytes
                event = h1.next_event()
                if event is NEED_DATA:
                    h1.receive_data(conn.recv(self._read_timeout))
                elif type(event) is Data:
                    if h1.body_complete:  # its last byte: the end follows without a read,
                        h1.next_event()  # and the connection goes back now (so reading
                        self._finish(conn)  # exactly its length frees it, as urllib3 does)
                    return event.data
                else:  # EndOfMessage
                    self._finish(conn)
                    return None
        except BaseException:
            self.close()
            raise

    def _finish(self, conn: SyncConnection) -> None:
        """The body ended: the connection goes back to the pool (or is closed)."""
        self._conn = None
        self.is_closed = True
        self._transport._release(conn)

    def iter_raw(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body as it arrives (never decompressed)."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        while (chunk := self.read_chunk()) is not None:
            yield chunk

    iter_bytes = iter_raw

    def read(self) -> bytes:
        if self._content is None:
            chunks = []
            while (chunk := self.read_chunk()) is not None:
                chunks.append(chunk)
            self._content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._content

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("the body has not been read (call read() first)")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def close(self) -> None:
        """Stop reading: an unfinished body closes its connection."""
        self.is_closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> SyncResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # an unread answer holds its connection only until collected
        conn = self._conn
        if conn is not None:
            conn.close()


class SyncTransport:
    """Sends requests over pooled HTTP/1.1 connections, blocking.

    ``max_idle`` connections per origin are kept for reuse (more may be open at once: a
    call never waits for one). ``tls`` verifies servers (its context is built on the first
    TLS connection). ``proxies`` as in :func:`._proxy.route_for`. ``socket_options`` are
    set on every new socket (``TCP_NODELAY`` always is).

    ``http2=True``: TLS connections offer ALPN ``h2`` and ``http/1.1`` and speak what
    the server picks (:mod:`._sync_h2` for HTTP/2, one request at a time per connection);
    plain ``http`` stays HTTP/1.1. Without it (the default, as boto3) nothing of HTTP/2
    is loaded or looked at.
    """

    def __init__(
        self,
        *,
        max_idle: int = 10,
        tls: TLSSettings | None = None,
        proxies: Mapping[str, str] | None = None,
        socket_options: Sequence[SocketOption] = (),
        http2: bool = False,
    ) -> None:
        self._tls = tls if tls is not None else TLSSettings()
        self._proxies = dict(proxies) if proxies else None
        self._socket_options = tuple(socket_options)
        self._pool: Pool[SyncConnection] = Pool(
            max_idle, SyncConnection.alive, SyncConnection.close, _abandon
        )
        self._closed = False
        self._http2 = http2
        if http2:
            from ._sync_h2 import SyncH2Connection, send_http2

            self._tls = self._tls.with_alpn(("h2", "http/1.1"))
            self._h2_pool: Pool[SyncH2Connection] = Pool(
                max_idle, SyncH2Connection.alive, SyncH2Connection.close, SyncH2Connection.abandon
            )
            # Chosen once here, so that the HTTP/1.1 path below never asks.
            self.send = functools.partial(send_http2, self)  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"<SyncTransport idle={self._pool.idle_count()}>"

    def send(self, request: Request) -> SyncResponse:
        """Send ``request``; return once the response head is in (see the module docstring)."""
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts = request.timeouts or _DEFAULT_TIMEOUTS
        route = route_for(request.origin, self._proxies)
        forward = route if route is not None and not route.tunnel else None
        body = request.body
        conn = self._pool.take(request.origin)
        while True:  # at most twice: a reused connection that broke before any byte
            if conn is None:
                new = self._connect(request.origin, route, timeouts)
                if not isinstance(new, SyncConnection):  # the server picked HTTP/2
                    from ._sync_h2 import send_on

                    return send_on(self, new, request)
                conn = new
            if isinstance(body, FileBody):
                body.rewind()
            try:
                head = _run(exchange(conn.h1, request, forward), conn, body, timeouts)
            except TransportError as exc:
                conn.close()
                if retry_on_new_connection(exc, conn.reused):
                    conn = None
                    continue
                exc.connection_reused = conn.reused  # for the caller's retry rule
                raise
            except BaseException:
                conn.close()
                raise
            conn.reused = True
            return SyncResponse(self, conn, head, request)

    def _release(self, conn: SyncConnection) -> None:
        if self._closed or not reusable(conn.h1) or not self._pool.put(conn.origin, conn):
            conn.close()

    def _connect(
        self, origin: Origin, route: ProxyRoute | None, timeouts: Timeouts
    ) -> SyncConnection | SyncH2Connection:
        sock = open_socket(origin, route, self._tls, timeouts, self._socket_options)
        if (
            self._http2 and is_tls(sock) and sock.selected_alpn_protocol() == "h2"  # type: ignore[attr-defined]
        ):
            from ._sync_h2 import SyncH2Connection

            return SyncH2Connection(sock, origin)
        return SyncConnection(sock, origin)

    def close(self) -> None:
        """Close the idle connections; responses still open keep theirs until closed."""
        self._closed = True
        for conn in self._pool.clear():
            conn.close()
        if self._http2:
            for h2conn in self._h2_pool.clear():
                h2conn.close()

    def __enter__(self) -> SyncTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_socket(
    origin: Origin,
    route: ProxyRoute | None,
    tls: TLSSettings,
    timeouts: Timeouts,
    socket_options: Sequence[SocketOption] = (),
) -> socket.socket:
    """A connected socket to ``origin`` (through ``route``'s proxy: a tunnel for https),
    with ``TCP_NODELAY`` and ``socket_options`` set, TLS (``tls``) for https; blocking,
    with the connect timeout set. Raises ``ConnectError``, ``ConnectTimeout`` or
    ``ProxyError``."""
    peer = route.proxy if route is not None else origin
    timeout = timeouts.connect
    try:
        sock = socket.create_connection((peer.host, peer.port), timeout=timeout)
    except TimeoutError:
        raise ConnectTimeout(f"connecting to {peer} timed out after {timeout} s") from None
    except OSError as exc:
        raise ConnectError(f"could not connect to {peer}: {_reason(exc)}") from exc
    try:
        _configure(sock, socket_options)
        if route is not None and route.proxy.scheme == "https":
            sock = _wrap(sock, route.proxy.host, TLSSettings(), timeout)
        if route is not None and route.tunnel:
            _open_tunnel(sock, origin, route, timeout)
        if origin.scheme == "https":
            sock = _wrap(sock, origin.host, tls, timeout)
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()
        raise
    return sock


def _configure(sock: socket.socket, socket_options: Sequence[SocketOption]) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for level, option, value in socket_options:
        sock.setsockopt(level, option, value)


def _wrap(sock: socket.socket, host: str, tls: TLSSettings, timeout: float | None) -> socket.socket:
    import ssl  # a TLS connection: the context imports it anyway

    sock.settimeout(timeout)
    try:
        return tls.context().wrap_socket(sock, server_hostname=host)
    except TimeoutError:
        raise ConnectTimeout(f"the TLS handshake with {host} timed out after {timeout} s") from None
    except ssl.SSLCertVerificationError as exc:
        raise TLSError(
            f"the certificate of {host} was refused ({exc.reason}): {exc.verify_message}"
        ) from exc
    except ssl.SSLError as exc:
        raise TLSError(f"the TLS handshake with {host} failed: {_reason(exc)}") from exc
    except OSError as exc:  # the connection broke during the handshake
        raise ConnectError(f"the TLS handshake with {host} failed: {_reason(exc)}") from exc


def _open_tunnel(
    sock: socket.socket, origin: Origin, route: ProxyRoute, timeout: float | None
) -> None:
    sock.settimeout(timeout)
    try:
        sock.sendall(connect_request(origin, route.authorization))
        reply = bytearray()
        # A plain socket gives up exactly the answer: a server that speaks first (HTTP/2
        # with prior knowledge sends its SETTINGS) may follow it in the same segment.
        exact = not is_tls(sock)
        while (parsed := parse_connect_reply(reply, route.proxy)) is None:
            data = sock.recv(_READ_SIZE, socket.MSG_PEEK) if exact else sock.recv(_READ_SIZE)
            if not data:
                raise ProxyError(f"the proxy {route.proxy} closed the connection during CONNECT")
            if exact:
                end = (bytes(reply[-3:]) + data).find(b"\r\n\r\n")
                data = sock.recv(len(data) if end < 0 else end + 4 - min(len(reply), 3))
            reply += data
    except TimeoutError:
        raise ConnectTimeout(
            f"the proxy {route.proxy} did not open the tunnel in {timeout} s"
        ) from None
    except OSError as exc:
        raise ProxyError(f"the tunnel through {route.proxy} failed: {_reason(exc)}") from exc
    if parsed[1]:
        raise ProxyError(f"the proxy {route.proxy} sent bytes after its answer to CONNECT")


def _abandon(conn: SyncConnection) -> None:
    """In a forked child: release the parent's socket without a word to the server."""
    with contextlib.suppress(OSError):
        fd = conn.sock.detach()
        socket.close(fd)


def _reason(exc: BaseException) -> str:
    # An SSLError's errno is an OpenSSL error code (1 is not EPERM): its text says it all
    if (
        isinstance(exc, OSError)
        and exc.errno is not None
        and exc.strerror
        and not is_ssl_error(exc)
    ):
        return f"{exc.strerror} ({errno.errorcode.get(exc.errno, exc.errno)})"
    return str(exc) or type(exc).__name__
