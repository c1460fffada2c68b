"""Where the CPU of one InvokeEndpoint call goes: cProfile's own time, grouped by area.

    python benchmarks/profile_call.py [--calls N] [--quick] [--concurrency C] [--top K]

Four ways of calling (1 KiB request body, the small JSON answer): blocking and async, each
against the loopback server (a separate process) and against a sender that answers from
memory (``_harness.memory_client``: no transport at all). Each one is warmed up, timed without the
profiler (wall and process CPU per call), then profiled over the same number of calls.

Every function's own time (``tottime``) goes to one area by its file: ``sigv4`` signing;
validation and serialization (``_validate``, ``_restjson``, ``_model``,
``_request_body``); the flow (``_flow``, ``_operation``, ``_retry``, ``_client``,
``credentials/``; apart from it, the building and signing glue of each attempt's request,
``_operation._signed_request`` and its helpers); the transport, split into the HTTP/1.1 connection (``http/_h1*``, the
sans-IO core) and the rest of ``http/`` (the exchange, the sync and asyncio drivers, the
pool, the request and header models); the response dict and body (``_response_body``,
``_response_stream``, ``eventstream/``); httpx and its stack (a check: none of it runs on
our default path); ``asyncio``/``selectors``/``socket`` (the Python code); the socket and
select system calls themselves; other stdlib. A C function's time goes to the area of
the Python function that called it (``hashlib`` under ``sigv4``, ``json.loads`` under
whoever parses), except the socket and select calls, which have their own row.

cProfile adds a roughly fixed cost to every call it records (it makes a call 2-3x slower
here). That cost is taken off: per way of calling, the profiled total less the unprofiled
wall time (unprofiled and profiled rounds alternate), divided by the calls recorded, is
subtracted from each function as many times as it was called, so that each column adds
up to the unprofiled wall time per call. The microseconds are estimates; read the
percentages. The profiler's clock is wall time: against the loopback server the
socket/select row includes waiting for the answer (about "wall less CPU").
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sysconfig
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import (
    BODY_1K,
    Server,
    isolate_from_aws_settings,
    keys,
    loopback_server,
    memory_client,
    print_table,
)

STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
SIGV4 = "sigv4 signing (sigv4/)"
VALIDATION = "validation, serialization (_validate, _restjson, _model, _request_body)"
FLOW = "the flow (_flow, _operation, _retry, _client, credentials/)"
GLUE = "request of each attempt, built and signed (_operation._signed_request, ...)"
H1 = "transport: HTTP/1.1 connection (http/_h1*)"
DRIVERS = "transport: exchange, drivers, pool, models (http/ other)"
BODY = "response dict and body (_response_body, _response_stream, _errors, eventstream/)"
OURS_OTHER = "runtime_client: other"
HTTPX = "httpx / httpcore / h11 / anyio (none on our default path)"
ASYNCIO = "asyncio / selectors / socket (Python)"
SYSCALLS = "socket / select system calls"
STDLIB_OTHER = "other stdlib"
OTHER = "other (benchmark loop, third party)"
AREAS = (
    SIGV4,
    VALIDATION,
    FLOW,
    GLUE,
    H1,
    DRIVERS,
    BODY,
    OURS_OTHER,
    HTTPX,
    ASYNCIO,
    SYSCALLS,
    STDLIB_OTHER,
    OTHER,
)

_VALIDATION = {"_validate.py", "_model.py", "_request_body.py", "_restjson.py"}
_FLOW = {"_operation.py", "_flow.py", "_retry.py", "_client.py", "_closing.py", "_config.py"}
_BODY = {"_response_body.py", "_response_stream.py", "_errors.py"}
_SYSCALL_MARKS = ("_socket.socket", "select.", "_ssl._SSLSocket", "posix.read", "posix.write")
_THIRD_PARTY_HTTP = ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "/sniffio/", "/h2/", "/hpack/")
_IO_MODULES = ("asyncio/", "selectors.py", "socket.py", "ssl.py", "selector_events")


_GLUE = {"_signed_request", "url_for", "signer", "_ttl"}


def _runtime_client_area(relative: str, name: str) -> str:
    module = relative.rsplit("/", 1)[-1]
    if relative == "_operation.py" and name in _GLUE:
        return GLUE
    if relative.startswith("http/"):
        return H1 if module.startswith("_h1") else DRIVERS
    if module in _VALIDATION and "/" not in relative:
        return VALIDATION
    if (module in _FLOW and "/" not in relative) or relative.startswith("credentials/"):
        return FLOW
    if (module in _BODY and "/" not in relative) or relative.startswith("eventstream/"):
        return BODY
    return OURS_OTHER


def area_of(filename: str, name: str) -> str:
    """The area of a Python function, by the file it is defined in (and its name)."""
    path = filename.replace("\\", "/")
    if "/sigv4/" in path:
        return SIGV4
    if "/runtime_client/" in path:
        return _runtime_client_area(path.rsplit("/runtime_client/", 1)[1], name)
    if any(mark in path for mark in _THIRD_PARTY_HTTP):
        return HTTPX
    if path.startswith(STDLIB) and "site-packages" not in path:
        tail = path[len(STDLIB) + 1 :]
        return ASYNCIO if tail.startswith(_IO_MODULES) else STDLIB_OTHER
    return OTHER


Key = tuple[str, int, str]


def split_by_area(stats: dict[Key, Any], per_event: float) -> dict[str, float]:
    """Seconds of own time per area, ``per_event`` seconds taken off each recorded call."""
    found = dict.fromkeys(AREAS, 0.0)
    for (filename, _, name), (_, calls, own, _, callers) in stats.items():
        if "_lsprof.Profiler" in name:
            continue
        if filename != "~":
            found[area_of(filename, name)] += own - calls * per_event
        elif any(mark in name for mark in _SYSCALL_MARKS):
            found[SYSCALLS] += own - calls * per_event
        else:  # a C function: its time belongs to whoever called it
            for (c_file, _, c_name), (_, c_calls, c_own, _) in callers.items():
                where = area_of(c_file, c_name) if c_file != "~" else OTHER
                found[where] += c_own - c_calls * per_event
    return found


@dataclass
class Profiled:
    calls: int
    wall_us: float  # unprofiled, per call
    cpu_us: float
    total_us: float  # profiled own time per call (with the profiler's cost)
    events: float  # calls recorded per call
    stats: dict[Key, Any]


ROUNDS = 3  # unprofiled and profiled runs alternate, so that noise hits both alike


def _profile_sync(call: Callable[[], object], calls: int) -> Profiled:
    for _ in range(200):
        call()
    wall = cpu = 0.0
    profiler = cProfile.Profile()
    for _ in range(ROUNDS):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(calls // ROUNDS):
            call()
        wall, cpu = wall + time.perf_counter() - wall0, cpu + time.process_time() - cpu0
        profiler.enable()
        for _ in range(calls // ROUNDS):
            call()
        profiler.disable()
    return _profiled(profiler, wall, cpu, calls // ROUNDS * ROUNDS)


async def _profile_async(
    call: Callable[[], Awaitable[object]], calls: int, concurrency: int
) -> Profiled:
    per_worker = max(1, calls // ROUNDS // concurrency)

    async def workers(count: int) -> None:
        async def worker() -> None:
            for _ in range(count):
                await call()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await workers(max(1, 200 // concurrency))
    wall = cpu = 0.0
    profiler = cProfile.Profile()
    for _ in range(ROUNDS):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await workers(per_worker)
        wall, cpu = wall + time.perf_counter() - wall0, cpu + time.process_time() - cpu0
        profiler.enable()
        await workers(per_worker)
        profiler.disable()
    return _profiled(profiler, wall, cpu, per_worker * concurrency * ROUNDS)


def _profiled(profiler: cProfile.Profile, wall: float, cpu: float, calls: int) -> Profiled:
    """Per-call figures of ``calls`` unprofiled and ``calls`` profiled calls."""
    stats = pstats.Stats(profiler)
    raw: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    return Profiled(
        calls,
        wall / calls * 1e6,
        cpu / calls * 1e6,
        stats.total_tt / calls * 1e6,  # type: ignore[attr-defined]
        stats.total_calls / calls,  # type: ignore[attr-defined]
        dict(raw),
    )


def _sync_call(client: Any) -> Callable[[], object]:
    def call() -> object:
        return client.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )["Body"].read()

    return call


def _async_call(client: Any) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        response = await client.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )
        return await response["Body"].aread()

    return call


def profile_all(server: Server, calls: int, concurrency: int) -> dict[str, Profiled]:
    from runtime_client import AsyncSageMakerRuntime, Config, SageMakerRuntime

    found: dict[str, Profiled] = {}
    with SageMakerRuntime(endpoint_url=server.url, **keys()) as blocking:
        found["sync, loopback"] = _profile_sync(_sync_call(blocking), calls)
    found["sync, memory"] = _profile_sync(_sync_call(memory_client("sync")), calls)

    async def run_async() -> None:
        config = Config(max_pool_connections=max(10, concurrency))
        async with AsyncSageMakerRuntime(endpoint_url=server.url, config=config, **keys()) as aio:
            found["async, loopback"] = await _profile_async(_async_call(aio), calls, concurrency)
        memory = _async_call(memory_client("async"))
        found["async, memory"] = await _profile_async(memory, calls, 1)

    asyncio.run(run_async())
    return found


def _per_event(profiled: Profiled) -> float:
    """Seconds the profiler added to each call it recorded."""
    return max(0.0, (profiled.total_us - profiled.wall_us) / profiled.events) / 1e6


def _area_rows(found: dict[str, Profiled], areas: dict[str, dict[str, float]]) -> list[list[str]]:
    rows: list[list[str]] = []
    for area in AREAS:
        cells = []
        for mode, split in areas.items():
            calls = found[mode].calls
            us = max(0.0, split[area]) / calls * 1e6
            total = sum(max(0.0, v) for v in split.values()) / calls * 1e6
            cells.append(f"{us:.1f} ({us / total:.0%})" if total else "-")
        rows.append([area, *cells])
    return rows


def tables(found: dict[str, Profiled], top: int) -> None:
    """The area table of every way of calling, then each one's top functions."""
    modes = list(found)
    bias = {mode: _per_event(found[mode]) for mode in modes}
    areas = {mode: split_by_area(found[mode].stats, bias[mode]) for mode in modes}
    rows = _area_rows(found, areas)

    def per_call(mode: str) -> str:
        total = sum(max(0.0, v) for v in areas[mode].values())
        return f"{total / found[mode].calls * 1e6:.1f}"

    p = {mode: found[mode] for mode in modes}
    rows += [
        ["total, profiler's cost taken off", *(per_call(m) for m in modes)],
        ["unprofiled wall per call", *(f"{p[m].wall_us:.1f}" for m in modes)],
        ["unprofiled CPU per call", *(f"{p[m].cpu_us:.1f}" for m in modes)],
        [
            f"  wall less CPU (waiting: in the {SYSCALLS} row)",
            *(f"{max(0.0, p[m].wall_us - p[m].cpu_us):.1f}" for m in modes),
        ],
        ["calls recorded per call (Python and C)", *(f"{p[m].events:.0f}" for m in modes)],
        ["profiler's cost per recorded call (us)", *(f"{bias[m] * 1e6:.3f}" for m in modes)],
    ]
    print_table(["area", *(f"{mode}: us (%)" for mode in modes)], rows)
    if top > 0:
        for mode in modes:
            _top_functions(mode, found[mode], bias[mode], top)


