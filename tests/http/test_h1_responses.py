"""Valid responses to the HTTP/1.1 connection: the table of heads and bodies it reads as
h11 reads them, how body bytes reach their events (without a copy where they can), the
events themselves, early responses and ``100 Continue``. Each table entry goes through
:func:`tests.http.h1_cases.exchange`: whole, byte by byte, in every chunk size to 11.
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime_client.http import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
    Response,
)
from tests.http.h1_cases import (
    CL_HEAD,
    CL_HEADERS,
    CLOSED,
    DONE,
    ERROR,
    IDLE,
    MUST_CLOSE,
    SEND_BODY,
    TE_CHUNKED,
    drive,
    exchange,
    now,
    ok,
    request_sent,
)

# --- valid responses ---------------------------------------------------------------------------

VALID: list[tuple[str, bytes, dict[str, Any], list[Event], bool]] = [
    # (id, response, exchange() options, events, keep_alive)
    (
        "content-length",
        CL_HEAD + b"hello",
        {},
        [ok(200, b"OK", CL_HEADERS), Data(b"hello"), EndOfMessage()],
        True,
    ),
    (
        "content-length-zero",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        {},
        [ok(200, b"OK", [(b"content-length", b"0")]), EndOfMessage()],
        True,
    ),
    (
        "chunked-extensions-trailers",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value\r\nhello\r\n6;a;b="q"\r\n world\r\n0;last\r\n'
        b"X-Checksum: abc\r\nX-Other:  two words \t\r\n\r\n",
        {},
        [
            ok(200, b"OK", [(b"transfer-encoding", b"chunked")]),
            Data(b"hello world"),
            EndOfMessage([(b"x-checksum", b"abc"), (b"x-other", b"two words")]),
        ],
        True,
    ),
    (
        "chunked-hex-case-zeros-trailing-space",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n00A \t\r\n0123456789\r\n000\r\n\r\n",
        {},
        [ok(200, b"OK", [(b"transfer-encoding", b"Chunked")]), Data(b"0123456789"), EndOfMessage()],
        True,
    ),
    (
        "chunked-bare-lf-trailer-end",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\n",
        {},
        [ok(200, b"OK", [(b"transfer-encoding", b"chunked")]), Data(b"x"), EndOfMessage()],
        True,
    ),
    (
        "chunked-wins-over-content-length",  # as h11: Transfer-Encoding takes precedence
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n",
        {},
        [
            ok(200, b"OK", [(b"content-length", b"100"), (b"transfer-encoding", b"chunked")]),
            Data(b"ok"),
            EndOfMessage(),
        ],
        True,
    ),
    (
        "until-close",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this, until the end",
        {"eof": True},
        [
            ok(200, b"OK", [(b"content-type", b"text/plain")]),
            Data(b"all of this, until the end"),
            EndOfMessage(),
            ConnectionClosed(),
        ],
        False,
    ),
    (
        "until-close-other-transfer-coding",  # RFC 9112 §6.3: not chunked last -> close
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8bbytes",
        {"eof": True},
        [
            ok(200, b"OK", [(b"transfer-encoding", b"gzip")]),
            Data(b"\x1f\x8bbytes"),
            EndOfMessage(),
            ConnectionClosed(),
        ],
        False,
    ),
    (
        "chunked-after-another-coding",  # RFC 9112 §6.3: chunked last -> chunked
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n\x1f\x8b\r\n0\r\n\r\n",
        {},
        [
            ok(200, b"OK", [(b"transfer-encoding", b"gzip"), (b"transfer-encoding", b"chunked")]),
            Data(b"\x1f\x8b"),
            EndOfMessage(),
        ],
        True,
    ),
    (
        "head-has-no-body",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
        {"method": b"HEAD"},
        [ok(200, b"OK", [(b"content-length", b"100")]), EndOfMessage()],
        True,
    ),
    (
        "head-chunked-has-no-body",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        {"method": b"HEAD"},
        [ok(200, b"OK", [(b"transfer-encoding", b"chunked")]), EndOfMessage()],
        True,
    ),
    (
        "204-has-no-body",
        b"HTTP/1.1 204 No Content\r\nX-Id: 1\r\n\r\n",
        {},
        [ok(204, b"No Content", [(b"x-id", b"1")]), EndOfMessage()],
        True,
    ),
    (
        "304-with-content-length-has-no-body",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
        {},
        [ok(304, b"Not Modified", [(b"content-length", b"5")]), EndOfMessage()],
        True,
    ),
    (
        "informational-then-final",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n"
        b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        {},
        [
            InformationalResponse(100, b"Continue", [], b"1.1"),
            InformationalResponse(103, b"Early Hints", [(b"link", b"</a>; rel=preload")], b"1.1"),
            ok(200, b"OK", [(b"content-length", b"2")]),
            Data(b"ok"),
            EndOfMessage(),
        ],
        True,
    ),
    (
        "http-1.0-content-length",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        {},
        [ok(200, b"OK", [(b"content-length", b"2")], b"1.0"), Data(b"ok"), EndOfMessage()],
        False,
    ),
    (
        "http-1.0-keep-alive-header-still-closes",  # as h11
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        {},
        [
            ok(200, b"OK", [(b"connection", b"keep-alive"), (b"content-length", b"0")], b"1.0"),
            EndOfMessage(),
        ],
        False,
    ),
    (
        "http-1.0-until-close",
        b"HTTP/1.0 200 OK\r\n\r\nbody",
        {"eof": True},
        [ok(200, b"OK", [], b"1.0"), Data(b"body"), EndOfMessage(), ConnectionClosed()],
        False,
    ),
    (
        "empty-reason",
        b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
        {},
        [ok(200, b"", [(b"content-length", b"0")]), EndOfMessage()],
        True,
    ),
    (
        "no-reason-no-space",  # as h11: some servers leave the reason out
        b"HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n",
        {},
        [ok(500, b"", [(b"content-length", b"0")]), EndOfMessage()],
        True,
    ),
    (
        "reason-with-spaces-tabs-obs-text",
        b"HTTP/1.1 404 Not\tFound \xe9t\xe9 \r\nContent-Length: 0\r\n\r\n",
        {},
        [ok(404, b"Not\tFound \xe9t\xe9 ", [(b"content-length", b"0")]), EndOfMessage()],
        True,
    ),
    (
        "repeated-headers-order-kept",
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-B: 2\r\nset-cookie: c=3\r\n"
        b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        {},
        [
            ok(
                200,
                b"OK",
                [
                    (b"set-cookie", b"a=1"),
                    (b"x-b", b"2"),
                    (b"set-cookie", b"c=3"),
                    (b"content-length", b"1"),
                    (b"content-length", b"1"),
                ],
            ),
            Data(b"x"),
            EndOfMessage(),
        ],
        True,
    ),
    (
        "content-length-list-of-one-value",  # as h11: "3, 3" is 3
        b"HTTP/1.1 200 OK\r\nContent-Length: 003 , 003\r\n\r\nabc",
        {},
        [ok(200, b"OK", [(b"content-length", b"003 , 003")]), Data(b"abc"), EndOfMessage()],
        True,
    ),
    (
        "optional-whitespace-and-empty-values",
        b"HTTP/1.1 200 OK\r\nX-A:\t a  b \t\r\nX-Empty:\r\nX-Spaces:   \r\n"
        b"Content-Length: 0\r\n\r\n",
        {},
        [
            ok(
                200,
                b"OK",
                [
                    (b"x-a", b"a  b"),
                    (b"x-empty", b""),
                    (b"x-spaces", b""),
                    (b"content-length", b"0"),
                ],
            ),
            EndOfMessage(),
        ],
        True,
    ),
    (
        "control-bytes-and-obs-text-in-values",  # as h11: only NUL, CR, LF, VT, FF refused
        b"HTTP/1.1 200 OK\r\nX-A: a\x01b\x7f\xffc\r\nContent-Length: 0\r\n\r\n",
        {},
        [ok(200, b"OK", [(b"x-a", b"a\x01b\x7f\xffc"), (b"content-length", b"0")]), EndOfMessage()],
        True,
    ),
    (
        "bare-lf-line-endings",
        b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\r\n\nok",
        {},
        [ok(200, b"OK", [(b"content-length", b"2"), (b"x-a", b"b")]), Data(b"ok"), EndOfMessage()],
        True,
    ),
    (
        "obs-fold-joined-with-a-space",
        b"HTTP/1.1 200 OK\r\nX-Long: first\r\n \t second\r\n\tthird\r\nContent-Length: 0\r\n\r\n",
        {},
        [
            ok(200, b"OK", [(b"x-long", b"first second third"), (b"content-length", b"0")]),
            EndOfMessage(),
        ],
        True,
    ),
    (
        "connection-close",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        {},
        [
            ok(200, b"OK", [(b"connection", b"close"), (b"content-length", b"2")]),
            Data(b"ok"),
            EndOfMessage(),
        ],
        False,
    ),
    (
        "connection-close-in-a-list",
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Upgrade\r\nconnection: , CLOSE\r\n"
        b"Content-Length: 0\r\n\r\n",
        {},
        [
            ok(
                200,
                b"OK",
                [
                    (b"connection", b"keep-alive, Upgrade"),
                    (b"connection", b", CLOSE"),
                    (b"content-length", b"0"),
                ],
            ),
            EndOfMessage(),
        ],
        False,
    ),
    (
        "status-999",
        b"HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n",
        {},
        [ok(999, b"Whatever", [(b"content-length", b"0")]), EndOfMessage()],
        True,
    ),
    (
        "no-headers-at-all-until-close",
        b"HTTP/1.1 200 OK\r\n\r\n",
        {"eof": True},
        [ok(200, b"OK", []), EndOfMessage(), ConnectionClosed()],
        False,
    ),
]


@pytest.mark.parametrize(
    ("response", "options", "events", "keep_alive"),
    [case[1:] for case in VALID],
    ids=[case[0] for case in VALID],
)
def test_valid_response(
    response: bytes, options: dict[str, Any], events: list[Event], keep_alive: bool
) -> None:
    outcome = exchange(response, **options)
    assert outcome.error is None
    assert outcome.events == events
    assert outcome.keep_alive is keep_alive
    if keep_alive:
        assert (outcome.our_state, outcome.their_state) == (DONE, DONE)
    else:
        assert outcome.our_state is MUST_CLOSE
        assert outcome.their_state is (CLOSED if options.get("eof") else MUST_CLOSE)


def test_a_body_in_its_own_read_is_not_copied() -> None:
    conn = request_sent()
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
    assert type(conn.next_event()) is Response
    assert conn.next_event() is NEED_DATA
    body = b"hello" + b" world"
    conn.receive_data(body)
    event = conn.next_event()
    assert type(event) is Data
    assert event.data is body


def test_chunks_in_one_read_are_one_data_event() -> None:
    conn = request_sent()
    conn.receive_data(TE_CHUNKED + b"3\r\nabc\r\n2;x\r\nde\r\n1\r\nf\r\n0\r\nX: y\r\n\r\n")
    assert type(conn.next_event()) is Response
    assert conn.next_event() == Data(b"abcdef")
    assert conn.next_event() == EndOfMessage([(b"x", b"y")])
    # a chunk that arrives in its own read is handed out as it came
    conn = request_sent()
    conn.receive_data(TE_CHUNKED + b"5\r\n")
    assert type(conn.next_event()) is Response
    assert conn.next_event() is NEED_DATA
    piece = b"hel" + b"lo"
    conn.receive_data(piece)
    event = conn.next_event()
    assert type(event) is Data
    assert event.data is piece


def test_body_before_a_chunked_error_is_handed_out_first() -> None:
    conn = request_sent()
    conn.receive_data(TE_CHUNKED + b"3\r\nabc\r\n2\r\nde\r\nzz\r\n")
    assert type(conn.next_event()) is Response
    assert conn.next_event() == Data(b"abcde")
    assert conn.their_state is SEND_BODY
    with pytest.raises(RemoteProtocolError, match="invalid chunk-size line b'zz' after 5 bytes"):
        conn.next_event()
    assert conn.their_state is ERROR


def test_a_reused_read_buffer_is_copied() -> None:
    conn = request_sent()
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
    assert type(conn.next_event()) is Response
    buffer = bytearray(b"hello")
    conn.receive_data(buffer)  # type: ignore[arg-type]  # a driver's recv_into() buffer
    buffer[:] = b"XXXXX"
    assert conn.next_event() == Data(b"hello")


def test_events_are_read_only_and_compare_by_type() -> None:
    head = Response(200, b"OK", [], b"1.1")
    with pytest.raises(AttributeError):
        head.status_code = 500  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Data(b"x").data = b"y"  # type: ignore[misc]
    assert head != InformationalResponse(200, b"OK", [], b"1.1")
    assert Data(b"x") != EndOfMessage()
    assert EndOfMessage() == EndOfMessage([])
    assert ConnectionClosed() == ConnectionClosed()
    assert repr(NEED_DATA) == "NEED_DATA"
    assert "status_code=200" in repr(head)
    for event in (head, Data(b""), EndOfMessage(), ConnectionClosed()):
        assert not hasattr(event, "__dict__")


# --- early responses and 100-continue ------------------------------------------------------


def test_early_response_while_the_body_is_being_sent() -> None:
    conn = request_sent(b"POST", [(b"Content-Length", b"10")], finish=False)
    conn.send_data(b"12345")
    outcome = drive(conn, [b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig"])
    assert outcome.events == [
        ok(413, b"Payload Too Large", [(b"content-length", b"3")]),
        Data(b"big"),
        EndOfMessage(),
    ]
    assert (conn.our_state, conn.their_state) == (SEND_BODY, DONE)
    assert conn.keep_alive is False  # the server would read the rest of our body next
    with pytest.raises(LocalProtocolError, match="our_state=SEND_BODY"):
        conn.start_next_cycle()
    assert conn.send_data(b"67890") == b"67890"
    assert conn.send_end() == b""
    assert now(conn.keep_alive) is True  # the body was finished: the connection is reusable
    conn.start_next_cycle()
    assert (conn.our_state, conn.their_state) == (IDLE, IDLE)


def test_early_response_with_connection_close_is_never_reusable() -> None:
    conn = request_sent(b"POST", [(b"Transfer-Encoding", b"chunked")], finish=False)
    drive(conn, [b"HTTP/1.1 400 Bad\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"])
    conn.send_end()
    assert conn.keep_alive is False
    assert (conn.our_state, conn.their_state) == (MUST_CLOSE, MUST_CLOSE)


def test_awaiting_continue_until_a_100() -> None:
    conn = request_sent(
        b"POST", [(b"Expect", b"100-Continue"), (b"Content-Length", b"2")], finish=False
    )
    assert conn.awaiting_continue is True
    conn.receive_data(b"HTTP/1.1 103 Early Hints\r\n\r\n")
    assert type(conn.next_event()) is InformationalResponse
    assert now(conn.awaiting_continue) is True  # only a 100 or a final response ends the wait
    conn.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert conn.next_event() == InformationalResponse(100, b"Continue", [], b"1.1")
    assert now(conn.awaiting_continue) is False
    conn.send_data(b"{}")
    conn.send_end()
    outcome = drive(conn, [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    assert outcome.events == [ok(200, b"OK", [(b"content-length", b"0")]), EndOfMessage()]


def test_awaiting_continue_ends_with_a_final_response() -> None:
    conn = request_sent(
        b"PUT", [(b"expect", b"foo, 100-continue"), (b"Content-Length", b"2")], finish=False
    )
    assert conn.awaiting_continue is True
    conn.receive_data(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
    assert type(conn.next_event()) is Response
    assert now(conn.awaiting_continue) is False
    assert request_sent(b"POST", [(b"Content-Length", b"0")]).awaiting_continue is False


def test_response_started() -> None:
    conn = request_sent()
    assert conn.response_started is False
    conn.receive_data(b"H")
    assert conn.next_event() is NEED_DATA
    assert now(conn.response_started) is True
    drive(conn, [b"TTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    conn.start_next_cycle()
    assert now(conn.response_started) is False
