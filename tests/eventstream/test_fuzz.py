"""Fuzzing the event stream decoder with random and mutated bytes.

Whatever it is fed, the decoder may only return messages or raise a documented
:class:`CorruptMessageError`; it never holds more than one message of the allowed size, and
every message it accepts is one the encoder writes back byte for byte.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime_client.eventstream import (
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamMessage,
    HeaderValue,
    encode_headers,
    encode_message,
)

FUZZ = settings(
    max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow], database=None
)


@dataclass
class Outcome:
    messages: list[EventStreamMessage]
    error: CorruptMessageError | None


def decode(decoder: EventStreamDecoder, chunks: Sequence[bytes]) -> Outcome:
    """Feed every chunk and end; check the buffer bound after each call."""
    messages: list[EventStreamMessage] = []
    bound = max(11, decoder.max_message_length - 1)
    try:
        for chunk in chunks:
            messages += decoder.feed(chunk)
            assert decoder.buffered <= bound
        decoder.end()
    except CorruptMessageError as exc:  # anything else fails the test
        assert decoder.buffered == 0
        return Outcome(messages, exc)
    assert decoder.buffered == 0
    return Outcome(messages, None)


def within_limits(message: EventStreamMessage, decoder: EventStreamDecoder) -> bool:
    headers = len(encode_headers(message.typed_headers))
    return (
        headers <= decoder.max_headers_length and len(message.payload) <= decoder.max_payload_length
    )


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def fix_checksums(data: bytearray) -> bytes:
    """Make the prelude CRC, and the message CRC of the first message, right again."""
    if len(data) >= 12:
        data[8:12] = struct.pack(">I", zlib.crc32(data[:8]))
        (total,) = struct.unpack_from(">I", data)
        if 16 <= total <= len(data):
            data[total - 4 : total] = struct.pack(">I", zlib.crc32(data[: total - 4]))
    return bytes(data)


limits: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {"max_headers_length": st.integers(0, 80), "max_payload_length": st.integers(0, 300)}
    ),
)
cut_lists = st.lists(st.integers(0, 4000), max_size=10)

names = st.text(min_size=1, max_size=12).filter(lambda s: len(s.encode()) <= 255)
values = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.builds(HeaderValue.int8, st.integers(-128, 127)),
    st.builds(HeaderValue.int16, st.integers(-(2**15), 2**15 - 1)),
    st.binary(max_size=40),
    st.text(max_size=20),
    st.datetimes(timezones=st.just(timezone.utc), min_value=datetime(1, 1, 1)),
    st.uuids(),
)
frames = st.builds(
    encode_message, st.dictionaries(names, values, max_size=5), st.binary(max_size=300)
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Valid frames, then a few bit flips, overwrites, insertions, deletions or a cut."""
    data = bytearray(b"".join(draw(st.lists(frames, min_size=1, max_size=3))))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


def check(data: bytes, cuts: Sequence[int], limit_kwargs: dict[str, Any]) -> Outcome:
    decoder = EventStreamDecoder(**limit_kwargs)
    outcome = decode(decoder, split(data, cuts))
    for message in outcome.messages:
        assert within_limits(message, decoder)
    if outcome.error is None:
        # Everything was accepted: it must be exactly what the encoder writes.
        rebuilt = b"".join(encode_message(m.typed_headers, m.payload) for m in outcome.messages)
        assert rebuilt == data
    return outcome


@FUZZ
@given(st.binary(max_size=3000), cut_lists, limits)
def test_random_bytes(data: bytes, cuts: list[int], limit_kwargs: dict[str, Any]) -> None:
    check(data, cuts, limit_kwargs)


@FUZZ
@given(st.binary(min_size=12, max_size=600), cut_lists, limits)
def test_random_bytes_behind_a_valid_prelude_crc(
    data: bytes, cuts: list[int], limit_kwargs: dict[str, Any]
) -> None:
    check(fix_checksums(bytearray(data)), cuts, limit_kwargs)


@FUZZ
@given(mutated(), cut_lists, limits)
def test_mutated_frames(data: bytes, cuts: list[int], limit_kwargs: dict[str, Any]) -> None:
    check(data, cuts, limit_kwargs)


@FUZZ
@given(mutated(), cut_lists, limits)
def test_mutated_frames_with_checksums_fixed(
    data: bytes, cuts: list[int], limit_kwargs: dict[str, Any]
) -> None:
    """With the CRCs made right, the mutations reach the lengths and the header parser."""
    check(fix_checksums(bytearray(data)), cuts, limit_kwargs)


@FUZZ
@given(st.lists(frames, min_size=1, max_size=4), cut_lists, limits)
def test_valid_frames_respect_the_limits(
    messages: list[bytes], cuts: list[int], limit_kwargs: dict[str, Any]
) -> None:
    """Valid frames over a limit fail on their prelude; the ones before them come out."""
    decoder = EventStreamDecoder(**limit_kwargs)
    outcome = decode(decoder, split(b"".join(messages), cuts))
    fits = [
        16 + struct.unpack_from(">I", m, 4)[0] <= 16 + decoder.max_headers_length
        and len(m) - 16 - struct.unpack_from(">I", m, 4)[0] <= decoder.max_payload_length
        for m in messages
    ]
    expected = fits.index(False) if False in fits else len(messages)
    assert len(outcome.messages) == expected
    assert (outcome.error is None) == (expected == len(messages))
