"""The async driver, for asyncio and trio. It performs what the sans-IO core decides
(:mod:`._exchange` for one request, :mod:`._pool` for reuse, :mod:`._h1` for the bytes),
as the blocking driver does; only the waiting differs.

Two kinds of connection serve it: under asyncio a ``Protocol`` on the event loop's own
transport (:mod:`._asyncio`: no stream layer, no task per connection), under any other
library an anyio byte stream (:mod:`._anyio`, which is how trio is served). Both offer
the same four operations: ``recv``, ``send``, ``alive``, ``close``.

Cancellation is safe at every await: nothing the pool keeps is touched between awaits,
and closing a connection never awaits. A call cancelled while it sends or reads its head
closes its connection; a response cancelled while its body is read closes it too; an
unread response closes it when collected. The pool only ever sees connections whose
exchange is complete.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from ._exceptions import NetworkError, TransportError
from ._exchange import NEXT_CHUNK, READ, Exchange, exchange, retry_on_new_connection, reusable
from ._h1 import NEED_DATA, Data, H1Connection, Response
from ._models import FileBody, Headers, Origin, Request, Timeouts
from ._pool import Pool, SharedPool
from ._proxy import ProxyRoute, route_for
from ._tls import TLSSettings

if TYPE_CHECKING:
    from ._async_h2 import AsyncH2Connection

__all__ = ["AsyncConnection", "AsyncResponse", "AsyncTransport", "open_connection"]

SocketOption = tuple[int, int, int]
_DEFAULT_TIMEOUTS = Timeouts()


class AsyncConnection(Protocol):
    """What the driver needs of a connection, whichever library runs it."""

    h1: H1Connection
    origin: Origin
    reused: bool

    async def recv(self, timeout: float | None) -> bytes: ...

    async def send(self, data: bytes, timeout: float | None) -> None: ...

    async def file_chunk(self, body: FileBody) -> bytes: ...

    def alive(self) -> bool: ...

    def is_open(self) -> bool:
        """Not closed (bytes may be waiting: HTTP/2 reads them; ``alive`` says False)."""

    def selected_alpn(self) -> str | None:
        """The protocol TLS agreed on (``"h2"``, ``"http/1.1"``), None without TLS."""

    def close(self) -> None: ...


async def _run(
    steps: Exchange, conn: AsyncConnection, body: FileBody | bytes, timeouts: Timeouts
) -> Response:
    """Perform an exchange's steps on ``conn`` (the blocking driver's ``_run``, awaited)."""
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
                value = await conn.recv(timeouts.read)
            except TransportError as exc:
                error = exc  # after a failed write, the write error stands: the exchange decides
        elif step is NEXT_CHUNK:
            assert isinstance(body, FileBody)
            value = body.next_chunk() if body.in_memory else await conn.file_chunk(body)
        else:
            assert isinstance(step, bytes)
            try:
                await conn.send(step, timeouts.write)
            except NetworkError as exc:
                error = exc  # an early answer may be waiting: the exchange decides
            value = b""


class AsyncResponse:
    """A response whose body is read on demand; the API the clients use is the one of
    ``httpx.Response``'s async side: ``status_code``, ``headers``, ``aread()``/``content``,
    ``aiter_raw()``, ``aclose()``, ``is_closed``."""

    def __init__(
        self, transport: AsyncTransport, conn: AsyncConnection, head: Response, request: Request
    ) -> None:
        self.status_code = head.status_code
        self.headers = Headers.from_raw(head.headers)
        self._head = head
        self.raw_headers = head.headers  # (lower-case name, value) pairs, repeats apart
        self.request = request
        self._transport = transport
        self._conn: AsyncConnection | None = conn
        self._content: bytes | None = None
        self.is_closed = False

    def __repr__(self) -> str:
        return f"<AsyncResponse [{self.status_code}] {self.request.url}>"

    @property
    def reason_phrase(self) -> str:
        return self._head.reason.decode("latin-1")

    @property
    def http_version(self) -> str:
        return "HTTP/" + self._head.http_version.decode("ascii")

    async def aread_chunk(self) -> bytes | None:
        """The next piece of the body as it arrives, None at its end (the connection then
        goes back to the pool)."""
        conn = self._conn
        if conn is None:
            return None
        h1 = conn.h1
        timeout = (self.request.timeouts or _DEFAULT_TIMEOUTS).read
        try:
            while True:  # bounded by the read timeout and the server's bytes
                event = h1.next_event()
                if event is NEED_DATA:
                    h1.receive_data(await conn.recv(timeout))
                elif type(event) is Data:
                    if h1.body_complete:  # its last byte: the end follows without a read,
                        h1.next_event()  # and the connection goes back now (so reading
                        self._finish(conn)  # exactly its length frees it, as urllib3 does)
                    return event.data
                else:  # EndOfMessage
                    self._finish(conn)
                    return None
        except BaseException:  # a cut, a timeout, a cancellation: the connection goes
            self.close()
            raise

    def _finish(self, conn: AsyncConnection) -> None:
        """The body ended: the connection goes back to the pool (or is closed)."""
        self._conn = None
        self.is_closed = True
        self._transport._release(conn)

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body as it arrives (never decompressed)."""
        if self._content is not None:
            if self._content:
                yield self._content
            return
        while (chunk := await self.aread_chunk()) is not None:
            yield chunk

    aiter_bytes = aiter_raw

    async def aread(self) -> bytes:
        if self._content is None:
            chunks = []
            while (chunk := await self.aread_chunk()) is not None:
                chunks.append(chunk)
            self._content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._content

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("the body has not been read (await aread() first)")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def close(self) -> None:
        """Stop reading, without awaiting: an unfinished body closes its connection."""
        self.is_closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def aclose(self) -> None:
        self.close()

    def __del__(self) -> None:  # an unread answer holds its connection only until collected
        conn = self._conn
        if conn is not None:
            conn.close()


