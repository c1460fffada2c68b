"""Invoke many: one endpoint, many records, adaptive concurrency, results in order.

Blocking (a thread pool sized to the ceiling, one client)::

    with client.invoke_endpoint_batch(bodies, EndpointName="ep", concurrency=16) as results:
        for result in results:          # in input order (ordered=False: as they finish)
            print(result.index, result.body if result.ok else result.error["Code"])

Async (asyncio or trio; leaving the block cancels the calls in flight)::

    async with client.invoke_endpoint_batch(bodies, EndpointName="ep") as results:
        async for result in results:
            ...

``records``: an iterable (or, async, an async iterable) of bodies (``bytes``/``str``) or of
mappings of ``invoke_endpoint`` parameters holding ``Body`` and, if you like, an ``id``;
read as the batch goes, so a generator over a file of any size keeps memory flat. The
other keywords are shared by every record (``EndpointName`` is required) or are the
batch's own: ``concurrency`` (the ceiling, 16), ``ordered`` (True), ``max_rounds`` (how
many times a throttled record, or one whose call could not connect, is sent, 5),
``skip`` (indexes already done: resuming), ``total`` (for ``stats``). Each
:class:`BatchResult` has the record's ``index`` and ``id`` and either the answer
(``body``, ``response``) or the ``error`` (``Code``, ``Message``, ``HTTPStatusCode``): one
failed record never stops the batch. ``results.stats`` counts what is done, by error
code, and the concurrency window (:class:`BatchStats`).

How concurrency adapts, when a record is sent again and how order is kept is in
``_run`` (pure decisions); ``_sync`` and ``_async`` only perform them. The command line's
``invoke-endpoint-batch`` adds files, a progress display and ``--resume`` (``_records``
says what a result line holds).

Across processes (Spark, Dask, Ray, ``ProcessPoolExecutor``): a client pickles as its
settings (its explicit keys included; connections are not pickled) and the copy opens
its own pool and resolves its own credentials; a forked child never uses its parent's
connections. Build one client per process and reuse it for every task there.
"""

from ._records import BatchRecord, BatchResult, read_done, result_line
from ._run import CONGESTION_CODES, BatchStats

__all__ = [
    "CONGESTION_CODES",
    "BatchRecord",
    "BatchResult",
    "BatchStats",
    "read_done",
    "result_line",
]
