"""Connections for async libraries other than asyncio (trio): an anyio byte stream.

anyio (httpx's own dependency) gives one API over trio's sockets and TLS; each read and
each write runs under its own ``fail_after`` (the read or write timeout). Closing does
not await: the socket underneath is closed at once, so that a cancelled call, or a
response collected unread, never leaves a connection open.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import anyio.abc
import anyio.streams.tls

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

__all__ = ["AnyioConnection", "open_connection"]

_READ_SIZE = 65536
SocketOption = tuple[int, int, int]
_BROKEN = (
    OSError,
    ssl.SSLError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
)


class AnyioConnection:
    """One connection on an anyio byte stream (plain or TLS)."""

    def __init__(self, stream: anyio.abc.ByteStream, origin: Origin) -> None:
        self.stream = stream
        self.origin = origin
        self.h1 = H1Connection()
        self.reused = False
        self._socket: socket.socket | None = stream.extra(
            anyio.abc.SocketAttribute.raw_socket, None
        )
        self._ssl: ssl.SSLObject | None = stream.extra(
            anyio.streams.tls.TLSAttribute.ssl_object, None
        )
        self._idle = IdleCheck(self._socket) if self._socket is not None else None

    async def recv(self, timeout: float | None) -> bytes:
        try:
            with anyio.fail_after(timeout):
                return await self.stream.receive(_READ_SIZE)
        except TimeoutError:
            raise ReadTimeout(f"{self.origin} sent nothing for {timeout} s") from None
        except anyio.EndOfStream:
            return b""
        except _BROKEN as exc:
            raise NetworkError(f"reading from {self.origin} failed: {_why(exc)}") from exc

    async def send(self, data: bytes, timeout: float | None) -> None:
        try:
            with anyio.fail_after(timeout):
                await self.stream.send(data)
        except TimeoutError:
            raise WriteTimeout(f"{self.origin} took nothing for {timeout} s") from None
        except _BROKEN as exc:
            broken = NetworkError(f"writing to {self.origin} failed: {_why(exc)}")
            broken.bytes_sent = None  # type: ignore[attr-defined]
            raise broken from exc

    async def file_chunk(self, body: FileBody) -> bytes:
        return await anyio.to_thread.run_sync(body.next_chunk)

    def alive(self) -> bool:
        sock = self._socket
        if sock is None or sock.fileno() < 0:
            return False
        if self._ssl is not None and self._ssl.pending():
            return False
        return self._idle is not None and self._idle.quiet()

    def is_open(self) -> bool:
        sock = self._socket
        return sock is not None and sock.fileno() >= 0

    def selected_alpn(self) -> str | None:
        alpn: str | None = self.stream.extra(anyio.streams.tls.TLSAttribute.alpn_protocol, None)
        return alpn

    def close(self) -> None:
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def abandon(self) -> None:
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.close(sock.detach())


async def open_connection(
    origin: Origin,
    route: ProxyRoute | None,
    tls: TLSSettings,
    timeouts: Timeouts,
    socket_options: Sequence[SocketOption],
) -> AnyioConnection:
    """A new connection to ``origin`` (through ``route``'s proxy), TLS if https."""
    peer = route.proxy if route is not None else origin
    timeout = timeouts.connect
    stream: Any = None
    try:
        with anyio.fail_after(timeout):
            stream = await anyio.connect_tcp(peer.host, peer.port)
            raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            for level, option, value in socket_options:
                raw.setsockopt(level, option, value)
            if route is not None and route.proxy.scheme == "https":
                stream = await _wrap(stream, peer.host, TLSSettings())
            if route is not None and route.tunnel:
                early = await _tunnel(stream, origin, route)
                if early:  # a server that speaks first (HTTP/2 with prior knowledge)
                    stream = _Replayed(stream, early)
            if origin.scheme == "https":
                stream = await _wrap(stream, origin.host, tls)
    except TimeoutError:
        await _discard(stream)
        raise ConnectTimeout(f"connecting to {peer} timed out after {timeout} s") from None
    except ssl.SSLCertVerificationError as exc:
        await _discard(stream)
        raise TLSError(
            f"the certificate of {peer.host} was refused ({exc.reason}): {exc.verify_message}"
        ) from exc
    except ssl.SSLError as exc:
        await _discard(stream)
        raise TLSError(f"the TLS handshake with {peer.host} failed: {_why(exc)}") from exc
    except (OSError, anyio.BrokenResourceError) as exc:
        await _discard(stream)
        raise ConnectError(f"could not connect to {peer}: {_why(exc)}") from exc
    except BaseException:
        await _discard(stream)
        raise
    return AnyioConnection(stream, origin)


async def _wrap(stream: Any, host: str, tls: TLSSettings) -> Any:
    context = tls.context() if tls.built else await anyio.to_thread.run_sync(tls.context)
    try:
        return await anyio.streams.tls.TLSStream.wrap(
            stream, hostname=host, ssl_context=context, standard_compatible=False
        )
    except ssl.SSLCertVerificationError as exc:  # named here: the proxy's or the origin's
        raise TLSError(
            f"the certificate of {host} was refused ({exc.reason}): {exc.verify_message}"
        ) from exc


async def _tunnel(stream: Any, origin: Origin, route: ProxyRoute) -> bytes:
    """Open the tunnel; the bytes that came after the proxy's answer (none over TLS)."""
    await stream.send(connect_request(origin, route.authorization))
    reply = bytearray()
    while (parsed := parse_connect_reply(reply, route.proxy)) is None:  # bounded: reply limit
        try:
            reply += await stream.receive(_READ_SIZE)
        except anyio.EndOfStream:
            raise ProxyError(
                f"the proxy {route.proxy} closed the connection during CONNECT"
            ) from None
    if parsed[1] and origin.scheme == "https":  # TLS must come first
        raise ProxyError(f"the proxy {route.proxy} sent bytes after its answer to CONNECT")
    return parsed[1]


class _Replayed(anyio.abc.ByteStream):
    """A stream whose first bytes were read already (they are given out first)."""

    def __init__(self, inner: anyio.abc.ByteStream, first: bytes) -> None:
        self._inner = inner
        self._first = first

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._first:
            data, self._first = self._first[:max_bytes], self._first[max_bytes:]
            return data
        return await self._inner.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        await self._inner.send(item)

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        await self._inner.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._inner.extra_attributes


def _why(exc: BaseException) -> str:
    """What went wrong: anyio's BrokenResourceError has no text of its own, only a cause
    (the SSLError of a TLS alert, the OSError of a reset)."""
    while not str(exc) and exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


async def _discard(stream: Any) -> None:
    if stream is not None:
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(stream)
