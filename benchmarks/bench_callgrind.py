"""Instructions per call under callgrind: the noise-free figures, ours against its floors.

    python benchmarks/bench_callgrind.py [--calls 1000] [--jobs 2] [--quick]

Each figure is one contender in a child process under ``valgrind --tool=callgrind``: it
makes 200 warm-up calls (which open its connections), then N calls; the same child with
N = 0 is counted too, and (N run - N=0 run) / N is the contender's instructions per call
(imports, set-up and warm-up cancel out). The loopback server runs outside valgrind, as
its own process, so only the client is counted. Three sets:

- **memory**: our client (sync, async) on a sender that answers from memory
  (``_harness.memory_client``): our own code per call, the transport left out;
- **async, loopback, concurrency 16** (16 workers share the N calls): (a) our client,
  ``AsyncSageMakerRuntime.invoke_endpoint`` + ``aread()``; (b) our transport alone,
  ``AsyncTransport.send`` of a request signed once (a new ``Request`` per call, as the
  client builds one per attempt) + ``aread()``; (c) raw ``aiohttp`` POST with precomputed
  headers; (d) a floor: a minimal keep-alive asyncio ``Protocol`` client that writes the
  same request bytes, waits for the whole answer (head, ``Content-Length`` body) and arms
  a read timer per call, as any client must;
- **sync, loopback**: our client, our ``SyncTransport`` alone, ``http.client`` and raw
  ``httpx.Client`` (``post`` with precomputed headers).

Under valgrind OpenSSL cannot use the CPU's SHA extensions (SHA-NI), so SHA-256 and HMAC,
that is our SigV4 signing, cost relatively more instructions here than on real hardware:
these counts overstate our client against the peers that sign nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path

from _harness import BODY_1K, INVOCATIONS, keys, peer_headers

Row = list[str]
WARM_UP = 200
CONCURRENCY = 16

#: set -> its contenders, in the table's order (the first is ours).
SETS: dict[str, tuple[str, ...]] = {
    "memory, sync": ("ours",),
    "memory, async": ("ours",),
    "async, loopback, concurrency 16": ("ours", "our transport", "raw aiohttp", "asyncio floor"),
    "sync, loopback": ("ours", "our transport", "http.client", "raw httpx.Client"),
}

SyncCall = Callable[[], object]
AsyncCall = Callable[[], Awaitable[object]]


def _raw_headers(port: int, body: bytes) -> list[tuple[str, str]]:
    """The peers' precomputed headers with Host and Content-Length, as on the wire."""
    return [
        ("Host", f"127.0.0.1:{port}"),
        *peer_headers(body).items(),
        ("Content-Length", str(len(body))),
    ]


# --- sync contenders ---------------------------------------------------------------------


def _sync_call(contender: str, port: int) -> SyncCall:
    url = f"http://127.0.0.1:{port}"
    if contender == "ours":
        from runtime_client import SageMakerRuntime

        ours = SageMakerRuntime(endpoint_url=url, **keys())
        return lambda: ours.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )["Body"].read()
    if contender == "our transport":
        from runtime_client.http import Origin, Request, SyncTransport, Timeouts

        transport, origin = SyncTransport(), Origin("http", "127.0.0.1", port)
        headers, timeouts = _raw_headers(port, BODY_1K), Timeouts()
        return lambda: transport.send(
            Request("POST", origin, INVOCATIONS, headers, BODY_1K, timeouts)
        ).read()
    if contender == "http.client":
        conn = http.client.HTTPConnection("127.0.0.1", port)
        plain = peer_headers(BODY_1K)

        def call_http_client() -> object:
            conn.request("POST", INVOCATIONS, body=BODY_1K, headers=plain)
            return conn.getresponse().read()

        return call_http_client
    import httpx

    client, target, precomputed = httpx.Client(), url + INVOCATIONS, peer_headers(BODY_1K)
    return lambda: client.post(target, content=BODY_1K, headers=precomputed).content


def _memory_sync_call() -> SyncCall:
    from _harness import memory_client

    client = memory_client("sync")

    def call() -> object:
        return client.invoke_endpoint(
            EndpointName="ep", Body=BODY_1K, ContentType="application/json"
        )["Body"].read()

    return call


# --- async contenders --------------------------------------------------------------------