class AsyncTransport:
    """Sends requests over pooled HTTP/1.1 connections, under asyncio or trio; the
    options are those of :class:`~._sync.SyncTransport`. A transport may serve several
    event loops in turn: a pooled connection is only reused on the loop that made it.

    ``http2=True``: TLS connections offer ALPN ``h2`` and ``http/1.1``; an HTTP/2
    connection is shared by the concurrent requests to its origin (:mod:`._async_h2`).
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
        self._pool: Pool[AsyncConnection] = Pool(max_idle, _alive, _close, _abandon)
        self._closed = False
        self._http2 = http2
        if http2:
            from ._async_h2 import new_shared_pool, send_http2

            self._tls = self._tls.with_alpn(("h2", "http/1.1"))
            self._shared: SharedPool[AsyncH2Connection] = new_shared_pool(max_idle)
            # Chosen once here, so that the HTTP/1.1 path below never asks.
            self.send = functools.partial(send_http2, self)  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"<AsyncTransport idle={self._pool.idle_count()}>"

    async def send(self, request: Request) -> AsyncResponse:
        """Send ``request``; return once the response head is in."""
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts = request.timeouts or _DEFAULT_TIMEOUTS
        route = route_for(request.origin, self._proxies)
        forward = route if route is not None and not route.tunnel else None
        body = request.body
        conn = self._pool.take(request.origin)
        while True:  # at most twice: a reused connection that broke before any byte
            if conn is None:
                conn = await self._connect(request.origin, route, timeouts)
                if self._http2 and conn.selected_alpn() == "h2":
                    from ._async_h2 import send_on

                    return await send_on(self, conn, request)
            if isinstance(body, FileBody):
                body.rewind()
            try:
                head = await _run(exchange(conn.h1, request, forward), conn, body, timeouts)
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
            return AsyncResponse(self, conn, head, request)

    def _release(self, conn: AsyncConnection) -> None:
        if self._closed or not reusable(conn.h1) or not self._pool.put(conn.origin, conn):
            conn.close()

    async def _connect(
        self, origin: Origin, route: ProxyRoute | None, timeouts: Timeouts
    ) -> AsyncConnection:
        return await open_connection(origin, route, self._tls, timeouts, self._socket_options)

    def close(self) -> None:
        """Close the idle connections (without awaiting); responses still open keep theirs
        until they are closed (a shared HTTP/2 connection closes after its last one)."""
        self._closed = True
        for conn in self._pool.clear():
            conn.close()
        if self._http2:
            for shared in self._shared.clear():
                shared.retire()

    async def aclose(self) -> None:
        self.close()


async def open_connection(
    origin: Origin,
    route: ProxyRoute | None,
    tls: TLSSettings,
    timeouts: Timeouts,
    socket_options: Sequence[SocketOption] = (),
) -> AsyncConnection:
    """A new connection to ``origin`` (through ``route``'s proxy), TLS if https: an
    asyncio protocol under asyncio, an anyio stream otherwise."""
    import sniffio

    if sniffio.current_async_library() == "asyncio":
        from ._asyncio import open_connection as open_asyncio

        return await open_asyncio(origin, route, tls, timeouts, socket_options)
    from ._anyio import open_connection as open_anyio

    return await open_anyio(origin, route, tls, timeouts, socket_options)


def _alive(conn: AsyncConnection) -> bool:
    return conn.alive()


def _close(conn: AsyncConnection) -> None:
    conn.close()


def _abandon(conn: AsyncConnection) -> None:
    abandon = getattr(conn, "abandon", None)
    if abandon is not None:
        abandon()
