"""What each call of a bidirectional stream does, as steps: written once for the blocking
and the async stream, which only perform them (``runtime_client.http``'s HTTP/2 drivers:
``WRITE``, ``Wait(timeout)``, see :mod:`runtime_client.http._h2_exchange`).

Every decision of the stream's calls is here, none in the drivers:

* **Timeouts.** ``receive`` and ``await_output`` wait at most the read timeout for the
  service (``ReadTimeoutError``), ``send``/``close`` as long for flow-control credit; an
  idle stream between calls is never timed out. ``now`` is the driver's monotonic clock.
* **A stream that ends unanswered** (before the service's headers: the connection closed
  or broke, the stream was reset, a GOAWAY) raises ``ResponseStreamingError`` from every
  call, as does any other end of the answer at the transport level (see
  :mod:`._connection`).
* **When to write and when to wait.** Input is handed over within the windows and
  written at once; a sender whose window is shut waits for input (WINDOW_UPDATE) and so
  takes in the answers too. A wait always follows a fresh look at the stream, never a
  write (news that came while writing would be slept through). After a failed write a
  sender waits, at most ``ANSWER_GRACE`` seconds, for the answer the server may have
  sent before it hung up; then the call fails with that answer's error, or with the
  write error.
* **The blocking form's Body** is fed from ``receive``/``await_output`` whenever the
  previous event is out (the async form has a task for it).
"""

from __future__ import annotations

import contextlib
from typing import Any

from .._errors import ReadTimeoutError
from ..http._h2_exchange import WRITE, Clock, Steps, Wait
from ._connection import END, NEED_DATA, BidiConnection

__all__ = ["ANSWER_GRACE", "deliver", "opening", "output", "pump", "receive"]

#: After a failed write, how long a sender reads on for the answer (a server that answered
#: early and closed the connection) before the write error stands.
ANSWER_GRACE = 5.0


def _deadline(now: Clock, timeout: float | None) -> float | None:
    return None if timeout is None else now() + timeout


def _wait(conn: BidiConnection, now: Clock, deadline: float | None, what: str) -> Steps[None]:
    """Write what is owed, or else wait for input until ``deadline`` (ReadTimeoutError).
    After a write the caller looks at the stream again before it waits: news that came
    while writing must not be slept through."""
    if conn.core.wants_write:
        yield WRITE
        return
    left = None if deadline is None else deadline - now()
    if left is not None and left <= 0:
        raise ReadTimeoutError(conn.endpoint_url, what)
    yield Wait(left)


def opening(conn: BidiConnection) -> Steps[None]:
    """Write the connection preface and the signed request HEADERS (the call returns
    then: the service may wait for input before it answers); raises the transport's
    error if that write failed."""
    yield WRITE
    error = conn.core.write_error
    if error is not None:
        raise error


def deliver(conn: BidiConnection, now: Clock, timeout: float | None) -> Steps[None]:
    """Hand the queued input (an event, or the end of input) over, within the windows;
    raises the stream's error while input waits."""
    deadline = _deadline(now, timeout)
    while True:
        conn.flush_input()  # raises the stream's error while input waits
        if conn.input_stalled:  # the write failed: read on for the answer
            yield from _await_answer(conn, now, deadline)
            continue  # flush_input raises what the call ended with
        if not conn.core.wants_write and not conn.input_pending:
            return  # handed over: a later error belongs to the next call
        yield from _wait(conn, now, deadline, "no flow-control window from the service in time")


def _await_answer(conn: BidiConnection, now: Clock, deadline: float | None) -> Steps[None]:
    """After a write error, read until the answer ends (a bounded grace); then the call
    fails with the answer's error, or with the write error. ``ReadTimeoutError`` if the
    call's own deadline comes first."""
    grace = now() + ANSWER_GRACE
    limit = grace if deadline is None else min(grace, deadline)
    while conn.input_stalled:
        left = limit - now()
        if left <= 0:
            if limit != grace:
                raise ReadTimeoutError(
                    conn.endpoint_url, "no answer from the service after writing failed"
                )
            conn.give_up_reading()
            return
        yield Wait(left)


def receive(
    conn: BidiConnection, now: Clock, timeout: float | None
) -> Steps[dict[str, Any] | None]:
    """The next event, or None once the service's answer has ended."""
    deadline = _deadline(now, timeout)
    while True:
        item = conn.next_event()  # raises the stream's error
        if item is END:
            return None
        if item is not NEED_DATA:
            yield WRITE  # taking it may have acknowledged data
            assert isinstance(item, dict)
            return item
        if conn.finished:
            return None
        _feed(conn)
        yield from _wait(conn, now, deadline, "no event from the service in time")


def output(conn: BidiConnection, now: Clock, timeout: float | None) -> Steps[dict[str, Any]]:
    """``{'InvokedProductionVariant': ..., 'ResponseMetadata': {...}}`` once the
    service's headers are in; raises the initial error."""
    deadline = _deadline(now, timeout)
    while True:
        answer = conn.initial_response()  # raises the initial error
        if answer is not None:
            return answer
        if conn.finished:
            conn.next_event()  # raises the error that finished it
            raise conn.unanswered()
        _feed(conn)
        yield from _wait(conn, now, deadline, "no answer from the service in time")


def pump(conn: BidiConnection) -> Steps[None]:
    """Read for as long as the connection lasts, answering what the protocol owes (the
    async stream's reader task: input and output then flow at once between calls)."""
    while not conn.transport_closed:
        conn.take_in()  # decodes what arrived, and acknowledges it within the window rules
        if conn.core.wants_write:
            yield WRITE
        else:
            yield Wait(None)


def _feed(conn: BidiConnection) -> None:
    conn.feed_body()
    with contextlib.suppress(Exception):  # errors come out of next_event, in order
        conn.flush_input()
