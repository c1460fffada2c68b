"""The blocking driver of HTTP/2: a socket under the sans-IO connection (:mod:`._h2`),
performing the steps that :mod:`._h2_exchange` decides.

**One stream at a time per connection.** A blocking caller waits on one answer at a
time, and multiplexing several on one socket would take a thread to read for the others;
so an HTTP/2 connection is checked out by its response exactly as an HTTP/1.1 one is,
and goes back to the pool (its idle list) when the response is complete, or is closed
when the response is dropped unread. Requests reuse it one after another; threads that
send at once use connections of their own. (The async driver shares one connection
between concurrent requests.)

Reading and writing interleave: the socket is non-blocking and ``select`` says which
way it can go, so that while a body (or a bidirectional stream's input) goes out, what
the server sends is taken in, and neither side can block the other.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from typing import TYPE_CHECKING, TypeVar, cast

from ._exceptions import NetworkError, TransportError, WriteTimeout
from ._h1_events import Response
from ._h2 import H2Connection
from ._h2_exchange import NEXT_CHUNK, WRITE, Steps, exchange, read_data
from ._h2_stream import request_headers, retry_on_new_connection
from ._models import FileBody, Origin, Request, Timeouts
from ._proxy import route_for
from ._sync import SyncConnection, SyncResponse

if TYPE_CHECKING:
    from ._sync import SyncTransport

__all__ = ["SyncH2Connection", "SyncH2Response", "send_http2", "send_on"]

T = TypeVar("T")
_READ_SIZE = 65536
_WRITE_SIZE = 256 * 1024
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
_DEFAULT_TIMEOUTS = Timeouts()


class SyncH2Connection:
    """One socket and its HTTP/2 state (a new :class:`~._h2.H2Connection`, initiated,
    unless ``core`` is given). The socket is made non-blocking."""

    __slots__ = ("_out", "core", "origin", "reused", "sock")

    def __init__(self, sock: socket.socket, origin: Origin, core: H2Connection | None = None):
        sock.setblocking(False)
        self.sock = sock
        self.origin = origin
        if core is None:
            core = H2Connection(str(origin))
            core.initiate()
        self.core = core
        self.reused = False
        self._out = bytearray()

    def __repr__(self) -> str:
        return f"<SyncH2Connection {self.origin}>"

    def run(self, steps: Steps[T], body: FileBody | bytes | None, timeouts: Timeouts) -> T:
        """Perform ``steps`` until they return."""
        value: bytes | None = None
        while True:
            try:
                step = steps.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = None
            if step is WRITE:
                self.write(timeouts.write)
            elif step is NEXT_CHUNK:
                assert isinstance(body, FileBody)
                value = body.next_chunk()
            else:
                self.wait(step.timeout)

    def write(self, timeout: float | None) -> None:
        """Write what the connection has queued, reading whatever arrives meanwhile. A
        broken connection is given to the core (the steps read on for an answer);
        ``WriteTimeout`` when the server takes nothing for ``timeout`` seconds."""
        core = self.core
        out = self._out
        out += core.data_to_send()
        deadline = None if timeout is None else time.monotonic() + timeout
        while out and not core.ended:  # bounded: each turn moves bytes, or time passes
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                out.clear()
                error = WriteTimeout(f"{self.origin} took nothing for {timeout} s")
                core.receive_error(error)
                raise error
            readable, writable = self._ready(left, write=True)
            if readable:
                self._read_once()
                out += core.data_to_send()
            if writable and out:
                try:
                    sent = self.sock.send(out[:_WRITE_SIZE])
                except _WOULD_BLOCK:
                    continue
                except OSError as exc:
                    out.clear()
                    broken = NetworkError(f"writing to {self.origin} failed: {exc}")
                    core.receive_write_error(broken)
                    return
                del out[:sent]
                if deadline is not None and sent:
                    deadline = time.monotonic() + timeout  # type: ignore[operator]
        if core.ended:
            out.clear()

    def wait(self, timeout: float | None) -> None:
        """Read once, waiting at most ``timeout`` seconds for bytes."""
        if self.core.ended:
            return
        readable, _ = self._ready(timeout, write=False)
        if readable:
            self._read_once()

    def _ready(self, timeout: float | None, *, write: bool) -> tuple[bool, bool]:
        sock = self.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True, False
        try:
            readable, writable, _ = select.select([sock], [sock] if write else [], [], timeout)
        except (OSError, ValueError) as exc:  # closed under us
            self.core.receive_error(NetworkError(f"the connection to {self.origin} broke: {exc}"))
            return False, False
        return bool(readable), bool(writable)

    def _read_once(self) -> None:
        try:
            data = self.sock.recv(_READ_SIZE)
        except _WOULD_BLOCK:
            return
        except ssl.SSLZeroReturnError:
            data = b""
        except OSError as exc:
            self.core.receive_error(NetworkError(f"reading from {self.origin} failed: {exc}"))
            return
        self.core.receive_data(data)

    def write_nowait(self) -> None:
        """Write what is queued as far as the socket takes it now (best effort)."""
        self._out += self.core.data_to_send()
        if self._out:
            with contextlib.suppress(*_WOULD_BLOCK, OSError):
                del self._out[: self.sock.send(self._out)]

    def alive(self) -> bool:
        """For the pool: take in what arrived while idle (a PING, SETTINGS, a GOAWAY, the
        end) and say whether a new stream may go on it."""
        for _ in range(16):  # bounded: an idle connection gets a few frames at most
            if self.core.ended or not self._ready(0, write=False)[0]:
                break
            self._read_once()
        self.write_nowait()
        return self.core.accepting and not self._out

    def close(self) -> None:
        """Say goodbye (GOAWAY, best effort) and close the socket."""
        self.core.close()
        self.write_nowait()
        with contextlib.suppress(OSError):
            self.sock.close()

    def abandon(self) -> None:
        """In a forked child: let the parent's socket go without a word to the server."""
        with contextlib.suppress(OSError):
            socket.close(self.sock.detach())


