"""The async driver of HTTP/2 (asyncio and trio): one connection shared by concurrent
requests, performing the steps that :mod:`._h2_exchange` decides on the sans-IO
connection (:mod:`._h2`). The bytes go through the same connections as HTTP/1.1
(:mod:`._asyncio`'s protocol or :mod:`._anyio`'s stream).

**Who reads.** There is no reader task: a request that waits for input reads the socket
itself, unless another one is reading already, in which case it waits for that reader's
news (an event set after each read). Whoever reads feeds the connection, which sorts
the frames into their streams, and each waiter looks at its own stream again. When the
reader is done (or cancelled) another waiter takes over. News that does not come from
the socket (:meth:`AsyncH2Connection.notify`) interrupts the reader's read as well.

**Who writes.** One writer at a time writes everything queued (its frames and anyone
else's); a second caller waits for that writer to finish, since it loops until nothing
is left.
A write is shielded from cancellation (bounded by the write timeout): half a frame would
break every stream of the connection.

**Cancellation** of one request resets its stream (RST_STREAM CANCEL, written by the
next writer, at once under asyncio) and leaves the connection to the others; a response
collected unread is reset the same way, at the connection's next step. The pool
(:class:`~._pool.SharedPool`) hands a connection out while it has room for a stream.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, TypeVar, cast

import anyio

from ._async import AsyncConnection, AsyncResponse
from ._exceptions import NetworkError, ReadTimeout, TransportError, WriteTimeout
from ._h1_events import Response
from ._h2 import H2Connection
from ._h2_exchange import NEXT_CHUNK, WRITE, Steps, exchange, read_data
from ._h2_stream import request_headers, retry_on_new_connection
from ._models import FileBody, Request, Timeouts
from ._pool import SharedPool
from ._proxy import route_for

if TYPE_CHECKING:
    from ._async import AsyncTransport

__all__ = [
    "AsyncH2Connection",
    "AsyncH2Response",
    "new_shared_pool",
    "send_http2",
    "send_on",
]

T = TypeVar("T")
_DEFAULT_TIMEOUTS = Timeouts()


class AsyncH2Connection:
    """One byte connection and its HTTP/2 state (a new, initiated
    :class:`~._h2.H2Connection` unless ``core`` is given), shared by its streams."""

    def __init__(self, io: AsyncConnection, core: H2Connection | None = None) -> None:
        self.io = io
        self.origin = io.origin
        if core is None:
            core = H2Connection(str(io.origin))
            core.initiate()
        self.core = core
        self.reused = False
        self._writing = False
        self._changed: anyio.Event | None = None
        # The read under way, if any (its caller is the reader): notify() cancels it.
        self._read_scope: anyio.CancelScope | None = None
        self._abandoned: list[int] = []
        self._retired = False

    def __repr__(self) -> str:
        return f"<AsyncH2Connection {self.origin} streams={self.core.stream_count}>"

    async def run(self, steps: Steps[T], body: FileBody | bytes | None, timeouts: Timeouts) -> T:
        """Perform ``steps`` until they return."""
        value: bytes | None = None
        while True:
            if self._abandoned:
                self._drop_abandoned()
            try:
                step = steps.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value = None
            if step is WRITE:
                await self.write(timeouts.write)
            elif step is NEXT_CHUNK:
                assert isinstance(body, FileBody)
                value = body.next_chunk() if body.in_memory else await self.io.file_chunk(body)
            else:
                await self.wait(step.timeout)

    async def write(self, timeout: float | None) -> None:
        """Write everything queued; a broken connection is given to the core (the steps
        read on for an answer). ``WriteTimeout`` ends the connection for every stream."""
        if self._writing:  # the writer loops until nothing is left, ours included
            changed = self._changed = self._changed or anyio.Event()
            await changed.wait()  # its end (bounded by its write timeout)
            return
        self._writing = True
        try:
            with anyio.CancelScope(shield=True):
                while data := self.core.data_to_send():
                    try:
                        await self.io.send(data, timeout)
                    except WriteTimeout as exc:
                        self.core.receive_error(exc)
                        raise
                    except NetworkError as exc:
                        self.core.receive_write_error(exc)
                        return
        finally:
            self._writing = False
            self._notify()

    async def wait(self, timeout: float | None) -> None:
        """Read once (or, while another caller reads, wait for its news), at most
        ``timeout`` seconds."""
        if self.core.ended:
            return
        if self._read_scope is not None:  # another caller reads: wait for its news
            changed = self._changed = self._changed or anyio.Event()
            with anyio.move_on_after(timeout):
                await changed.wait()
            return
        data: bytes | None = None
        scope = self._read_scope = anyio.CancelScope()
        try:
            with scope:  # cancelled by notify(): the news is not on the socket
                data = await self.io.recv(timeout)
        except ReadTimeout:
            return
        except NetworkError as exc:
            self.core.receive_error(exc)
        else:
            if data is not None:
                self.core.receive_data(data)
        finally:
            self._read_scope = None
            self._notify()

    def notify(self) -> None:
        """Wake whoever waits for news (a state change made outside this connection),
        the reader too: its read is interrupted (no bytes are lost, the socket keeps
        them), so that it looks at the streams again."""
        scope = self._read_scope
        if scope is not None:
            scope.cancel()
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    def write_soon(self) -> None:
        """Write what is queued now if that needs no waiting (asyncio), else leave it to
        the next writer."""
        write = getattr(self.io, "write_nowait", None)
        if write is not None and not self._writing and self.core.wants_write:
            write(self.core.data_to_send())

    def finish(self, sid: int) -> None:
        """A stream's owner is done with it (complete, failed, cancelled, closed)."""
        self.core.forget(sid)
        self.write_soon()
        if self._retired and not self.core.stream_count:
            self.close()

    def abandon_stream(self, sid: int) -> None:
        """From a finalizer: forget ``sid`` at the connection's next step (never in the
        middle of another's, which a collection may interrupt)."""
        self._abandoned.append(sid)

    def _drop_abandoned(self) -> None:
        abandoned, self._abandoned = self._abandoned, []
        for sid in abandoned:
            self.core.forget(sid)

    def alive(self) -> bool:
        """For the pool: take in what arrived while idle (asyncio; a PING, SETTINGS, a
        GOAWAY, the end) and say whether the connection may still take streams."""
        if self._abandoned:
            self._drop_abandoned()
        take = getattr(self.io, "take_buffered", None)
        if take is not None and self._read_scope is None:
            data, eof = take()
            if data:
                self.core.receive_data(data)
            if eof:
                self.core.receive_data(b"")
            self.write_soon()
        return not self._retired and self.core.accepting and self.io.is_open()

    def has_room(self) -> bool:
        return self.core.capacity > 0

    def idle(self) -> bool:
        return not self.core.stream_count

    def retire(self) -> None:
        """Take no more streams; close once the last one is over."""
        self._retired = True
        if not self.core.stream_count:
            self.close()

    def close(self) -> None:
        """Say goodbye (GOAWAY, best effort) and close, without awaiting."""
        self._retired = True
        self.core.close()
        with contextlib.suppress(Exception):
            self.write_soon()
        self.io.close()
        self._notify()


