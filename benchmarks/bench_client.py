"""The client against its peers, side by side in one run: the project's figures table.

    python benchmarks/bench_client.py [--quick] [--skip-footprint] [--profile] [--callgrind]
                                      [--throughput-only [--calls N]] [--pin]

Peers: boto3 and aiobotocore (the SDKs), and raw HTTP stacks sending precomputed headers
(signed once, nothing signed per call): ``httpx.Client``/``AsyncClient``, ``aiohttp``,
``http.client``. Every figure is measured in the same run, on ``loopback_server.py``
started as a separate process on 127.0.0.1, as the median of rounds with their range
(min-max) and the ratio of medians: the machine is shared and noisy, so read the ratios.

This file measures sequential latency (p50/p99) and async throughput (req/s and CPU per
call at concurrency 1/16/64/256, and how often each client's requests found the loopback
server asleep: the server's voluntary context switches per call, since waking it is paid
for in the sender's ``send``); the other parts live in their own scripts, each runnable
alone, and are gathered here into one table:

- ``bench_cold_start.py``: whole processes, plain HTTP and HTTPS; installed footprint;
- ``bench_call_cpu.py``: our own CPU per call against a sender that answers from memory
  (and, with ``--callgrind``, ``bench_callgrind.py``'s instruction counts: memory, async
  loopback at concurrency 16 against our transport alone, aiohttp and an asyncio floor,
  and the sync set);
- ``bench_bodies.py``: the response stream's whole path, memory of a 6 MiB answer and of
  a 6 MiB file body;
- ``profile_sampled.py`` and ``profile_call.py`` (with ``--profile``): where the time of
  one call goes, by area (sampled with py-spy), and cProfile's busiest functions.

``bench_versus_aiohttp.py`` (run on its own: 3-7 minutes) measures the async throughput
goals again in paired trials, which this machine's noise between rounds cannot swamp.

``--pin`` puts the loopback server on a CPU of its own and every client on the others
(``os.sched_setaffinity``): on a 2-CPU machine the client and the server then never take
turns on one core, as with a server on another host; the machine's other tenants still
share both.

Our client is used through its public API only (the memory figures swap its sender, see
``_harness.memory_client``). ``--quick`` is a smoke run of every part (under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib import metadata

import bench_bodies
import bench_call_cpu
import bench_cold_start
from _harness import (
    BODY_1K,
    HERE,
    INVOCATIONS,
    Server,
    Spread,
    goal,
    isolate_from_aws_settings,
    keys,
    loopback_server,
    peer_headers,
    print_table,
)

Row = list[str]  # measure, ours, peer, ours/peer, goal
HEADER = ("measure", "ours", "peer", "ours/peer", "goal")


# --- sequential latency ------------------------------------------------------------------


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _time_calls(call: Callable[[], object], n: int) -> tuple[float, float]:
    """p50 and p99 seconds of ``n`` calls, after a few warm-up calls."""
    for _ in range(min(20, n)):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return _percentiles(samples)


def _sequential_callers(
    server: Server, body: bytes
) -> tuple[dict[str, Callable[[], object]], Callable[[], None]]:
    """One call of each contender (ours, boto3, raw httpx.Client, raw http.client)."""
    import boto3
    import httpx

    from runtime_client import SageMakerRuntime

    ours = SageMakerRuntime(endpoint_url=server.url, **keys())
    boto = boto3.client("sagemaker-runtime", endpoint_url=server.url, **keys())
    raw = httpx.Client()
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    headers = peer_headers(body)
    target = server.url + INVOCATIONS

    def call_ours() -> object:
        return ours.invoke_endpoint(EndpointName="ep", Body=body, ContentType="application/json")[
            "Body"
        ].read()

    def call_boto() -> object:
        return boto.invoke_endpoint(EndpointName="ep", Body=body, ContentType="application/json")[
            "Body"
        ].read()

    def call_httpx() -> object:
        return raw.post(target, content=body, headers=headers).content

    def call_http_client() -> object:
        conn.request("POST", INVOCATIONS, body=body, headers=headers)
        return conn.getresponse().read()

    def close() -> None:
        ours.close()
        raw.close()
        conn.close()

    callers = {
        "ours": call_ours,
        "boto3": call_boto,
        "httpx.Client": call_httpx,
        "http.client": call_http_client,
    }
    return callers, close


#: (peer, goal for ours/peer at 1 KiB, as (op, target)), in the table's order.
_LATENCY_PEERS: dict[str, tuple[str, float] | None] = {
    "httpx.Client": ("<=", 0.5),
    "http.client": ("<=", 2.0),
    "boto3": None,
}


def bench_sequential(server: Server, calls: int, rounds: int) -> tuple[list[Row], list[Row]]:
    """p50/p99 latency of InvokeEndpoint at 1 KiB and 1 MiB; the summary rows and the
    detail rows (every contender, median of the rounds' percentiles and their range)."""
    summary: list[Row] = []
    detail: list[Row] = []
    for label, size in (("1 KiB", 1024), ("1 MiB", 1024 * 1024)):
        callers, close = _sequential_callers(server, b"x" * size)
        count = calls if size <= 1024 else max(20, calls // 10)
        p50s: dict[str, list[float]] = {name: [] for name in callers}
        p99s: dict[str, list[float]] = {name: [] for name in callers}
        for _ in range(rounds):  # interleaved rounds: noise hits every contender alike
            for name, call in callers.items():
                p50, p99 = _time_calls(call, count)
                p50s[name].append(p50 * 1e6)
                p99s[name].append(p99 * 1e6)
        close()
        spread50 = {name: Spread.of(v) for name, v in p50s.items()}
        spread99 = {name: Spread.of(v) for name, v in p99s.items()}
        for name in callers:
            detail.append([f"{label} {name}", spread50[name].show(), spread99[name].show()])
        o50, o99 = spread50["ours"].median, spread99["ours"].median
        for peer, target in _LATENCY_PEERS.items():
            r50, r99 = o50 / spread50[peer].median, o99 / spread99[peer].median
            verdict = ""
            if target is not None and size == 1024:  # the goal is on p50; p99 is quoted
                verdict = f"p50 {goal(r50, *target)}"
            summary.append(
                [
                    f"InvokeEndpoint {label} p50 / p99 (us) vs {peer}",
                    f"{o50:.0f} / {o99:.0f}",
                    f"{spread50[peer].median:.0f} / {spread99[peer].median:.0f}",
                    f"{r50:.2f} / {r99:.2f}",
                    verdict,
                ]
            )
    return summary, detail


# --- async throughput --------------------------------------------------------------------

AsyncCall = Callable[[], Awaitable[object]]


@dataclass
class _Measured:
    """Per contender and concurrency: req/s and CPU us per call of each round."""

    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    wakeups: list[float] = field(default_factory=list)  # the server's, per call


async def _throughput(call: AsyncCall, concurrency: int, total: int) -> tuple[float, float, int]:
    """Requests per second, process CPU us per call and the number of calls, of ``total``
    calls made by ``concurrency`` workers."""
    per_worker = max(1, total // concurrency)

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    calls = per_worker * concurrency
    return calls / wall, cpu / calls * 1e6, calls


async def _ours(stack: AsyncExitStack, url: str, level: int, body: bytes) -> AsyncCall:
    from runtime_client import AsyncSageMakerRuntime, Config

    ours = AsyncSageMakerRuntime(
        endpoint_url=url, config=Config(max_pool_connections=level), **keys()
    )
    stack.push_async_callback(ours.aclose)

    async def call() -> object:
        response = await ours.invoke_endpoint(
            EndpointName="ep", Body=body, ContentType="application/json"
        )
        return await response["Body"].aread()

    return call


async def _aiobotocore(stack: AsyncExitStack, url: str, level: int, body: bytes) -> AsyncCall:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    aio = await stack.enter_async_context(
        get_session().create_client(
            "sagemaker-runtime",
            endpoint_url=url,
            config=AioConfig(max_pool_connections=level),
            **keys(),
        )
    )

    async def call() -> object:
        response = await aio.invoke_endpoint(
            EndpointName="ep", Body=body, ContentType="application/json"
        )
        async with response["Body"] as stream:
            return await stream.read()

    return call


async def _httpx(stack: AsyncExitStack, url: str, level: int, body: bytes) -> AsyncCall:
    import httpx

    raw = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=level, max_keepalive_connections=level)
    )
    stack.push_async_callback(raw.aclose)
    target, headers = url + INVOCATIONS, peer_headers(body)

    async def call() -> object:
        return (await raw.post(target, content=body, headers=headers)).content

    return call


async def _aiohttp(stack: AsyncExitStack, url: str, level: int, body: bytes) -> AsyncCall:
    import aiohttp  # type: ignore[import-not-found, unused-ignore]  # in the bench extra

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=level))
    stack.push_async_callback(session.close)
    target, headers = url + INVOCATIONS, peer_headers(body)

    async def call() -> object:
        async with session.post(target, data=body, headers=headers) as response:
            return await response.read()

    return call


