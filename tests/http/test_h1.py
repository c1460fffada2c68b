"""Unit tests of the HTTP/1.1 client connection (``runtime_client.http._h1``).

Every response in the tables is fed whole, one byte at a time and in every chunk size
from 1 to 11, and each way must give the same events (the body pieces joined), the same
error, the same states and the same keep-alive decision. The differential tests against
h11 are in ``test_http_h1_differential.py``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

import runtime_client.http
from runtime_client.http import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    H1Connection,
    H1State,
    InformationalResponse,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    Response,
    ServerDisconnectedError,
    _exceptions,
    _h1,
)

HOST = [(b"Host", b"example.com")]
SPLITS: list[int | None] = [None, *range(1, 12)]  # None: the whole response at once

IDLE, SEND_BODY, DONE = H1State.IDLE, H1State.SEND_BODY, H1State.DONE
MUST_CLOSE, CLOSED, ERROR = H1State.MUST_CLOSE, H1State.CLOSED, H1State.ERROR


# --- the harness ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a driver sees: the events (adjacent Data joined), then an error or not."""

    events: list[Event]
    error: tuple[type[ProtocolError], str] | None
    keep_alive: bool
    our_state: H1State
    their_state: H1State


def _pieces(data: bytes, size: int | None) -> list[bytes]:
    if size is None:
        return [data] if data else []
    return [data[i : i + size] for i in range(0, len(data), size)]


def _joined(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        if type(event) is Data and out and type(out[-1]) is Data:
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def request_sent(
    method: bytes = b"GET",
    headers: Sequence[tuple[bytes, bytes]] = (),
    *,
    finish: bool = True,
    limits: dict[str, int] | None = None,
) -> H1Connection:
    conn = H1Connection(**(limits or {}))
    conn.send_request(method, b"/", [*HOST, *headers])
    if finish:
        conn.send_end()
    return conn


def drive(conn: H1Connection, reads: Sequence[bytes], *, eof: bool = False) -> Outcome:
    """Feed ``reads`` (then EOF), taking every event out after each, as a driver does."""
    events: list[Event] = []
    error: tuple[type[ProtocolError], str] | None = None
    try:
        for data in [*reads, b""] if eof else reads:
            conn.receive_data(data)
            while True:
                event = conn.next_event()
                if event is NEED_DATA:
                    break
                events.append(event)
                if type(event) is ConnectionClosed:
                    break
    except ProtocolError as exc:
        error = (type(exc), str(exc))
    return Outcome(_joined(events), error, conn.keep_alive, conn.our_state, conn.their_state)


def exchange(
    response: bytes,
    *,
    method: bytes = b"GET",
    headers: Sequence[tuple[bytes, bytes]] = (),
    eof: bool = False,
    **limits: int,
) -> Outcome:
    """The outcome of ``response``, checked to be the same however it is cut into reads."""
    outcomes = [
        drive(request_sent(method, headers, limits=limits), _pieces(response, size), eof=eof)
        for size in SPLITS
    ]
    for size, outcome in zip(SPLITS[1:], outcomes[1:], strict=True):
        assert outcome == outcomes[0], f"fed in {size}-byte pieces, not whole"
    return outcomes[0]


def now(flag: bool) -> bool:
    """A property read again (so that mypy drops what an earlier assert narrowed it to)."""
    return flag


def ok(
    status: int, reason: bytes, headers: list[tuple[bytes, bytes]], v: bytes = b"1.1"
) -> Response:
    return Response(status, reason, headers, v)


# --- valid responses ---------------------------------------------------------------------------

CL_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
CL_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
TE_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

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
        "value-leading-space",
        b"GET",
        b"/",
        [*HOST, (b"X-A", b" a")],
        "header b'X-A': the value b' a' has leading or trailing",
    ),
    (
        "value-trailing-tab",
        b"GET",
        b"/",
        [(b"X-A", b"a\t"), *HOST],
        "leading or trailing whitespace",
    ),
    ("value-only-space", b"GET", b"/", [*HOST, (b"X-A", b" ")], "leading or trailing whitespace"),
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


def test_a_str_instead_of_bytes_is_a_type_error() -> None:
    conn = H1Connection()
    with pytest.raises(TypeError):
        conn.send_request(b"GET", b"/", [("Host", "x")])  # type: ignore[list-item]
    assert conn.our_state is ERROR


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


# --- the package ---------------------------------------------------------------------------------


def test_public_names_are_exactly_all() -> None:
    package = runtime_client.http
    public = {name for name in dir(package) if not name.startswith("_")}
    assert public == set(package.__all__)
    assert len(package.__all__) == len(set(package.__all__))
    for module in (_h1, _exceptions):
        assert all(hasattr(module, name) for name in module.__all__)
        assert set(module.__all__) <= set(package.__all__)


def test_exception_tree() -> None:
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(ServerDisconnectedError, RemoteProtocolError)
    assert not issubclass(ServerDisconnectedError, LocalProtocolError)


def test_importing_the_connection_is_cheap() -> None:
    script = (
        "import sys; import runtime_client.http; "
        "print(sorted(m for m in ('ssl', 'asyncio', 'httpx', 'httpcore', 'h11', 'socket') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
