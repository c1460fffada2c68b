"""Where the time of one InvokeEndpoint call goes, by sampling (py-spy): the area table.

    python benchmarks/profile_sampled.py [--seconds 6] [--rate 500] [--concurrency 1] [--quick]

The same four ways of calling as ``profile_call.py`` (blocking and async, against the
loopback server and against a sender that answers from memory), each in a child process
that warms up, times 1 s of calls unsampled (wall and CPU per call), then calls on while
``py-spy record --native --idle`` samples it from outside for ``--seconds``. Each sample
goes to the area (``profile_call.area_of``) of its innermost Python frame, except that a
sample inside a socket or select call (a native ``sock_*``, ``select``/``poll``/``epoll``
frame) goes to the system-call row, and one inside the cyclic garbage collector to its
own row. An area's microseconds are its share of the samples times the unsampled wall
time per call.

Sampling puts no cost on each recorded call, unlike cProfile, whose cost per call
(subtracted as an average in ``profile_call.py``) is uneven: code that makes many C calls
(hashing, string methods: the signer) is understated there. ``--idle`` keeps the samples
where the process waits, so against the loopback server the system-call row includes
waiting for the answer (about "wall less CPU"). py-spy comes with the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import BODY_1K, Server, keys, loopback_server, memory_client, print_table
from profile_call import AREAS, OTHER, SYSCALLS, area_of

MODES = ("sync, loopback", "sync, memory", "async, loopback", "async, memory")
GC = "cyclic garbage collector"
ROWS = (*AREAS, GC)
_FRAME = re.compile(r"^(?P<name>.*) \((?P<path>.*?)(?::(?P<line>\d+))?\)$")
_SYSCALL_FRAMES = ("sock_", "select_", "poll", "epoll_wait", "_ssl__SSLSocket_")
_PYTHON_SUFFIXES = (".py", ">")  # files, and <frozen ...> modules


def py_spy() -> str | None:
    """The py-spy command beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


# --- the child: calls, timed unsampled, then sampled from outside ------------------------


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


def _report(calls: int, wall: float, cpu: float) -> None:
    print(f"READY {wall / calls * 1e6:.3f} {cpu / calls * 1e6:.3f}", flush=True)


def _child_sync(client: Any, seconds: float) -> None:
    call = _sync_call(client)
    for _ in range(200):
        call()
    calls, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < 1.0:
        call()
        calls += 1
    _report(calls, time.perf_counter() - wall0, time.process_time() - cpu0)
    end = time.perf_counter() + seconds + 2.0  # bounded: py-spy stops after ``seconds``
    while time.perf_counter() < end:
        call()


async def _child_async(client: Any, seconds: float, concurrency: int) -> None:
    call = _async_call(client)

    async def run_until(deadline: float) -> int:
        done = 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await call()
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done

    await run_until(time.perf_counter() + 0.2)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    calls = await run_until(wall0 + 1.0)
    _report(calls, time.perf_counter() - wall0, time.process_time() - cpu0)
    await run_until(time.perf_counter() + seconds + 2.0)


def _child(mode: str, seconds: float, url: str, concurrency: int) -> None:
    from runtime_client import AsyncSageMakerRuntime, Config, SageMakerRuntime

    if mode == "sync, loopback":
        _child_sync(SageMakerRuntime(endpoint_url=url, **keys()), seconds)
    elif mode == "sync, memory":
        _child_sync(memory_client("sync"), seconds)
    elif mode == "async, memory":
        asyncio.run(_child_async(memory_client("async"), seconds, 1))
    else:

        async def run() -> None:
            config = Config(max_pool_connections=max(10, concurrency))
            async with AsyncSageMakerRuntime(endpoint_url=url, config=config, **keys()) as aio:
                await _child_async(aio, seconds, concurrency)

        asyncio.run(run())


# --- the parent: sample each child, sort the samples into areas ---------------------------


@dataclass
class Sampled:
    wall_us: float  # unsampled, per call
    cpu_us: float
    samples: int
    by_area: Counter[str]


def area_of_stack(frames: list[str]) -> str:
    """The area of one sampled stack (outermost frame first)."""
    python_at = -1
    for index, frame in enumerate(frames):
        match = _FRAME.match(frame)
        if match and match["path"].endswith(_PYTHON_SUFFIXES):
            python_at = index
    names = [found["name"] for frame in frames[python_at + 1 :] if (found := _FRAME.match(frame))]
    if any(name.startswith(_SYSCALL_FRAMES) for name in names):
        return SYSCALLS
    if any(name.startswith("gc_collect") for name in names):
        return GC
    if python_at < 0:
        return OTHER
    match = _FRAME.match(frames[python_at])
    assert match is not None
    return area_of(match["path"], match["name"].rsplit(".", 1)[-1])


def sample(
    command: str, mode: str, server: Server, seconds: float, rate: int, concurrency: int
) -> Sampled:
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, str(seconds), server.url, str(concurrency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError(f"{mode}: the child did not start")
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "stacks.txt"
            subprocess.run(
                [
                    command,
                    "record",
                    "--pid",
                    str(child.pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    str(rate),
                    "--native",
                    "--idle",
                    "--full-filenames",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                ],
                check=True,
                capture_output=True,
            )
            by_area: Counter[str] = Counter()
            for line in out.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                by_area[area_of_stack(stack.split(";"))] += int(count)
    finally:
        child.wait(timeout=seconds + 60)
    return Sampled(float(ready[1]), float(ready[2]), sum(by_area.values()), by_area)


def table(found: dict[str, Sampled]) -> None:
    rows: list[list[str]] = []
    for area in ROWS:
        cells = []
        for entry in found.values():
            share = entry.by_area[area] / entry.samples if entry.samples else 0.0
            cells.append(f"{share * entry.wall_us:.1f} ({share:.0%})")
        rows.append([area, *cells])
    rows += [
        ["unsampled wall per call (us)", *(f"{e.wall_us:.1f}" for e in found.values())],
        ["unsampled CPU per call (us)", *(f"{e.cpu_us:.1f}" for e in found.values())],
        ["samples", *(f"{e.samples:,}" for e in found.values())],
    ]
    print_table(["area", *(f"{mode}: us (%)" for mode in found)], rows)


def run(seconds: float, rate: int, concurrency: int) -> dict[str, Sampled] | str:
    command = py_spy()
    if command is None:
        return "py-spy is not installed (pip install py-spy, or the bench extra)"
    found: dict[str, Sampled] = {}
    with loopback_server() as server:
        for mode in MODES:
            try:
                found[mode] = sample(command, mode, server, seconds, rate, concurrency)
            except (subprocess.CalledProcessError, RuntimeError) as exc:
                return f"sampling {mode} failed: {exc}"
    return found


def main() -> None:
    from _harness import isolate_from_aws_settings

    isolate_from_aws_settings()
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _child(sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="sampled per way of calling")
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    parser.add_argument("--concurrency", type=int, default=1, help="async loopback workers")
    parser.add_argument("--quick", action="store_true", help="1 s per way of calling")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    found = run(seconds, args.rate, args.concurrency)
    if isinstance(found, str):
        print(found)
        return
    print(
        f"py-spy, {args.rate} samples/s for {seconds:g} s per way of calling; "
        f"async loopback at concurrency {args.concurrency}"
    )
    table(found)


if __name__ == "__main__":
    main()
