"""CPU per InvokeEndpoint call of our own code, against a sender that answers from memory.

    python benchmarks/bench_call_cpu.py [--quick] [--callgrind] [--callgrind-calls N]

No socket and no server: ``_harness.memory_client(kind)`` is our client whose sender
(``client._sender``, normally our transport) answers every call from memory (200, the
loopback server's small headers and JSON body; the request carries a 1 KiB body). What
is left is our own code per call: validation and serialization, SigV4 signing, the flow,
the answer dict and its body. No httpx is involved, so the figure is that directly; the
goal is <= 50 us. Each figure is ``time.process_time`` over a loop of calls, in us per
call: the median of rounds (range), after 200 warm-up calls.

``--callgrind`` adds ``bench_callgrind.py``'s instruction counts (noise-free): ours
against memory, and ours, our transport alone, raw aiohttp and an asyncio floor on the
loopback server at concurrency 16, and the sync set (see that script).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

from _harness import BODY_1K, Spread, memory_client

Row = list[str]
GOAL_US = 50.0


def sync_call() -> Callable[[], object]:
    ours = memory_client("sync")

    def call() -> object:
        return ours.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )["Body"].read()

    return call


def async_call() -> Callable[[], Awaitable[object]]:
    """To be awaited inside one event loop."""
    ours = memory_client("async")

    async def call() -> object:
        response = await ours.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )
        return await response["Body"].aread()

    return call


def _cpu_sync(call: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1e6


async def _cpu_async(call: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - start) / calls * 1e6


def measure(calls: int, rounds: int) -> dict[str, Spread]:
    """kind -> CPU us per call; sync and async rounds alternate, after 200 warm-up calls."""
    found: dict[str, list[float]] = {"sync": [], "async": []}
    call = sync_call()

    async def run_async() -> None:
        acall = async_call()
        _cpu_sync(call, 200)
        await _cpu_async(acall, 200)
        for _ in range(rounds):
            found["sync"].append(_cpu_sync(call, calls))
            found["async"].append(await _cpu_async(acall, calls))

    asyncio.run(run_async())
    return {kind: Spread.of(values) for kind, values in found.items()}


def rows(*, quick: bool, callgrind_calls: int | None = None, callgrind: bool = False) -> list[Row]:
    """The table's rows: CPU us per call (and instruction counts with ``callgrind``)."""
    spreads = measure(1000 if quick else 5000, 3 if quick else 5)
    table = [
        [
            f"our own CPU per call against memory, {kind} (us)",
            spread.show(1),
            "",
            "",
            f"<= {GOAL_US:g} us: {'met' if spread.median <= GOAL_US else 'NOT met'}",
        ]
        for kind, spread in spreads.items()
    ]
    if callgrind:
        import bench_callgrind

        table += bench_callgrind.rows(callgrind_calls or (200 if quick else 1000), jobs=2)
    return table


def main() -> None:
    from _harness import isolate_from_aws_settings, print_table

    isolate_from_aws_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--callgrind", action="store_true", help="instruction counts too")
    parser.add_argument("--callgrind-calls", type=int, default=None)
    args = parser.parse_args(sys.argv[1:])
    table = rows(quick=args.quick, callgrind=args.callgrind, callgrind_calls=args.callgrind_calls)
    print_table(("measure", "ours", "peer", "ours/peer", "goal"), table)


if __name__ == "__main__":
    main()
