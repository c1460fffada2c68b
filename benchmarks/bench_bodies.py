"""Answers with big bodies, end to end through the loopback server: ours against the SDKs.

    python benchmarks/bench_bodies.py [--quick]

- **Response stream, whole path**: InvokeEndpointWithResponseStream answered with 10,000
  token-sized ``PayloadPart`` events (one HTTP chunk each, see ``loopback_server.py``);
  events per second from the call to the last event iterated, blocking ours against
  boto3 and async ours against aiobotocore; the median of interleaved rounds (range).
- **Memory of a 6 MiB answer**: RSS added while an InvokeEndpoint answer of 6 MiB is read
  with ``.read()`` (the bytes kept), in a fresh process per run, ours against boto3. Each
  process makes a small call first, then resets its peak RSS (``/proc/self/clear_refs``)
  and reports ``VmHWM`` after the read less ``VmRSS`` before it. The goal is at most 1.1x
  the body: the body itself, and little besides.
- **Memory of a 6 MiB file body**: the Python-heap peak (tracemalloc) while a 6 MiB file
  is sent as the request body, after a warm-up call: what the call holds at its worst.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _harness import AKID, SECRET, Server, Spread, goal, keys, loopback_server

Row = list[str]
PARTS = 10_000  # the loopback server's default --stream-parts
BIG = 6 * 1024 * 1024


# --- response stream, whole path ---------------------------------------------------------


def _stream_sync(client: Any) -> int:
    response = client.invoke_endpoint_with_response_stream(
        EndpointName="ep", Body=b"{}", ContentType="application/json"
    )
    return sum(1 for event in response["Body"] if "PayloadPart" in event)


async def _stream_async(client: Any) -> int:
    response = await client.invoke_endpoint_with_response_stream(
        EndpointName="ep", Body=b"{}", ContentType="application/json"
    )
    count = 0
    async for event in response["Body"]:
        count += "PayloadPart" in event
    return count


def _events_per_second(count: int, seconds: float) -> float:
    if count != PARTS:
        raise RuntimeError(f"the stream gave {count} events, not {PARTS}")
    return count / seconds


def _sync_stream_rates(server: Server, rounds: int) -> dict[str, list[float]]:
    import boto3

    from runtime_client import SageMakerRuntime

    clients = {
        "ours": SageMakerRuntime(endpoint_url=server.url, **keys()),
        "boto3": boto3.client("sagemaker-runtime", endpoint_url=server.url, **keys()),
    }
    rates: dict[str, list[float]] = {name: [] for name in clients}
    for client in clients.values():
        _stream_sync(client)  # warm-up
    for _ in range(rounds):
        for name, client in clients.items():
            start = time.perf_counter()
            count = _stream_sync(client)
            rates[name].append(_events_per_second(count, time.perf_counter() - start))
    return rates


async def _async_stream_rates(server: Server, rounds: int) -> dict[str, list[float]]:
    from runtime_client import AsyncSageMakerRuntime

    rates: dict[str, list[float]] = {"ours async": []}
    clients: dict[str, Any] = {
        "ours async": AsyncSageMakerRuntime(endpoint_url=server.url, **keys())
    }
    try:
        from aiobotocore.session import get_session
    except ImportError:
        get_session = None
    context = None
    if get_session is not None:
        context = get_session().create_client(
            "sagemaker-runtime", endpoint_url=server.url, **keys()
        )
        clients["aiobotocore"] = await context.__aenter__()
        rates["aiobotocore"] = []
    try:
        for client in clients.values():
            await _stream_async(client)
        for _ in range(rounds):
            for name, client in clients.items():
                start = time.perf_counter()
                count = await _stream_async(client)
                rates[name].append(_events_per_second(count, time.perf_counter() - start))
    finally:
        await clients["ours async"].aclose()
        if context is not None:
            await context.__aexit__(None, None, None)
    return rates


def stream_rows(server: Server, rounds: int) -> list[Row]:
    rates = _sync_stream_rates(server, rounds)
    rates.update(asyncio.run(_async_stream_rates(server, rounds)))
    spread = {name: Spread.of(values) for name, values in rates.items()}
    rows: list[Row] = []
    for ours, peer, target in (("ours", "boto3", 3.0), ("ours async", "aiobotocore", None)):
        if peer not in spread:
            continue
        ratio = spread[ours].median / spread[peer].median
        rows.append(
            [
                f"response stream, {PARTS:,} token parts, whole path (events/s) vs {peer}",
                spread[ours].show(),
                spread[peer].show(),
                f"{ratio:.2f}",
                goal(ratio, ">=", target) if target is not None else "",
            ]
        )
    return rows


# --- memory of a 6 MiB answer (RSS) ------------------------------------------------------

_CLIENTS = {
    "ours": "from runtime_client import SageMakerRuntime\n"
    "c = SageMakerRuntime(region_name='us-east-1', endpoint_url=sys.argv[1],\n"
    f"    aws_access_key_id='{AKID}', aws_secret_access_key='{SECRET}')\n",
    "boto3": "import boto3\n"
    "c = boto3.client('sagemaker-runtime', region_name='us-east-1', endpoint_url=sys.argv[1],\n"
    f"    aws_access_key_id='{AKID}', aws_secret_access_key='{SECRET}')\n",
}
_ANSWER_RSS = f"""
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
c.invoke_endpoint(EndpointName='ep', Body=b'{{}}', ContentType='application/json')['Body'].read()
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # VmHWM := VmRSS
before = status('VmRSS:')
data = c.invoke_endpoint(EndpointName='bytes-{BIG}', Body=b'{{}}', ContentType='application/json')['Body'].read()
assert len(data) == {BIG}, len(data)
print(status('VmHWM:') - before)
"""


def _in_process(code: str, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    result = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"memory process failed:\n{result.stderr}")
    return float(result.stdout.strip())


def answer_memory_rows(server: Server, runs: int) -> list[Row]:
    added: dict[str, list[float]] = {name: [] for name in _CLIENTS}
    for _ in range(runs):
        for name, setup in _CLIENTS.items():
            added[name].append(_in_process(setup + _ANSWER_RSS, server.url))
    ours, boto = Spread.of(added["ours"]), Spread.of(added["boto3"])
    body = BIG / (1024 * 1024)
    return [
        [
            "RSS added reading a 6 MiB answer with .read() (MiB) vs boto3",
            ours.show(1),
            boto.show(1),
            f"{ours.median / boto.median:.2f}",
            "",
        ],
        [
            "  same, as a multiple of the body size",
            f"{ours.median / body:.2f}x",
            f"{boto.median / body:.2f}x",
            "",
            f"ours {goal(ours.median / body, '<=', 1.1)}",
        ],
    ]


# --- memory of a 6 MiB file body (tracemalloc) -------------------------------------------

_FILE_HEAP = """
import tracemalloc
c.invoke_endpoint(EndpointName='ep', Body=b'{}', ContentType='application/json')['Body'].read()
tracemalloc.start()
with open(sys.argv[2], 'rb') as f:
    c.invoke_endpoint(EndpointName='ep', Body=f, ContentType='application/octet-stream')['Body'].read()
