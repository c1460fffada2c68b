"""The answer of InvokeEndpointWithResponseStream: an event stream of payload parts.

The decoding is written once, as pure code in the manner of h11 (bytes in, events out)::

    ResponseStreamDecoder   receive_data(bytes) / receive_eof() / receive_transport_error(exc)
                            next_event() -> {'PayloadPart': {'Bytes': b'...'}} | NEED_DATA | END,
                            or raises the stream's error once the parts before it are out
    PartsOutput, LinesOutput, TextOutput
                            what a user iterates: the events as boto3 gives them, lines
                            re-joined across part boundaries, or text decoded incrementally
                            (a UTF-8 character may be split between two parts)
    StreamCursor            one output over one decoder: next_item() -> item | NEED_DATA | END

:class:`EventStream` (blocking) and :class:`AsyncEventStream` only pull raw bytes from the
transport's response when a cursor says ``NEED_DATA``, and close the response at the end, on
an error, or when the user closes them early. Nothing is retried once the stream has begun.

Errors raised while iterating (after every part that came before them)::

    ModelStreamError, InternalStreamFailure   modeled exception events (ClientError); the
                                              ModelStreamError keeps its ErrorCode
    ClientError                               any other exception or error event
    ResponseStreamingError                    corrupt bytes (a bad CRC, a bad header block) or
                                              a stream cut inside a message; ``.error`` is
                                              the codec's error
    ResponseStreamingError, ReadTimeoutError  the connection broke or went quiet
"""

from __future__ import annotations

import codecs
import enum
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Final, Generic, Protocol, TypeVar

from ._closing import AsyncClosesOnExit, ClosesOnExit, aclose_shielded
from ._errors import (
    MODELED_ERRORS,
    ClientError,
    ResponseStreamingError,
    error_class_for_code,
)
from ._flow import AsyncAnswer, SyncAnswer
from ._json import json_or_text, member_value
from ._response_body import LineSplitter, translate_read_error
from .eventstream import CorruptMessageError, EventStreamDecoder, EventStreamMessage
from .http._exceptions import TransportError

