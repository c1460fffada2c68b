"""What the HTTP/1.1 connection's unit tests share: a driver's loop, and responses.

:func:`exchange` feeds a response whole, one byte at a time and in every chunk size from
1 to 11, and checks that each way gives the same events (the body pieces joined), the
same error, the same states and the same keep-alive decision; :func:`drive` is the loop
of a driver (feed a read, take every event out). The differential tests against h11 are
in ``test_h1_differential.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime_client.http import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    Event,
    H1Connection,
    H1State,
    ProtocolError,
    Response,
)

__all__ = [
    "CLOSED",
    "CL_HEAD",
    "CL_HEADERS",
    "DONE",
    "ERROR",
    "HOST",
    "IDLE",
    "MUST_CLOSE",
    "SEND_BODY",
    "SPLITS",
    "TE_CHUNKED",
    "Outcome",
    "drive",
    "exchange",
    "joined",
    "now",
    "ok",
    "pieces",
    "request_sent",
]

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


def pieces(data: bytes, size: int | None) -> list[bytes]:
    """``data`` cut into reads of ``size`` bytes (None: one read, or none if empty)."""
    if size is None:
        return [data] if data else []
    return [data[i : i + size] for i in range(0, len(data), size)]


def joined(events: list[Event]) -> list[Event]:
    """Adjacent Data events joined: bodies compare equal however the bytes were cut."""
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
    return Outcome(joined(events), error, conn.keep_alive, conn.our_state, conn.their_state)


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
        drive(request_sent(method, headers, limits=limits), pieces(response, size), eof=eof)
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


# --- responses used by several modules -------------------------------------------------------

CL_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
CL_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
TE_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
