"""TODO: docstring"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pytest
from botocore.eventstream import ChecksumMismatch as BotocoreChecksumMismatch
from botocore.eventstream import DuplicateHeader as BotocoreDuplicateHeader
from botocore.eventstream import EventStreamBuffer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime_client.eventstream import (
    HeaderValue,
    encode_message,
)
from tests.eventstream.vectors import (
    BAD,
    SAGEMAKER_PLAIN,
    UTC,
    botocore_view,
    decode_all,
)

# ----------------------------------------------------------------------------- botocore


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
