"""The stream's calls as steps, driven by hand with h2's server side in memory and a clock
the test moves: what a sender does after a failed write (reads on for the answer, within
a grace), and the read timeouts of ``receive`` and ``await_output``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import h2.config
import h2.connection
import pytest

from runtime_client import _errors
from runtime_client.bidi import _steps
from runtime_client.bidi._connection import BidiConnection
from runtime_client.bidi._events import build_bidi_request
from runtime_client.http._h2_exchange import WRITE, Wait
from tests.bidi.helpers import bidi_call, creds, part
from tests.support.h2_server import REGION

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def started() -> tuple[BidiConnection, h2.connection.H2Connection]:
    request = build_bidi_request(
        "http://127.0.0.1:1",
        bidi_call({"EndpointName": "ep"}),
        credentials=creds(),
        region=REGION,
        time=NOW,
    )
    conn = BidiConnection(request, endpoint_url="http://127.0.0.1:1")
    conn.start()
    peer = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    peer.initiate_connection()
    peer.receive_data(conn.data_to_send())
    conn.receive_data(peer.data_to_send())
    return conn, peer


def step(steps: Any, conn: BidiConnection) -> Any:
    """The next step that is not a WRITE (the bytes are dropped: the peer reads nothing)."""
    value = steps.send(None)
    while value is WRITE:
        conn.data_to_send()
        value = steps.send(None)
    return value


def test_after_a_failed_write_the_sender_reads_on_for_the_answer() -> None:
    conn, peer = started()
    clock = Clock()
    conn.send_event(part(b"x" * 200_000), NOW)  # more than the peer's window
    deliver = _steps.deliver(conn, clock, 30.0)
    assert isinstance(step(deliver, conn), Wait)  # for credit
    conn.receive_write_error(BrokenPipeError(32, "Broken pipe"))
    waiting = step(deliver, conn)
    assert waiting == Wait(_steps.ANSWER_GRACE)  # the grace, not the call's 30 s
    body = b'{"Message": "no"}'
    peer.send_headers(1, [(":status", "424"), ("x-amzn-errortype", "ModelError")])
    peer.send_data(1, body, end_stream=True)
    conn.receive_data(peer.data_to_send())
    with pytest.raises(_errors.ModelError):
        step(deliver, conn)


def test_without_an_answer_the_write_error_stands_after_the_grace() -> None:
    conn, _ = started()
    clock = Clock()
    conn.send_event(part(b"x" * 200_000), NOW)
    deliver = _steps.deliver(conn, clock, None)
    step(deliver, conn)
    conn.receive_write_error(BrokenPipeError(32, "Broken pipe"))
    assert step(deliver, conn) == Wait(_steps.ANSWER_GRACE)
    clock.now += _steps.ANSWER_GRACE
    with pytest.raises(_errors.ResponseStreamingError, match="Broken pipe"):
        step(deliver, conn)


def test_the_calls_own_deadline_comes_before_the_grace() -> None:
    conn, _ = started()
    clock = Clock()
    conn.send_event(part(b"x" * 200_000), NOW)
    deliver = _steps.deliver(conn, clock, 1.0)
    step(deliver, conn)
    conn.receive_write_error(BrokenPipeError(32, "Broken pipe"))
    assert step(deliver, conn) == Wait(1.0)
    clock.now += 1.0
    with pytest.raises(_errors.ReadTimeoutError):
        step(deliver, conn)


@pytest.mark.parametrize("call", [_steps.receive, _steps.output])
def test_receive_and_output_wait_at_most_the_read_timeout(call: Any) -> None:
    conn, _ = started()
    clock = Clock()
    steps = call(conn, clock, 2.0)
    assert step(steps, conn) == Wait(2.0)
    clock.now += 1.5
    waiting = step(steps, conn)
    assert isinstance(waiting, Wait)
    assert waiting.timeout == pytest.approx(0.5)
    clock.now += 0.5
    with pytest.raises(_errors.ReadTimeoutError) as info:
        step(steps, conn)
    assert "from the service in time" in str(info.value.error)


def test_output_of_a_stream_that_ended_unanswered() -> None:
    conn, _ = started()
    conn.receive_eof()
    with pytest.raises(_errors.ResponseStreamingError, match="ended before the service answered"):
        step(_steps.output(conn, Clock(), 2.0), conn)
    assert conn.finished


def test_the_readers_steps_end_with_the_connection() -> None:
    conn, _ = started()
    pump = _steps.pump(conn)
    assert step(pump, conn) == Wait(None)
    conn.receive_eof()
    with pytest.raises(StopIteration):
        step(pump, conn)
