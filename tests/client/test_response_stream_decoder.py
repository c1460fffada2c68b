"""The pure half of InvokeEndpointWithResponseStream: bytes in, boto3's events, lines
and text out (``ResponseStreamDecoder``, its outputs and cursor), fed by hand."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime_client._errors import (
    ClientError,
    InternalFailure,
    InternalStreamFailure,
    ModelStreamError,
    ResponseStreamingError,
)
from runtime_client._response_body import LineSplitter
from runtime_client._response_stream import (
    END,
    NEED_DATA,
    LinesOutput,
    ResponseStreamDecoder,
    StreamCursor,
    TextOutput,
)
from runtime_client.eventstream import (
    ChecksumMismatchError,
    TruncatedStreamError,
    encode_message,
)
from tests.support.sigv4_server import payload_part, stream_error, stream_exception
from tests.support.stream_samples import PARTS, SSE, TOKENS, tokens_from_lines

OP = "InvokeEndpointWithResponseStream"
URL = "http://127.0.0.1:1"
META = {"RequestId": "rid", "HTTPStatusCode": 200, "RetryAttempts": 2, "MaxAttemptsReached": True}


def drain(decoder: ResponseStreamDecoder) -> list[Any]:
    out = []
    while (event := decoder.next_event()) not in (NEED_DATA, END):
        out.append(event)
    return out


def wire(*events: bytes) -> bytes:
    return b"".join(events)


def test_decoder_yields_boto3_events_fed_one_byte_at_a_time() -> None:
    decoder = ResponseStreamDecoder(OP, URL, META)
    data = wire(*(payload_part(p) for p in PARTS), payload_part(b""))
    events: list[Any] = []
    for i in range(len(data)):
        decoder.receive_data(data[i : i + 1])
        events += drain(decoder)
    assert decoder.next_event() is NEED_DATA
    decoder.receive_eof()
    assert decoder.next_event() is END
    assert events == [{"PayloadPart": {"Bytes": p}} for p in [*PARTS, b""]]
    assert decoder.complete


def test_unknown_events_and_message_types_are_skipped_like_boto3() -> None:
    decoder = ResponseStreamDecoder(OP, URL, META)
    decoder.receive_data(
        wire(
            encode_message({":message-type": "event", ":event-type": "Future"}, b"x"),
            encode_message({":message-type": "something-new"}, b"y"),
            payload_part(b"kept"),
        )
    )
    assert drain(decoder) == [{"PayloadPart": {"Bytes": b"kept"}}]


def test_model_stream_error_comes_after_the_parts_and_keeps_error_code() -> None:
    decoder = ResponseStreamDecoder(OP, URL, META)
    decoder.receive_data(
        wire(
            payload_part(b"a"),
            stream_exception("ModelStreamError", "timed out", "ModelInvocationTimeExceeded"),
            payload_part(b"ignored after the error"),
        )
    )
    assert decoder.next_event() == {"PayloadPart": {"Bytes": b"a"}}
    with pytest.raises(ModelStreamError) as info:
        decoder.next_event()
    err = info.value
    assert err.response["Error"] == {"Code": "ModelStreamError", "Message": "timed out"}
    assert err.response["ErrorCode"] == "ModelInvocationTimeExceeded"
    assert err.response["Message"] == "timed out"
    assert err.response["ResponseMetadata"]["RequestId"] == "rid"
    assert str(err) == (
        "An error occurred (ModelStreamError) when calling the "
        "InvokeEndpointWithResponseStream operation: timed out"
    )  # no "(reached max retries)": the retries were of the request, not of the stream
    with pytest.raises(ModelStreamError):  # the same error again, never a silent end
        decoder.next_event()
    decoder.close()
    with pytest.raises(ModelStreamError):
        decoder.next_event()


@pytest.mark.parametrize(
    ("message", "cls", "error"),
    [
        (
            stream_exception("InternalStreamFailure", "internal"),
            InternalStreamFailure,
            {"Code": "InternalStreamFailure", "Message": "internal"},
        ),
        (
            stream_error("InternalFailure", "from headers"),
            InternalFailure,
            {"Code": "InternalFailure", "Message": "from headers"},
        ),
        (
            encode_message(
                {":message-type": "exception", ":exception-type": "Unmodeled"}, b"not json"
            ),
            ClientError,
            {"Code": "Unmodeled", "Message": "not json"},
        ),
    ],
    ids=["InternalStreamFailure", "error-message", "unmodeled-exception"],
)
def test_other_errors(message: bytes, cls: type[ClientError], error: dict[str, str]) -> None:
    decoder = ResponseStreamDecoder(OP, URL, META)
    decoder.receive_data(message)
    with pytest.raises(cls) as info:
        decoder.next_event()
    assert type(info.value) is cls
    assert info.value.response["Error"] == error
    assert info.value.operation_name == OP


def test_corrupt_crc_is_raised_after_the_good_parts_of_the_same_chunk() -> None:
    bad = bytearray(payload_part(b"second"))
    bad[-1] ^= 0xFF
    decoder = ResponseStreamDecoder(OP, URL, META)
    decoder.receive_data(payload_part(b"first") + bytes(bad))
    assert decoder.next_event() == {"PayloadPart": {"Bytes": b"first"}}
    with pytest.raises(ResponseStreamingError, match="message checksum mismatch") as info:
        decoder.next_event()
    assert isinstance(info.value.error, ChecksumMismatchError)
    assert isinstance(info.value.__cause__, ChecksumMismatchError)


def test_stream_ending_inside_a_message_is_an_error() -> None:
    decoder = ResponseStreamDecoder(OP, URL, META)
    message = payload_part(b"cut short")
    decoder.receive_data(message[:-3])
    assert decoder.next_event() is NEED_DATA
    decoder.receive_eof()
    with pytest.raises(ResponseStreamingError, match="ended inside a message") as info:
        decoder.next_event()
    assert isinstance(info.value.error, TruncatedStreamError)


def test_early_close_drops_the_rest() -> None:
    decoder = ResponseStreamDecoder(OP, URL, META)
    decoder.receive_data(payload_part(b"a") + payload_part(b"b"))
    assert decoder.next_event() == {"PayloadPart": {"Bytes": b"a"}}
    decoder.close()
    assert decoder.next_event() is END
    assert not decoder.complete


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_lines_and_text_are_joined_across_parts(size: int) -> None:
    lines_decoder = ResponseStreamDecoder(OP, URL, META)
    text_decoder = ResponseStreamDecoder(OP, URL, META)
    lines = StreamCursor(lines_decoder, LinesOutput())
    text = StreamCursor(text_decoder, TextOutput())
    got_lines: list[bytes] = []
    got_text: list[str] = []
    for i in range(0, len(SSE), size):  # one part per `size` bytes, then fed whole
        for decoder in (lines_decoder, text_decoder):
            decoder.receive_data(payload_part(SSE[i : i + size]))
        while (line := lines.next_item()) is not NEED_DATA:
            assert isinstance(line, bytes)
            got_lines.append(line)
        while (chunk := text.next_item()) is not NEED_DATA:
            assert isinstance(chunk, str)
            got_text.append(chunk)
    lines_decoder.receive_eof()
    text_decoder.receive_eof()
    assert lines.next_item() is END
    assert text.next_item() is END
    assert tokens_from_lines(got_lines) == TOKENS
    assert got_lines == SSE.splitlines()
    assert "".join(got_text) == SSE.decode()


def test_last_line_without_newline_and_crlf_split_between_parts() -> None:
    decoder = ResponseStreamDecoder(OP, URL, META)
    cursor = StreamCursor(decoder, LinesOutput())
    decoder.receive_data(payload_part(b"one\r") + payload_part(b"\ntwo\rthree"))
    assert [cursor.next_item(), cursor.next_item(), cursor.next_item()] == [
        b"one",
        b"two",
        NEED_DATA,
    ]
    decoder.receive_eof()
    assert [cursor.next_item(), cursor.next_item()] == [b"three", END]


def test_text_cut_inside_a_character_is_an_error_or_replaced() -> None:
    for errors, expected in (("strict", UnicodeDecodeError), ("replace", "a\ufffd")):
        decoder = ResponseStreamDecoder(OP, URL, META)
        cursor = StreamCursor(decoder, TextOutput(errors=errors))
        decoder.receive_data(payload_part(b"a\xe2\x98"))
        decoder.receive_eof()
        if expected is UnicodeDecodeError:
            assert cursor.next_item() == "a"
            with pytest.raises(UnicodeDecodeError):
                cursor.next_item()
        else:
            assert "".join(str(cursor.next_item()) for _ in range(2)) == expected


@given(
    st.binary(max_size=60).map(lambda b: bytes(b"ab\r\n"[x % 4] for x in b)),
    st.lists(st.integers(1, 7), min_size=1, max_size=60),
    st.booleans(),
)
def test_line_splitter_matches_splitlines_however_the_bytes_are_cut(
    data: bytes, sizes: list[int], keepends: bool
) -> None:
    splitter = LineSplitter(keepends)
    out: list[bytes] = []
    i = 0
    for size in sizes * (len(data) // len(sizes) + 1):
        if i >= len(data):
            break
        out += splitter.feed(data[i : i + size])
        i += size
    out += splitter.flush()
    assert out == data.splitlines(keepends)