class SyncH2Response(SyncResponse):
    """A response on an HTTP/2 stream; its API is :class:`~._sync.SyncResponse`'s. It
    owns its connection until the body is complete (then the connection goes back to
    the pool) or it is closed (the stream is reset and the connection goes back too) or
    collected unread (the connection is closed)."""

    def __init__(
        self,
        transport: SyncTransport,
        conn: SyncH2Connection,
        head: Response,
        request: Request,
        sid: int,
    ) -> None:
        # The base's attributes (status, headers, ...); its connection slot stays empty,
        # since every method that would use it is the stream's own here.
        super().__init__(transport, cast(SyncConnection, None), head, request)
        self._h2: SyncH2Connection | None = conn
        self._sid = sid
        self._timeouts = request.timeouts or _DEFAULT_TIMEOUTS

    def read_chunk(self) -> bytes | None:
        """The next piece of the body, None at its end (the connection then goes back)."""
        conn = self._h2
        if conn is None:
            return None
        timeouts = self._timeouts
        try:
            data = conn.run(
                read_data(conn.core, self._sid, timeouts.read, time.monotonic), None, timeouts
            )
        except BaseException:
            self.close()
            raise
        if data is None:
            self._h2 = None
            self.is_closed = True
            conn.core.forget(self._sid)
            _release(self._transport, conn)
        return data

    def close(self) -> None:
        """Stop reading: the stream is reset, the connection kept if it is sound."""
        self.is_closed = True
        conn, self._h2 = self._h2, None
        if conn is not None:
            conn.core.reset(self._sid)
            _release(self._transport, conn)

    def __del__(self) -> None:
        conn = self._h2
        if conn is not None:
            conn.close()


def send_http2(transport: SyncTransport, request: Request) -> SyncResponse:
    """``SyncTransport.send`` of a transport made with ``http2=True``: on an idle HTTP/2
    connection to the origin if there is one, else as HTTP/1.1 does (an idle HTTP/1.1
    connection, or a new one, which may turn out HTTP/2: then :func:`send_on`)."""
    conn = transport._h2_pool.take(request.origin)
    if conn is None:
        return type(transport).send(transport, request)
    return send_on(transport, conn, request)


def send_on(transport: SyncTransport, conn: SyncH2Connection, request: Request) -> SyncResponse:
    """Send ``request`` on ``conn``; once more, on a new connection, if the server did not
    process it (:func:`~._h2_stream.retry_on_new_connection`)."""
    try:
        return _attempt(transport, conn, request)
    except TransportError as exc:
        if not retry_on_new_connection(exc):
            raise
    route = route_for(request.origin, transport._proxies)
    new = transport._connect(request.origin, route, request.timeouts or _DEFAULT_TIMEOUTS)
    if isinstance(new, SyncConnection):  # HTTP/1.1 now: its own path takes it from the pool
        if not transport._pool.put(new.origin, new):
            new.close()
        return type(transport).send(transport, request)
    return _attempt(transport, new, request)


def _attempt(transport: SyncTransport, conn: SyncH2Connection, request: Request) -> SyncResponse:
    core = conn.core
    body = request.body
    timeouts = request.timeouts or _DEFAULT_TIMEOUTS
    if isinstance(body, FileBody):
        body.rewind()
    origin = request.origin
    headers = request_headers(
        request.method, origin.scheme, origin.authority, request.target, request.headers
    )
    sid = 0
    try:
        sid = core.open_stream(headers, end_stream=not body)
        if body and not isinstance(body, FileBody):
            core.send_body(sid, body, end=True)
        head = conn.run(exchange(core, sid, request, time.monotonic), body, timeouts)
    except TransportError:
        if sid:
            core.forget(sid)
        _release(transport, conn)
        raise
    except BaseException:
        conn.close()
        raise
    conn.reused = True
    return SyncH2Response(transport, conn, head, request, sid)


def _release(transport: SyncTransport, conn: SyncH2Connection) -> None:
    """After a stream: back to the idle pool if it can carry another, else closed."""
    conn.write_nowait()
    core = conn.core
    usable = not transport._closed and core.accepting and not core.ended
    if not usable or not transport._h2_pool.put(conn.origin, conn):
        conn.close()