print(tracemalloc.get_traced_memory()[1] / 1048576)
"""


def file_memory_rows(server: Server, runs: int) -> list[Row]:
    with tempfile.NamedTemporaryFile(suffix=".bin") as handle:
        handle.write(os.urandom(BIG))
        handle.flush()
        peak: dict[str, list[float]] = {name: [] for name in _CLIENTS}
        for _ in range(runs):
            for name, setup in _CLIENTS.items():
                peak[name].append(_in_process(setup + _FILE_HEAP, server.url, handle.name))
    ours, boto = statistics.median(peak["ours"]), statistics.median(peak["boto3"])
    return [
        [
            "peak heap during a 6 MiB file-body call (MiB) vs boto3",
            f"{ours:.2f}",
            f"{boto:.2f}",
            f"{ours / boto:.2f}" if boto else "-",
            "a few chunks: " + ("met" if ours < 1.0 else "NOT met"),
        ]
    ]


def rows(server: Server, *, quick: bool) -> list[Row]:
    sections: list[Callable[[], list[Row]]] = [
        lambda: stream_rows(server, 2 if quick else 5),
        lambda: answer_memory_rows(server, 2 if quick else 5),
        lambda: file_memory_rows(server, 1 if quick else 3),
    ]
    return [row for section in sections for row in section()]


def main() -> None:
    from _harness import isolate_from_aws_settings, print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    isolate_from_aws_settings()
    with loopback_server() as server:
        table = rows(server, quick=args.quick)
    print_table(("measure", "ours", "peer", "ours/peer", "goal"), table)


if __name__ == "__main__":
    main()
