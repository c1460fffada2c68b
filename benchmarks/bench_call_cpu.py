"""CPU per InvokeEndpoint call of our own code, against a transport that answers from memory.

    python benchmarks/bench_call_cpu.py [--quick] [--callgrind]

No socket and no server: ``_harness.memory_client(kind)`` gives our client on a transport
that answers every call from memory (200, the loopback server's small headers and JSON
body; the request carries a 1 KiB body). Each figure is ``time.process_time`` over a loop
of calls, in us per call, the median of rounds (range). The bare ``httpx`` client on the
same memory transport (``Client.post`` / ``AsyncClient.post`` with precomputed headers) is
timed too, so that httpx's share can be subtracted: ``ours - httpx`` is the CPU of our
own code per call (validation, signing, the flow, parsing). ``post`` builds and parses
its URL per call where our client sends a request whose URL it parsed once, so the bare
``send`` of such a request is also timed: subtracting it gives the larger (fairer)
figure for our own code, on which the goal (<= 50 us) is judged.

``--callgrind`` also counts instructions per call under ``valgrind --tool=callgrind``
(noise-free): a child process warms every contender up, then makes N calls of one (1,000;
200 with ``--quick``); a run with N = 0 is subtracted and the rest divided by N. Our own
code's share of the count, at the instructions per us that ours ran at, is a second
estimate of its CPU per call, free of the noise that the CPU-time figures carry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from _harness import BODY_1K, INVOCATIONS, Spread, memory_client, memory_http, peer_headers

Row = list[str]
GOAL_US = 50.0
_URL = "http://127.0.0.1" + INVOCATIONS


def sync_callers() -> dict[str, Callable[[], object]]:
    """One call of ours and of the bare ``httpx.Client`` (``post``, and ``send`` of a
    request whose URL was parsed once, as our client does), all on the memory transport."""
    import httpx

    ours = memory_client("sync")
    bare = memory_http("sync")
    assert isinstance(bare, httpx.Client)
    headers = peer_headers(BODY_1K)
    url = httpx.URL(_URL)

    def call_ours() -> object:
        return ours.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )["Body"].read()

    def call_post() -> object:
        return bare.post(_URL, content=BODY_1K, headers=headers).read()

    def call_send() -> object:
        request = httpx.Request("POST", url, headers=headers, content=BODY_1K)
        return bare.send(request, stream=True).read()

    return {"ours": call_ours, "httpx post": call_post, "httpx send": call_send}


def async_callers() -> dict[str, Callable[[], Awaitable[object]]]:
    """The async twins of :func:`sync_callers` (to be awaited inside one event loop)."""
    import httpx

    ours = memory_client("async")
    bare = memory_http("async")
    assert isinstance(bare, httpx.AsyncClient)
    headers = peer_headers(BODY_1K)
    url = httpx.URL(_URL)

    async def call_ours() -> object:
        response = await ours.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )
        return await response["Body"].aread()

    async def call_post() -> object:
        return await (await bare.post(_URL, content=BODY_1K, headers=headers)).aread()

    async def call_send() -> object:
        request = httpx.Request("POST", url, headers=headers, content=BODY_1K)
        return await (await bare.send(request, stream=True)).aread()

    return {"ours": call_ours, "httpx post": call_post, "httpx send": call_send}


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


def measure(calls: int, rounds: int) -> dict[tuple[str, str], Spread]:
    """(kind, contender) -> CPU us per call; rounds interleaved, after 200 warm-up calls."""
    found: dict[tuple[str, str], list[float]] = {}
    callers = sync_callers()
    for call in callers.values():
        _cpu_sync(call, 200)
    for _ in range(rounds):
        for name, call in callers.items():
            found.setdefault(("sync", name), []).append(_cpu_sync(call, calls))

    async def run_async() -> None:
        acallers = async_callers()
        for acall in acallers.values():
            await _cpu_async(acall, 200)
        for _ in range(rounds):
            for name, acall in acallers.items():
                found.setdefault(("async", name), []).append(await _cpu_async(acall, calls))

    asyncio.run(run_async())
    return {key: Spread.of(values) for key, values in found.items()}


def _rows_for(what: str, unit: str, figures: dict[tuple[str, str], float], show: Any) -> list[Row]:
    """Per kind: ours against each bare httpx way, then ours less the httpx share."""
    rows: list[Row] = []
    for kind in ("sync", "async"):
        ours = figures[(kind, "ours")]
        for peer, label in (
            ("httpx post", "httpx post"),
            ("httpx send", "httpx send, URL parsed once"),
        ):
            rows.append(
                [
                    f"{what}, {kind} ({unit}) vs bare {label}",
                    show((kind, "ours")),
                    show((kind, peer)),
                    f"{ours / figures[(kind, peer)]:.2f}",
                    "",
                ]
            )
        by_post = ours - figures[(kind, "httpx post")]
        by_send = ours - figures[(kind, "httpx send")]
        verdict, digits = "", 0
        if unit == "us":  # judged on the larger (send) figure: httpx's share is not more
            digits = 1
            verdict = f"<= {GOAL_US:g} us: {'met' if by_send <= GOAL_US else 'NOT met'}"
        rows.append(
            [
                f"  {kind}: ours less the httpx share ({unit}), by post / by send",
                f"{by_post:,.{digits}f} / {by_send:,.{digits}f}",
                "",
                "",
                verdict,
            ]
        )
    return rows


# --- callgrind ---------------------------------------------------------------------------


def _child(kind: Literal["sync", "async"], contender: str, calls: int) -> None:
    """In a process under callgrind: warm every contender up, then ``calls`` calls of one."""
    if kind == "sync":
        callers = sync_callers()
        for call in callers.values():
            _cpu_sync(call, 50)
        for _ in range(calls):
            callers[contender]()
        return

    async def run() -> None:
        acallers = async_callers()
        for acall in acallers.values():
            await _cpu_async(acall, 50)
        for _ in range(calls):
            await acallers[contender]()

    asyncio.run(run())


def _instructions(kind: str, contender: str, calls: int, directory: str) -> int:
    out = Path(directory) / f"callgrind.{kind}.{contender.replace(' ', '-')}.{calls}"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--dump-instr=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            kind,
            contender,
            str(calls),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {out}")


def callgrind_counts(calls: int) -> dict[tuple[str, str], float] | str:
    """(kind, contender) -> instructions per call, or why they could not be counted."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed"
    found: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as directory:
        try:
            for kind in ("sync", "async"):
                base = _instructions(kind, "ours", 0, directory)
                for contender in ("ours", "httpx post", "httpx send"):
                    total = _instructions(kind, contender, calls, directory)
                    found[(kind, contender)] = (total - base) / calls
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            return f"callgrind failed: {exc}"
    return found


