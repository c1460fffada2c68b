"""The async driver of a batch (asyncio or trio, through anyio): one task per call in a
task group that the ``async with`` block holds open; this task feeds the
:class:`~._run.BatchRun` and yields what it gives. Leaving the block cancels the calls
still in flight (the client's pool survives cancellation at any point)."""

from __future__ import annotations

import math
import sys
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
)
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .._errors import SageMakerRuntimeError
from ._records import BatchRecord, BatchResult, answer_members, as_record, records_from
from ._run import BatchRun, BatchStats, Pending, new_run

if sys.version_info < (3, 11):  # anyio brings the backport there
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found, unused-ignore]

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from .._client import AsyncSageMakerRuntime

__all__ = ["AsyncBatchResults", "ainvoke_batch"]

Finished = tuple[Pending, "bytes | None", "dict[str, Any] | None", "SageMakerRuntimeError | None"]


class AsyncBatchResults(AsyncIterator[BatchResult]):
    """The results of a batch as they come (``async for``); ``stats`` says how far it is."""

    def __init__(self, results: AsyncIterator[BatchResult], stats: BatchStats) -> None:
        self._results = results
        self.stats = stats

    async def __anext__(self) -> BatchResult:
        return await self._results.__anext__()


async def _records(
    items: Iterable[object] | AsyncIterable[object], shared: dict[str, Any]
) -> AsyncGenerator[BatchRecord, None]:
    if not isinstance(items, AsyncIterable):
        for record in records_from(items, shared):
            yield record
        return
    index = 0
    async for item in items:
        yield as_record(index, item, shared)
        index += 1


async def _invoke(client: AsyncSageMakerRuntime, call: Pending) -> Finished:
    try:
        answer = await client.invoke_endpoint(**call.record.params)
        body = await answer["Body"].aread()
    except SageMakerRuntimeError as exc:
        return call, None, None, exc
    return call, body, answer_members(answer), None


async def _one(
    client: AsyncSageMakerRuntime, send: MemoryObjectSendStream[Finished], call: Pending
) -> None:
    send.send_nowait(await _invoke(client, call))


async def _results(
    run: BatchRun,
    items: AsyncIterator[BatchRecord],
    finished: MemoryObjectReceiveStream[Finished],
    start: Callable[[Pending], None],
) -> AsyncGenerator[BatchResult, None]:
    """The driver's loop: feed the run, start its calls, hand it each that ends."""
    import anyio

    while not run.done:
        for _ in range(run.wants()):
            item = await anext(items, None)
            if item is None:
                run.end_of_input()
                break
            for result in run.add(item):
                yield result
        for call in run.start():
            start(call)
        if not run.busy:
            continue
        wait = run.wait_time()
        ended = None
        with anyio.move_on_after(math.inf if wait is None else wait):
            ended = await finished.receive()
        if ended is not None:
            for result in run.finish(*ended):
                yield result


@asynccontextmanager
async def ainvoke_batch(
    client: AsyncSageMakerRuntime,
    records: Iterable[Any] | AsyncIterable[Any],
    **options: Any,
) -> AsyncIterator[AsyncBatchResults]:
    """See :meth:`runtime_client.AsyncSageMakerRuntime.invoke_endpoint_batch`."""
    import anyio

    run, shared = new_run(options)
    items = _records(records, shared)
    send, receive = anyio.create_memory_object_stream[Finished](math.inf)

    try:
        async with anyio.create_task_group() as group:

            def start(call: Pending) -> None:
                group.start_soon(_one, client, send, call)

            produced = _results(run, items, receive, start)
            try:
                yield AsyncBatchResults(produced, run.stats)
            finally:
                await produced.aclose()
                await items.aclose()
                group.cancel_scope.cancel()  # the calls still in flight
    except BaseExceptionGroup as failed:
        # The calls' tasks raise nothing (they keep their errors as results): what the group
        # holds came from the block. Raise it as it was raised, not wrapped.
        if len(failed.exceptions) != 1:
            raise
        raise failed.exceptions[0] from None
    finally:  # only once every call's task has ended (none sends any more)
        send.close()
        receive.close()
