"""TODO: docstring"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from runtime_client.eventstream import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    ChecksumMismatchError,
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamMessage,
    HeaderType,
    InvalidHeaderError,
    InvalidPreludeError,
    MessageTooLargeError,
    PlainHeaderValue,
)

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK_SIZES = range(1, 12)

# ----------------------------------------------------------------------------- builders


def frame(
    headers: bytes = b"",
    payload: bytes = b"",
    *,
    total: int | None = None,
    headers_length: int | None = None,
    prelude_crc: int | None = None,
    message_crc: int | None = None,
) -> bytes:
    """A message built by hand; any length or CRC can be overridden to make it wrong."""
    total = 16 + len(headers) + len(payload) if total is None else total
    headers_length = len(headers) if headers_length is None else headers_length
    lengths = struct.pack(">II", total, headers_length)
    crc = zlib.crc32(lengths) if prelude_crc is None else prelude_crc
    body = lengths + struct.pack(">I", crc) + headers + payload
    crc = zlib.crc32(body) if message_crc is None else message_crc
    return body + struct.pack(">I", crc)


def prelude_only(total: int, headers_length: int) -> bytes:
    lengths = struct.pack(">II", total, headers_length)
    return lengths + struct.pack(">I", zlib.crc32(lengths))


def hdr(name: str | bytes, type_code: int, value: bytes = b"") -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    return bytes([len(raw)]) + raw + bytes([type_code]) + value


def h_str(name: str, value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return hdr(name, 7, struct.pack(">H", len(raw)) + raw)


def h_bytes(name: str, value: bytes) -> bytes:
    return hdr(name, 6, struct.pack(">H", len(value)) + value)


def h_int(name: str, type_code: int, value: int) -> bytes:
    fmt = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}[type_code]
    return hdr(name, type_code, struct.pack(fmt, value))


UUID_1 = uuid.UUID("0102030405060708090a0b0c0d0e0f10")
SAGEMAKER_HEADERS = (
    h_str(":message-type", "event")
    + h_str(":event-type", "PayloadPart")
    + h_str(":content-type", "application/octet-stream")
)
SAGEMAKER_PLAIN = {
    ":message-type": "event",
    ":event-type": "PayloadPart",
    ":content-type": "application/octet-stream",
}
ALL_TYPES_BLOCK = (
    hdr("true", 0)
    + hdr("false", 1)
    + h_int("byte", 2, -1)
    + h_int("short", 3, -32768)
    + h_int("integer", 4, 40972)
    + h_int("long", 5, 2**63 - 1)
    + h_bytes("bytes", b"\x00\xffbin")
    + h_str("string", "héllo ✓")
    + h_int("timestamp", 8, 1_700_000_000_123)
    + hdr("uuid", 9, UUID_1.bytes)
)
ALL_TYPES_PLAIN: dict[str, PlainHeaderValue] = {
    "true": True,
    "false": False,
    "byte": -1,
    "short": -32768,
    "integer": 40972,
    "long": 2**63 - 1,
    "bytes": b"\x00\xffbin",
    "string": "héllo ✓",
    "timestamp": EPOCH + timedelta(milliseconds=1_700_000_000_123),
    "uuid": UUID_1,
}
ALL_TYPES_TYPES = [
    HeaderType.TRUE,
    HeaderType.FALSE,
    HeaderType.INT8,
    HeaderType.INT16,
    HeaderType.INT32,
    HeaderType.INT64,
    HeaderType.BYTES,
    HeaderType.STRING,
    HeaderType.TIMESTAMP,
    HeaderType.UUID,
]

# ----------------------------------------------------------------------------- vectors

Expected = list[tuple[Mapping[str, object], bytes]]


@dataclass(frozen=True)
class Good:
    name: str
    data: bytes
    messages: Expected


@dataclass(frozen=True)
class Bad:
    name: str
    data: bytes
    error: type[CorruptMessageError]
    prelude_error: bool = False  # raised once 12 bytes are in, else once the whole message is

    @property
    def raised_after(self) -> int:
        return 12 if self.prelude_error else len(self.data)


EMPTY_MESSAGE = b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2\x48\xeb\x7d\x98\xc8\xff"
PAYLOAD_PART = frame(SAGEMAKER_HEADERS, b'{"outputs": [1, 2')
MODEL_STREAM_ERROR = frame(
    h_str(":message-type", "exception")
    + h_str(":exception-type", "ModelStreamError")
    + h_str(":content-type", "application/json"),
    b'{"Message":"boom","ErrorCode":"StreamBroken"}',
)
ERROR_MESSAGE = frame(
    h_str(":message-type", "error")
    + h_str(":error-code", "InternalFailure")
    + h_str(":error-message", "try again")
)
LONG_NAME = "n" * 255

GOOD = [
    Good("empty message (AWS vector)", EMPTY_MESSAGE, [({}, b"")]),
    Good("payload, no headers", frame(b"", b'{"foo":"bar"}'), [({}, b'{"foo":"bar"}')]),
    Good(
        "one string header",
        frame(h_str("content-type", "application/json"), b'{"foo":"bar"}'),
        [({"content-type": "application/json"}, b'{"foo":"bar"}')],
    ),
    Good(
        "int32 header",
        frame(h_int("event-id", 4, 0x0000A00C), b'{"foo":"bar"}'),
        [({"event-id": 0xA00C}, b'{"foo":"bar"}')],
    ),
    Good("all header types", frame(ALL_TYPES_BLOCK, b"p"), [(ALL_TYPES_PLAIN, b"p")]),
    Good("SageMaker PayloadPart", PAYLOAD_PART, [(SAGEMAKER_PLAIN, b'{"outputs": [1, 2')]),
    Good(
        "ModelStreamError exception",
        MODEL_STREAM_ERROR,
        [
            (
                {
                    ":message-type": "exception",
                    ":exception-type": "ModelStreamError",
                    ":content-type": "application/json",
                },
                b'{"Message":"boom","ErrorCode":"StreamBroken"}',
            )
        ],
    ),
    Good(
        "error message, empty payload",
        ERROR_MESSAGE,
        [
            (
                {
                    ":message-type": "error",
                    ":error-code": "InternalFailure",
                    ":error-message": "try again",
                },
                b"",
            )
        ],
    ),
    Good(
        "empty string and bytes values",
        frame(h_str("s", "") + h_bytes("b", b"")),
        [({"s": "", "b": b""}, b"")],
    ),
    Good(
        "255-byte name, 65535-byte string",
        frame(h_str(LONG_NAME, "v" * 65535), b"x"),
        [({LONG_NAME: "v" * 65535}, b"x")],
    ),
    Good(
        "payload that looks like a message",
        frame(h_str(":event-type", "Outer"), PAYLOAD_PART),
        [({":event-type": "Outer"}, PAYLOAD_PART)],
    ),
    Good(
        "three messages back to back",
        EMPTY_MESSAGE + PAYLOAD_PART + ERROR_MESSAGE,
        [
            ({}, b""),
            (SAGEMAKER_PLAIN, b'{"outputs": [1, 2'),
            (
                {
                    ":message-type": "error",
                    ":error-code": "InternalFailure",
                    ":error-message": "try again",
                },
                b"",
            ),
        ],
    ),
]

_GOOD_BLOCK = h_str("a", "b")
BAD = [
    Bad(
        "prelude CRC wrong",
        frame(_GOOD_BLOCK, b"x", prelude_crc=0xDEADBEEF),
        ChecksumMismatchError,
        prelude_error=True,
    ),
    Bad(
        "message CRC wrong",
        frame(_GOOD_BLOCK, b"x", message_crc=0xDEADBEEF),
        ChecksumMismatchError,
    ),
    Bad(
        "payload bit flipped",
        frame(_GOOD_BLOCK, b"x")[:-5] + b"y" + frame(_GOOD_BLOCK, b"x")[-4:],
        ChecksumMismatchError,
    ),
    Bad("total length under 16", frame(total=15), InvalidPreludeError, prelude_error=True),
    Bad(
        "headers longer than the message",
        frame(headers_length=1),
        InvalidPreludeError,
        prelude_error=True,
    ),
    Bad(
        "headers over the limit",
        prelude_only(16 + DEFAULT_MAX_HEADERS_LENGTH + 1, DEFAULT_MAX_HEADERS_LENGTH + 1),
        MessageTooLargeError,
        prelude_error=True,
    ),
    Bad(
        "payload over the limit",
        prelude_only(16 + DEFAULT_MAX_PAYLOAD_LENGTH + 1, 0),
        MessageTooLargeError,
        prelude_error=True,
    ),
    Bad("unknown header type", frame(hdr("h", 10)), InvalidHeaderError),
    Bad("empty header name", frame(hdr("", 0)), InvalidHeaderError),
    Bad("name runs past the block", frame(b"\x05abc"), InvalidHeaderError),
    Bad("type byte missing", frame(b"\x01a"), InvalidHeaderError),
    Bad("string length cut short", frame(hdr("h", 7, b"\x00")), InvalidHeaderError),
    Bad("string value past the block", frame(hdr("h", 7, b"\x00\x05ab")), InvalidHeaderError),
    Bad("int32 value cut short", frame(hdr("h", 4, b"\x00\x00")), InvalidHeaderError),
    Bad("uuid value cut short", frame(hdr("h", 9, bytes(15))), InvalidHeaderError),
    Bad("string not UTF-8", frame(h_str("h", b"\xff\xfe")), InvalidHeaderError),
    Bad("name not UTF-8", frame(hdr(b"\xc3", 0)), InvalidHeaderError),
    Bad("duplicate header", frame(h_str("h", "a") + h_str("h", "b")), InvalidHeaderError),
    Bad("timestamp after 9999", frame(h_int("t", 8, 2**63 - 1)), InvalidHeaderError),
]


def chunkings(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    yield "whole", [data]
    for size in CHUNK_SIZES:
        yield f"chunks of {size}", [data[i : i + size] for i in range(0, len(data), size)]


def decode_all(chunks: Sequence[bytes | bytearray | memoryview]) -> list[EventStreamMessage]:
    decoder = EventStreamDecoder()
    out: list[EventStreamMessage] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    decoder.end()
    assert decoder.buffered == 0
    return out


def as_expected(messages: Sequence[EventStreamMessage]) -> Expected:
    return [(dict(m.headers), m.payload) for m in messages]


def botocore_view(headers: Any) -> dict[str, Any]:
    """Our plain values as botocore gives them (timestamps as int ms, UUIDs as bytes)."""
    out: dict[str, Any] = {}
    for name, value in headers.items():
        if isinstance(value, datetime):
            value = (value - EPOCH) // timedelta(milliseconds=1)
        elif isinstance(value, uuid.UUID):
            value = value.bytes
        out[name] = value
    return out
