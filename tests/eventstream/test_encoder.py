"""TODO: docstring"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from runtime_client.eventstream import (
    DEFAULT_MAX_PAYLOAD_LENGTH,
    HeaderInput,
    HeaderType,
    HeaderValue,
    InvalidMessageError,
    encode_headers,
    encode_message,
)
from tests.eventstream.vectors import (
    EMPTY_MESSAGE,
    UTC,
    UUID_1,
    decode_all,
    frame,
    h_bytes,
    h_int,
    h_str,
    hdr,
)

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
