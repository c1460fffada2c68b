"""TODO: docstring"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

from runtime_client.eventstream import (
    DEFAULT_MAX_PAYLOAD_LENGTH,
    ChecksumMismatchError,
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamError,
    EventStreamMessage,
    InvalidHeaderError,
    InvalidMessageError,
    InvalidPreludeError,
    MessageTooLargeError,
    TruncatedStreamError,
    encode_message,
)
from tests.eventstream.vectors import (
    _GOOD_BLOCK,
    BAD,
    EMPTY_MESSAGE,
    ERROR_MESSAGE,
    GOOD,
    MODEL_STREAM_ERROR,
    PAYLOAD_PART,
    SAGEMAKER_HEADERS,
    SAGEMAKER_PLAIN,
    Bad,
    Good,
    as_expected,
    botocore_view,
    chunkings,
    decode_all,
    frame,
    h_bytes,
    h_int,
    h_str,
    prelude_only,
)

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
