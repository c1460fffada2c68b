"""Many records through one endpoint: our batch command against a boto3 thread-pool script.

    python benchmarks/bench_batch.py [--records 100000] [--concurrency 16]

Both contenders do the same job as whole processes: read a JSON-lines file of records
(``{"i": n}``), send each to the local endpoint (``runtime_client.local``, the echo model,
its own process, HTTP/1.1 on loopback) ``--concurrency`` at once, write one JSON line per
answer. Ours: ``sagemaker-runtime invoke-endpoint-batch --input F --output G --concurrency
C`` (ordered output, adaptive retries). boto3: the script people write, a
``ThreadPoolExecutor(C)`` over ``executor.map`` with a ``Config(max_pool_connections=C)``
client, writing each answer's body as a line (``_BOTO3_SCRIPT`` below).

Measured from outside: wall seconds (records/s), the process's CPU seconds (user + system,
from ``wait4``), peak RSS (``VmHWM``, polled while it runs; the last reading before exit).
Ours runs on a tenth of the records too, to show whether its memory grows with the input.
The server's CPU over each run is reported: it shares the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _harness import ROOT, Server, isolate_from_aws_settings, print_table

_BOTO3_SCRIPT = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config

source, target, url, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = boto3.client("sagemaker-runtime", endpoint_url=url,
                      config=Config(max_pool_connections=concurrency))

def invoke(line):
    answer = client.invoke_endpoint(EndpointName="ep", Body=line, ContentType="application/json")
    return answer["Body"].read()

with open(source, "rb") as lines, open(target, "wb") as out, \\
        ThreadPoolExecutor(concurrency) as pool:
    for body in pool.map(invoke, (line.rstrip(b"\\n") for line in lines)):
        out.write(json.dumps({"Body": body.decode()}).encode() + b"\\n")
"""


@contextmanager
def local_endpoint(env: dict[str, str]) -> Iterator[Server]:
    """The local endpoint (echo model) in its own process, on loopback."""
    code = (
        "from runtime_client.local import run\n"
        "run(port=0, access_log=False, on_ready=lambda info: print(info.url, flush=True))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the local endpoint did not start (is the local extra installed?)")
        yield Server(port=int(url.rsplit(":", 1)[1].strip("/")), pid=child.pid)
    finally:
        child.terminate()
        child.wait(timeout=30)


def _run(
    command: list[str], env: dict[str, str], server: Server
) -> tuple[float, float, float, float]:
    """(wall s, CPU s, peak RSS MiB, server CPU s) of one whole process."""
    server_before = server.cpu_seconds()
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while True:  # wait4, not Popen.poll: the child's rusage comes with its exit status
        pid, code, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        try:
            with open(f"/proc/{child.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(code)
    code = child.returncode
    wall = time.perf_counter() - start
    if code != 0:
        stderr = child.stderr.read().decode() if child.stderr else ""
        raise RuntimeError(f"{command[:4]} failed ({code}):\n{stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, peak, server.cpu_seconds() - server_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    isolate_from_aws_settings()
    from runtime_client.local import DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY

    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=DEMO_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=DEMO_SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONPATH=str(ROOT),
    )
    rows = []
    with tempfile.TemporaryDirectory() as directory, local_endpoint(env) as server:
        files = {}
        for n in (args.records // 10, args.records):
            files[n] = Path(directory) / f"records-{n}.jsonl"
            with files[n].open("w") as out:
                out.writelines(json.dumps({"i": i}) + "\n" for i in range(n))
        ours = [
            sys.executable, "-m", "runtime_client", "invoke-endpoint-batch",
            "--endpoint-name", "ep", "--endpoint-url", server.url, "--no-progress",
            "--content-type", "application/json", "--concurrency", str(args.concurrency),
        ]  # fmt: skip
        runs = {
            f"ours, {n:,} records": [*ours, "--input", str(files[n]), "--output", f"{files[n]}.o"]
            for n in files
        }
        big = files[args.records]
        runs[f"boto3 ThreadPoolExecutor, {args.records:,} records"] = [
            sys.executable, "-c", _BOTO3_SCRIPT, str(big), f"{big}.b", server.url, str(args.concurrency)
        ]  # fmt: skip
        for label, command in runs.items():
            n = args.records // 10 if label.startswith(f"ours, {args.records // 10:,}") else None
            count = n or args.records
            wall, cpu, rss, server_cpu = _run(command, env, server)
            rows.append([
                label, f"{count / wall:,.0f}", f"{cpu / count * 1e6:,.0f}", f"{rss:.1f}",
                f"{server_cpu / wall:.0%}",
            ])  # fmt: skip
            print(f"{label}: {wall:.1f} s", file=sys.stderr, flush=True)
    header = ("run", "records/s", "client CPU µs/record", "peak RSS MiB", "server CPU (of a core)")
    print_table(header, rows)


if __name__ == "__main__":
    main()