class AsyncH2Response(AsyncResponse):
    """A response on a shared HTTP/2 stream; its API is :class:`~._async.AsyncResponse`'s.
    Finishing, closing or cancelling it ends only its stream."""

    def __init__(
        self,
        transport: AsyncTransport,
        conn: AsyncH2Connection,
        head: Response,
        request: Request,
        sid: int,
    ) -> None:
        # The base's attributes (status, headers, ...); its connection slot stays empty,
        # since every method that would use it is the stream's own here.
        super().__init__(transport, cast(AsyncConnection, None), head, request)
        self._h2: AsyncH2Connection | None = conn
        self._sid = sid

    async def aread_chunk(self) -> bytes | None:
        """The next piece of the body as it arrives, None at its end."""
        conn = self._h2
        if conn is None:
            return None
        timeouts = self.request.timeouts or _DEFAULT_TIMEOUTS
        steps = read_data(conn.core, self._sid, timeouts.read, anyio.current_time)
        try:
            data = await conn.run(steps, None, timeouts)
        except BaseException:  # a cut, a timeout, a cancellation: the stream goes
            self.close()
            raise
        if data is None:
            self.close()
        return data

    def close(self) -> None:
        """Stop reading, without awaiting: the stream is reset if unfinished."""
        self.is_closed = True
        conn, self._h2 = self._h2, None
        if conn is not None:
            conn.finish(self._sid)
            _after_stream(self._transport, conn)

    def __del__(self) -> None:
        conn = self._h2
        if conn is not None:
            conn.abandon_stream(self._sid)


