"""The incremental event-stream decoder, without I/O.

:class:`EventStreamDecoder` is a push decoder in the manner of h11:
:meth:`~EventStreamDecoder.feed` it bytes as they arrive and it returns the messages they
complete; call :meth:`~EventStreamDecoder.end` when the transport closes, which raises if a
message was cut short (a cut stream is an error, never a short answer). The decoder checks
each prelude (CRC, then size limits) as soon as its 12 bytes are in, so a peer cannot make
it hold more than one message of the allowed size.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import NoReturn
from zlib import crc32

from ._errors import (
    ChecksumMismatchError,
    CorruptMessageError,
    InvalidHeaderError,
    InvalidPreludeError,
    MessageTooLargeError,
    TruncatedStreamError,
)
from ._format import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    EPOCH,
    I64,
    INTS,
    OVERHEAD,
    PRELUDE,
    PRELUDE_LENGTH,
    U16,
    U32,
    HeaderType,
)
from ._message import (
    EMPTY_HEADERS,
    EMPTY_TYPED,
    EventStreamMessage,
    HeaderValue,
    PlainHeaderValue,
)

__all__ = ["EventStreamDecoder", "decode_message"]

_U32_MAX = 0xFFFFFFFF

# A per-decoder cache of parsed header blocks: a stream repeats the same few blocks
# (SageMaker sends identical headers on every PayloadPart), and parsing is the costly part.
_CACHE_MAX_ENTRIES = 64
_CACHE_MAX_BLOCK = 1024


# A frozen record's __init__ sets each field through object.__setattr__, which is a third
# of the cost of decoding a small message. The decoder, whose values are checked, sets the
# slots directly instead.
_SET_HEADERS, _SET_PAYLOAD, _SET_TYPED = (
    vars(EventStreamMessage)[name].__set__ for name in ("headers", "payload", "typed_headers")
)


def _make_message(
    headers: Mapping[str, PlainHeaderValue], payload: bytes, typed: Mapping[str, HeaderValue]
) -> EventStreamMessage:
    message: EventStreamMessage = object.__new__(EventStreamMessage)
    _SET_HEADERS(message, headers)
    _SET_PAYLOAD(message, payload)
    _SET_TYPED(message, typed)
    return message


_ParsedHeaders = tuple[Mapping[str, PlainHeaderValue], Mapping[str, HeaderValue]]
_FIXED = {kind: packer for kind, (packer, _, _) in INTS.items()}
_FIXED[HeaderType.TIMESTAMP] = I64
_SIZES = {kind: packer.size for kind, packer in _FIXED.items()}
_SIZES.update({HeaderType.TRUE: 0, HeaderType.FALSE: 0, HeaderType.UUID: 16})


def _parse_headers(block: bytes) -> _ParsedHeaders:
    """Parse a header block whose message CRC has been checked (each distinct block once:
    the decoder caches the result)."""
    plain: dict[str, PlainHeaderValue] = {}
    typed: dict[str, HeaderValue] = {}
    end = len(block)
    i = 0
    while i < end:
        name, i = _parse_name(block, i, end)
        if name in plain:
            raise InvalidHeaderError(f"header {name!r} appears twice")
        code = block[i]
        i += 1
        if code > HeaderType.UUID:
            raise InvalidHeaderError(f"header {name!r} has unknown type {code}")
        kind = HeaderType(code)
        if kind is HeaderType.BYTES or kind is HeaderType.STRING:
            size = U16.unpack_from(block, i)[0] if i + 2 <= end else end
            i += 2
        else:
            size = _SIZES[kind]
        if i + size > end:
            raise InvalidHeaderError(f"header {name!r}: the {kind.name} value is cut short")
        value = _parse_value(name, kind, block, i, i + size)
        i += size
        plain[name] = value
        typed[name] = HeaderValue(kind, value)
    return MappingProxyType(plain), MappingProxyType(typed)


def _parse_name(block: bytes, i: int, end: int) -> tuple[str, int]:
    """The header name at ``i`` (its length byte first) and where its type byte is."""
    start = i + 1
    i = start + block[i]
    if i == start:
        raise InvalidHeaderError(f"a header name is empty (at byte {start - 1} of the block)")
    if i >= end:
        raise InvalidHeaderError("a header name or type runs past the header block")
    try:
        return block[start:i].decode("utf-8"), i
    except UnicodeDecodeError:
        raise InvalidHeaderError("a header name is not valid UTF-8") from None


def _parse_value(name: str, kind: HeaderType, block: bytes, at: int, end: int) -> PlainHeaderValue:
    """The value of type ``kind`` in ``block[at:end]`` as plain Python."""
    try:
        if kind in _FIXED:
            number: int = _FIXED[kind].unpack_from(block, at)[0]
            if kind is HeaderType.TIMESTAMP:
                return EPOCH + timedelta(milliseconds=number)
            return number
        if kind is HeaderType.STRING:
            return block[at:end].decode("utf-8")
        if kind is HeaderType.BYTES:
            return block[at:end]
        if kind is HeaderType.UUID:
            return uuid.UUID(bytes=block[at:end])
        return kind is HeaderType.TRUE
    except UnicodeDecodeError:
        raise InvalidHeaderError(f"header {name!r}: the STRING is not valid UTF-8") from None
    except OverflowError:
        raise InvalidHeaderError(
            f"header {name!r}: the TIMESTAMP is not in years 1..9999"
        ) from None


class EventStreamDecoder:
    """A push decoder: :meth:`feed` bytes in, get complete messages out.

    ::

        decoder = EventStreamDecoder()
        for chunk in response.iter_bytes():
            for message in decoder.feed(chunk):
                ...
        decoder.end()  # raises TruncatedStreamError if the stream was cut

    Each prelude is checked (CRC, then lengths against ``max_headers_length`` and
    ``max_payload_length``) as soon as its 12 bytes are in, before the rest of the message
    is awaited; so :attr:`buffered` never exceeds :attr:`max_message_length`. Each message
    CRC is checked before its headers are parsed. Messages are decoded straight from the
    fed bytes; only the unfinished tail of a chunk is copied into the buffer.

    Errors are :class:`CorruptMessageError` subclasses. When a chunk completes some good
    messages and then hits corrupt bytes, :meth:`feed` returns the good ones and the error
    is raised by the next call to :meth:`feed` or :meth:`end`. After an error the decoder
    raises that same error on every call.
    """

    __slots__ = ("_buffer", "_cache", "_error", "_max_headers", "_max_payload", "_pending")

    def __init__(
        self,
        *,
        max_headers_length: int = DEFAULT_MAX_HEADERS_LENGTH,
        max_payload_length: int = DEFAULT_MAX_PAYLOAD_LENGTH,
    ) -> None:
        for param, limit in (
            ("max_headers_length", max_headers_length),
            ("max_payload_length", max_payload_length),
        ):
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ValueError(f"{param} must be an int >= 0")
        if max_headers_length + max_payload_length > _U32_MAX - OVERHEAD:
            raise ValueError(
                f"max_headers_length + max_payload_length must be <= {_U32_MAX - OVERHEAD}"
            )
        self._max_headers = max_headers_length
        self._max_payload = max_payload_length
        self._buffer = bytearray()
        self._pending: int | None = None  # total length of the buffered message
        self._error: CorruptMessageError | None = None
        self._cache: dict[bytes, _ParsedHeaders] = {}

    @property
    def max_headers_length(self) -> int:
        return self._max_headers

    @property
    def max_payload_length(self) -> int:
        return self._max_payload

    @property
    def max_message_length(self) -> int:
        """The largest message the limits allow; :attr:`buffered` stays below it."""
        return OVERHEAD + self._max_headers + self._max_payload

    @property
    def buffered(self) -> int:
        """How many bytes of an unfinished message the decoder holds."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[EventStreamMessage]:
        """Take the next bytes of the stream; return the messages they complete."""
        if self._error is not None:
            raise self._error
        out: list[EventStreamMessage] = []
        view = memoryview(data)
        try:
            if view.ndim != 1 or view.itemsize != 1:
                view = view.cast("B")
            self._feed(view, out)
        except CorruptMessageError as exc:
            self._buffer.clear()
            self._pending = None
            self._error = exc
            if not out:
                raise
        finally:
            view.release()  # a traceback must not pin the caller's bytearray
        return out

    def end(self) -> None:
        """Declare the end of the stream; raise if it stopped inside a message."""
        if self._error is not None:
            raise self._error
        if self._buffer:
            have = len(self._buffer)
            if self._pending is None:
                what = f"{have} bytes of a 12-byte prelude"
            else:
                what = f"{have} of {self._pending} bytes of a message"
            self._buffer.clear()
            self._pending = None
            self._error = TruncatedStreamError(f"the event stream ended inside a message ({what})")
            raise self._error

    def _feed(self, view: memoryview, out: list[EventStreamMessage]) -> None:
        size = len(view)
        pos = 0
        buffer = self._buffer
        if buffer:  # first finish the message that earlier chunks left unfinished
            if self._pending is None:  # its prelude is not all in yet
                pos = PRELUDE_LENGTH - len(buffer)
                if pos > size:
                    buffer += view
                    return
                buffer += view[:pos]
                with memoryview(buffer) as head:
                    self._scan(head, 0, out)  # checks the prelude, sets _pending
            assert self._pending is not None
            stop = pos + self._pending - len(buffer)
            if stop > size:
                buffer += view[pos:]
                return
            buffer += view[pos:stop]
            pos = stop
            with memoryview(buffer) as whole:
                self._scan(whole, 0, out)
            buffer.clear()
        # Then decode straight from the chunk; keep only an unfinished tail.
        pos = self._scan(view, pos, out)
        if pos < size:
            buffer += view[pos:]

    def _scan(self, view: memoryview, pos: int, out: list[EventStreamMessage]) -> int:
        """Decode the whole messages in ``view`` from ``pos``; return where they stop.

        Sets ``_pending`` to the total length of a message that starts there but is not
        all in ``view``, once its prelude has passed the checks.
        """
        size = len(view)
        pending = None
        max_headers, max_payload, cache = self._max_headers, self._max_payload, self._cache
        append, make = out.append, _make_message
        while size - pos >= PRELUDE_LENGTH:
            total, headers_length, expected = PRELUDE.unpack_from(view, pos)
            prelude_crc = crc32(view[pos : pos + 8])
            if prelude_crc != expected:
                raise ChecksumMismatchError("prelude", expected, prelude_crc)
            payload_length = total - OVERHEAD - headers_length
            if payload_length < 0 or headers_length > max_headers or payload_length > max_payload:
                self._reject(total, headers_length)
            end = pos + total
            if end > size:
                pending = total
                break
            crc_at = end - 4
            (expected,) = U32.unpack_from(view, crc_at)
            actual = crc32(view[pos + 8 : crc_at], prelude_crc)  # carries on from the prelude
            if actual != expected:
                raise ChecksumMismatchError("message", expected, actual)
            payload_at = pos + PRELUDE_LENGTH + headers_length
            if headers_length:
                block = view[pos + PRELUDE_LENGTH : payload_at].tobytes()
                parsed = cache.get(block)
                if parsed is None:
                    parsed = _parse_headers(block)
                    if headers_length <= _CACHE_MAX_BLOCK:
                        if len(cache) >= _CACHE_MAX_ENTRIES:
                            cache.clear()
                        cache[block] = parsed
                headers, typed = parsed
            else:
                headers, typed = EMPTY_HEADERS, EMPTY_TYPED
            append(make(headers, view[payload_at:crc_at].tobytes(), typed))
            pos = end
        self._pending = pending
        return pos

    def _reject(self, total: int, headers_length: int) -> NoReturn:
        if total < OVERHEAD:
            raise InvalidPreludeError(
                f"a prelude gives a total length of {total}, under the minimum of {OVERHEAD}"
            )
        if headers_length > self._max_headers:
            raise MessageTooLargeError("headers", headers_length, self._max_headers)
        if total - OVERHEAD < headers_length:
            raise InvalidPreludeError(
                f"a prelude gives {headers_length} bytes of headers in a {total}-byte message"
            )
        raise MessageTooLargeError("payload", total - OVERHEAD - headers_length, self._max_payload)


def decode_message(data: bytes | bytearray | memoryview) -> EventStreamMessage:
    """Decode bytes that hold exactly one whole message (an event-stream payload that is
    itself a message, as the bidirectional stream's signed outer messages carry). Raises
    :class:`CorruptMessageError` for corrupt bytes, a cut message, or more than one."""
    decoder = EventStreamDecoder()
    messages = decoder.feed(data)
    decoder.end()
    if len(messages) != 1:
        raise InvalidPreludeError(f"the bytes hold {len(messages)} messages, not exactly one")
    return messages[0]