def _top_functions(mode: str, profiled: Profiled, bias: float, top: int) -> None:
    own = {
        key: value[2] - value[1] * bias
        for key, value in profiled.stats.items()
        if "_lsprof.Profiler" not in key[2]
    }
    print(f"\n{mode}: the {top} functions with the most own time (us per call)")
    rows = []
    for (filename, line, name), seconds in sorted(own.items(), key=lambda item: -item[1])[:top]:
        rows.append(
            [
                f"{seconds / profiled.calls * 1e6:.1f}",
                f"{profiled.stats[(filename, line, name)][1] / profiled.calls:.1f}",
                "built-in" if filename == "~" else f"{Path(filename).name}:{line}",
                name,
            ]
        )
    print_table(("us", "calls per call", "where", "function"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="600 calls")
    parser.add_argument("--concurrency", type=int, default=1, help="async loopback workers")
    parser.add_argument("--top", type=int, default=8, help="functions listed per way (0: none)")
    args = parser.parse_args()
    isolate_from_aws_settings()
    calls = 600 if args.quick else args.calls
    with loopback_server() as server:
        found = profile_all(server, calls, args.concurrency)
    print(
        f"{calls} calls each, unprofiled then profiled, in {ROUNDS} alternating rounds; "
        f"async loopback at concurrency {args.concurrency}"
    )
    tables(found, args.top)


if __name__ == "__main__":
    main()
