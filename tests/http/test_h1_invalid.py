"""Invalid responses to the HTTP/1.1 connection, and its limits: each error says what was
wrong (the status line, a field, the framing, a chunk, a limit) and leaves both sides in
ERROR, however the bytes were cut into reads (:func:`tests.http.h1_cases.exchange`).
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime_client.http import (
    H1Connection,
    ProtocolError,
    RemoteProtocolError,
    _h1,
)
from tests.http.h1_cases import (
    ERROR,
    TE_CHUNKED,
    exchange,
)

# --- invalid responses --------------------------------------------------------------------------

R = RemoteProtocolError

INVALID: list[tuple[str, bytes, dict[str, Any], type[ProtocolError], str]] = [
    # (id, response, exchange() options, error, a part of its message)
    (
        "not-http",
        b"HTTX/1.1 200 OK\r\n\r\n",
        {},
        R,
        "does not begin with 'HTTP/' but with b'HTTX/'",
    ),
    ("tls-alert", b"\x15\x03\x01\x00\x02\x02\x46", {}, R, "does not begin with 'HTTP/'"),
    (
        "short-garbage-then-eof",
        b"HTT\r\n\r\n",
        {},
        R,
        "does not begin with 'HTTP/' but with b'HTT\\r\\n'",
    ),
    (
        "empty-line-before-status",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        {},
        R,
        "does not begin with 'HTTP/'",
    ),
    ("http-2.0", b"HTTP/2.0 200 OK\r\n\r\n", {}, R, "HTTP/2.0 is not supported"),
    (
        "http-1.2",
        b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
        {},
        R,
        "HTTP/1.2 is not supported",
    ),
    ("http-0.9", b"HTTP/0.9 200 OK\r\n\r\n", {}, R, "HTTP/0.9 is not supported"),
    ("version-two-digits", b"HTTP/11.1 200 OK\r\n\r\n", {}, R, "invalid status line"),
    (
        "status-two-digits",
        b"HTTP/1.1 20 OK\r\n\r\n",
        {},
        R,
        "invalid status line b'HTTP/1.1 20 OK'",
    ),
    ("status-four-digits", b"HTTP/1.1 2000 OK\r\n\r\n", {}, R, "invalid status line"),
    ("status-not-digits", b"HTTP/1.1 2x0 OK\r\n\r\n", {}, R, "invalid status line"),
    ("two-spaces-before-status", b"HTTP/1.1  200 OK\r\n\r\n", {}, R, "invalid status line"),
    ("tab-after-status", b"HTTP/1.1 200\tOK\r\n\r\n", {}, R, "invalid status line"),
    ("nul-in-reason", b"HTTP/1.1 200 O\x00K\r\n\r\n", {}, R, "invalid status line"),
    ("bare-cr-in-status-line", b"HTTP/1.1 200 O\rK\r\n\r\n", {}, R, "invalid status line"),
    ("status-below-100", b"HTTP/1.1 099 Odd\r\n\r\n", {}, R, "status code 099"),
    (
        "status-101",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        {},
        R,
        "101 Switching",
    ),
    (
        "no-colon",
        b"HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n",
        {},
        R,
        "invalid field line b'Content-Length 0'",
    ),
    (
        "space-before-colon",
        b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
        {},
        R,
        "invalid field line",
    ),
    ("empty-name", b"HTTP/1.1 200 OK\r\n: x\r\n\r\n", {}, R, "invalid field line b': x'"),
    ("name-not-a-token", b"HTTP/1.1 200 OK\r\nX(y): 1\r\n\r\n", {}, R, "invalid field line"),
    ("nul-in-value", b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", {}, R, "invalid field line"),
    ("vt-in-value", b"HTTP/1.1 200 OK\r\nX: a\x0bb\r\n\r\n", {}, R, "invalid field line"),
    ("bare-cr-in-value", b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", {}, R, "invalid field line"),
    ("cr-cr-lf", b"HTTP/1.1 200 OK\r\nX: a\r\r\n\r\n", {}, R, "invalid field line"),
    ("fold-before-any-field", b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", {}, R, "continuation line"),
    (
        "content-length-not-digits",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        {},
        R,
        "invalid Content-Length b'abc'",
    ),
    (
        "content-length-negative",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        {},
        R,
        "invalid Content-Length",
    ),
    (
        "content-length-plus",
        b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
        {},
        R,
        "invalid Content-Length",
    ),
    (
        "content-length-empty",
        b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        {},
        R,
        "invalid Content-Length b''",
    ),
    (
        "content-length-21-digits",
        b"HTTP/1.1 200 OK\r\nContent-Length: " + b"1" * 21 + b"\r\n\r\n",
        {},
        R,
        "1 to 20 decimal digits",
    ),
    (
        "content-length-list-conflict",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
        {},
        R,
        "conflicting Content-Length",
    ),
    (
        "content-length-trailing-comma",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n",
        {},
        R,
        "conflicting Content-Length",
    ),
    (
        "content-length-fields-conflict",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 01\r\n\r\n",
        {},
        R,
        "conflicting Content-Length values b'1' and b'01'",
    ),
    (
        "bad-content-length-with-chunked",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        {},
        R,
        "invalid Content-Length",
    ),  # as h11
    (
        "bad-content-length-on-204",
        b"HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n",
        {},
        R,
        "invalid Content-Length",
    ),  # as h11
    (
        "bad-content-length-on-1xx",
        b"HTTP/1.1 100 Continue\r\nContent-Length: x\r\n\r\n",
        {},
        R,
        "invalid Content-Length",
    ),  # as h11
    (
        "chunked-not-last",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        {},
        R,
        "chunked must be the final coding",
    ),
    (
        "chunked-twice",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        {},
        R,
        "chunked must be the final coding",
    ),
    (
        "transfer-encoding-empty",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n",
        {},
        R,
        "Transfer-Encoding is empty",
    ),
    (
        "transfer-coding-parameters",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
        {},
        R,
        "unsupported transfer coding",
    ),
    (
        "chunk-size-not-hex",
        TE_CHUNKED + b"zz\r\n",
        {},
        R,
        "invalid chunk-size line b'zz' after 0 bytes",
    ),
    ("chunk-size-negative", TE_CHUNKED + b"-1\r\n", {}, R, "invalid chunk-size line"),
    ("chunk-size-leading-space", TE_CHUNKED + b" 5\r\nhello\r\n", {}, R, "invalid chunk-size line"),
    (
        "chunk-size-space-before-extension",
        TE_CHUNKED + b"5 ;x\r\nhello\r\n",
        {},
        R,
        "invalid chunk-size line",
    ),
    (
        "chunk-size-21-hex-digits",
        TE_CHUNKED + b"1" * 21 + b"\r\n",
        {},
        R,
        "invalid chunk-size line",
    ),
    ("chunk-size-0x", TE_CHUNKED + b"0x5\r\nhello\r\n0\r\n\r\n", {}, R, "invalid chunk-size line"),
    ("chunk-size-underscore", TE_CHUNKED + b"1_0\r\n", {}, R, "invalid chunk-size line"),
    ("chunk-size-bare-lf", TE_CHUNKED + b"5\nhello\r\n0\r\n\r\n", {}, R, "invalid chunk-size line"),
    (
        "chunk-not-followed-by-crlf",
        TE_CHUNKED + b"5\r\nhelloXX0\r\n\r\n",
        {},
        R,
        "a chunk of 5 bytes is followed by b'X', not CRLF",
    ),
    ("chunk-followed-by-bare-lf", TE_CHUNKED + b"5\r\nhello\n0\r\n\r\n", {}, R, "not CRLF"),
    (
        "trailer-not-a-field",
        TE_CHUNKED + b"0\r\nnot a field\r\n\r\n",
        {},
        R,
        "trailers: invalid field line",
    ),
    (
        "trailer-bad-content-length",
        TE_CHUNKED + b"0\r\nContent-Length: x\r\n\r\n",
        {},
        R,
        "trailers: invalid Content-Length",
    ),  # as h11
    (
        "header-block-too-big",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200 + b"\r\n\r\n",
        {"max_header_bytes": 100},
        R,
        "response head exceeds max_header_bytes=100",
    ),
    (
        "header-block-too-big-never-ending",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200,
        {"max_header_bytes": 100},
        R,
        "exceeds max_header_bytes=100",
    ),
    (
        "header-count",
        b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
        {"max_header_count": 3},
        R,
        "4 header fields, more than max_header_count=3",
    ),
    (
        "chunk-line-too-long",
        TE_CHUNKED + b"5;" + b"x" * 40 + b"\r\nhello\r\n",
        {"max_line_bytes": 32},
        R,
        "a chunk-size line exceeds max_line_bytes=32",
    ),
    (
        "chunk-line-never-ending",
        TE_CHUNKED + b"5" * 40,
        {"max_line_bytes": 32},
        R,
        "exceeds max_line_bytes=32",
    ),
    (
        "trailers-too-big",
        TE_CHUNKED + b"0\r\nX: " + b"t" * 50 + b"\r\n\r\n",
        {"max_trailer_bytes": 40},
        R,
        "the chunked trailer section exceeds max_trailer_bytes=40",
    ),
    (
        "trailer-count",
        TE_CHUNKED + b"0\r\nA: 1\r\nB: 2\r\n\r\n",
        {"max_header_count": 1},
        R,
        "trailers have 2 fields, more than max_header_count=1",
    ),
]


@pytest.mark.parametrize(
    ("response", "options", "error", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_response(
    response: bytes, options: dict[str, Any], error: type[ProtocolError], message: str
) -> None:
    outcome = exchange(response, eof=True, **options)
    assert outcome.error is not None, outcome.events
    assert outcome.error[0] is error
    assert message in outcome.error[1]
    assert (outcome.our_state, outcome.their_state) == (ERROR, ERROR)
    assert outcome.keep_alive is False


# --- limits ------------------------------------------------------------------------------------


def test_limits_at_their_exact_size_are_allowed() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert exchange(head, max_header_bytes=len(head)).error is None
    assert exchange(head, max_header_bytes=len(head) - 1).error is not None
    chunked = TE_CHUNKED + b"5;ext\r\nhello\r\n0\r\nX: y\r\n\r\n"
    assert exchange(chunked, max_line_bytes=len(b"5;ext\r\n")).error is None
    assert exchange(chunked, max_line_bytes=len(b"5;ext\r\n") - 1).error is not None
    assert exchange(chunked, max_trailer_bytes=len(b"X: y\r\n\r\n")).error is None
    assert exchange(chunked, max_trailer_bytes=len(b"X: y\r\n\r\n") - 1).error is not None
    assert exchange(chunked, max_header_count=1).error is None


@pytest.mark.parametrize(
    "limit", ["max_header_bytes", "max_header_count", "max_line_bytes", "max_trailer_bytes"]
)
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_limits_must_be_positive_ints(limit: str, value: object) -> None:
    with pytest.raises(ValueError, match=limit):
        H1Connection(**{limit: value})  # type: ignore[arg-type]


def test_default_limits() -> None:
    assert (_h1.DEFAULT_MAX_HEADER_BYTES, _h1.DEFAULT_MAX_HEADER_COUNT) == (65536, 128)
    assert (_h1.DEFAULT_MAX_LINE_BYTES, _h1.DEFAULT_MAX_TRAILER_BYTES) == (8192, 16384)
    big = b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 128 + b"Content-Length: 0\r\n\r\n"
    outcome = exchange(big)
    assert outcome.error is not None
    assert "129 header fields, more than max_header_count=128" in outcome.error[1]
