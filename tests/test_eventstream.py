"""The event stream codec against hand-built byte vectors, itself, and botocore.

Vectors are built here from struct and zlib only (never with the encoder under test), so the
encoder is checked against them too. Each vector is fed whole and in every chunk size from 1
to 11 bytes.
"""

from __future__ import annotations

import itertools
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.eventstream import ChecksumMismatch as BotocoreChecksumMismatch
from botocore.eventstream import DuplicateHeader as BotocoreDuplicateHeader
from botocore.eventstream import EventStreamBuffer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime_client.eventstream import (
    DEFAULT_MAX_HEADERS_LENGTH,
    DEFAULT_MAX_PAYLOAD_LENGTH,
    ChecksumMismatchError,
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamError,
    EventStreamMessage,
    HeaderInput,
    HeaderType,
    HeaderValue,
    InvalidHeaderError,
    InvalidMessageError,
    InvalidPreludeError,
    MessageTooLargeError,
    PlainHeaderValue,
    TruncatedStreamError,
    encode_headers,
    encode_message,
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


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("vector", GOOD, ids=lambda v: v.name)
def test_good_vector_decodes_in_every_chunking(vector: Good) -> None:
    for label, chunks in chunkings(vector.data):
        assert as_expected(decode_all(chunks)) == vector.messages, label


@pytest.mark.parametrize("vector", GOOD, ids=lambda v: v.name)
def test_good_vector_decodes_from_bytearray_and_memoryview(vector: Good) -> None:
    assert as_expected(decode_all([bytearray(vector.data)])) == vector.messages
    assert as_expected(decode_all([memoryview(vector.data)])) == vector.messages
    wide = memoryview(vector.data + bytes(-len(vector.data) % 4)).cast("I")
    decoder = EventStreamDecoder()
    assert as_expected(decoder.feed(wide)) == vector.messages


@pytest.mark.parametrize("vector", GOOD, ids=lambda v: v.name)
def test_good_vector_is_what_our_encoder_writes(vector: Good) -> None:
    rebuilt = b"".join(
        encode_message(m.typed_headers, m.payload) for m in decode_all([vector.data])
    )
    assert rebuilt == vector.data


@pytest.mark.parametrize("vector", GOOD, ids=lambda v: v.name)
def test_good_vector_is_read_the_same_by_botocore(vector: Good) -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(vector.data)
    theirs = [(m.headers, m.payload) for m in buffer]
    ours = [(botocore_view(m.headers), m.payload) for m in decode_all([vector.data])]
    assert ours == theirs


def cut_points(length: int) -> list[int]:
    if length <= 600:
        return list(range(1, length))
    return sorted({*range(1, 40), *range(length - 40, length), *range(40, length, 997)})


@pytest.mark.parametrize("vector", GOOD, ids=lambda v: v.name)
def test_end_inside_a_message_raises(vector: Good) -> None:
    boundaries = set()
    offset = 0
    for m in decode_all([vector.data]):
        offset += len(encode_message(m.typed_headers, m.payload))
        boundaries.add(offset)
    for cut in cut_points(len(vector.data)):
        decoder = EventStreamDecoder()
        got = as_expected(decoder.feed(vector.data[:cut]))
        assert got == vector.messages[: sum(1 for end in boundaries if end <= cut)]
        if cut in boundaries:
            decoder.end()
            continue
        assert decoder.buffered > 0
        with pytest.raises(TruncatedStreamError, match="ended inside a message"):
            decoder.end()
        with pytest.raises(TruncatedStreamError):  # and it stays failed
            decoder.feed(b"")


@dataclass
class Failure:
    decoder: EventStreamDecoder
    fed: int  # bytes fed when the error came
    messages: list[EventStreamMessage]  # returned before it
    error: CorruptMessageError
    from_end: bool  # raised by end(), not feed()


def run_until_error(chunks: Sequence[bytes]) -> Failure:
    decoder = EventStreamDecoder()
    fed = 0
    got: list[EventStreamMessage] = []
    for chunk in chunks:
        fed += len(chunk)
        try:
            got += decoder.feed(chunk)
        except CorruptMessageError as exc:
            return Failure(decoder, fed, got, exc, from_end=False)
    try:
        decoder.end()
    except CorruptMessageError as exc:
        return Failure(decoder, fed, got, exc, from_end=True)
    raise AssertionError("the stream decoded without an error")


@pytest.mark.parametrize("vector", BAD, ids=lambda v: v.name)
def test_bad_vector_raises_as_soon_as_its_bytes_are_in(vector: Bad) -> None:
    for label, chunks in chunkings(vector.data):
        failure = run_until_error(chunks)
        assert type(failure.error) is vector.error, label
        assert not failure.from_end, label
        assert failure.messages == [], label
        # raised by the feed() that brought in the last byte it needed, not later
        assert vector.raised_after <= failure.fed < vector.raised_after + len(chunks[0]), label
        assert failure.decoder.buffered == 0
        # The decoder stays failed, with the same error.
        with pytest.raises(vector.error) as again:
            failure.decoder.feed(EMPTY_MESSAGE)
        assert again.value is failure.error
        with pytest.raises(vector.error):
            failure.decoder.end()


@pytest.mark.parametrize("vector", BAD, ids=lambda v: v.name)
def test_good_messages_before_a_bad_one_are_returned_first(vector: Bad) -> None:
    data = PAYLOAD_PART + vector.data
    decoder = EventStreamDecoder()
    assert as_expected(decoder.feed(data)) == [(SAGEMAKER_PLAIN, b'{"outputs": [1, 2')]
    with pytest.raises(vector.error):
        decoder.end()
    for label, chunks in chunkings(data):
        failure = run_until_error(chunks)
        assert type(failure.error) is vector.error, label
        assert as_expected(failure.messages) == [(SAGEMAKER_PLAIN, b'{"outputs": [1, 2')], label


def test_errors_form_the_documented_tree() -> None:
    for error in (
        ChecksumMismatchError,
        MessageTooLargeError,
        InvalidPreludeError,
        InvalidHeaderError,
        TruncatedStreamError,
    ):
        assert issubclass(error, CorruptMessageError)
    assert issubclass(CorruptMessageError, EventStreamError)
    assert issubclass(InvalidMessageError, EventStreamError)
    assert issubclass(InvalidMessageError, ValueError)
    assert not issubclass(CorruptMessageError, ValueError)


def test_prelude_checksum_error_carries_expected_and_actual() -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(ChecksumMismatchError) as caught:
        decoder.feed(frame(prelude_crc=0x01020304))
    real = zlib.crc32(struct.pack(">II", 16, 0))
    assert (caught.value.part, caught.value.expected, caught.value.actual) == (
        "prelude",
        0x01020304,
        real,
    )
    assert "0x01020304" in str(caught.value)
    assert f"0x{real:08x}" in str(caught.value)


def test_message_checksum_error_carries_expected_and_actual() -> None:
    good = frame(_GOOD_BLOCK, b"payload")
    decoder = EventStreamDecoder()
    with pytest.raises(ChecksumMismatchError) as caught:
        decoder.feed(good[:-4] + b"\x00\x00\x00\x07")
    assert caught.value.part == "message"
    assert caught.value.expected == 7
    assert caught.value.actual == struct.unpack(">I", good[-4:])[0]


def test_prelude_claiming_a_gigabyte_fails_on_the_prelude_alone() -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(MessageTooLargeError) as caught:
        decoder.feed(prelude_only(1 << 30, 0))
    assert (caught.value.part, caught.value.length, caught.value.limit) == (
        "payload",
        (1 << 30) - 16,
        DEFAULT_MAX_PAYLOAD_LENGTH,
    )
    assert decoder.buffered == 0


def test_prelude_is_checked_before_anything_else_is_buffered() -> None:
    decoder = EventStreamDecoder()
    data = prelude_only(1 << 30, 0)
    for byte in range(11):
        assert decoder.feed(data[byte : byte + 1]) == []
    assert decoder.buffered == 11
    with pytest.raises(MessageTooLargeError):
        decoder.feed(data[11:] + bytes(100))
    assert decoder.buffered == 0


def test_custom_limits_are_enforced_on_the_prelude() -> None:
    decoder = EventStreamDecoder(max_headers_length=6, max_payload_length=10)
    assert decoder.max_message_length == 32
    assert as_expected(decoder.feed(frame(h_str("a", "b"), bytes(10)))) == [({"a": "b"}, bytes(10))]
    with pytest.raises(MessageTooLargeError) as caught:
        EventStreamDecoder(max_payload_length=10).feed(frame(b"", bytes(11))[:12])
    assert (caught.value.part, caught.value.length, caught.value.limit) == ("payload", 11, 10)
    with pytest.raises(MessageTooLargeError) as caught:
        EventStreamDecoder(max_headers_length=5).feed(frame(h_str("a", "b"))[:12])
    assert (caught.value.part, caught.value.length, caught.value.limit) == ("headers", 6, 5)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"max_headers_length": -1}, "max_headers_length"),
        ({"max_payload_length": True}, "max_payload_length"),
        ({"max_payload_length": 1.5}, "max_payload_length"),
        ({"max_headers_length": 2**31, "max_payload_length": 2**31}, "max_payload_length"),
    ],
)
def test_decoder_rejects_bad_limits(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(ValueError, match=param):
        EventStreamDecoder(**kwargs)


def test_buffer_never_holds_more_than_the_message_being_read() -> None:
    message = frame(SAGEMAKER_HEADERS, bytes(5000))
    decoder = EventStreamDecoder()
    seen = 0
    for i in range(0, 2 * len(message), 7):
        decoder.feed((message * 2)[i : i + 7])
        assert decoder.buffered < len(message)
        seen = max(seen, decoder.buffered)
    decoder.end()
    assert seen > len(message) - 8


def test_caller_buffers_are_copied_not_held() -> None:
    data = bytearray(PAYLOAD_PART)
    decoder = EventStreamDecoder()
    assert decoder.feed(memoryview(data)[:20]) == []
    data[12:20] = bytes(8)  # the caller reuses its buffer; the decoder kept its own copy
    data += b"more"  # and can resize it (no view left exported)
    assert as_expected(decoder.feed(PAYLOAD_PART[20:])) == [(SAGEMAKER_PLAIN, b'{"outputs": [1, 2')]
    bad = bytearray(frame(prelude_crc=1))
    with pytest.raises(ChecksumMismatchError):
        EventStreamDecoder().feed(bad)
    bad += b"x"  # the error's traceback does not pin the caller's bytearray either


def test_message_properties() -> None:
    [exception] = decode_all([MODEL_STREAM_ERROR])
    assert exception.message_type == "exception"
    assert exception.exception_type == "ModelStreamError"
    assert exception.content_type == "application/json"
    assert exception.event_type is None
    [error] = decode_all([ERROR_MESSAGE])
    assert (error.message_type, error.error_code, error.error_message) == (
        "error",
        "InternalFailure",
        "try again",
    )
    [event] = decode_all([PAYLOAD_PART])
    assert (event.message_type, event.event_type) == ("event", "PayloadPart")
    [odd] = decode_all([frame(h_int(":message-type", 4, 1))])
    assert odd.message_type is None  # not a string: not a message type


def test_messages_are_frozen_and_read_only() -> None:
    [message] = decode_all([PAYLOAD_PART])
    with pytest.raises(AttributeError):
        message.payload = b"x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        message.headers[":event-type"] = "x"  # type: ignore[index]
    assert message == EventStreamMessage(SAGEMAKER_PLAIN, b'{"outputs": [1, 2')


def test_reprs_do_not_show_bytes_values() -> None:
    secret = bytes.fromhex("ab" * 32)
    [message] = decode_all([frame(h_bytes(":chunk-signature", secret) + h_str("k", "v"), b"xyz")])
    text = repr(message)
    assert "<32 bytes>" in text
    assert "'k': 'v'" in text
    assert "<3 bytes>" in text
    assert "ab" * 4 not in text
    assert "\\xab" not in text
    assert "\\xab" not in repr(message.typed_headers[":chunk-signature"])


def test_header_cache_does_not_leak_between_different_blocks() -> None:
    decoder = EventStreamDecoder()
    stream = b"".join(frame(h_int("n", 4, i), b"") for i in range(200))
    assert [m.headers["n"] for m in decoder.feed(stream)] == list(range(200))


# ----------------------------------------------------------------------------- encoding

DT = datetime(2024, 2, 29, 12, 30, 45, 678901, tzinfo=UTC)
TYPE_CASES: list[tuple[str, object, bytes, HeaderValue]] = [
    ("True", True, hdr("h", 0), HeaderValue(HeaderType.TRUE, True)),
    ("False", False, hdr("h", 1), HeaderValue(HeaderType.FALSE, False)),
    ("int8 min", HeaderValue.int8(-128), h_int("h", 2, -128), HeaderValue.int8(-128)),
    ("int8 max", HeaderValue.int8(127), h_int("h", 2, 127), HeaderValue.int8(127)),
    ("int16", HeaderValue.int16(-32768), h_int("h", 3, -32768), HeaderValue.int16(-32768)),
    ("int32", HeaderValue.int32(7), h_int("h", 4, 7), HeaderValue.int32(7)),
    ("int64", HeaderValue.int64(7), h_int("h", 5, 7), HeaderValue.int64(7)),
    ("plain int", 2**31 - 1, h_int("h", 4, 2**31 - 1), HeaderValue.int32(2**31 - 1)),
    ("plain negative int", -(2**31), h_int("h", 4, -(2**31)), HeaderValue.int32(-(2**31))),
    ("int over int32", 2**31, h_int("h", 5, 2**31), HeaderValue.int64(2**31)),
    ("int64 min", -(2**63), h_int("h", 5, -(2**63)), HeaderValue.int64(-(2**63))),
    ("bytes", b"\x00\x01", h_bytes("h", b"\x00\x01"), HeaderValue(HeaderType.BYTES, b"\x00\x01")),
    ("bytearray", bytearray(b"ab"), h_bytes("h", b"ab"), HeaderValue(HeaderType.BYTES, b"ab")),
    ("memoryview", memoryview(b"ab"), h_bytes("h", b"ab"), HeaderValue(HeaderType.BYTES, b"ab")),
    ("empty bytes", b"", h_bytes("h", b""), HeaderValue(HeaderType.BYTES, b"")),
    ("str", "héllo ✓", h_str("h", "héllo ✓"), HeaderValue(HeaderType.STRING, "héllo ✓")),
    ("empty str", "", h_str("h", ""), HeaderValue(HeaderType.STRING, "")),
    (
        "datetime (sub-ms dropped)",
        DT,
        h_int("h", 8, 1709209845678),
        HeaderValue(HeaderType.TIMESTAMP, DT.replace(microsecond=678000)),
    ),
    (
        "datetime in another zone",
        DT.astimezone(timezone(timedelta(hours=-5))),
        h_int("h", 8, 1709209845678),
        HeaderValue(HeaderType.TIMESTAMP, DT.replace(microsecond=678000)),
    ),
    (
        "datetime before 1970",
        datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC),
        h_int("h", 8, -1),
        HeaderValue(HeaderType.TIMESTAMP, datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ),
    ("uuid", UUID_1, hdr("h", 9, UUID_1.bytes), HeaderValue(HeaderType.UUID, UUID_1)),
]


@pytest.mark.parametrize(
    ("label", "value", "wire", "decoded"), TYPE_CASES, ids=[c[0] for c in TYPE_CASES]
)
def test_every_header_type_round_trips(
    label: str, value: Any, wire: bytes, decoded: HeaderValue
) -> None:
    assert encode_headers({"h": value}) == wire
    [message] = decode_all([encode_message({"h": value}, b"")])
    assert message.typed_headers["h"] == decoded
    assert message.headers["h"] == decoded.value
    assert type(message.headers["h"]) is type(decoded.value)
    assert encode_headers(message.typed_headers) == wire


def test_encoder_keeps_header_order_and_takes_pairs() -> None:
    pairs: list[tuple[str, HeaderInput]] = [("z", 1), ("a", "x"), ("m", True)]
    data = encode_message(pairs, b"body")
    assert data == encode_message(dict(pairs), b"body")
    [message] = decode_all([data])
    assert list(message.headers) == ["z", "a", "m"]
    assert encode_message() == EMPTY_MESSAGE
    assert encode_message({}, bytearray(b"x")) == frame(b"", b"x")


ENCODER_ERRORS: list[tuple[str, Any, Any, str]] = [
    ("empty name", {"": 1}, b"", "1..255"),
    ("name over 255 bytes", {"é" * 128: 1}, b"", "1..255"),
    ("name not a str", {b"h": 1}, b"", "must be a str"),
    ("name given twice", [("h", 1), ("h", 2)], b"", "given twice"),
    ("not pairs", [("h",)], b"", "pairs"),
    ("string over 65535 bytes", {"h": "é" * 32768}, b"", "at most 65535"),
    ("bytes over 65535", {"h": bytes(65536)}, b"", "at most 65535"),
    ("int over int64", {"h": 2**63}, b"", "64-bit"),
    ("naive datetime", {"h": datetime(2024, 1, 1)}, b"", "timezone-aware"),
    ("float value", {"h": 1.5}, b"", "unsupported value type float"),
    ("None value", {"h": None}, b"", "unsupported value type NoneType"),
    ("lone surrogate", {"h": "\ud800"}, b"", "valid Unicode"),
    ("headers over 128 KiB", {f"h{i}": "x" * 65000 for i in range(3)}, b"", "limit"),
    ("payload str", {}, "text", "payload must be bytes"),
    ("payload over 16 MiB", {}, bytes(DEFAULT_MAX_PAYLOAD_LENGTH + 1), "limit"),
]


@pytest.mark.parametrize(
    ("label", "headers", "payload", "match"), ENCODER_ERRORS, ids=[c[0] for c in ENCODER_ERRORS]
)
def test_encoder_rejects_bad_input(label: str, headers: Any, payload: Any, match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        encode_message(headers, payload)


HEADER_VALUE_ERRORS: list[tuple[HeaderType, Any, str]] = [
    (HeaderType.INT8, 128, r"INT8 header value must be an int in -128\.\.127"),
    (HeaderType.INT16, -32769, "INT16"),
    (HeaderType.INT32, 2**31, "INT32"),
    (HeaderType.INT64, 2**63, "INT64"),
    (HeaderType.INT8, True, "INT8"),
    (HeaderType.INT32, "1", "INT32"),
    (HeaderType.TRUE, False, "must be True"),
    (HeaderType.FALSE, 0, "must be False"),
    (HeaderType.BYTES, "x", "must be bytes"),
    (HeaderType.STRING, b"x", "must be a str"),
    (HeaderType.TIMESTAMP, datetime(2024, 1, 1), "timezone-aware"),
    (HeaderType.TIMESTAMP, 1700000000000, "timezone-aware"),
    (HeaderType.UUID, UUID_1.bytes, "uuid.UUID"),
]


@pytest.mark.parametrize(("kind", "value", "match"), HEADER_VALUE_ERRORS)
def test_header_value_checks_its_type(kind: HeaderType, value: Any, match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        HeaderValue(kind, value)


def test_header_value_type_must_be_a_header_type() -> None:
    with pytest.raises(InvalidMessageError, match="must be a HeaderType"):
        HeaderValue(7, "x")  # type: ignore[arg-type]


def test_encoder_errors_do_not_show_header_values() -> None:
    secret = "s3cr3t-" * 10000
    with pytest.raises(InvalidMessageError) as caught:
        encode_message({":chunk-signature": secret})
    assert "s3cr3t" not in str(caught.value)
    assert ":chunk-signature" in str(caught.value)


# ----------------------------------------------------------------------------- botocore


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


def test_botocore_rejects_the_checksum_and_duplicate_vectors_too() -> None:
    for name, error in [
        ("prelude CRC wrong", BotocoreChecksumMismatch),
        ("message CRC wrong", BotocoreChecksumMismatch),
        ("payload bit flipped", BotocoreChecksumMismatch),
        ("duplicate header", BotocoreDuplicateHeader),
    ]:
        [bad] = [b for b in BAD if b.name == name]
        buffer = EventStreamBuffer()
        buffer.add_data(bad.data)
        with pytest.raises(error):
            list(buffer)


def test_sagemaker_stream_matches_botocore_in_network_chunks() -> None:
    messages = [
        encode_message(SAGEMAKER_PLAIN, bytes([i % 251]) * (i * 37 % 3000)) for i in range(300)
    ]
    stream = b"".join(messages)
    chunks = [stream[i : i + 16384] for i in range(0, len(stream), 16384)]
    buffer = EventStreamBuffer()
    theirs = []
    for chunk in chunks:
        buffer.add_data(chunk)
        theirs += [(m.headers, m.payload) for m in buffer]
    ours = [(botocore_view(m.headers), m.payload) for m in decode_all(chunks)]
    assert len(ours) == 300
    assert ours == theirs


# ----------------------------------------------------------------------------- hypothesis

names = st.text(min_size=1, max_size=30).filter(lambda s: len(s.encode()) <= 255)
datetimes = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
plain_values = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.binary(max_size=200),
    st.text(max_size=60),
    datetimes,
    st.uuids(),
)
typed_values = st.one_of(
    st.builds(HeaderValue.int8, st.integers(-128, 127)),
    st.builds(HeaderValue.int16, st.integers(-(2**15), 2**15 - 1)),
    st.builds(HeaderValue.int32, st.integers(-(2**31), 2**31 - 1)),
    st.builds(HeaderValue.int64, st.integers(-(2**63), 2**63 - 1)),
)
header_maps = st.dictionaries(names, st.one_of(plain_values, typed_values), max_size=6)
message_lists = st.lists(st.tuples(header_maps, st.binary(max_size=600)), min_size=1, max_size=4)


def expected_plain(value: object) -> object:
    if isinstance(value, HeaderValue):
        return value.value
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_lists, st.lists(st.integers(0, 5000), max_size=12))
def test_round_trip_in_random_chunkings(
    messages: list[tuple[dict[str, Any], bytes]], cuts: list[int]
) -> None:
    stream = b"".join(encode_message(h, p) for h, p in messages)
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    decoded = decode_all(chunks)
    assert [(dict(m.headers), m.payload) for m in decoded] == [
        ({k: expected_plain(v) for k, v in h.items()}, p) for h, p in messages
    ]
    assert b"".join(encode_message(m.typed_headers, m.payload) for m in decoded) == stream


@settings(max_examples=100, deadline=None)
@given(message_lists)
def test_our_encoding_is_read_by_botocore(messages: list[tuple[dict[str, Any], bytes]]) -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(encode_message(h, p) for h, p in messages))
    theirs = [(m.headers, m.payload) for m in buffer]
    assert theirs == [
        (botocore_view({k: expected_plain(v) for k, v in h.items()}), p) for h, p in messages
    ]
