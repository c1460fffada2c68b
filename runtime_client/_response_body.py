"""Response bodies that stream: :class:`StreamingBody` and :class:`AsyncStreamingBody`.

They follow botocore's ``StreamingBody`` API (``read(amt)``, ``iter_chunks``,
``iter_lines``, ``close``, context manager) and its async twins (``aread``,
``aiter_chunks``, ``aiter_lines``, ``aclose``, ``async with``). All bookkeeping lives in
the pure :class:`BodyReader` (buffering, ``Content-Length`` accounting) and
:class:`LineSplitter`; the two classes only pull raw chunks from the transport's response
with ``read_chunk`` / ``aread_chunk`` and translate transport errors. The response-stream
operation decodes events from the same raw chunk source (``_response_stream``).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import AsyncIterator, Iterator

from ._closing import AsyncClosesOnExit, ClosesOnExit, aclose_shielded
from ._errors import (
    HTTPClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from ._flow import AsyncAnswer, SyncAnswer
from .http._exceptions import ReadTimeout, TransportError, WriteTimeout
from .http._models import HTTPResponse

__all__ = [
    "AsyncStreamingBody",
    "BodyReader",
    "LineSplitter",
    "StreamingBody",
    "translate_read_error",
]

DEFAULT_CHUNK_SIZE = 1024


def translate_read_error(exc: Exception, endpoint_url: str) -> HTTPClientError:
    """The error a user sees when reading a response body fails in the transport."""
    if isinstance(exc, (ReadTimeout, WriteTimeout)):
        return ReadTimeoutError(endpoint_url, exc)
    return ResponseStreamingError(endpoint_url, exc)


class LineSplitter:
    """Split a byte stream into lines on ``\\n``, ``\\r\\n`` or ``\\r``, across chunk edges.

    A line that grows over many chunks is kept as a list of pieces and joined once, when
    its end arrives, so a long line costs linear time however finely it was split.
    """

    def __init__(self, keepends: bool = False) -> None:
        self._pending: list[bytes] = []  # the pieces of the unfinished last line
        self._keepends = keepends

    def feed(self, chunk: bytes) -> list[bytes]:
        if not chunk:
            return []
        ends_nothing = b"\n" not in chunk and b"\r" not in chunk
        if ends_nothing and not (self._pending and self._pending[-1].endswith(b"\r")):
            self._pending.append(chunk)  # no line ends yet
            return []
        data = b"".join((*self._pending, chunk)) if self._pending else chunk
        lines = data.splitlines(True)
        last = lines[-1]
        # A last line without "\n" may continue (or be a "\r" whose "\n" is coming).
        if last.endswith(b"\n"):
            self._pending = []
        else:
            self._pending = [last]
            lines = lines[:-1]
        return [self._strip(line) for line in lines]

    def flush(self) -> list[bytes]:
        pending = b"".join(self._pending)
        self._pending = []
        return [self._strip(pending)] if pending else []

    def _strip(self, line: bytes) -> bytes:
        return line if self._keepends else line.splitlines()[0] if line else line


class BodyReader:
    """Pure bookkeeping of a streamed body: the chunks not yet taken, and the byte count
    against Content-Length.

    Chunks are kept as received and joined only when taken (one chunk is handed out as
    it is, without a copy). A caller that wants the whole rest of a large body of known
    length asks :meth:`gather_rest` first: the rest is then gathered in one buffer of its
    exact size, handed out without another copy, so that reading a 6 MiB answer costs
    about 6 MiB, not twice that.
    """

    def __init__(self, content_length: int | None, endpoint_url: str) -> None:
        self.expected = content_length
        self.received = 0
        self.position = 0
        self.endpoint_url = endpoint_url
        self.eof = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._whole: io.BytesIO | None = None

    @property
    def buffered(self) -> int:
        return self._buffered

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        self._buffered += len(chunk)
        if self._whole is not None:
            self._whole.write(chunk)
        else:
            self._chunks.append(chunk)

    def finish(self) -> None:
        """The source is exhausted: verify the length, like botocore."""
        self.eof = True
        if self.expected is not None and self.received != self.expected:
            raise IncompleteReadError(self.endpoint_url, self.received, self.expected)

    def gather_rest(self) -> None:
        """The whole rest will be taken at once: gather a large rest in one buffer."""
        if self._whole is not None or self.expected is None:
            return
        size = self._buffered + self.expected - self.received
        if size < _GATHER_THRESHOLD:
            return
        whole = io.BytesIO()
        # Writing the last byte first makes BytesIO allocate exactly ``size`` once (a
        # large upsize is exact in CPython; growing chunk by chunk would over-allocate),
        # and getvalue() then hands that buffer out without copying it.
        whole.seek(size - 1)
        whole.write(b"\0")
        whole.seek(0)
        for chunk in self._chunks:
            whole.write(chunk)
        self._chunks.clear()
        self._whole = whole

    def take(self, amt: int | None) -> bytes:
        whole = self._whole
        if whole is not None:  # back to chunks: the gathered bytes are one chunk
            self._whole = None
            whole.truncate(whole.tell())
            self._chunks = deque([whole.getvalue()])
        chunks = self._chunks
        if amt is None or amt >= self._buffered:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
        else:
            pieces = []
            wanted = amt
            while wanted:  # bounded: each turn takes a chunk or the part of one it needs
                chunk = chunks.popleft()
                if len(chunk) > wanted:
                    chunks.appendleft(chunk[wanted:])
                    chunk = chunk[:wanted]
                pieces.append(chunk)
                wanted -= len(chunk)
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._buffered -= len(data)
        self.position += len(data)
        return data

    def needs_more(self, amt: int | None) -> bool:
        return not self.eof and (amt is None or self._buffered < amt)

    def translate(self, exc: Exception) -> HTTPClientError:
        """The user's error for a failed read: a body cut short of its Content-Length
        (the server closed or reset the connection) is an :class:`IncompleteReadError`
        saying how much arrived, as botocore's length check says it."""
        error = translate_read_error(exc, self.endpoint_url)
        if (
            type(error) is ResponseStreamingError
            and self.expected is not None
            and self.received < self.expected
        ):
            return IncompleteReadError(self.endpoint_url, self.received, self.expected)
        return error


