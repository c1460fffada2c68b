"""Requests sent by the HTTP/1.1 connection: the head exactly as given, the framing of the
body (Content-Length, chunked with trailers, none), and the precise error for a request
that must not be sent or a call out of turn.
"""

from __future__ import annotations

import pytest

from runtime_client.http import (
    H1Connection,
    H1State,
    LocalProtocolError,
)
from tests.http.h1_cases import (
    DONE,
    ERROR,
    HOST,
    SEND_BODY,
    request_sent,
)

# --- sending requests --------------------------------------------------------------------------


def test_request_head_is_exactly_what_was_given() -> None:
    conn = H1Connection()
    head = conn.send_request(
        b"POST",
        b"/endpoints/my-ep/invocations?x=1",
        [
            (b"x-Amz-Date", b"20261128T120000Z"),
            (b"Host", b"runtime.sagemaker.us-east-1.amazonaws.com"),
            (b"Content-Type", b"application/json"),
            (b"X-Empty", b""),
            (b"X-Inner", b"a \t b"),
            (b"X-Obs", b"\xe9t\xe9"),
            (b"content-length", b"2"),
        ],
    )
    assert head == (
        b"POST /endpoints/my-ep/invocations?x=1 HTTP/1.1\r\n"
        b"x-Amz-Date: 20261128T120000Z\r\n"
        b"Host: runtime.sagemaker.us-east-1.amazonaws.com\r\n"
        b"Content-Type: application/json\r\n"
        b"X-Empty: \r\n"
        b"X-Inner: a \t b\r\n"
        b"X-Obs: \xe9t\xe9\r\n"
        b"content-length: 2\r\n"
        b"\r\n"
    )
    assert (conn.our_state, conn.their_state) == (SEND_BODY, H1State.SEND_RESPONSE)
    assert conn.send_data(b"{") == b"{"
    assert conn.send_data(b"}") == b"}"
    assert conn.send_end() == b""
    assert conn.our_state is DONE


def test_blank_edged_values_are_sent_as_given() -> None:
    """Blanks at a value's edges are the optional whitespace around it (RFC 9112 §5): sent
    as given, as http.client (boto3) sends them; a reader strips them (h11 here)."""
    import h11

    fields = [(b"Host", b"h"), (b"X-A", b" a "), (b"X-B", b"\tb"), (b"X-C", b" ")]
    head = H1Connection().send_request(b"GET", b"/", fields)
    assert head == b"GET / HTTP/1.1\r\nHost: h\r\nX-A:  a \r\nX-B: \tb\r\nX-C:  \r\n\r\n"
    server = h11.Connection(h11.SERVER)
    server.receive_data(head)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    assert list(request.headers) == [(b"host", b"h"), (b"x-a", b"a"), (b"x-b", b"b"), (b"x-c", b"")]


