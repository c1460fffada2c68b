"""The blocking driver of a batch: the calls run on a thread pool sized to the ceiling, each
through the one client (whose pool and credentials are thread-safe); this thread feeds the
:class:`~._run.BatchRun` and yields what it gives.

A call's outcome comes back through a ``SimpleQueue``, never through its future: waiting
on futures (``concurrent.futures.wait``) takes each future's lock in this thread one by
one, and a Ctrl+C that lands in that loop leaves some held, so that the worker finishing
such a call blocks for good and the interpreter, which joins the pool's threads at exit,
hangs. A queue's ``put`` never waits on this thread."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .._errors import SageMakerRuntimeError
from ._records import BatchRecord, BatchResult, answer_members, records_from
from ._run import BatchRun, BatchStats, Pending, new_run

if TYPE_CHECKING:
    from .._client import SageMakerRuntime

__all__ = ["BatchResults", "invoke_batch"]

Outcome = tuple["bytes | None", "dict[str, Any] | None", "SageMakerRuntimeError | None"]
#: What a worker hands back: the call and its outcome, or what it raised that is not ours.
Done = tuple[Pending, Outcome | BaseException]


class BatchResults(Iterator[BatchResult]):
    """The results of a batch as they come; ``stats`` says how far it is. Closing it (or
    leaving its ``with`` block) stops the batch: calls not yet made are not made."""

    def __init__(self, results: Iterator[BatchResult], stats: BatchStats) -> None:
        self._results = results
        self.stats = stats

    def __next__(self) -> BatchResult:
        return next(self._results)

    def close(self) -> None:
        self._results.close()  # type: ignore[attr-defined]

    def __enter__(self) -> BatchResults:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _invoke(client: SageMakerRuntime, call: Pending, done: queue.SimpleQueue[Done]) -> None:
    """Make ``call``; its outcome always goes on ``done``, whatever happens."""
    outcome: Outcome | BaseException
    try:
        answer = client.invoke_endpoint(**call.record.params)
        outcome = (answer["Body"].read(), answer_members(answer), None)
    except SageMakerRuntimeError as exc:
        outcome = (None, None, exc)
    except BaseException as exc:  # a bug, not a record's error: raised where the batch runs
        outcome = exc
    done.put((call, outcome))


def _drive(
    client: SageMakerRuntime, items: Iterator[BatchRecord], run: BatchRun
) -> Iterator[BatchResult]:
    pool = ThreadPoolExecutor(run.window.ceiling, thread_name_prefix="invoke-endpoint-batch")
    done: queue.SimpleQueue[Done] = queue.SimpleQueue()
    try:
        while not run.done:
            for _ in range(run.wants()):
                item = next(items, None)
                if item is None:
                    run.end_of_input()
                    break
                yield from run.add(item)
            for call in run.start():
                pool.submit(_invoke, client, call, done)
            if run.stats.in_flight:
                for call, outcome in _finished(done, run.wait_time()):
                    if isinstance(outcome, BaseException):
                        raise outcome
                    yield from run.finish(call, *outcome)
            elif run.busy:
                time.sleep(run.wait_time() or 0.0)
    finally:  # stopped early (closed, Ctrl+C): what has not started never starts
        pool.shutdown(wait=False, cancel_futures=True)


def _finished(done: queue.SimpleQueue[Done], timeout: float | None) -> list[Done]:
    """The calls that have ended: at least one (waiting up to ``timeout``), then every
    other one already back."""
    try:
        ended = [done.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:  # bounded: at most the calls in flight are in the queue
        try:
            ended.append(done.get_nowait())
        except queue.Empty:
            return ended


def invoke_batch(client: SageMakerRuntime, records: Iterable[Any], **options: Any) -> BatchResults:
    """See :meth:`runtime_client.SageMakerRuntime.invoke_endpoint_batch`."""
    run, shared = new_run(options)
    return BatchResults(_drive(client, records_from(records, shared), run), run.stats)
