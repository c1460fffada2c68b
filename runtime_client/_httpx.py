"""A lent ``httpx.Client`` / ``httpx.AsyncClient`` as the clients' sender.

``SageMakerRuntime(http_client=...)`` keeps working: :class:`HttpxSender` and
:class:`AsyncHttpxSender` turn our :class:`~runtime_client.http._models.Request` into an
``httpx.Request`` (a file body as a :class:`FileByteStream`), send it with the lent client
(its proxies, certificates, event hooks and pool apply), and hand back the
``httpx.Response`` behind a thin wrapper that raises our transport errors
(:mod:`runtime_client.http._exceptions`) instead of httpx's, so that the flows and bodies
translate one kind of error only. httpx is imported only by a client given one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from .http._exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteTimeout,
)
from .http._models import FileBody, Request

__all__ = ["AsyncHttpxSender", "FileByteStream", "HttpxSender", "translate_httpx_error"]


class FileByteStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A file body for httpx, sync or async; every iteration starts from the file's start
    position (under async, disk reads run in a worker thread)."""

    def __init__(self, body: FileBody) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        self._body.rewind()
        while chunk := self._body.next_chunk():
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body = self._body
        if body.in_memory:
            body.rewind()
            while chunk := body.next_chunk():
                yield chunk
            return
        import anyio.to_thread

        await anyio.to_thread.run_sync(body.rewind)
        while chunk := await anyio.to_thread.run_sync(body.next_chunk):
            yield chunk


_TRANSLATIONS: tuple[tuple[type[Exception], type[TransportError]], ...] = (
    (httpx.ConnectTimeout, ConnectTimeout),
    (httpx.PoolTimeout, ConnectTimeout),
    (httpx.ConnectError, ConnectError),
    (httpx.ReadTimeout, ReadTimeout),
    (httpx.WriteTimeout, WriteTimeout),
    (httpx.RemoteProtocolError, RemoteProtocolError),
)


def translate_httpx_error(exc: Exception) -> TransportError:
    """Our transport error for an httpx one (the cause keeps httpx's)."""
    for httpx_type, ours in _TRANSLATIONS:
        if isinstance(exc, httpx_type):
            error: TransportError = ours(str(exc) or type(exc).__name__)
            break
    else:
        error = NetworkError(str(exc) or type(exc).__name__)
    error.__cause__ = exc
    return error


def _httpx_request(request: Request) -> httpx.Request:
    body = request.body
    timeouts = request.timeouts
    extensions: dict[str, Any] = {}
    if timeouts is not None:
        extensions["timeout"] = {
            "connect": timeouts.connect,
            "read": timeouts.read,
            "write": timeouts.write,
            "pool": timeouts.connect,
        }
    return httpx.Request(
        request.method,
        request.url if "?" not in request.target else f"{request.origin}{request.target}",
        headers=request.headers,
        stream=FileByteStream(body) if isinstance(body, FileBody) else httpx.ByteStream(body),
        extensions=extensions,
    )


class _Answer:
    """An ``httpx.Response`` seen through our error types (what the flows read)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks: Iterator[bytes] | None = None
        self._achunks: AsyncIterator[bytes] | None = None

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def content(self) -> bytes:
        return self._response.content

    @property
    def is_closed(self) -> bool:
        return self._response.is_closed

    @property
    def text(self) -> str:
        return self._response.text

    def read(self) -> bytes:
        try:
            return self._response.read()
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise translate_httpx_error(exc) from exc

    def _already_read(self) -> bytes | None:
        """The body of a response that came read (``httpx.Response(content=...)`` from a
        ``MockTransport`` handler, say): its stream cannot be read again."""
        try:
            return self._response.content
        except httpx.ResponseNotRead:
            return None

    def iter_raw(self, chunk_size: int | None = None) -> Iterator[bytes]:
        content = self._already_read()
        if content is not None:
            if content:
                yield content
            return
        try:
            yield from self._response.iter_raw()
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise translate_httpx_error(exc) from exc

    def read_chunk(self) -> bytes | None:
        if self._chunks is None:
            self._chunks = self.iter_raw()
        return next(self._chunks, None)

    def close(self) -> None:
        self._response.close()

    async def aread(self) -> bytes:
        try:
            return await self._response.aread()
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise translate_httpx_error(exc) from exc

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        content = self._already_read()
        if content is not None:
            if content:
                yield content
            return
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise translate_httpx_error(exc) from exc

    async def aread_chunk(self) -> bytes | None:
        if self._achunks is None:
            self._achunks = self.aiter_raw()
        try:
            return await self._achunks.__anext__()
        except StopAsyncIteration:
            return None

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxSender:
    """Sends with a lent ``httpx.Client`` (never closed here: its owner closes it)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(self, request: Request) -> _Answer:
        try:
            return _Answer(self.client.send(_httpx_request(request), stream=True))
        except httpx.TransportError as exc:
            raise translate_httpx_error(exc) from exc


class AsyncHttpxSender:
    """Sends with a lent ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, request: Request) -> _Answer:
        try:
            return _Answer(await self.client.send(_httpx_request(request), stream=True))
        except httpx.TransportError as exc:
            raise translate_httpx_error(exc) from exc