__all__ = [
    "END",
    "NEED_DATA",
    "AsyncEventStream",
    "Event",
    "EventStream",
    "LinesOutput",
    "Output",
    "PartsOutput",
    "ResponseStreamDecoder",
    "Signal",
    "StreamCursor",
    "TextOutput",
    "error_from_message",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

Event = dict[str, dict[str, bytes]]
"""``{'PayloadPart': {'Bytes': b'...'}}``, the only event of this stream."""


class Signal(enum.Enum):
    """What a decoder or a cursor says when it has no item to give."""

    NEED_DATA = "NEED_DATA"  # feed more bytes (or the end of the stream)
    END = "END"  # the stream is over (or closed by the user)


NEED_DATA: Final = Signal.NEED_DATA
END: Final = Signal.END


def error_from_message(
    message: EventStreamMessage,
    operation_name: str,
    metadata: Mapping[str, Any],
    *,
    unmodeled_members: Sequence[str] = (),
) -> ClientError:
    """The exception for an ``exception`` or ``error`` message, shaped like boto3's.

    ``e.response`` is ``{'Error': {'Code', 'Message'}, <modeled members>, 'ResponseMetadata'}``:
    for a ``ModelStreamError`` the members are ``Message`` and ``ErrorCode`` (boto3 drops
    ``ErrorCode``); ``ResponseMetadata`` is the stream's HTTP answer. An exception the
    model does not name keeps only ``unmodeled_members`` of its body.
    """
    if message.message_type == "error":
        code = message.error_code or ""
        text = message.error_message or ""
        members: dict[str, Any] = {}
    else:
        code = message.exception_type or ""
        body = json_or_text(message.payload, "Message")
        raw = body.get("Message", body.get("message", ""))
        text = raw if isinstance(raw, str) else ""
        modeled = MODELED_ERRORS.get(code)
        shape = modeled[1] if modeled is not None else dict.fromkeys(unmodeled_members, "string")
        members = {}
        for name, kind in shape.items():
            value = member_value(body.get(name), kind)
            if value is not None:
                members[name] = value
    response: dict[str, Any] = {"Error": {"Code": code, "Message": text}, **members}
    # The retry note ("reached max retries") belongs to the request, not to the stream.
    response["ResponseMetadata"] = {k: v for k, v in metadata.items() if k != "MaxAttemptsReached"}
    return error_class_for_code(code)(response, operation_name)


class ResponseStreamDecoder:
    """Bytes of the HTTP body in, boto3's events out; no I/O.

    ``next_event()`` gives the decoded events in order, then raises the stream's error (an
    exception event, corrupt bytes, a cut, a transport failure) every time it is asked
    again; without an error it says ``NEED_DATA`` until :meth:`receive_eof`, then ``END``.
    Events other than ``PayloadPart`` are skipped, as boto3 does. :meth:`close` (the user
    hung up) drops what is left: ``END`` from then on, unless an error was already found.
    """

    def __init__(
        self,
        operation_name: str,
        endpoint_url: str,
        metadata: Mapping[str, Any],
        *,
        decoder: EventStreamDecoder | None = None,
    ) -> None:
        self.operation_name = operation_name
        self.endpoint_url = endpoint_url
        self.metadata = metadata
        self._decoder = decoder if decoder is not None else EventStreamDecoder()
        self._events: deque[Event] = deque()
        self._error: Exception | None = None
        self._eof = False
        self._closed = False

    @property
    def complete(self) -> bool:
        """The stream ended cleanly (all its bytes arrived; no error, not closed early)."""
        return self._eof and self._error is None and not self._closed

    def receive_data(self, data: bytes) -> None:
        if self._error is not None or self._eof or self._closed:
            return
        messages: list[EventStreamMessage] = []
        corrupt: CorruptMessageError | None = None
        try:
            messages = self._decoder.feed(data)
            if messages:
                # feed() returns the good messages of a chunk and keeps an error found after
                # them for its next call: ask now, rather than after the next network read.
                self._decoder.feed(b"")
        except CorruptMessageError as exc:
            corrupt = exc
        for message in messages:
            if not self._take(message):
                break
        if corrupt is not None:  # after the good messages, unless one was an error itself
            self._fail(ResponseStreamingError(self.endpoint_url, corrupt), corrupt)

    def receive_eof(self) -> None:
        if self._error is not None or self._eof or self._closed:
            return
        self._eof = True
        try:
            self._decoder.end()
        except CorruptMessageError as exc:  # TruncatedStreamError: cut inside a message
            self._fail(ResponseStreamingError(self.endpoint_url, exc), exc)

    def receive_transport_error(self, exc: Exception) -> None:
        if self._error is None and not self._closed:
            self._fail(translate_read_error(exc, self.endpoint_url), exc)

    def close(self) -> None:
        if self._error is None:
            self._closed = True
            self._events.clear()

    def next_event(self) -> Event | Signal:
        if self._events:
            return self._events.popleft()
        if self._error is not None:
            raise self._error
        if self._eof or self._closed:
            return END
        return NEED_DATA

    def _fail(self, error: Exception, cause: BaseException | None) -> None:
        if self._error is None:
            error.__cause__ = cause
            self._error = error

    def _take(self, message: EventStreamMessage) -> bool:
        """Queue an event; False once an error has been found (later messages are ignored)."""
        if self._error is not None:
            return False
        kind = message.message_type
        if kind in ("exception", "error"):
            self._fail(error_from_message(message, self.operation_name, self.metadata), None)
            return False
        if message.event_type == "PayloadPart":
            self._events.append({"PayloadPart": {"Bytes": message.payload}})
        return True


class Output(Protocol[T_co]):
    """Turns events into what a user iterates."""

    def feed(self, event: Event) -> Sequence[T_co]: ...

    def finish(self) -> Sequence[T_co]: ...


class PartsOutput:
    """The events themselves, as boto3 yields them."""

    def feed(self, event: Event) -> list[Event]:
        return [event]

    def finish(self) -> list[Event]:
        return []


class LinesOutput:
    """Lines (bytes, split on ``\\n``, ``\\r\\n`` or ``\\r``) re-joined across part boundaries.

    An UTF-8 character never contains a CR or LF byte, so a line is whole characters.
    """

    def __init__(self, keepends: bool = False) -> None:
        self._splitter = LineSplitter(keepends)

    def feed(self, event: Event) -> list[bytes]:
        return self._splitter.feed(event["PayloadPart"]["Bytes"])

    def finish(self) -> list[bytes]:
        return self._splitter.flush()


class TextOutput:
    """Text decoded incrementally: a character split between parts comes out whole.

    A stream that ends inside a character raises ``UnicodeDecodeError`` with
    ``errors="strict"`` (use ``"replace"`` to get U+FFFD instead).
    """

    def __init__(self, encoding: str = "utf-8", errors: str = "strict") -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors)

    def feed(self, event: Event) -> list[str]:
        text = self._decoder.decode(event["PayloadPart"]["Bytes"])
        return [text] if text else []

    def finish(self) -> list[str]:
        text = self._decoder.decode(b"", True)
        return [text] if text else []


class StreamCursor(Generic[T]):
    """One output over one decoder: ``next_item()`` -> an item, ``NEED_DATA`` or ``END``."""

    def __init__(self, decoder: ResponseStreamDecoder, output: Output[T]) -> None:
        self._decoder = decoder
        self._output = output
        self._ready: deque[T] = deque()
        self._finished = False

    def next_item(self) -> T | Signal:
        while not self._ready:
            if self._finished:
                return END
            event = self._decoder.next_event()
            if event is NEED_DATA:
                return NEED_DATA
            if event is END:
                self._finished = True
                if self._decoder.complete:  # not after an early close
                    self._ready.extend(self._output.finish())
            else:
                self._ready.extend(self._output.feed(event))
        return self._ready.popleft()


