"""The AWS event stream codec (``application/vnd.amazon.eventstream``), without I/O.

A message, integers big-endian::

    [total_length u32][headers_length u32][prelude_crc u32]   prelude_crc = crc32(first 8 bytes)
    [headers: headers_length bytes][payload: total_length - headers_length - 16 bytes]
    [message_crc u32]                                         crc32 of every byte before it

    header = [name_len u8][name, UTF-8][type u8][value]
    type: 0 TRUE, 1 FALSE (no value); 2 INT8, 3 INT16, 4 INT32, 5 INT64 (signed); 6 BYTES,
    7 STRING (u16 length, then bytes / UTF-8); 8 TIMESTAMP (i64 ms since epoch); 9 UUID (16)

This module holds the message and header types, the errors and the encoder:
:func:`encode_message` builds one message. The incremental decoder that takes a stream
apart again, :class:`~runtime_client._eventstream_decoder.EventStreamDecoder`, is in
:mod:`runtime_client._eventstream_decoder`.

Errors::

    EventStreamError                 base of everything the codec raises
    +-- InvalidMessageError          bad local input to the encoder (also a ValueError)
    +-- CorruptMessageError          bad bytes from the peer (raised by the decoder)
        +-- ChecksumMismatchError    .part ("prelude" or "message"), .expected, .actual
        +-- MessageTooLargeError     .part ("headers" or "payload"), .length, .limit
        +-- InvalidPreludeError      lengths that cannot describe a message
        +-- InvalidHeaderError       a header block that does not parse
        +-- TruncatedStreamError     the stream ended inside a message

Header values never appear in exception messages, and bytes values never in reprs (a
``:chunk-signature`` header carries a signature).
"""

from __future__ import annotations

import enum
import struct
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import TypeAlias, cast
from zlib import crc32

__all__ = [
    "DEFAULT_MAX_HEADERS_LENGTH",
    "DEFAULT_MAX_PAYLOAD_LENGTH",
    "ChecksumMismatchError",
    "CorruptMessageError",
    "EventStreamError",
    "EventStreamHeaders",
    "EventStreamMessage",
    "HeaderInput",
    "HeaderType",
    "HeaderValue",
    "InvalidHeaderError",
    "InvalidMessageError",
    "InvalidPreludeError",
    "MessageTooLargeError",
    "PlainHeaderValue",
    "TruncatedStreamError",
    "encode_headers",
    "encode_message",
]

DEFAULT_MAX_HEADERS_LENGTH = 128 * 1024
DEFAULT_MAX_PAYLOAD_LENGTH = 16 * 1024 * 1024

# The framing and wire-type constants, _INTS, _EPOCH and the empty mappings are defined once,
# here; the decoder (runtime_client._eventstream_decoder) imports them.
_PRELUDE_LENGTH = 12
_OVERHEAD = 16  # prelude + message CRC

_LENGTHS = struct.Struct(">II")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)


# ----------------------------------------------------------------------------- errors


class EventStreamError(Exception):
    """Base class of the errors raised by the event stream codec."""


class InvalidMessageError(EventStreamError, ValueError):
    """The caller asked the encoder for a message that cannot be encoded."""


class CorruptMessageError(EventStreamError):
    """The peer sent bytes that are not a valid event stream."""


class ChecksumMismatchError(CorruptMessageError):
    """A CRC32 in the stream does not match the bytes it covers."""

    def __init__(self, part: str, expected: int, actual: int) -> None:
        self.part = part
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{part} checksum mismatch: the stream says 0x{expected:08x}, "
            f"the bytes give 0x{actual:08x}"
        )


class MessageTooLargeError(CorruptMessageError):
    """A prelude announces headers or a payload larger than the decoder's limit."""

    def __init__(self, part: str, length: int, limit: int) -> None:
        self.part = part
        self.length = length
        self.limit = limit
        super().__init__(f"the peer announced {length} bytes of {part}, over the limit of {limit}")


class InvalidPreludeError(CorruptMessageError):
    """A prelude whose lengths cannot describe a message."""


class InvalidHeaderError(CorruptMessageError):
    """A header block that does not parse (bad type, lengths, UTF-8, duplicate name)."""


class TruncatedStreamError(CorruptMessageError):
    """The stream ended in the middle of a message."""


# ----------------------------------------------------------------------------- values


class HeaderType(enum.IntEnum):
    """The wire type of a header value."""

    TRUE = 0
    FALSE = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTES = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


PlainHeaderValue: TypeAlias = bool | int | bytes | str | datetime | uuid.UUID
"""A header value as plain Python, the way :attr:`EventStreamMessage.headers` gives it."""