def rows(*, quick: bool, callgrind_calls: int | None = None, callgrind: bool = False) -> list[Row]:
    """The table's rows: CPU us per call (and instructions per call with ``callgrind``)."""
    spreads = measure(1000 if quick else 5000, 3 if quick else 5)
    medians = {key: s.median for key, s in spreads.items()}
    table = _rows_for("CPU per call against memory", "us", medians, lambda k: spreads[k].show(1))
    if callgrind:
        counted = callgrind_counts(callgrind_calls or (200 if quick else 1000))
        if isinstance(counted, str):
            table.append(["instructions per call (callgrind)", counted, "", "", ""])
        else:
            table += _rows_for(
                "instructions per call (callgrind)",
                "instr",
                counted,
                lambda k: f"{counted[k]:,.0f}",
            )
            table += _own_code_from_instructions(medians, counted)
    return table


def _own_code_from_instructions(
    cpu: dict[tuple[str, str], float], counted: dict[tuple[str, str], float]
) -> list[Row]:
    """Our own code's instructions (ours less httpx send) at ours' measured instructions
    per us: the noise-free count, in this machine's time."""
    rows: list[Row] = []
    for kind in ("sync", "async"):
        ours = counted[(kind, "ours")]
        own = ours - counted[(kind, "httpx send")]
        us = own / (ours / cpu[(kind, "ours")])
        met = "met" if us <= GOAL_US else "NOT met"
        rows.append(
            [
                f"  {kind}: our own code from instructions, at ours' instructions/us (us)",
                f"{us:.1f}",
                "",
                "",
                f"<= {GOAL_US:g} us: {met}",
            ]
        )
    return rows


def main() -> None:
    from _harness import isolate_from_aws_settings, print_table

    isolate_from_aws_settings()
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        kind: Literal["sync", "async"] = "sync" if sys.argv[2] == "sync" else "async"
        _child(kind, sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--callgrind", action="store_true", help="instruction counts too")
    parser.add_argument("--callgrind-calls", type=int, default=None)
    args = parser.parse_args()
    table = rows(quick=args.quick, callgrind=args.callgrind, callgrind_calls=args.callgrind_calls)
    print_table(("measure", "ours", "peer", "ours/peer", "goal"), table)


if __name__ == "__main__":
    main()