class EventStream(ClosesOnExit):
    """The ``Body`` of a blocking InvokeEndpointWithResponseStream answer.

    Iterate it for boto3's events (``{'PayloadPart': {'Bytes': b'...'}}``), or use
    :meth:`iter_lines` / :meth:`iter_text`. The connection is closed when the stream ends,
    when it fails, on :meth:`close` (or leaving a ``with`` block), and when an
    ``iter_lines``/``iter_text`` loop is left early.
    """

    def __init__(self, response: SyncAnswer, decoder: ResponseStreamDecoder) -> None:
        self._response = response
        self._decoder = decoder
        self._parts = StreamCursor(decoder, PartsOutput())

    def _next(self, cursor: StreamCursor[T]) -> T | Signal:
        """The one I/O loop: pull bytes until the cursor has an item or the stream is over."""
        while True:
            try:
                item = cursor.next_item()
            except Exception:
                self._response.close()
                raise
            if item is NEED_DATA:
                self._pull()
            elif item is END:
                self._response.close()
                return END
            else:
                return item

    def _pull(self) -> None:
        try:
            chunk = self._response.read_chunk()
        except TransportError as exc:
            self._decoder.receive_transport_error(exc)
            return
        except BaseException:  # interrupted mid-read: the stream cannot go on
            self.close()
            raise
        if chunk is None:
            self._decoder.receive_eof()
        else:
            self._decoder.receive_data(chunk)

    def _iterate(self, cursor: StreamCursor[T]) -> Iterator[T]:
        try:
            while not isinstance(item := self._next(cursor), Signal):
                yield item
        finally:
            self.close()

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        item = self._next(self._parts)
        if isinstance(item, Signal):
            raise StopIteration
        return item

    def iter_lines(self, keepends: bool = False) -> Iterator[bytes]:
        """The payload as lines (bytes), joined across parts; e.g. ``data: {...}`` lines."""
        return self._iterate(StreamCursor(self._decoder, LinesOutput(keepends)))

    def iter_text(self, encoding: str = "utf-8", errors: str = "strict") -> Iterator[str]:
        """The payload as text, decoded incrementally (characters split between parts)."""
        return self._iterate(StreamCursor(self._decoder, TextOutput(encoding, errors)))

    def close(self) -> None:
        """Stop reading and close the connection (boto3's ``EventStream.close``)."""
        self._decoder.close()
        self._response.close()

    def __repr__(self) -> str:
        return f"<EventStream {self._decoder.operation_name}>"


class AsyncEventStream(AsyncClosesOnExit):
    """The ``Body`` of an async answer: ``async for event in body``, ``aiter_lines``,
    ``aiter_text``, ``await body.aclose()`` (also spelled ``close``), ``async with``."""

    def __init__(self, response: AsyncAnswer, decoder: ResponseStreamDecoder) -> None:
        self._response = response
        self._decoder = decoder
        self._parts = StreamCursor(decoder, PartsOutput())

    async def _next(self, cursor: StreamCursor[T]) -> T | Signal:
        """The one I/O loop: pull bytes until the cursor has an item or the stream is over."""
        while True:
            try:
                item = cursor.next_item()
            except Exception:
                await aclose_shielded(self._response.aclose)
                raise
            if item is NEED_DATA:
                await self._pull()
            elif item is END:
                await self._response.aclose()
                return END
            else:
                return item

    async def _pull(self) -> None:
        try:
            chunk = await self._response.aread_chunk()
        except TransportError as exc:
            self._decoder.receive_transport_error(exc)
            return
        except BaseException:  # cancelled mid-read: the stream cannot go on
            await aclose_shielded(self.aclose)
            raise
        if chunk is None:
            self._decoder.receive_eof()
        else:
            self._decoder.receive_data(chunk)

    async def _iterate(self, cursor: StreamCursor[T]) -> AsyncIterator[T]:
        try:
            while not isinstance(item := await self._next(cursor), Signal):
                yield item
        finally:
            await aclose_shielded(self.aclose)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        item = await self._next(self._parts)
        if isinstance(item, Signal):
            raise StopAsyncIteration
        return item

    def aiter_lines(self, keepends: bool = False) -> AsyncIterator[bytes]:
        """The payload as lines (bytes), joined across parts; e.g. ``data: {...}`` lines."""
        return self._iterate(StreamCursor(self._decoder, LinesOutput(keepends)))

    def aiter_text(self, encoding: str = "utf-8", errors: str = "strict") -> AsyncIterator[str]:
        """The payload as text, decoded incrementally (characters split between parts)."""
        return self._iterate(StreamCursor(self._decoder, TextOutput(encoding, errors)))

    iter_lines = aiter_lines
    iter_text = aiter_text

    async def aclose(self) -> None:
        """Stop reading and close the connection."""
        self._decoder.close()
        await self._response.aclose()

    close = aclose  # aiobotocore code awaits ``close()``

    def __repr__(self) -> str:
        return f"<AsyncEventStream {self._decoder.operation_name}>"