_CONTENDERS = {
    "ours": _ours,
    "aiobotocore": _aiobotocore,
    "raw httpx": _httpx,
    "raw aiohttp": _aiohttp,
}


async def _measure_level(
    server: Server, level: int, total: int, rounds: int, missing: set[str]
) -> tuple[dict[str, _Measured], float]:
    """Every contender at one concurrency, rounds interleaved; the server's busiest share
    of one core during any run."""
    measured: dict[str, _Measured] = {}
    busiest = 0.0
    async with AsyncExitStack() as stack:
        calls: dict[str, AsyncCall] = {}
        for name, make in _CONTENDERS.items():
            try:
                calls[name] = await make(stack, server.url, level, BODY_1K)
            except ImportError:
                missing.add(name)
                continue
            # One warm-up call per worker: it opens the connections the rounds reuse.
            await asyncio.gather(*(calls[name]() for _ in range(level)))
        for _ in range(rounds):
            for name, call in calls.items():
                cpu, start = server.cpu_seconds(), time.perf_counter()
                woken = server.wakeups()
                rate, cpu_us, done = await _throughput(call, level, total)
                busy = (server.cpu_seconds() - cpu) / (time.perf_counter() - start)
                busiest = max(busiest, busy)
                entry = measured.setdefault(name, _Measured())
                entry.rates.append(rate)
                entry.cpu_us.append(cpu_us)
                entry.wakeups.append((server.wakeups() - woken) / done)
    return measured, busiest