def new_shared_pool(max_idle: int) -> SharedPool[AsyncH2Connection]:
    return SharedPool(
        max_idle,
        AsyncH2Connection.alive,
        AsyncH2Connection.has_room,
        AsyncH2Connection.idle,
        AsyncH2Connection.retire,
    )


async def send_http2(transport: AsyncTransport, request: Request) -> AsyncResponse:
    """``AsyncTransport.send`` of a transport made with ``http2=True``: on a shared
    HTTP/2 connection to the origin with room, else as HTTP/1.1 does (an idle HTTP/1.1
    connection, or a new one, which may turn out HTTP/2: then :func:`send_on`)."""
    if transport._closed:
        raise RuntimeError("the transport is closed")
    conn = transport._shared.take(request.origin)
    if conn is None:
        return await type(transport).send(transport, request)
    return await _send(transport, conn, request)


async def send_on(
    transport: AsyncTransport, io: AsyncConnection, request: Request
) -> AsyncResponse:
    """Send ``request`` on a new connection that negotiated HTTP/2 (it joins the pool)."""
    conn = AsyncH2Connection(io)
    transport._shared.add(conn.origin, conn)
    return await _send(transport, conn, request)


async def _send(
    transport: AsyncTransport, conn: AsyncH2Connection, request: Request
) -> AsyncResponse:
    """``request`` on ``conn``; once more, on a new connection, if the server did not
    process it (:func:`~._h2_stream.retry_on_new_connection`)."""
    try:
        return await _attempt(transport, conn, request)
    except TransportError as exc:
        if not retry_on_new_connection(exc):
            raise
    route = route_for(request.origin, transport._proxies)
    io = await transport._connect(request.origin, route, request.timeouts or _DEFAULT_TIMEOUTS)
    if io.selected_alpn() != "h2":  # HTTP/1.1 now: its own path takes it from the pool
        if not transport._pool.put(io.origin, io):
            io.close()
        return await type(transport).send(transport, request)
    new = AsyncH2Connection(io)
    transport._shared.add(new.origin, new)
    return await _attempt(transport, new, request)


async def _attempt(
    transport: AsyncTransport, conn: AsyncH2Connection, request: Request
) -> AsyncH2Response:
    core = conn.core
    body = request.body
    timeouts = request.timeouts or _DEFAULT_TIMEOUTS
    if isinstance(body, FileBody):
        body.rewind()
    origin = request.origin
    headers = request_headers(
        request.method, origin.scheme, origin.authority, request.target, request.headers
    )
    sid = core.open_stream(headers, end_stream=not body)  # no await since the pool said room
    try:
        if body and not isinstance(body, FileBody):
            core.send_body(sid, body, end=True)
        head = await conn.run(exchange(core, sid, request, anyio.current_time), body, timeouts)
    except BaseException:
        conn.finish(sid)
        _after_stream(transport, conn)
        raise
    conn.reused = True
    return AsyncH2Response(transport, conn, head, request, sid)


def _after_stream(transport: AsyncTransport, conn: AsyncH2Connection) -> None:
    """A stream is over: a connection that can take no more, or is idle beyond the
    pool's limit, leaves the pool (and closes once its streams are over)."""
    keep = not transport._closed and conn.alive()
    if not keep or not transport._shared.release(conn.origin, conn):
        transport._shared.remove(conn)
        conn.retire()