class _FloorProtocol(asyncio.Protocol):
    """One keep-alive connection of the floor client: collects an answer, wakes its caller."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        at = buffer.find(b"Content-Length: ", 0, end) + 16  # the loopback server's spelling
        length = int(buffer[at : buffer.index(b"\r\n", at)])
        if len(buffer) >= end + 4 + length:
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                waiter.set_result(body)


async def _floor(port: int, stack: AsyncExitStack) -> AsyncCall:
    loop = asyncio.get_running_loop()
    head = "".join(f"{name}: {value}\r\n" for name, value in _raw_headers(port, BODY_1K))
    request = f"POST {INVOCATIONS} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + BODY_1K
    free: list[_FloorProtocol] = []
    for _ in range(CONCURRENCY):
        transport, protocol = await loop.create_connection(_FloorProtocol, "127.0.0.1", port)
        stack.callback(transport.close)
        free.append(protocol)

    def expire(waiter: asyncio.Future[bytes]) -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError("no answer in 60 s"))

    async def call() -> object:
        protocol = free.pop()
        waiter = protocol.waiter = loop.create_future()
        timer = loop.call_later(60.0, expire, waiter)
        assert protocol.transport is not None
        protocol.transport.write(request)
        try:
            return await waiter
        finally:
            timer.cancel()
            free.append(protocol)

    return call


async def _async_call(contender: str, port: int, stack: AsyncExitStack) -> AsyncCall:
    url = f"http://127.0.0.1:{port}"
    if contender == "ours":
        from runtime_client import AsyncSageMakerRuntime, Config

        ours = AsyncSageMakerRuntime(
            endpoint_url=url, config=Config(max_pool_connections=CONCURRENCY), **keys()
        )
        stack.push_async_callback(ours.aclose)

        async def call_ours() -> object:
            response = await ours.invoke_endpoint(
                EndpointName="ep", Body=BODY_1K, ContentType="application/json"
            )
            return await response["Body"].aread()

        return call_ours
    if contender == "our transport":
        from runtime_client.http import AsyncTransport, Origin, Request, Timeouts

        transport, origin = AsyncTransport(max_idle=CONCURRENCY), Origin("http", "127.0.0.1", port)
        headers, timeouts = _raw_headers(port, BODY_1K), Timeouts()
        stack.push_async_callback(transport.aclose)

        async def call_transport() -> object:
            request = Request("POST", origin, INVOCATIONS, headers, BODY_1K, timeouts)
            return await (await transport.send(request)).aread()

        return call_transport
    if contender == "raw aiohttp":
        import aiohttp  # type: ignore[import-not-found, unused-ignore]  # in the bench extra

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY))
        stack.push_async_callback(session.close)
        target, precomputed = url + INVOCATIONS, peer_headers(BODY_1K)

        async def call_aiohttp() -> object:
            async with session.post(target, data=BODY_1K, headers=precomputed) as response:
                return await response.read()

        return call_aiohttp
    return await _floor(port, stack)


async def _workers(call: AsyncCall, calls: int) -> None:
    """``calls`` calls shared by :data:`CONCURRENCY` workers."""
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _child(which: str, contender: str, calls: int, port: int) -> None:
    """In a process under callgrind: the warm-up calls, then ``calls`` calls."""
    if which in ("memory, sync", "sync, loopback"):
        call = _memory_sync_call() if which == "memory, sync" else _sync_call(contender, port)
        for _ in range(WARM_UP + calls):
            call()
        return

    async def run() -> None:
        if which == "memory, async":
            from _harness import memory_client

            aclient = memory_client("async")

            async def acall() -> object:
                response = await aclient.invoke_endpoint(
                    EndpointName="ep", Body=BODY_1K, ContentType="application/json"
                )
                return await response["Body"].aread()

            for _ in range(WARM_UP + calls):
                await acall()
            return
        async with AsyncExitStack() as stack:
            call_async = await _async_call(contender, port, stack)
            await _workers(call_async, WARM_UP)
            if calls:
                await _workers(call_async, calls)

    asyncio.run(run())


# --- the parent ---------------------------------------------------------------------------


def _instructions(which: str, contender: str, calls: int, port: int, directory: str) -> int:
    name = f"{which}.{contender}.{calls}".replace(" ", "-").replace(",", "")
    out = Path(directory) / f"callgrind.{name}"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = [
        "valgrind",
        "--tool=callgrind",
        "--dump-instr=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--child",
        which,
        contender,
        str(calls),
        str(port),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{which} / {contender}: {result.stderr[-2000:]}")
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {out}")


def count(calls: int, jobs: int) -> dict[tuple[str, str], float] | str:
    """(set, contender) -> instructions per call, or why they could not be counted."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed"
    from _harness import loopback_server

    runs = [
        (which, who, n) for which, who_all in SETS.items() for who in who_all for n in (0, calls)
    ]
    with (
        loopback_server() as server,
        tempfile.TemporaryDirectory() as directory,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        futures = {run: pool.submit(_instructions, *run, server.port, directory) for run in runs}
        try:
            totals = {run: future.result() for run, future in futures.items()}
        except RuntimeError as exc:
            return f"callgrind failed: {exc}"
    return {
        (which, who): (totals[(which, who, calls)] - totals[(which, who, 0)]) / calls
        for which, who_all in SETS.items()
        for who in who_all
    }


def rows(calls: int, jobs: int) -> list[Row]:
    """The table's rows: every set, ours against each other contender."""
    counted = count(calls, jobs)
    if isinstance(counted, str):
        return [["instructions per call (callgrind)", counted, "", "", ""]]
    table: list[Row] = []
    for which, who_all in SETS.items():
        ours = f"{counted[(which, 'ours')]:,.0f}"
        if len(who_all) == 1:
            table.append([f"instructions per call (callgrind), {which}: ours", ours, "", "", ""])
        for peer in who_all[1:]:
            table.append(
                [
                    f"instructions per call (callgrind), {which}: ours vs {peer}",
                    ours,
                    f"{counted[(which, peer)]:,.0f}",
                    f"{counted[(which, 'ours')] / counted[(which, peer)]:.2f}",
                    "",
                ]
            )
    return table


def main() -> None:
    from _harness import isolate_from_aws_settings, print_table

    isolate_from_aws_settings()
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2, help="valgrind runs at once")
    parser.add_argument("--quick", action="store_true", help="200 calls")
    args = parser.parse_args()
    table = rows(200 if args.quick else args.calls, args.jobs)
    print_table(("measure", "ours", "peer", "ours/peer", "note"), table)


if __name__ == "__main__":
    main()
