"""The asyncio fast path: a connection is an ``asyncio.Protocol`` on the loop's transport.

Received bytes wait in a queue until the HTTP/1.1 state machine asks for them; past
``_HIGH_WATER`` queued bytes the transport stops reading (the server is held back by TCP)
and resumes below ``_LOW_WATER``, so an answer nobody reads costs a bounded amount of
memory. Writes go into the transport's buffer; a writer waits only while the transport
has paused writing (a large body to a slow server). Each wait is bounded by its timeout
(a write wait has its own timer; reads share one timer per connection, moved on lazily,
as most reads end long before it), and closing never awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Sequence
from typing import cast

from ._exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ProxyError,
    ReadTimeout,
    TLSError,
    WriteTimeout,
)
from ._h1 import H1Connection
from ._idle import IdleCheck
from ._models import FileBody, Origin, Timeouts
from ._proxy import ProxyRoute, connect_request, parse_connect_reply
from ._tls import TLSSettings

__all__ = ["AsyncioConnection", "open_connection"]

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024
SocketOption = tuple[int, int, int]


def _expire(waiter: asyncio.Future[None], error: type[BaseException], message: str) -> None:
    if not waiter.done():
        waiter.set_exception(error(message))


class AsyncioConnection(asyncio.Protocol):
    """One connection: the protocol asyncio calls back, and what the driver awaits."""

    def __init__(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.origin = origin
        self.loop = loop
        self.h1 = H1Connection()
        self.reused = False
        self.transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._queued = 0
        self._reading_paused = False
        self._eof = False
        self._lost: BaseException | None = None
        self._gone = False  # connection_lost came
        self._on_lost: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._write_paused = False
        self._idle: IdleCheck | None = None
        # The read timeout: one timer per connection, moved on lazily (see _check_deadline)
        self._deadline = 0.0
        self._read_timeout = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and self._idle is None:  # once: start_tls makes it again
            self._idle = IdleCheck(sock)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._queued += len(data)
        if self._queued > _HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport: a half-closed HTTP/1.1 connection is done

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc
        self._gone = True
        self._wake()
        on_lost = self._on_lost
        if on_lost is not None and not on_lost.done():
            on_lost.set_result(None)
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)

    def _check_deadline(self) -> None:
        """The read timer fired: a wait past its deadline fails; one whose deadline moved
        on (a later wait) gets the timer again, at that deadline."""
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self.loop.time() >= self._deadline:
            message = f"{self.origin} sent nothing for {self._read_timeout} s"
            _expire(waiter, ReadTimeout, message)
        else:
            self._timer = self.loop.call_at(self._deadline, self._check_deadline)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------ the driver's side

    async def recv(self, timeout: float | None) -> bytes:
        while not self._chunks:  # bounded: each wait ends with data, EOF or the timeout
            if self._eof:
                if self._lost is not None:
                    raise NetworkError(f"reading from {self.origin} failed: {self._lost}")
                return b""
            waiter = self._waiter = self.loop.create_future()
            if timeout is not None:
                # Not a timer per wait: the connection's one timer, if due later than this
                # deadline, is brought forward; else it moves on when it fires.
                deadline = self._deadline = self.loop.time() + timeout
                self._read_timeout = timeout
                timer = self._timer
                if timer is None or timer.when() > deadline:
                    if timer is not None:
                        timer.cancel()
                    self._timer = self.loop.call_at(deadline, self._check_deadline)
            try:
                await waiter
            finally:
                self._waiter = None
        data = self._chunks.popleft()
        self._queued -= len(data)
        if self._reading_paused and self._queued < _LOW_WATER and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def send(self, data: bytes, timeout: float | None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self._eof:
            lost = await self._why_closed()  # a TLS alert that came before the request
            broken = NetworkError(
                f"{self.origin} closed the connection"
                if lost is None
                else f"writing to {self.origin} failed: {lost}"
            )
            broken.bytes_sent = 0  # type: ignore[attr-defined]
            raise broken
        transport.write(data)
        if self._write_paused:
            await self._drain(timeout)

    async def _why_closed(self) -> BaseException | None:
        """Why the connection went: a transport that is closing reports it to the protocol
        a turn or two of the loop later (``connection_lost``), so that turn is awaited
        (bounded: a second at most)."""
        if self._lost is None and not self._gone and self.transport is not None:
            gone = self._on_lost = self.loop.create_future()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(gone, 1.0)
        return self._lost

    async def _drain(self, timeout: float | None) -> None:
        while self._write_paused and not self._eof:  # bounded by the write timeout
            waiter = self._writable = self.loop.create_future()
            timer = None
            if timeout is not None:
                message = f"{self.origin} took nothing for {timeout} s"
                timer = self.loop.call_later(timeout, _expire, waiter, WriteTimeout, message)
            try:
                await waiter
            finally:
                self._writable = None
                if timer is not None:
                    timer.cancel()
        if self._eof:
            broken = NetworkError(f"{self.origin} closed the connection while we wrote")
            broken.bytes_sent = None  # type: ignore[attr-defined]
            raise broken

    async def file_chunk(self, body: FileBody) -> bytes:
        return await self.loop.run_in_executor(None, body.next_chunk)

    def alive(self) -> bool:
        """Open, quiet and on the running loop (a connection is bound to its loop)."""
        if self._eof or self._chunks or self.transport is None or self.transport.is_closing():
            return False
        try:
            if asyncio.get_running_loop() is not self.loop:
                return False
        except RuntimeError:
            return False
        return self._idle is None or self._idle.quiet()

    def is_open(self) -> bool:
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def selected_alpn(self) -> str | None:
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        return None if ssl_object is None else ssl_object.selected_alpn_protocol()

    def take_buffered(self) -> tuple[bytes, bool]:
        """What arrived and was not read, without waiting, and whether the end came."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._queued = 0
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data, self._eof

    def unread(self, data: bytes) -> None:
        """Give ``data`` back, to be read first (what followed a proxy's answer)."""
        self._chunks.appendleft(data)
        self._queued += len(data)

    def write_nowait(self, data: bytes) -> None:
        """Into the transport's buffer at once (HTTP/2: a RST_STREAM, a GOAWAY)."""
        transport = self.transport
        if data and transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()
        transport = self.transport
        if transport is None:
            return
        if self.loop.is_closed():
            # The loop that ran it is gone (a client kept across asyncio.run() calls): it
            # can no longer close the transport, so the socket is closed here.
            raw = getattr(transport.get_extra_info("socket"), "_sock", None)
            if isinstance(raw, socket.socket):
                raw.close()
            return
        with contextlib.suppress(Exception):
            transport.abort()

    def abandon(self) -> None:
        """In a forked child: let the parent's socket go without a word to the server."""
        transport = self.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        # asyncio lends an asyncio.trsock.TransportSocket, which has no detach(): the
        # socket it wraps is the one to detach (closing would leave the loop's copy)
        sock = getattr(sock, "_sock", sock)
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.close(sock.detach())