#: A rest of at least this many bytes is gathered in one buffer by :meth:`BodyReader.gather_rest`.
_GATHER_THRESHOLD = 256 * 1024


def _content_length(response: HTTPResponse) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class StreamingBody(ClosesOnExit):
    """A blocking streamed response body (botocore's ``StreamingBody`` API)."""

    def __init__(self, response: SyncAnswer, endpoint_url: str = "") -> None:
        self._response = response
        self._reader = BodyReader(_content_length(response), endpoint_url)

    def _pull(self) -> None:
        try:
            chunk = self._response.read_chunk()
        except TransportError as exc:
            raise self._reader.translate(exc) from exc
        except BaseException:  # interrupted mid-read: where the body stands is lost
            self._response.close()
            raise
        if chunk is None:
            self._reader.finish()
        else:
            self._reader.feed(chunk)

    def read(self, amt: int | None = None) -> bytes:
        """Up to ``amt`` bytes (all the rest when ``None``); ``b""`` at the end."""
        if amt is None:
            self._reader.gather_rest()
        while self._reader.needs_more(amt):
            self._pull()
        return self._reader.take(amt)

    def readable(self) -> bool:
        return not self._response.is_closed

    def tell(self) -> int:
        return self._reader.position

    def iter_chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    def iter_lines(
        self, chunk_size: int = DEFAULT_CHUNK_SIZE, keepends: bool = False
    ) -> Iterator[bytes]:
        splitter = LineSplitter(keepends)
        for chunk in self.iter_chunks(chunk_size):
            yield from splitter.feed(chunk)
        yield from splitter.flush()

    def readlines(self) -> list[bytes]:
        return list(self.iter_lines(keepends=True))

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks()

    def close(self) -> None:
        self._response.close()

    def __repr__(self) -> str:
        return f"<StreamingBody content_length={self._reader.expected}>"


class AsyncStreamingBody(AsyncClosesOnExit):
    """The async twin of :class:`StreamingBody` (``aread``, ``aiter_chunks``, ...)."""

    def __init__(self, response: AsyncAnswer, endpoint_url: str = "") -> None:
        self._response = response
        self._reader = BodyReader(_content_length(response), endpoint_url)

    async def _pull(self) -> None:
        try:
            chunk = await self._response.aread_chunk()
        except TransportError as exc:
            raise self._reader.translate(exc) from exc
        except BaseException:  # cancelled mid-read: where the body stands is lost
            await aclose_shielded(self._response.aclose)
            raise
        if chunk is None:
            self._reader.finish()
        else:
            self._reader.feed(chunk)

    async def aread(self, amt: int | None = None) -> bytes:
        """Up to ``amt`` bytes (all the rest when ``None``); ``b""`` at the end."""
        if amt is None:
            self._reader.gather_rest()
        while self._reader.needs_more(amt):
            await self._pull()
        return self._reader.take(amt)

    read = aread  # aiobotocore spells it ``await body.read()``

    def tell(self) -> int:
        return self._reader.position

    async def aiter_chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
        while chunk := await self.aread(chunk_size):
            yield chunk

    async def aiter_lines(
        self, chunk_size: int = DEFAULT_CHUNK_SIZE, keepends: bool = False
    ) -> AsyncIterator[bytes]:
        splitter = LineSplitter(keepends)
        async for chunk in self.aiter_chunks(chunk_size):
            for line in splitter.feed(chunk):
                yield line
        for line in splitter.flush():
            yield line

    iter_chunks = aiter_chunks
    iter_lines = aiter_lines

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.aiter_chunks()

    async def aclose(self) -> None:
        await self._response.aclose()

    close = aclose

    def __repr__(self) -> str:
        return f"<AsyncStreamingBody content_length={self._reader.expected}>"
