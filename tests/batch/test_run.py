"""The batch's decisions (``runtime_client.batch._run``), driven by hand with a fake clock:
the concurrency window, records sent again after throttling, order, resume, bad items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from runtime_client import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ModelError,
    ParamValidationError,
    ProxyConnectionError,
    ReadTimeoutError,
    SageMakerRuntimeError,
    SSLError,
)
from runtime_client.batch._records import BatchRecord, BatchResult, DoneSet, records_from
from runtime_client.batch._run import BatchRun, Pending, Window, check_options

THROTTLED = {
    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
    "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
}
OK: dict[str, Any] = {"ContentType": "json", "ResponseMetadata": {"RetryAttempts": 0}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _feed(run: BatchRun, items: list[BatchRecord]) -> list[Any]:
    out: list[Any] = []
    for _ in range(run.wants()):
        if not items:
            run.end_of_input()
            break
        out += run.add(items.pop(0))
    return out


def _error(result: BatchResult) -> Mapping[str, Any]:
    assert result.error is not None, result
    return result.error


def _records(n: int) -> list[BatchRecord]:
    return list(records_from([f"body {i}".encode() for i in range(n)], {"EndpointName": "ep"}))


def test_the_window_is_cut_once_per_round_trip_and_grows_one_call_per_full_window() -> None:
    window = Window(10)
    tickets = [window.ticket() for _ in range(10)]
    for ticket in tickets:  # ten throttled answers from calls sent together: one cut
        window.record(ticket, congested=True)
    assert window.limit == pytest.approx(7.0)
    window.record(window.ticket(), congested=True)  # sent after the cut: a new signal
    assert window.limit == pytest.approx(4.9)
    for _ in range(4):
        window.record(window.ticket(), congested=False)
    assert window.size == 5  # 4.9 + 4 x 1/limit
    for _ in range(200):
        window.record(window.ticket(), congested=False)
    assert window.limit == 10.0  # never beyond the ceiling
    for _ in range(30):
        window.record(window.ticket(), congested=True)
    assert window.size == 1  # never below one call
    assert window.lowest == 1.0


def test_a_throttled_record_is_sent_again_after_a_backoff_then_its_error_is_the_result() -> None:
    clock = Clock()
    run = BatchRun(concurrency=2, max_rounds=3, clock=clock, random=lambda: 1.0)
    items = _records(1)
    _feed(run, items)
    (call,) = run.start()
    assert run.finish(call, None, None, ClientError(THROTTLED, "InvokeEndpoint")) == []
    assert run.start() == []  # not yet due
    assert run.wait_time() == pytest.approx(0.5)
    clock.now += 0.5
    (again,) = run.start()
    assert again.rounds == 2
    assert run.finish(again, None, None, ClientError(THROTTLED, "InvokeEndpoint")) == []
    assert run.wait_time() == pytest.approx(1.0)  # doubled
    clock.now += 1.0
    (last,) = run.start()
    (result,) = run.finish(last, None, None, ClientError(THROTTLED, "InvokeEndpoint"))
    assert _error(result)["Code"] == "ThrottlingException"
    assert result.rounds == 3
    assert run.stats.resent == 2
    _feed(run, items)
    assert run.done


def test_other_errors_are_results_at_once_and_successes_carry_the_answer() -> None:
    run = BatchRun(concurrency=4)
    _feed(run, _records(2))
    first, second = run.start()
    failed = ModelError(
        {
            "Error": {"Code": "ModelError", "Message": "boom"},
            "ResponseMetadata": {"HTTPStatusCode": 424},
        },
        "InvokeEndpoint",
    )
    (error,) = run.finish(first, None, None, failed)
    assert error.error == {
        "Code": "ModelError",
        "Message": "boom",
        "HTTPStatusCode": 424,
        "ResponseMetadata": {"HTTPStatusCode": 424},
    }
    (ok,) = run.finish(second, b"answer", OK, None)
    assert (ok.index, ok.body, ok.ok) == (1, b"answer", True)
    assert run.stats.errors == {"ModelError": 1}
    assert run.stats.ok == 1


def test_ordered_results_wait_for_the_oldest_and_the_input_is_held_to_a_bound() -> None:
    run = BatchRun(concurrency=2, ordered=True)
    items = _records(200)
    _feed(run, items)
    first, second = run.start()
    assert run.finish(second, b"1", OK, None) == []  # waits for record 0
    assert [r.index for r in run.finish(first, b"0", OK, None)] == [0, 1]
    # a slow record 2 holds the output; new records are taken up to 64 past it, no more
    _feed(run, items)
    (slow, fast) = run.start()
    while True:
        assert run.finish(fast, b"", OK, None) == []
        _feed(run, items)
        started = run.start()
        if not started:
            break
        (fast,) = started
    assert run.wants() == 0  # 64 records between the slow one and the newest, itself included
    assert len(items) == 200 - 2 - 64
    assert [r.index for r in run.finish(slow, b"", OK, None)] == list(range(2, 66))
    assert run.wants() == 2  # the window again


def test_resume_skips_what_is_done_and_a_bad_item_is_its_own_result() -> None:
    done = DoneSet()
    for index in (0, 2):
        done.add(index)
    run = BatchRun(concurrency=4, ordered=True, done=done)
    items = list(records_from([b"a", b"b", b"c", 42, {"id": "x"}], {"EndpointName": "ep"}))
    results = _feed(run, items)
    assert results == []  # waits behind record 1
    (call,) = run.start()
    assert call.record.index == 1
    out = run.finish(call, b"b", OK, None)
    out += _feed(run, items)  # the drivers feed again each turn
    assert [r.index for r in out] == [1, 3, 4]
    assert "not int" in _error(out[1])["Message"]
    assert _error(out[2])["Message"] == "a record mapping must hold Body"
    assert out[2].id == "x"
    assert run.stats.skipped == 2


def test_an_answer_that_needed_the_clients_retries_counts_as_congestion() -> None:
    run = BatchRun(concurrency=10)
    _feed(run, _records(1))
    (call,) = run.start()
    run.finish(call, b"", {"ResponseMetadata": {"RetryAttempts": 2}}, None)
    assert run.window.limit == pytest.approx(7.0)


URL = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(URL, "Connection refused"),
        ConnectTimeoutError(URL),
        ProxyConnectionError(URL, "proxy refused the tunnel"),
    ],
)
def test_a_call_that_never_reached_the_endpoint_is_sent_again(
    error: SageMakerRuntimeError,
) -> None:
    clock = Clock()
    run = BatchRun(concurrency=10, max_rounds=2, clock=clock, random=lambda: 1.0)
    items = _records(2)
    _feed(run, items)
    first, second = run.start()
    assert run.finish(first, None, None, error) == []
    assert run.window.limit == pytest.approx(7.0)  # refused connections are congestion
    assert run.stats.resent == 1
    clock.now += 0.5
    (again,) = run.start()
    assert (again.record.index, again.rounds) == (0, 2)
    (ok,) = run.finish(again, b"answer", OK, None)
    assert (ok.index, ok.body, ok.rounds) == (0, b"answer", 2)
    assert run.finish(second, None, None, error) == []
    clock.now += 0.5
    (last_try,) = run.start()
    (last,) = run.finish(last_try, None, None, error)  # max_rounds spent: the error stands
    assert (last.index, last.rounds, _error(last)["Code"]) == (1, 2, type(error).__name__)
    assert run.stats.resent == 2
    assert run.stats.errors == {type(error).__name__: 1}
    _feed(run, items)
    assert run.done


@pytest.mark.parametrize(
    "error",
    [
        SSLError(URL, "certificate verify failed"),
        ReadTimeoutError(URL),
        ConnectionClosedError(URL, "closed mid-answer"),
    ],
)
def test_a_call_that_may_have_run_or_cannot_heal_is_not_sent_again(
    error: SageMakerRuntimeError,
) -> None:
    run = BatchRun(concurrency=10, max_rounds=5)
    _feed(run, _records(1))
    (call,) = run.start()
    (result,) = run.finish(call, None, None, error)
    assert _error(result)["Code"] == type(error).__name__
    assert (result.rounds, run.stats.resent) == (1, 0)
    assert run.window.limit == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"max_rounds": 0}, "max_rounds"),
        ({"shared": {}}, "EndpointName"),
        ({"shared": {"EndpointName": "ep", "Body": b""}}, "Body"),
    ],
)
def test_bad_options_are_named_before_anything_is_sent(options: Any, named: str) -> None:
    with pytest.raises(ParamValidationError, match=named):
        check_options(
            options.get("concurrency", 4),
            options.get("max_rounds", 5),
            options.get("shared", {"EndpointName": "ep"}),
        )


def test_pending_calls_are_numbered_for_the_window() -> None:
    run = BatchRun(concurrency=3)
    _feed(run, _records(3))
    calls = run.start()
    assert [c.ticket for c in calls] == [1, 2, 3]
    assert all(isinstance(c, Pending) and c.rounds == 1 for c in calls)
    assert run.stats.peak_in_flight == 3