def _ratio_row(
    what: str,
    levels: list[int],
    ours: list[float],
    peer: list[float],
    target: tuple[str, float] | None,
) -> Row:
    """One row over the levels; the goal is met only if it is met at every level."""
    ratios = [o / p for o, p in zip(ours, peer, strict=True)]
    verdict = ""
    if target is not None:
        verdicts = [goal(r, *target).endswith(": met") for r in ratios]
        met_at = [str(level) for level, ok in zip(levels, verdicts, strict=True) if ok]
        verdict = goal(min(ratios) if target[0] == ">=" else max(ratios), *target)
        if met_at and len(met_at) < len(levels):
            verdict += f" (met at {'/'.join(met_at)})"
    return [
        what,
        " / ".join(f"{v:,.0f}" for v in ours),
        " / ".join(f"{v:,.0f}" for v in peer),
        " / ".join(f"{r:.2f}" for r in ratios),
        verdict,
    ]


def _wakeup_row(at: str, ours: list[float], peer: list[float]) -> Row:
    """How often each client's requests found the loopback server asleep: waking it is
    paid for in the sender's ``send`` (see benchmarks/README)."""
    return [
        f"loopback server wake-ups per call at {at}: ours vs raw aiohttp",
        " / ".join(f"{v:.2f}" for v in ours),
        " / ".join(f"{v:.2f}" for v in peer),
        " / ".join(f"{o / p:.2f}" if p else "-" for o, p in zip(ours, peer, strict=True)),
        "",
    ]