_INTS = {  # wire type -> (struct, min, max)
    HeaderType.INT8: (_I8, -(1 << 7), (1 << 7) - 1),
    HeaderType.INT16: (_I16, -(1 << 15), (1 << 15) - 1),
    HeaderType.INT32: (_I32, -(1 << 31), (1 << 31) - 1),
    HeaderType.INT64: (_I64, -(1 << 63), (1 << 63) - 1),
}
_OTHER_RULES = {
    HeaderType.TRUE: "True",
    HeaderType.FALSE: "False",
    HeaderType.BYTES: "bytes",
    HeaderType.STRING: "a str",
    HeaderType.TIMESTAMP: "a timezone-aware datetime",
    HeaderType.UUID: "a uuid.UUID",
}


def _natural_type(value: object) -> HeaderType | None:
    """The wire type a plain non-int value maps to, or None."""
    if value is True or value is False:
        return HeaderType.TRUE if value else HeaderType.FALSE
    if isinstance(value, str):
        return HeaderType.STRING
    if isinstance(value, (bytes, bytearray, memoryview)):
        return HeaderType.BYTES
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return HeaderType.TIMESTAMP
    if isinstance(value, uuid.UUID):
        return HeaderType.UUID
    return None


@dataclass(frozen=True, slots=True)
class HeaderValue:
    """A header value with an explicit wire type.

    Plain Python values map to a type on their own (see :func:`encode_headers`); use this
    to choose another, e.g. ``HeaderValue(HeaderType.INT16, 7)`` or ``HeaderValue.int16(7)``.
    ``value`` must be an int in range for the INT types, and otherwise what maps to the
    type: True, False, bytes (a bytearray or memoryview is copied), a str, a timezone-aware
    datetime, a uuid.UUID. Raises :class:`InvalidMessageError`.
    """

    type: HeaderType
    value: PlainHeaderValue

    def __post_init__(self) -> None:
        kind, value = self.type, cast(object, self.value)  # callers may pass anything
        if not isinstance(kind, HeaderType):
            raise InvalidMessageError("HeaderValue.type must be a HeaderType")
        if kind in _INTS:
            _, low, high = _INTS[kind]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidMessageError(
                    f"a {kind.name} header value must be an int in {low}..{high}"
                )
        elif _natural_type(value) is not kind:
            raise InvalidMessageError(f"a {kind.name} header value must be {_OTHER_RULES[kind]}")
        elif isinstance(value, (bytearray, memoryview)):
            object.__setattr__(self, "value", bytes(value))

    def __repr__(self) -> str:
        return f"HeaderValue({self.type.name}, {_safe_repr(self.value)})"

    @classmethod
    def int8(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT8, value)

    @classmethod
    def int16(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT16, value)

    @classmethod
    def int32(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT32, value)

    @classmethod
    def int64(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT64, value)


HeaderInput: TypeAlias = PlainHeaderValue | HeaderValue | bytearray | memoryview
"""What the encoder accepts as a header value."""

EventStreamHeaders: TypeAlias = Mapping[str, HeaderInput] | Iterable[tuple[str, HeaderInput]]
"""Headers for the encoder: a mapping, or (name, value) pairs in wire order."""


def _safe_repr(value: object) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return repr(value)


_EMPTY_HEADERS: Mapping[str, PlainHeaderValue] = MappingProxyType({})
_EMPTY_TYPED: Mapping[str, HeaderValue] = MappingProxyType({})