def test_chunked_request_body() -> None:
    conn = H1Connection()
    conn.send_request(b"PUT", b"/", [*HOST, (b"Transfer-Encoding", b"Chunked")])
    assert conn.send_data(b"hello") == b"5\r\nhello\r\n"
    assert conn.send_data(b"") == b""  # an empty chunk would end the body
    assert conn.send_data(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert conn.send_end([(b"X-Checksum", b"abc"), (b"x-b", b"")]) == (
        b"0\r\nX-Checksum: abc\r\nx-b: \r\n\r\n"
    )
    assert conn.our_state is DONE
    conn = H1Connection()
    conn.send_request(b"PUT", b"/", [*HOST, (b"Transfer-Encoding", b"chunked")])
    assert conn.send_end() == b"0\r\n\r\n"


def test_request_without_body_framing() -> None:
    conn = H1Connection()
    conn.send_request(b"GET", b"/", HOST)
    assert conn.send_data(b"") == b""
    with pytest.raises(LocalProtocolError, match="3 bytes, but the request has no body framing"):
        conn.send_data(b"abc")
    assert conn.our_state is ERROR


def test_fixed_length_overflow() -> None:
    conn = H1Connection()
    conn.send_request(b"POST", b"/", [*HOST, (b"Content-Length", b"4")])
    conn.send_data(b"abc")
    with pytest.raises(LocalProtocolError, match="exceed the Content-Length by 1 \\(1 were left"):
        conn.send_data(b"de")
    assert (conn.our_state, conn.their_state) == (ERROR, ERROR)


def test_fixed_length_short() -> None:
    conn = H1Connection()
    conn.send_request(b"POST", b"/", [*HOST, (b"Content-Length", b"4")])
    conn.send_data(b"abc")
    with pytest.raises(LocalProtocolError, match="ended 1 bytes short of its Content-Length"):
        conn.send_end()


@pytest.mark.parametrize(
    ("trailers", "message"),
    [
        ([(b"Content-Length", b"1")], "b'content-length' may not be a trailer"),
        ([(b"X", b"a\r\nb")], "trailer b'X': the value holds the control byte b'\\r' at offset 1"),
        ([(b"X Y", b"1")], "trailer name b'X Y' is not a token"),
    ],
)
def test_invalid_trailers(trailers: list[tuple[bytes, bytes]], message: str) -> None:
    conn = H1Connection()
    conn.send_request(b"POST", b"/", [*HOST, (b"Transfer-Encoding", b"chunked")])
    with pytest.raises(LocalProtocolError) as caught:
        conn.send_end(trailers)
    assert message in str(caught.value)


def test_trailers_need_chunked() -> None:
    conn = H1Connection()
    conn.send_request(b"POST", b"/", [*HOST, (b"Content-Length", b"0")])
    with pytest.raises(LocalProtocolError, match="trailers need Transfer-Encoding: chunked"):
        conn.send_end([(b"X", b"1")])


BAD_REQUESTS: list[tuple[str, bytes, bytes, list[tuple[bytes, bytes]], str]] = [
    # (id, method, target, headers, a part of the message)
    ("method-space", b"GE T", b"/", HOST, "method b'GE T' is not a token"),
    ("method-empty", b"", b"/", HOST, "method b'' is not a token"),
    ("method-nul", b"G\x00", b"/", HOST, "is not a token"),
    ("connect", b"CONNECT", b"example.com:443", HOST, "CONNECT"),
    ("target-space", b"GET", b"/a b", HOST, "request target b'/a b' must be"),
    ("target-empty", b"GET", b"", HOST, "request target b''"),
    ("target-control", b"GET", b"/a\r\nX: y", HOST, "must be non-empty visible ASCII"),
    ("target-non-ascii", b"GET", b"/\xe9", HOST, "percent-encode"),
    ("name-space", b"GET", b"/", [*HOST, (b"X Y", b"1")], "header name b'X Y' is not a token"),
    ("name-empty", b"GET", b"/", [*HOST, (b"", b"1")], "header name b'' is not a token"),
    ("name-colon", b"GET", b"/", [*HOST, (b"X:Y", b"1")], "header name b'X:Y'"),
    ("name-lf", b"GET", b"/", [*HOST, (b"X\nY", b"1")], "header name b'X\\nY'"),
    (
        "value-cr",
        b"GET",
        b"/",
        [*HOST, (b"X-A", b"a\rb")],
        "header b'X-A': the value holds the control byte b'\\r' at offset 1",
    ),
    ("value-lf", b"GET", b"/", [*HOST, (b"X-A", b"a\nInjected: 1")], "control byte b'\\n'"),
    ("value-crlf", b"GET", b"/", [*HOST, (b"X-A", b"a\r\nInjected: 1")], "control byte b'\\r'"),
    ("value-nul", b"GET", b"/", [*HOST, (b"X-A", b"\x00")], "control byte b'\\x00' at offset 0"),
    ("value-other-control", b"GET", b"/", [*HOST, (b"X-A", b"a\x01")], "control byte b'\\x01'"),
    ("value-del", b"GET", b"/", [*HOST, (b"X-A", b"a\x7f")], "control byte b'\\x7f'"),
    (
        "host-missing",
        b"GET",
        b"/",
        [(b"Accept", b"*/*")],
        "exactly one Host header (RFC 9112 §3.2), and it has none",
    ),
    ("no-headers", b"GET", b"/", [], "and it has none"),
    ("host-twice", b"GET", b"/", [*HOST, (b"host", b"b")], "not 2"),
    (
        "content-length-text",
        b"POST",
        b"/",
        [*HOST, (b"Content-Length", b"ten")],
        "header Content-Length: b'ten' is not a decimal length",
    ),
    (
        "content-length-negative",
        b"POST",
        b"/",
        [*HOST, (b"Content-Length", b"-1")],
        "is not a decimal length",
    ),
    (
        "content-length-empty",
        b"POST",
        b"/",
        [*HOST, (b"Content-Length", b"")],
        "is not a decimal length",
    ),
    (
        "content-length-twice",
        b"POST",
        b"/",
        [*HOST, (b"Content-Length", b"1"), (b"content-length", b"1")],
        "send it once",
    ),
    (
        "transfer-encoding-gzip",
        b"POST",
        b"/",
        [*HOST, (b"Transfer-Encoding", b"gzip, chunked")],
        "only 'chunked' can be sent",
    ),
    (
        "transfer-encoding-and-length",
        b"POST",
        b"/",
        [*HOST, (b"Content-Length", b"1"), (b"Transfer-Encoding", b"chunked")],
        "not both",
    ),
]


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_invalid_request(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], message: str
) -> None:
    conn = H1Connection()
    with pytest.raises(LocalProtocolError) as caught:
        conn.send_request(method, target, headers)
    assert message in str(caught.value)
    assert (conn.our_state, conn.their_state) == (ERROR, ERROR)


def test_requests_in_the_wrong_state() -> None:
    conn = request_sent()
    with pytest.raises(LocalProtocolError, match="needs an idle connection, not our_state=DONE"):
        conn.send_request(b"GET", b"/", HOST)
    conn = H1Connection()
    with pytest.raises(
        LocalProtocolError, match="send_data\\(\\) needs our_state SEND_BODY, not IDLE"
    ):
        conn.send_data(b"x")
    conn = request_sent()
    with pytest.raises(
        LocalProtocolError, match="send_end\\(\\) needs our_state SEND_BODY, not DONE"
    ):
        conn.send_end()


def test_a_str_method_instead_of_bytes_is_a_type_error() -> None:
    conn = H1Connection()
    with pytest.raises(TypeError):
        conn.send_request("GET", b"/", [("Host", "x")])  # type: ignore[arg-type]
    assert conn.our_state is ERROR
