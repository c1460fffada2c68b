"""The event-stream encoder: :func:`encode_message` builds one message."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from zlib import crc32

from ._errors import InvalidMessageError
from ._format import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    EPOCH,
    I64,
    INTS,
    LENGTHS,
    MAX_VARIABLE_LENGTH,
    MILLISECOND,
    OVERHEAD,
    U16,
    U32,
    HeaderType,
)
from ._message import EventStreamHeaders, HeaderValue

__all__ = ["encode_headers", "encode_message"]


def _variable(name: str, kind: HeaderType, data: bytes) -> bytes:
    if len(data) > MAX_VARIABLE_LENGTH:
        raise InvalidMessageError(
            f"header {name!r}: a {kind.name} value is at most {MAX_VARIABLE_LENGTH} bytes"
        )
    return bytes((kind,)) + U16.pack(len(data)) + data


def _encode_value(name: str, value: object) -> bytes:
    """The type byte and value bytes of one header."""
    if isinstance(value, HeaderValue):  # checked when made
        if value.type in INTS:
            return bytes((value.type,)) + INTS[value.type][0].pack(value.value)
        value = value.value  # any other value maps to its own type
    if value is True:
        return b"\x00"
    if value is False:
        return b"\x01"
    if isinstance(value, int):
        return _encode_int(name, value)
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
    return _encode_other(name, value)


def _encode_int(name: str, value: int) -> bytes:
    for kind in (HeaderType.INT32, HeaderType.INT64):
        packer, low, high = INTS[kind]
        if low <= value <= high:
            return bytes((kind,)) + packer.pack(value)
    raise InvalidMessageError(f"header {name!r}: an int value must fit in a signed 64-bit int")


def _encode_other(name: str, value: object) -> bytes:
    """A timestamp or a UUID; anything else is refused."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise InvalidMessageError(f"header {name!r}: a datetime value must be timezone-aware")
        return b"\x08" + I64.pack((value - EPOCH) // MILLISECOND)
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
    lengths = LENGTHS.pack(OVERHEAD + len(block) + len(payload), len(block))
    prelude = lengths + U32.pack(crc32(lengths))
    crc = crc32(payload, crc32(block, crc32(prelude)))
    return b"".join((prelude, block, payload, U32.pack(crc)))
