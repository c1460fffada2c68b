"""What the clients need of httpx, in one place: the request-body stream of a file and the
pooled async transport.

:class:`FileByteStream` sends ``length`` bytes of a file body from its position; it is both
an ``httpx.SyncByteStream`` and an ``httpx.AsyncByteStream``, so the same body object
serves ``httpx.Client`` and ``httpx.AsyncClient`` (under async, disk reads run in a worker
thread). Kept apart from :mod:`._request_body` so that checking a body does not load httpx.

:class:`PooledAsyncTransport`: httpcore's ``AsyncConnectionPool`` re-examines every
connection and every waiting request each time a request starts or a connection frees up,
so its cost per request grows with the pool: with 64 connections in one pool, httpx spends
most of its time in that bookkeeping (a third of aiobotocore's throughput here). Several
small pools of at most ``CONNECTIONS_PER_POOL`` connections keep that scan short. Each
request goes to the pool with the fewest requests in flight; a request is counted until
its response is closed.
"""

from __future__ import annotations

import io
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import IO, Any

import httpx

from ._request_body import CHUNK_SIZE

__all__ = ["CONNECTIONS_PER_POOL", "FileByteStream", "PooledAsyncTransport"]

CONNECTIONS_PER_POOL = 4


class FileByteStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """``length`` bytes of ``file`` from ``start``, re-readable: every iteration seeks back."""

    def __init__(
        self, file: IO[bytes], start: int, length: int, chunk_size: int = CHUNK_SIZE
    ) -> None:
        self._file = file
        self._start = start
        self._length = length
        self._chunk_size = chunk_size

    def _read_chunk(self, remaining: int) -> bytes:
        return self._file.read(min(self._chunk_size, remaining))

    def _short(self, sent: int) -> OSError:
        return OSError(
            f"the body file ended after {sent} of {self._length} bytes; "
            "it changed while it was being sent"
        )

    def __iter__(self) -> Iterator[bytes]:
        self._file.seek(self._start)
        remaining = self._length
        while remaining > 0:
            chunk = self._read_chunk(remaining)
            if not chunk:
                raise self._short(self._length - remaining)
            remaining -= len(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        in_memory = isinstance(self._file, io.BytesIO)
        if in_memory:
            self._file.seek(self._start)
        else:
            await _to_thread(self._file.seek, self._start)
        remaining = self._length
        while remaining > 0:
            if in_memory:
                chunk = self._read_chunk(remaining)
            else:
                chunk = await _to_thread(self._read_chunk, remaining)
            if not chunk:
                raise self._short(self._length - remaining)
            remaining -= len(chunk)
            yield chunk


async def _to_thread(fn: Any, *args: Any) -> Any:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)


class _CountedStream(httpx.AsyncByteStream):
    """The response body; closing it (or the response) ends the request's count."""

    def __init__(self, stream: httpx.AsyncByteStream, counts: list[int], index: int) -> None:
        self._stream = stream
        self._counts = counts
        self._index = index
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._open:
            self._open = False
            self._counts[self._index] -= 1
        await self._stream.aclose()


class PooledAsyncTransport(httpx.AsyncBaseTransport):
    """``max_connections`` spread over pools of at most ``CONNECTIONS_PER_POOL``."""

    def __init__(
        self,
        *,
        max_connections: int,
        verify: ssl.SSLContext | bool,
        socket_options: Sequence[tuple[int, int, int]] | None = None,
    ) -> None:
        pools = max(1, -(-max_connections // CONNECTIONS_PER_POOL))
        sizes = [max_connections // pools + (i < max_connections % pools) for i in range(pools)]
        self._transports = [
            httpx.AsyncHTTPTransport(
                verify=verify,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                socket_options=socket_options,
            )
            for size in sizes
        ]
        self._counts = [0] * pools

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        counts = self._counts
        index = min(range(len(counts)), key=counts.__getitem__)
        counts[index] += 1
        try:
            response = await self._transports[index].handle_async_request(request)
        except BaseException:
            counts[index] -= 1
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(stream, counts, index)
        return response

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()
