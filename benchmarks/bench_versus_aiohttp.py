"""Async throughput, ours against raw aiohttp and aiobotocore in paired trials.

    python benchmarks/bench_versus_aiohttp.py [--levels 1,16,64,256] [--trials 42]
                                              [--calls N] [--pin]

``bench_client.py`` compares medians of 5 rounds per contender; on this shared machine
its rounds spread by +-30%, more than the gap it is asked to judge (ours >= 1.0x raw
aiohttp). This script asks the question in a way that noise cannot answer by itself:

- a *trial* runs one block of calls for each contender back to back (a block: C workers
  sharing ``--calls`` calls, by default max(512, 8 x C)), so the three blocks of a trial
  see nearly the same machine; the order of the blocks goes through all six orders of the
  three contenders in turn, so no one always runs first or last;
- each trial gives one ratio per peer (ours / peer, req/s), and the table reports the
  median of those ratios over the trials with a distribution-free confidence interval for
  it of at least 95% (order statistics of the sorted ratios, from the binomial
  distribution: no assumption about the shape of the noise; the table prints the exact
  level: 96% with 42 trials), and the share of trials ours won;
- the verdict is "met" when the whole interval is at or above the goal, "NOT met" when
  it is all below, and "not shown" when the interval holds the goal (parity within what
  this machine can resolve).

CPU per call (``time.process_time()`` of this process) and the loopback server's
wake-ups per call (its voluntary context switches) are paired the same way. The loopback
server is ``loopback_server.py``, a separate process on 127.0.0.1; ``--pin`` gives it a
CPU of its own and this process the others.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import platform
import statistics
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from _harness import (
    BODY_1K,
    Server,
    Spread,
    isolate_from_aws_settings,
    loopback_server,
    print_table,
)
from bench_client import (
    PIN_NEEDS,
    AsyncCall,
    _aiobotocore,
    _aiohttp,
    _can_pin,
    _ours,
    _pin,
    _throughput,
    _versions,
)

_CONTENDERS = {"ours": _ours, "raw aiohttp": _aiohttp, "aiobotocore": _aiobotocore}
_GOALS = {"raw aiohttp": 1.0, "aiobotocore": 5.0}  # ours / peer, req/s, at every level
_ORDERS = list(itertools.permutations(_CONTENDERS))


@dataclass
class _Pairs:
    """One peer at one level: per trial, ours / peer."""

    rate: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    wakeups: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Interval:
    """The median of some ratios and a distribution-free confidence interval for it."""

    median: float
    low: float
    high: float
    confidence: float

    @classmethod
    def of(cls, values: list[float], level: float = 0.95) -> Interval:
        """The interval between the k-th smallest and the k-th largest value, with k the
        largest for which the chance that the true median lies outside is <= 1 - level
        (each value falls below the median with probability 1/2: a binomial count)."""
        ordered, n = sorted(values), len(values)
        tail, k = 0.0, 0
        while k < n // 2:
            next_tail = tail + math.comb(n, k) / 2**n  # P(fewer than k+1 below the median)
            if 2 * next_tail > 1 - level:
                break
            tail, k = next_tail, k + 1
        if k == 0:  # too few trials for any interval at this level: the range, and say so
            return cls(statistics.median(ordered), ordered[0], ordered[-1], 1 - 2 / 2**n)
        return cls(statistics.median(ordered), ordered[k - 1], ordered[n - k], 1 - 2 * tail)

    def show(self) -> str:
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f})"

    def verdict(self, target: float) -> str:
        if self.low >= target:
            return f">= {target:g}x: met"
        if self.high < target:
            return f">= {target:g}x: NOT met"
        return f">= {target:g}x: not shown (interval holds {target:g})"


async def _trials(
    server: Server, level: int, calls: int, trials: int
) -> tuple[dict[str, _Pairs], dict[str, list[float]]]:
    """Every trial at one concurrency: the paired ratios per peer, and each contender's
    req/s per trial."""
    pairs = {peer: _Pairs() for peer in _GOALS}
    rates: dict[str, list[float]] = {name: [] for name in _CONTENDERS}
    async with AsyncExitStack() as stack:
        call: dict[str, AsyncCall] = {}
        for name, make in _CONTENDERS.items():
            call[name] = await make(stack, server.url, level, BODY_1K)
            await asyncio.gather(*(call[name]() for _ in range(level)))  # open connections
            await _throughput(call[name], level, calls)  # and warm every path once
        for trial in range(trials):
            seen: dict[str, tuple[float, float, float]] = {}
            for name in _ORDERS[trial % len(_ORDERS)]:
                woken = server.wakeups()
                rate, cpu_us, done = await _throughput(call[name], level, calls)
                seen[name] = (rate, cpu_us, (server.wakeups() - woken) / done)
                rates[name].append(rate)
            ours = seen["ours"]
            for peer, entry in pairs.items():
                theirs = seen[peer]
                entry.rate.append(ours[0] / theirs[0])
                entry.cpu.append(ours[1] / theirs[1])
                if theirs[2]:
                    entry.wakeups.append(ours[2] / theirs[2])
    return pairs, rates


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,16,64,256", help="concurrencies, comma-separated")
    parser.add_argument(
        "--trials", type=int, default=42, help="trials per level (default 42: each order 7 times)"
    )
    parser.add_argument(
        "--calls", type=int, default=0, help="calls per block (default max(512, 8 x C))"
    )
    parser.add_argument(
        "--pin", action="store_true", help="the server on the last CPU, this process on the others"
    )
    args = parser.parse_args()
    try:
        args.levels = [int(level) for level in args.levels.split(",")]
    except ValueError:
        parser.error(f"--levels must be integers separated by commas, not {args.levels!r}")
    if any(level < 1 for level in args.levels):
        parser.error(f"--levels must each be at least 1, not {args.levels}")
    if args.trials < 6:
        parser.error(f"--trials must be at least 6 (every order of the blocks), not {args.trials}")
    if args.calls < 0:
        parser.error(f"--calls must be at least 1 (or 0 for the default), not {args.calls}")
    if args.pin and not _can_pin():
        parser.error(PIN_NEEDS)
    return args


def main() -> None:
    args = _parse_args()
    isolate_from_aws_settings()
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    rows: list[list[str]] = []
    detail: list[list[str]] = []
    confidence = 0.0
    with loopback_server() as server:
        pinned = _pin(server) if args.pin else "not pinned"
        for level in args.levels:
            calls = args.calls or max(512, 8 * level)
            pairs, rates = asyncio.run(_trials(server, level, calls, args.trials))
            for peer, target in _GOALS.items():
                rate = Interval.of(pairs[peer].rate)
                confidence = rate.confidence
                won = sum(r >= target for r in pairs[peer].rate) / len(pairs[peer].rate)
                wakeups = Interval.of(pairs[peer].wakeups).show() if pairs[peer].wakeups else "-"
                rows.append(
                    [
                        f"{level}",
                        peer,
                        rate.show(),
                        f"{won:.0%}",
                        Interval.of(pairs[peer].cpu).show(),
                        wakeups,
                        rate.verdict(target),
                    ]
                )
            for name, values in rates.items():
                detail.append([f"{level}", name, f"{calls}", Spread.of(values).show()])
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cpus, "
        f"{time.strftime('%Y-%m-%d')}; {_versions()}; {pinned}; {args.trials} trials per "
        f"level; load average before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f}"
    )
    print(f"\nours / peer per trial: median ({confidence:.0%} interval for the median)")
    print_table(
        ("C", "peer", "req/s ratio", "trials won", "CPU/call ratio", "wake-ups ratio", "goal"),
        rows,
    )
    print("\nreq/s of each contender over the trials: median (min-max)")
    print_table(("C", "contender", "calls per block", "req/s"), detail)
    print(f"\n(in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