def bench_async(
    server: Server, levels: list[int], total: int, rounds: int
) -> tuple[list[Row], list[Row]]:
    """Async throughput: the summary rows and the detail rows (per level and contender)."""
    results: dict[int, dict[str, _Measured]] = {}
    missing: set[str] = set()
    busiest = 0.0
    for level in levels:
        results[level], busy = asyncio.run(_measure_level(server, level, total, rounds, missing))
        busiest = max(busiest, busy)
    detail: list[Row] = []
    for level, measured in results.items():
        for name, entry in measured.items():
            detail.append(
                [
                    str(level),
                    name,
                    Spread.of(entry.rates).show(),
                    Spread.of(entry.cpu_us).show(),
                    f"{Spread.of(entry.wakeups).median:.2f}",
                ]
            )
    rate = {
        name: [Spread.of(results[level][name].rates).median for level in levels]
        for name in results[levels[0]]
    }
    cpu = {
        name: [Spread.of(results[level][name].cpu_us).median for level in levels]
        for name in results[levels[0]]
    }
    wakeups = {
        name: [Spread.of(results[level][name].wakeups).median for level in levels]
        for name in results[levels[0]]
    }
    at = "/".join(map(str, levels))
    summary: list[Row] = []
    for peer, target in (("aiobotocore", 5.0), ("raw aiohttp", 1.0)):
        if peer in rate:
            summary.append(
                _ratio_row(
                    f"async req/s at concurrency {at}: vs {peer}",
                    levels,
                    rate["ours"],
                    rate[peer],
                    (">=", target),
                )
            )
    if "raw httpx" in rate:
        summary.append(
            _ratio_row(
                f"async req/s at concurrency {at}: vs raw httpx",
                levels,
                rate["ours"],
                rate["raw httpx"],
                None,
            )
        )
    for peer in ("aiobotocore", "raw aiohttp", "raw httpx"):
        if peer in cpu:
            summary.append(
                _ratio_row(
                    f"async CPU us per call at {at}: vs {peer}",
                    levels,
                    cpu["ours"],
                    cpu[peer],
                    None,
                )
            )
    if "raw aiohttp" in wakeups:
        summary.append(_wakeup_row(at, wakeups["ours"], wakeups["raw aiohttp"]))
    summary.append(
        ["loopback server, busiest run (% of one core)", "", "", f"{busiest:.0%}", "< 100%"]
    )
    summary += [[f"{name}: not installed", "-", "-", "-", ""] for name in sorted(missing)]
    return summary, detail


# --- the whole run -----------------------------------------------------------------------


def _versions() -> str:
    names = ("boto3", "botocore", "aiobotocore", "aiohttp", "httpx", "httpcore", "h11")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} -")
    return ", ".join(found)


def run_script(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(HERE / name), *args], capture_output=True, text=True, check=False
    )
    return result.stdout + (result.stderr if result.returncode else "")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run (under a minute; no footprint)"
    )
    parser.add_argument("--skip-footprint", action="store_true", help="no pip installs")
    parser.add_argument("--skip-others", action="store_true", help="not the other scripts")
    parser.add_argument(
        "--profile", action="store_true", help="also the profiles (py-spy, cProfile)"
    )
    parser.add_argument(
        "--callgrind", action="store_true", help="instructions per call under valgrind"
    )
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="only the async throughput (every level, 5 rounds) and no other script",
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=512,
        help="calls per contender and round in --throughput-only (default 512)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the loopback server on the last CPU, this process (every client) on the others",
    )
    args = parser.parse_args()
    if args.calls < 1:
        parser.error(f"--calls must be at least 1, not {args.calls}")
    if args.pin and not _can_pin():
        parser.error(PIN_NEEDS)
    return args


