"""The blocking driver of a batch: the calls run on a thread pool sized to the ceiling, each
through the one client (whose pool and credentials are thread-safe); this thread feeds the
:class:`~._run.BatchRun` and yields what it gives."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from .._errors import SageMakerRuntimeError
from ._records import BatchRecord, BatchResult, answer_members, records_from
from ._run import BatchRun, BatchStats, Pending, new_run

if TYPE_CHECKING:
    from .._client import SageMakerRuntime

__all__ = ["BatchResults", "invoke_batch"]

Outcome = tuple["bytes | None", "dict[str, Any] | None", "SageMakerRuntimeError | None"]


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


def _invoke(client: SageMakerRuntime, params: Any) -> Outcome:
    try:
        answer = client.invoke_endpoint(**params)
        body = answer["Body"].read()
    except SageMakerRuntimeError as exc:
        return None, None, exc
    return body, answer_members(answer), None


def _drive(
    client: SageMakerRuntime, items: Iterator[BatchRecord], run: BatchRun
) -> Iterator[BatchResult]:
    pool = ThreadPoolExecutor(run.window.ceiling, thread_name_prefix="invoke-endpoint-batch")
    calls: dict[Future[Outcome], Pending] = {}
    try:
        while not run.done:
            for _ in range(run.wants()):
                item = next(items, None)
                if item is None:
                    run.end_of_input()
                    break
                yield from run.add(item)
            for call in run.start():
                calls[pool.submit(_invoke, client, call.record.params)] = call
            if calls:
                finished, _ = wait(calls, timeout=run.wait_time(), return_when=FIRST_COMPLETED)
                for future in finished:
                    yield from run.finish(calls.pop(future), *future.result())
            elif run.busy:
                time.sleep(run.wait_time() or 0.0)
    finally:  # stopped early (closed, Ctrl+C): what has not started never starts
        pool.shutdown(wait=False, cancel_futures=True)


def invoke_batch(client: SageMakerRuntime, records: Iterable[Any], **options: Any) -> BatchResults:
    """See :meth:`runtime_client.SageMakerRuntime.invoke_endpoint_batch`."""
    run, shared = new_run(options)
    return BatchResults(_drive(client, records_from(records, shared), run), run.stats)
