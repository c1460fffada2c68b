"""Our transport behind httpx's transport interface, for a user's own httpx clients.

``httpx.Client(transport=HTTPTransport())`` and ``httpx.AsyncClient(transport=
AsyncHTTPTransport())`` send through our pool and connections instead of httpcore's, with
httpx's API on top (auth such as ``sigv4.SigV4Auth``, hooks, redirects). HTTP/1.1 unless
``http2=True`` (ALPN ``h2`` offered over TLS; ``response.http_version`` says what was
spoken).
The request body is read whole before it is sent (our connection frames bodies by
``Content-Length``); the answer streams as usual. Our errors become httpx's
(``httpx.ConnectTimeout``, ``httpx.ReadTimeout``, ``httpx.RemoteProtocolError``, ...), with
ours as the cause. The clients of this package do not use this adapter: they call the
transport directly, without httpx's per-request layers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx

from ._async import AsyncResponse, AsyncTransport
from ._exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteTimeout,
)
from ._models import Origin, Request, Timeouts
from ._sync import SyncResponse, SyncTransport
from ._tls import TLSSettings

__all__ = ["AsyncHTTPTransport", "HTTPTransport"]

SocketOption = tuple[int, int, int]

_TO_HTTPX: tuple[tuple[type[TransportError], type[httpx.TransportError]], ...] = (
    (ConnectTimeout, httpx.ConnectTimeout),
    (ConnectError, httpx.ConnectError),
    (ReadTimeout, httpx.ReadTimeout),
    (WriteTimeout, httpx.WriteTimeout),
    (RemoteProtocolError, httpx.RemoteProtocolError),
    (NetworkError, httpx.ReadError),
)


def _httpx_error(exc: TransportError, request: httpx.Request) -> httpx.TransportError:
    for ours, theirs in _TO_HTTPX:
        if isinstance(exc, ours):
            return theirs(str(exc), request=request)
    return httpx.TransportError(str(exc), request=request)


def _timeouts(request: httpx.Request) -> Timeouts | None:
    timeout = request.extensions.get("timeout")
    if not isinstance(timeout, Mapping):
        return None
    return Timeouts(timeout.get("connect"), timeout.get("read"), timeout.get("write"))


def _ours(request: httpx.Request, body: bytes) -> Request:
    url = request.url
    origin = Origin(url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
    ]
    if body and not any(name.lower() == "content-length" for name, _ in headers):
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        headers.append(("Content-Length", str(len(body))))
    return Request(
        request.method,
        origin,
        url.raw_path.decode("ascii"),
        headers,
        body,
        _timeouts(request),
        str(url),
    )


def _response(ours: SyncResponse | AsyncResponse, stream: Any) -> httpx.Response:
    return httpx.Response(
        ours.status_code,
        headers=ours.raw_headers,  # repeated fields apart (Set-Cookie), as httpx keeps them
        stream=stream,
        extensions={
            "http_version": ours.http_version.encode("ascii"),
            "reason_phrase": ours.reason_phrase.encode("latin-1"),
        },
    )


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, response: SyncResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_raw()
        except TransportError as exc:
            raise _httpx_error(exc, self._request) from exc

    def close(self) -> None:
        self._response.close()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, response: AsyncResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except TransportError as exc:
            raise _httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.close()


class HTTPTransport(httpx.BaseTransport):
    """An ``httpx.BaseTransport`` on our blocking transport. ``verify`` and ``cert`` as
    httpx takes them (True, False or a CA bundle path; a PEM file or ``(cert, key)``);
    ``proxies`` maps a scheme to a proxy URL; ``max_idle`` connections per origin are kept;
    ``http2``: offer HTTP/2 over TLS (the ``http2`` extra)."""

    def __init__(
        self,
        *,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
        max_idle: int = 10,
        socket_options: Sequence[SocketOption] = (),
        http2: bool = False,
    ) -> None:
        self._transport = SyncTransport(
            max_idle=max_idle,
            tls=TLSSettings(verify, cert),
            proxies=proxies,
            socket_options=socket_options,
            http2=http2,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        ours = _ours(request, request.read())
        try:
            response = self._transport.send(ours)
        except TransportError as exc:
            raise _httpx_error(exc, request) from exc
        return _response(response, _SyncStream(response, request))

    def close(self) -> None:
        self._transport.close()


class AsyncHTTPTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` on our async transport (asyncio or trio); the
    options of :class:`HTTPTransport`."""

    def __init__(
        self,
        *,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
        max_idle: int = 10,
        socket_options: Sequence[SocketOption] = (),
        http2: bool = False,
    ) -> None:
        self._transport = AsyncTransport(
            max_idle=max_idle,
            tls=TLSSettings(verify, cert),
            proxies=proxies,
            socket_options=socket_options,
            http2=http2,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        ours = _ours(request, await request.aread())
        try:
            response = await self._transport.send(ours)
        except TransportError as exc:
            raise _httpx_error(exc, request) from exc
        return _response(response, _AsyncStream(response, request))

    async def aclose(self) -> None:
        self._transport.close()
