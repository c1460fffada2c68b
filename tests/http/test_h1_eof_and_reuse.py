"""The end of a connection and its reuse: a response cut at every point is an error, never
a short body; end of file while idle or after a response is ``ConnectionClosed``; the
keep-alive cycle, what ends reuse, and a connection made unusable by an error.
"""

from __future__ import annotations

import pytest

from runtime_client.http import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    H1Connection,
    H1State,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
    ServerDisconnectedError,
)
from tests.http.h1_cases import (
    CL_HEAD,
    CL_HEADERS,
    CLOSED,
    DONE,
    ERROR,
    HOST,
    IDLE,
    MUST_CLOSE,
    TE_CHUNKED,
    drive,
    exchange,
    ok,
    request_sent,
)

# --- truncation and end of file ------------------------------------------------------------------

COMPLETE = [
    CL_HEAD + b"hello",
    TE_CHUNKED + b"5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
]


@pytest.mark.parametrize("response", COMPLETE, ids=["content-length", "chunked", "1xx"])
def test_truncated_at_every_point_is_an_error(response: bytes) -> None:
    complete = exchange(response, eof=True)
    assert complete.error is None
    assert complete.events[-2:] == [complete.events[-2], ConnectionClosed()]
    for cut in range(len(response)):
        outcome = exchange(response[:cut], eof=True)
        assert outcome.error is not None, f"cut after {cut} bytes: {outcome.events}"
        expected = ServerDisconnectedError if cut == 0 else RemoteProtocolError
        assert outcome.error[0] is expected, f"cut after {cut} bytes: {outcome.error}"
        assert "closed the connection" in outcome.error[1]
        # never a short body handed out as if complete
        assert not any(type(event) is EndOfMessage for event in outcome.events)


def test_eof_in_a_content_length_body_says_how_much_arrived() -> None:
    outcome = exchange(CL_HEAD + b"hel", eof=True)
    assert outcome.events == [ok(200, b"OK", CL_HEADERS), Data(b"hel")]
    assert outcome.error == (
        RemoteProtocolError,
        "the server closed the connection after 3 of the 5 bytes of the response body "
        "(Content-Length)",
    )


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (b"5\r\nhel", "2 bytes short of the end of a 5-byte chunk, after 3 bytes of chunked body"),
        (b"5\r\nhello", "before the CRLF that ends a chunk, after 5 bytes of chunked body"),
        (b"5\r\nhello\r\n1", "in a chunk-size line, after 5 bytes of chunked body"),
        (b"0\r\nX: 1\r\n", "in the trailer section, before the blank line that ends it"),
    ],
)
def test_eof_in_a_chunked_body_says_where(tail: bytes, message: str) -> None:
    outcome = exchange(TE_CHUNKED + tail, eof=True)
    assert outcome.error is not None
    assert outcome.error[0] is RemoteProtocolError
    assert message in outcome.error[1]


def test_eof_before_any_byte_of_the_response_is_server_disconnected() -> None:
    conn = request_sent()
    conn.receive_data(b"")
    with pytest.raises(ServerDisconnectedError, match="before sending any byte"):
        conn.next_event()
    assert (conn.our_state, conn.their_state) == (ERROR, ERROR)
    # also while our body is still going out (a stale keep-alive connection)
    conn = request_sent(b"POST", [(b"Content-Length", b"5")], finish=False)
    conn.receive_data(b"")
    with pytest.raises(ServerDisconnectedError):
        conn.next_event()


def test_eof_after_part_of_the_head_is_not_server_disconnected() -> None:
    outcome = exchange(b"HTTP/1.1 200 OK\r\nContent-", eof=True)
    assert outcome.error == (
        RemoteProtocolError,
        "the server closed the connection 25 bytes into a response head, before the blank "
        "line that ends it",
    )
    outcome = exchange(b"HTTP/1.1 100 Continue\r\n\r\n", eof=True)
    assert outcome.events == [InformationalResponse(100, b"Continue", [], b"1.1")]
    assert outcome.error is not None
    assert outcome.error[0] is RemoteProtocolError
    assert "after an informational (1xx) response" in outcome.error[1]


def test_eof_while_idle_is_connection_closed() -> None:
    conn = H1Connection()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()  # and again, as h11
    assert (conn.our_state, conn.their_state) == (MUST_CLOSE, CLOSED)
    assert conn.keep_alive is False
    with pytest.raises(LocalProtocolError, match="the server closed the connection"):
        conn.send_request(b"GET", b"/", HOST)