def _empty_typed() -> Mapping[str, HeaderValue]:
    return _EMPTY_TYPED


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded message.

    ``headers`` maps each name to its plain Python value, in wire order; ``typed_headers``
    keeps each wire type too (an INT8 and an INT32 look alike in ``headers``), so that
    ``encode_message(m.typed_headers, m.payload)`` gives back the exact bytes. Both are
    read-only mappings. ``typed_headers`` does not take part in equality.
    """

    headers: Mapping[str, PlainHeaderValue]
    payload: bytes
    typed_headers: Mapping[str, HeaderValue] = field(default_factory=_empty_typed, compare=False)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name!r}: {_safe_repr(v)}" for name, v in self.headers.items())
        return f"EventStreamMessage(headers={{{shown}}}, payload=<{len(self.payload)} bytes>)"

    def _str_header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    @property
    def message_type(self) -> str | None:
        """``:message-type``: ``event``, ``exception`` or ``error``."""
        return self._str_header(":message-type")

    @property
    def event_type(self) -> str | None:
        """``:event-type`` of an event, e.g. ``PayloadPart``."""
        return self._str_header(":event-type")

    @property
    def exception_type(self) -> str | None:
        """``:exception-type`` of an exception, e.g. ``ModelStreamError``."""
        return self._str_header(":exception-type")

    @property
    def content_type(self) -> str | None:
        return self._str_header(":content-type")

    @property
    def error_code(self) -> str | None:
        """``:error-code`` of an ``error`` message."""
        return self._str_header(":error-code")

    @property
    def error_message(self) -> str | None:
        """``:error-message`` of an ``error`` message."""
        return self._str_header(":error-message")


# ----------------------------------------------------------------------------- encoder

_MAX_VARIABLE_LENGTH = 0xFFFF


def _variable(name: str, kind: HeaderType, data: bytes) -> bytes:
    if len(data) > _MAX_VARIABLE_LENGTH:
        raise InvalidMessageError(
            f"header {name!r}: a {kind.name} value is at most {_MAX_VARIABLE_LENGTH} bytes"
        )
    return bytes((kind,)) + _U16.pack(len(data)) + data


def _encode_value(name: str, value: object) -> bytes:
    """The type byte and value bytes of one header."""
    if isinstance(value, HeaderValue):  # checked when made
        if value.type in _INTS:
            return bytes((value.type,)) + _INTS[value.type][0].pack(value.value)
        value = value.value  # any other value maps to its own type
    if value is True:
        return b"\x00"
    if value is False:
        return b"\x01"
    if isinstance(value, int):
        for kind in (HeaderType.INT32, HeaderType.INT64):
            packer, low, high = _INTS[kind]
            if low <= value <= high:
                return bytes((kind,)) + packer.pack(value)
        raise InvalidMessageError(f"header {name!r}: an int value must fit in a signed 64-bit int")
    if isinstance(value, str):
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidMessageError(
                f"header {name!r}: a str value must be valid Unicode"
            ) from None
        return _variable(name, HeaderType.STRING, data)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _variable(name, HeaderType.BYTES, bytes(value))
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise InvalidMessageError(f"header {name!r}: a datetime value must be timezone-aware")
        return b"\x08" + _I64.pack((value - _EPOCH) // _MILLISECOND)
    if isinstance(value, uuid.UUID):
        return b"\x09" + value.bytes
    raise InvalidMessageError(
        f"header {name!r}: unsupported value type {type(value).__name__}; use bool, int, "
        "bytes, str, datetime, uuid.UUID or HeaderValue"
    )


def encode_headers(headers: EventStreamHeaders) -> bytes:
    """Encode a header block (the bytes between the prelude and the payload).

    Names are non-empty str of at most 255 UTF-8 bytes, each at most once. Plain values
    map to: bool -> TRUE/FALSE, int -> INT32 if it fits else INT64, bytes (bytearray,
    memoryview) -> BYTES, str -> STRING, datetime (timezone-aware; sub-millisecond digits
    are dropped) -> TIMESTAMP, uuid.UUID -> UUID. Use :class:`HeaderValue` for another type.
    Raises :class:`InvalidMessageError`.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    parts: list[bytes] = []
    seen: set[str] = set()
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise InvalidMessageError("headers must be a mapping or (name, value) pairs") from None
        if not isinstance(name, str):
            raise InvalidMessageError(f"a header name must be a str, not {type(name).__name__}")
        if name in seen:
            raise InvalidMessageError(f"header {name!r} is given twice")
        seen.add(name)
        try:
            raw_name = name.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidMessageError("a header name must be valid Unicode") from None
        if not 1 <= len(raw_name) <= 255:
            raise InvalidMessageError(f"header name {name[:64]!r} must be 1..255 UTF-8 bytes")
        parts += (bytes((len(raw_name),)), raw_name, _encode_value(name, value))
    block = b"".join(parts)
    if len(block) > DEFAULT_MAX_HEADERS_LENGTH:
        raise InvalidMessageError(
            f"the headers take {len(block)} bytes, over the limit of {DEFAULT_MAX_HEADERS_LENGTH}"
        )
    return block


def encode_message(
    headers: EventStreamHeaders = (), payload: bytes | bytearray | memoryview = b""
) -> bytes:
    """Encode one message: prelude, headers (see :func:`encode_headers`), payload, CRC.

    The payload is at most :data:`DEFAULT_MAX_PAYLOAD_LENGTH` bytes. Raises
    :class:`InvalidMessageError`.
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise InvalidMessageError(f"payload must be bytes, not {type(payload).__name__}")
    payload = bytes(payload) if not isinstance(payload, bytes) else payload
    if len(payload) > DEFAULT_MAX_PAYLOAD_LENGTH:
        raise InvalidMessageError(
            f"the payload is {len(payload)} bytes, over the limit of {DEFAULT_MAX_PAYLOAD_LENGTH}"
        )
    block = encode_headers(headers)
    lengths = _LENGTHS.pack(_OVERHEAD + len(block) + len(payload), len(block))
    prelude = lengths + _U32.pack(crc32(lengths))
    crc = crc32(payload, crc32(block, crc32(prelude)))
    return b"".join((prelude, block, payload, _U32.pack(crc)))
