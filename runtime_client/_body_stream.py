"""The stream of a file request body: :class:`FileByteStream` (imports httpx).

Kept apart from :mod:`._body` so that checking a body does not load the HTTP stack.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

import httpx

from ._body import CHUNK_SIZE

__all__ = ["FileByteStream"]


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