async def open_connection(
    origin: Origin,
    route: ProxyRoute | None,
    tls: TLSSettings,
    timeouts: Timeouts,
    socket_options: Sequence[SocketOption],
) -> AsyncioConnection:
    """A new connection to ``origin`` (through ``route``'s proxy), TLS if https."""
    loop = asyncio.get_running_loop()
    peer = route.proxy if route is not None else origin
    direct_tls = origin.scheme == "https" and route is None
    context = await _context(tls, loop) if direct_tls else None
    if route is not None and route.proxy.scheme == "https":
        context = await _context(TLSSettings(), loop)
    conn = AsyncioConnection(origin, loop)
    timeout = timeouts.connect
    try:
        await asyncio.wait_for(
            loop.create_connection(
                lambda: conn,
                peer.host,
                peer.port,
                ssl=context,
                server_hostname=peer.host if context is not None else None,
            ),
            timeout,
        )
        transport = conn.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        for level, option, value in socket_options:
            sock.setsockopt(level, option, value)
        if route is not None and route.tunnel:
            await _tunnel(conn, origin, route, timeout)
            if origin.scheme == "https":
                await _start_tls(conn, origin, await _context(tls, loop), timeout)
    except asyncio.TimeoutError:
        conn.close()
        raise ConnectTimeout(f"connecting to {peer} timed out after {timeout} s") from None
    except ssl.SSLCertVerificationError as exc:
        conn.close()
        raise TLSError(
            f"the certificate of {peer.host} was refused ({exc.reason}): {exc.verify_message}"
        ) from exc
    except ssl.SSLError as exc:
        conn.close()
        raise TLSError(f"the TLS handshake with {peer.host} failed: {exc}") from exc
    except OSError as exc:
        conn.close()
        raise ConnectError(f"could not connect to {peer}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


async def _context(tls: TLSSettings, loop: asyncio.AbstractEventLoop) -> ssl.SSLContext:
    """The TLS context; the first one is built in a worker thread (it reads a CA bundle)."""
    if tls.built:
        return tls.context()
    return await loop.run_in_executor(None, tls.context)


async def _tunnel(
    conn: AsyncioConnection, origin: Origin, route: ProxyRoute, timeout: float | None
) -> None:
    await conn.send(connect_request(origin, route.authorization), timeout)
    reply = bytearray()
    while (parsed := parse_connect_reply(reply, route.proxy)) is None:  # bounded: reply limit
        try:
            data = await conn.recv(timeout)
        except ReadTimeout:
            raise ConnectTimeout(f"the proxy {route.proxy} did not open the tunnel") from None
        if not data:
            raise ProxyError(f"the proxy {route.proxy} closed the connection during CONNECT")
        reply += data
    if parsed[1] and origin.scheme == "https":  # TLS must come first
        raise ProxyError(f"the proxy {route.proxy} sent bytes after its answer to CONNECT")
    if parsed[1]:  # a server that speaks first (HTTP/2 with prior knowledge): keep them
        conn.unread(parsed[1])


async def _start_tls(
    conn: AsyncioConnection, origin: Origin, context: ssl.SSLContext, timeout: float | None
) -> None:
    transport = conn.transport
    assert transport is not None
    try:
        new = await asyncio.wait_for(
            conn.loop.start_tls(transport, conn, context, server_hostname=origin.host), timeout
        )
    except ssl.SSLCertVerificationError as exc:  # the origin's, not the proxy's
        raise TLSError(
            f"the certificate of {origin.host} was refused ({exc.reason}): {exc.verify_message}"
        ) from exc
    if new is None:
        raise ConnectError(f"TLS through the tunnel to {origin} could not start")
    conn.transport = new