PIN_NEEDS = "--pin needs os.sched_setaffinity and at least two CPUs"


def _can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def _pin(server: Server) -> str:
    """Give the server the last CPU of ours and keep the others: the two no longer take
    turns on one core, which is what a server on its own host looks like to a client."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(server.pid, {cpus[-1]})
    os.sched_setaffinity(0, set(cpus[:-1]))
    return f"server on CPU {cpus[-1]}, clients on CPU {', '.join(map(str, cpus[:-1]))}"


def _table(args: argparse.Namespace, seconds: dict[str, float]) -> tuple[list[Row], ...]:
    """Every part against one loopback server: the summary rows, the latency and the
    throughput detail rows; ``seconds`` gets each part's duration."""
    quick = args.quick
    rows: list[Row] = []
    clock = time.perf_counter()

    def lap(part: str) -> None:
        nonlocal clock
        seconds[part], clock = time.perf_counter() - clock, time.perf_counter()

    with loopback_server() as server:
        if args.pin:
            print(f"pinned: {_pin(server)}")
        if args.throughput_only:
            levels = [1, 16, 64, 256]
            throughput, throughput_detail = bench_async(server, levels, args.calls, 5)
            return throughput, [], throughput_detail
        rows += bench_cold_start.rows(server, runs=1 if quick else 9)
        lap("cold start")
        if not (args.skip_footprint or quick):  # pip installs: not part of a smoke run
            rows += bench_cold_start.footprint_rows()
            lap("footprint")
        # Rounds are interleaved and many, calls per round fewer: on a shared machine the
        # median of 5 short rounds is steadier than that of 3 long ones.
        rounds = 3 if quick else 5
        latency, latency_detail = bench_sequential(server, 100 if quick else 500, rounds)
        rows += latency
        lap("latency")
        levels = [1, 16, 64, 256]
        rounds = 1 if quick else 5  # a smoke run: every level, one round
        throughput, throughput_detail = bench_async(server, levels, 128 if quick else 512, rounds)
        rows += throughput
        lap("throughput")
        rows += bench_call_cpu.rows(quick=quick, callgrind=args.callgrind)
        lap("CPU against memory")
        rows += bench_bodies.rows(server, quick=quick)
        lap("bodies")
    return rows, latency_detail, throughput_detail


def main() -> None:
    args = _parse_args()
    isolate_from_aws_settings()
    quick = args.quick
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    seconds: dict[str, float] = {}
    rows, latency_detail, throughput_detail = _table(args, seconds)
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cpus, "
        f"{time.strftime('%Y-%m-%d')}; {_versions()}; load average before / after: "
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    )
    print_table(HEADER, rows)
    print("\nSequential latency, every contender: median of the rounds' percentiles (range)")
    print_table(("size, contender", "p50 (us)", "p99 (us)"), latency_detail)
    print("\nAsync throughput, every contender: median of rounds (range)")
    print_table(
        ("concurrency", "contender", "req/s", "CPU us per call", "server wake-ups per call"),
        throughput_detail,
    )
    parts = ", ".join(f"{part} {s:.0f} s" for part, s in seconds.items())
    print(f"\n(table in {time.perf_counter() - started:.0f} s: {parts})")
    others: dict[str, list[str]] = {
        "bench_sign.py": ["--quick"] if quick else [],
        "bench_eventstream.py": ["--mib", "8", "--repeats", "3"] if quick else [],
        "bench_response_stream.py": ["--tokens", "2000", "--repeats", "3"] if quick else [],
    }
    if args.profile:
        others["profile_sampled.py"] = ["--quick"] if quick else []
        others["profile_call.py"] = ["--quick"] if quick else []
    if args.throughput_only:
        others = {}
    if args.skip_others:
        others = {k: v for k, v in others.items() if k.startswith("profile_")}
    for script, script_args in others.items():
        print(f"\n$ python benchmarks/{script} {' '.join(script_args)}".rstrip())
        print(run_script(script, *script_args))
    print(f"(whole run in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
