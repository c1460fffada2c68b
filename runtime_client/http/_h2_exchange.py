"""One request on an HTTP/2 stream, written once for every driver: generators that yield
what they need done and are sent the outcome (as :mod:`._exchange` does for HTTP/1.1).

::

    WRITE        write what the connection has queued (``H2Connection.data_to_send``);
                 a failed write is given to the connection (``receive_write_error``)
    Wait(t)      wait at most ``t`` seconds (None: no limit) for input: read the socket
                 and feed the connection, or, when another caller of a shared
                 connection is reading, wait for its news; send back None
    NEXT_CHUNK   the next chunk of a file body (b"" at its end)

Time comes in as ``now`` (a monotonic clock in seconds): the generators decide every
timeout; a driver only waits as long as a step says. The rules decided here:

* **Timeouts** are per stream: a stream waits at most the read timeout for each event of
  its answer (its head, each piece of its body), and at most the write timeout for
  flow-control credit while its body is sent, however busy the other streams are.
* **Body and answer at once.** The body goes out within the windows; while it waits for
  credit, whatever arrives is taken in. A complete answer that arrives first ends the
  sending (the stream is reset), and is the answer; so is an answer that arrives after a
  write failed (the server answered and closed).
* **Writing before waiting**: what the protocol owes (acknowledgements, SETTINGS and PING
  answers) is written before each wait, so the server is never left waiting for them;
  and a wait follows only a look at the stream with no step in between, so that news
  which came during a write is never slept through.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from typing import Any, Final, NamedTuple, TypeAlias, TypeVar

from ._exceptions import ReadTimeout, RemoteProtocolError, WriteTimeout
from ._h1_events import NEED_DATA, Data, EndOfMessage, Response
from ._h2 import H2Connection
from ._h2_stream import H2Event
from ._models import FileBody, Request, Timeouts

__all__ = [
    "NEXT_CHUNK",
    "WRITE",
    "Clock",
    "H2Step",
    "Steps",
    "Wait",
    "exchange",
    "next_event",
    "read_data",
    "wait_until",
]

T = TypeVar("T")
Clock: TypeAlias = Callable[[], float]


class H2Step(enum.Enum):
    WRITE = "WRITE"
    NEXT_CHUNK = "NEXT_CHUNK"


WRITE: Final = H2Step.WRITE
NEXT_CHUNK: Final = H2Step.NEXT_CHUNK


class Wait(NamedTuple):
    """Wait for input for at most ``timeout`` seconds (None: no limit)."""

    timeout: float | None


#: What the generators yield and are sent back (bytes for NEXT_CHUNK, else None).
Steps: TypeAlias = Generator[H2Step | Wait, Any, T]
_DEFAULT_TIMEOUTS = Timeouts()


def wait_until(
    ready: Callable[[], bool], conn: H2Connection, timeout: float | None, now: Clock
) -> Steps[bool]:
    """Wait (writing what is owed, then reading) until ``ready()``; False if ``timeout``
    seconds passed first or the connection ended without it."""
    deadline = None if timeout is None else now() + timeout
    while not ready():
        if conn.ended:
            return ready()
        if conn.wants_write:
            yield WRITE
            continue  # look again before waiting: news may have come while writing
        left = None if deadline is None else deadline - now()
        if left is not None and left <= 0:
            return False
        yield Wait(left)
    return True


def next_event(conn: H2Connection, sid: int, timeout: float | None, now: Clock) -> Steps[H2Event]:
    """The next event of stream ``sid``, reading as needed; raises its error, or
    ``ReadTimeout`` after ``timeout`` seconds without one."""
    while True:
        event = conn.next_event(sid)  # raises the stream's error
        if event is not NEED_DATA:
            if conn.wants_write:  # taking data may have opened the window
                yield WRITE
            return event

        def arrived() -> bool:
            return conn.has_event(sid)

        if not (yield from wait_until(arrived, conn, timeout, now)) and not conn.has_event(sid):
            raise ReadTimeout(f"{conn.origin} sent nothing for {timeout} s")


def read_data(
    conn: H2Connection, sid: int, timeout: float | None, now: Clock
) -> Steps[bytes | None]:
    """The next piece of the body of stream ``sid``, None at its end."""
    event = yield from next_event(conn, sid, timeout, now)
    if type(event) is Data:
        return event.data
    if type(event) is EndOfMessage:
        return None
    raise RemoteProtocolError(f"{conn.origin} sent a second response head on one stream")


def exchange(conn: H2Connection, sid: int, request: Request, now: Clock) -> Steps[Response]:
    """Send the body of ``request`` on stream ``sid`` (its HEADERS are queued) and read up
    to its response head."""
    timeouts = request.timeouts or _DEFAULT_TIMEOUTS
    body = request.body
    yield WRITE
    if isinstance(body, FileBody):
        while not conn.response_complete(sid) and not conn.stream_failed(sid):
            chunk: bytes = yield NEXT_CHUNK
            conn.send_body(sid, chunk, end=not chunk)
            yield from _upload(conn, sid, timeouts.write, now)
            if not chunk:
                break
    elif conn.body_pending(sid):
        yield from _upload(conn, sid, timeouts.write, now)
    if conn.body_pending(sid) and conn.response_complete(sid):
        conn.stop_body(sid)  # answered before the body was out: stop sending it
    event = yield from next_event(conn, sid, timeouts.read, now)
    if type(event) is not Response:
        raise RemoteProtocolError(f"expected a response head, got {event!r}")
    return event


def _upload(conn: H2Connection, sid: int, timeout: float | None, now: Clock) -> Steps[None]:
    """Hand what is queued of the body to the connection and write it, waiting for
    credit as needed; stops early when the stream is answered, failed or the writing
    broke (the answer, or the error, is read next)."""
    while True:
        conn.flush()
        yield WRITE
        pending = conn.body_pending(sid)
        if not pending or conn.write_failed or conn.ended:
            return
        if conn.response_complete(sid) or conn.stream_failed(sid):
            return

        def credit() -> bool:
            return (
                conn.window_open(sid)
                or conn.response_complete(sid)
                or conn.stream_failed(sid)
                or conn.write_failed
            )

        if not (yield from wait_until(credit, conn, timeout, now)) and not conn.ended:
            raise WriteTimeout(f"{conn.origin} gave no flow-control credit for {timeout} s")