def test_eof_after_a_complete_response_is_connection_closed() -> None:
    conn = request_sent()
    outcome = drive(conn, [CL_HEAD + b"hello"], eof=True)
    assert outcome.events[-2:] == [EndOfMessage(), ConnectionClosed()]
    assert outcome.error is None
    assert (conn.our_state, conn.their_state) == (MUST_CLOSE, CLOSED)
    # the same, when the EOF comes after the driver already saw EndOfMessage
    conn = request_sent()
    drive(conn, [CL_HEAD + b"hello"])
    assert (conn.our_state, conn.their_state) == (DONE, DONE)
    conn.receive_data(b"")
    assert conn.keep_alive is False
    assert (conn.our_state, conn.their_state) == (MUST_CLOSE, MUST_CLOSE)
    assert conn.next_event() == ConnectionClosed()
    assert conn.their_state is CLOSED


def test_data_after_eof_is_an_error() -> None:
    conn = request_sent()
    conn.receive_data(b"")
    conn.receive_data(b"")  # repeated EOF is fine
    with pytest.raises(LocalProtocolError, match="after end of file"):
        conn.receive_data(b"HTTP/1.1")


# --- keep-alive and reuse ------------------------------------------------------------------------


def test_keep_alive_cycle_reuses_the_connection() -> None:
    conn = request_sent()
    drive(conn, [CL_HEAD + b"hello"])
    assert conn.keep_alive is True
    conn.start_next_cycle()
    assert (conn.our_state, conn.their_state) == (IDLE, IDLE)
    assert conn.next_event() is NEED_DATA
    conn.send_request(b"POST", b"/again", [*HOST, (b"Content-Length", b"2")])
    conn.send_data(b"{}")
    conn.send_end()
    outcome = drive(conn, [b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"])
    assert outcome.events == [ok(201, b"Created", [(b"content-length", b"0")]), EndOfMessage()]
    assert outcome.keep_alive is True


def test_connection_close_sent_by_us_ends_reuse() -> None:
    conn = request_sent(headers=[(b"Connection", b"close")])
    assert conn.keep_alive is False
    assert conn.our_state is MUST_CLOSE
    outcome = drive(conn, [CL_HEAD + b"hello"])
    assert outcome.events[-1] == EndOfMessage()
    assert (conn.our_state, conn.their_state) == (MUST_CLOSE, MUST_CLOSE)
    with pytest.raises(LocalProtocolError, match=r"MUST_CLOSE.*we sent Connection: close"):
        conn.start_next_cycle()


def test_bytes_after_the_response_end_reuse() -> None:
    outcome = exchange(CL_HEAD + b"helloHTTP/1.1 200 OK\r\n")
    assert outcome.events == [ok(200, b"OK", CL_HEADERS), Data(b"hello"), EndOfMessage()]
    assert outcome.error is None
    assert outcome.keep_alive is False
    assert (outcome.our_state, outcome.their_state) == (MUST_CLOSE, MUST_CLOSE)
    # a body on a 204 is such bytes too
    outcome = exchange(b"HTTP/1.1 204 No Content\r\n\r\nbody")
    assert outcome.keep_alive is False


def test_bytes_while_idle_end_reuse() -> None:
    conn = request_sent()
    drive(conn, [CL_HEAD + b"hello"])
    conn.start_next_cycle()
    conn.receive_data(b"HTTP/1.1 408 Request Timeout\r\n\r\n")  # servers say so, then close
    assert conn.next_event() is NEED_DATA
    assert conn.keep_alive is False
    assert (conn.our_state, conn.their_state) == (MUST_CLOSE, MUST_CLOSE)
    with pytest.raises(LocalProtocolError, match="bytes outside a response"):
        conn.send_request(b"GET", b"/", HOST)


def test_start_next_cycle_refused_mid_exchange_changes_nothing() -> None:
    conn = request_sent()
    with pytest.raises(LocalProtocolError, match="their_state=SEND_RESPONSE"):
        conn.start_next_cycle()
    assert (conn.our_state, conn.their_state) == (DONE, H1State.SEND_RESPONSE)
    outcome = drive(conn, [CL_HEAD + b"hello"])
    assert outcome.error is None
    conn.start_next_cycle()


def test_errors_leave_the_connection_unusable() -> None:
    conn = request_sent()
    conn.receive_data(b"HTTP/9")
    conn.receive_data(b".9 200 OK\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match=r"HTTP/9\.9 is not supported"):
        conn.next_event()
    assert (conn.our_state, conn.their_state) == (ERROR, ERROR)
    for call in (
        conn.next_event,
        lambda: conn.receive_data(b"x"),
        lambda: conn.receive_data(b""),
        lambda: conn.send_data(b""),
        conn.send_end,
        lambda: conn.send_request(b"GET", b"/", HOST),
    ):
        with pytest.raises(LocalProtocolError, match=r"unusable after an error \(Remote"):
            call()
    with pytest.raises(LocalProtocolError, match="unusable after an error"):
        conn.start_next_cycle()
