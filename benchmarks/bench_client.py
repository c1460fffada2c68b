"""The client against boto3, aiobotocore and raw httpx, side by side in one run.

    python benchmarks/bench_client.py [--quick] [--skip-footprint]

Every figure is measured against its peers in the same run, on a loopback server started
as a separate process (benchmarks/loopback_server.py), and reported as a median with the
ratio to the peer: the machine is shared and noisy, so ratios are what to read.

Cold start runs whole processes, each printing its own stages (import, client
construction, first call), with explicit keys and with credentials in environment
variables (as on AWS Lambda). Every contender runs with a bytecode cache, as an installed
package does (``PYTHONDONTWRITEBYTECODE`` would otherwise recompile an editable checkout
in every process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AKID, SECRET = "AKIDBENCHMARK", "benchmark-secret"

Row = tuple[str, str, str, str]  # what, ours, peer, ratio


@contextmanager
def loopback_server() -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_server.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"loopback server did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- cold start: whole processes ---------------------------------------------------------

_STAGES = (
    "import time, sys\n"
    "t0 = time.perf_counter()\n"
    "{imp}\n"
    "t1 = time.perf_counter()\n"
    "c = {ctor}\n"
    "t2 = time.perf_counter()\n"
    "c.invoke_endpoint(EndpointName='ep', Body=b'{{}}', ContentType='application/json')"
    "['Body'].read()\n"
    "t3 = time.perf_counter()\n"
    "print(t1 - t0, t2 - t1, t3 - t2)\n"
)
_ARGS = "region_name='us-east-1', endpoint_url=sys.argv[1]"
_KEYS = f", aws_access_key_id='{AKID}', aws_secret_access_key='{SECRET}'"

#: (contender, credentials) -> the code of one whole process. It prints the seconds spent
#: importing, constructing the client and making the first call.
_COLD = {
    ("ours", "keys"): _STAGES.format(
        imp="from runtime_client import SageMakerRuntime",
        ctor=f"SageMakerRuntime({_ARGS}{_KEYS})",
    ),
    ("boto3", "keys"): _STAGES.format(
        imp="import boto3", ctor=f"boto3.client('sagemaker-runtime', {_ARGS}{_KEYS})"
    ),
    ("ours", "env"): _STAGES.format(
        imp="from runtime_client import SageMakerRuntime", ctor=f"SageMakerRuntime({_ARGS})"
    ),
    ("boto3", "env"): _STAGES.format(
        imp="import boto3", ctor=f"boto3.client('sagemaker-runtime', {_ARGS})"
    ),
    ("python -c pass", "keys"): "pass\n",
}


def _cold_env(credentials: str, pycache: str) -> dict[str, str]:
    """No AWS settings but the credentials asked for; no config files.

    Bytecode is cached (in ``pycache``) for every contender, as for an installed package:
    with ``PYTHONDONTWRITEBYTECODE`` set, an editable checkout is compiled from source in
    every process while site-packages has its ``.pyc`` files, which is not a fair race.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if credentials == "env":  # as on AWS Lambda
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = AKID, SECRET
        env["AWS_SESSION_TOKEN"] = "benchmark-session-token"
    return env


def _run_process(code: str, url: str, env: dict[str, str]) -> tuple[float, float, list[float]]:
    """Wall seconds, peak RSS (MiB) and the stage seconds the process printed."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, url], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"cold-start process failed ({process.returncode}):\n{code}")
    return elapsed, usage.ru_maxrss / 1024, [float(x) for x in out.split()]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def bench_cold_start(url: str, runs: int) -> list[Row]:
    times: dict[tuple[str, str], list[float]] = {key: [] for key in _COLD}
    rss: dict[tuple[str, str], list[float]] = {key: [] for key in _COLD}
    stages: dict[tuple[str, str], list[list[float]]] = {key: [] for key in _COLD}
    with tempfile.TemporaryDirectory() as pycache:
        envs = {key: _cold_env(key[1], pycache) for key in _COLD}
        for key, code in _COLD.items():  # warm-up: writes the bytecode cache
            _run_process(code, url, envs[key])
        for _ in range(runs):  # interleaved, so that noise hits every contender alike
            for key, code in _COLD.items():
                elapsed, peak, staged = _run_process(code, url, envs[key])
                times[key].append(elapsed)
                rss[key].append(peak)
                stages[key].append(staged)
    med = statistics.median
    base = med(times[("python -c pass", "keys")])
    rows: list[Row] = []
    for credentials, label in (("keys", "explicit keys"), ("env", "env-var credentials")):
        ours, boto = ("ours", credentials), ("boto3", credentials)
        ours_t, boto_t = med(times[ours]), med(times[boto])
        rows += [
            (
                f"cold start, {label}: import+client+1st call (ms)",
                _ms(ours_t),
                _ms(boto_t),
                f"{ours_t / boto_t:.2f}",
            ),
            (
                "  same, less interpreter start (ms)",
                _ms(ours_t - base),
                _ms(boto_t - base),
                f"{(ours_t - base) / (boto_t - base):.2f}",
            ),
        ]
        for index, stage in enumerate(("import", "client construction", "first call")):
            ours_s = med(s[index] for s in stages[ours])
            boto_s = med(s[index] for s in stages[boto])
            rows.append((f"  {stage} (ms)", _ms(ours_s), _ms(boto_s), f"{ours_s / boto_s:.2f}"))
        ours_m, boto_m = med(rss[ours]), med(rss[boto])
        rows.append(
            ("  peak RSS (MiB)", f"{ours_m:.1f}", f"{boto_m:.1f}", f"{ours_m / boto_m:.2f}")
        )
    return rows


# --- installed footprint -----------------------------------------------------------------


def _installed_size(*requirements: str) -> float:
    with tempfile.TemporaryDirectory() as target:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--disable-pip-version-check",
                "--target",
                target,
                *requirements,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        total = sum(p.stat().st_size for p in Path(target).rglob("*") if p.is_file())
    return total / (1024 * 1024)


def bench_footprint() -> list[Row]:
    ours = _installed_size(str(ROOT))
    boto = _installed_size("boto3")
    return [
        ("installed footprint, with deps (MiB)", f"{ours:.1f}", f"{boto:.1f}", f"{ours / boto:.3f}")
    ]


# --- sequential latency ------------------------------------------------------------------


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _time_calls(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(20, n)):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def bench_sequential(url: str, n: int) -> list[Row]:
    import boto3
    import httpx

    import sigv4
    from runtime_client import SageMakerRuntime

    ours = SageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
    )
    boto = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
    )
    raw = httpx.Client()
    rows: list[Row] = []
    for label, size in (("1 KiB", 1024), ("1 MiB", 1024 * 1024)):
        body = b"x" * size
        count = n if size <= 1024 else max(20, n // 10)
        target = f"{url}/endpoints/ep/invocations"
        from datetime import datetime, timezone

        signed = sigv4.sign(
            sigv4.SignableRequest("POST", target, [("Content-Type", "application/json")], body),
            sigv4.SigningParams(
                sigv4.Credentials(AKID, SECRET),
                "us-east-1",
                "sagemaker",
                datetime.now(timezone.utc),
            ),
        )
        headers = {"Content-Type": "application/json", **dict(signed.headers)}

        def call_ours() -> object:
            return ours.invoke_endpoint(
                EndpointName="ep", Body=body, ContentType="application/json"
            )["Body"].read()

        def call_boto() -> object:
            return boto.invoke_endpoint(
                EndpointName="ep", Body=body, ContentType="application/json"
            )["Body"].read()

        def call_raw() -> object:
            return raw.post(target, content=body, headers=headers).content

        results: dict[str, list[float]] = {"ours": [], "boto3": [], "raw": []}
        for _ in range(3):  # interleave rounds
            results["ours"] += _time_calls(call_ours, count // 3)
            results["boto3"] += _time_calls(call_boto, count // 3)
            results["raw"] += _time_calls(call_raw, count // 3)
        o50, o99 = _percentiles(results["ours"])
        b50, b99 = _percentiles(results["boto3"])
        r50, r99 = _percentiles(results["raw"])
        rows += [
            (
                f"InvokeEndpoint {label} p50 (us) vs boto3",
                f"{o50 * 1e6:.0f}",
                f"{b50 * 1e6:.0f}",
                f"{o50 / b50:.2f}",
            ),
            (
                f"InvokeEndpoint {label} p99 (us) vs boto3",
                f"{o99 * 1e6:.0f}",
                f"{b99 * 1e6:.0f}",
                f"{o99 / b99:.2f}",
            ),
            (
                f"InvokeEndpoint {label} p50 (us) vs raw httpx",
                f"{o50 * 1e6:.0f}",
                f"{r50 * 1e6:.0f}",
                f"{o50 / r50:.2f}",
            ),
            (
                f"InvokeEndpoint {label} p99 (us) vs raw httpx",
                f"{o99 * 1e6:.0f}",
                f"{r99 * 1e6:.0f}",
                f"{o99 / r99:.2f}",
            ),
        ]
    ours.close()
    raw.close()
    return rows


# --- async throughput --------------------------------------------------------------------


async def _throughput(call: Callable[[], Any], concurrency: int, total: int) -> float:
    per_worker = max(1, total // concurrency)

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    async def warm() -> None:
        await call()

    await asyncio.gather(*(warm() for _ in range(concurrency)))  # open the connections
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - start)


async def _bench_async(url: str, levels: list[int], total: int) -> list[Row]:
    import httpx

    from runtime_client import AsyncSageMakerRuntime, Config

    try:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
    except ImportError:
        get_session = None
    rows: list[Row] = []
    body = b"x" * 1024
    for level in levels:
        limits = httpx.Limits(max_connections=level, max_keepalive_connections=level)
        ours = AsyncSageMakerRuntime(
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id=AKID,
            aws_secret_access_key=SECRET,
            config=Config(max_pool_connections=level),
        )
        raw = httpx.AsyncClient(limits=limits)
        target = f"{url}/endpoints/ep/invocations"

        async def call_ours() -> object:
            response = await ours.invoke_endpoint(
                EndpointName="ep", Body=body, ContentType="application/json"
            )
            return await response["Body"].aread()

        async def call_raw() -> object:
            return (
                await raw.post(target, content=body, headers={"Content-Type": "application/json"})
            ).content

        ours_rate = await _throughput(call_ours, level, total)
        raw_rate = await _throughput(call_raw, level, total)
        rows.append(
            (
                f"async req/s at concurrency {level} vs raw httpx",
                f"{ours_rate:.0f}",
                f"{raw_rate:.0f}",
                f"{ours_rate / raw_rate:.2f}",
            )
        )
        if get_session is not None:
            session = get_session()
            async with session.create_client(
                "sagemaker-runtime",
                region_name="us-east-1",
                endpoint_url=url,
                aws_access_key_id=AKID,
                aws_secret_access_key=SECRET,
                config=AioConfig(max_pool_connections=level),
            ) as aio:

                async def call_aio() -> object:
                    response = await aio.invoke_endpoint(
                        EndpointName="ep", Body=body, ContentType="application/json"
                    )
                    async with response["Body"] as stream:
                        return await stream.read()

                aio_rate = await _throughput(call_aio, level, total)
            rows.append(
                (
                    f"async req/s at concurrency {level} vs aiobotocore",
                    f"{ours_rate:.0f}",
                    f"{aio_rate:.0f}",
                    f"{ours_rate / aio_rate:.2f}",
                )
            )
        await ours.aclose()
        await raw.aclose()
    if get_session is None:
        rows.append(("aiobotocore", "-", "not installed", "-"))
    return rows


# --- memory with a 6 MiB file body (tracemalloc peak) -------------------------------------------------------

_RSS = {
    "ours": (
        "import resource, sys\n"
        "from runtime_client import SageMakerRuntime\n"
        "c = SageMakerRuntime(region_name='us-east-1', endpoint_url=sys.argv[1],\n"
        f"    aws_access_key_id='{AKID}', aws_secret_access_key='{SECRET}')\n"
    ),
    "boto3": (
        "import resource, sys\n"
        "import boto3\n"
        "c = boto3.client('sagemaker-runtime', region_name='us-east-1', endpoint_url=sys.argv[1],\n"
        f"    aws_access_key_id='{AKID}', aws_secret_access_key='{SECRET}')\n"
    ),
}
# Python-heap peak during the call (tracemalloc), after a warm-up call: what the call itself
# holds at its worst. ru_maxrss cannot see a few MiB under the import-time peak.
_RSS_TAIL = (
    "import tracemalloc\n"
    "c.invoke_endpoint(EndpointName='ep', Body=b'{{}}', ContentType='application/json')['Body'].read()\n"
    "tracemalloc.start()\n"
    "with open(sys.argv[2], 'rb') as f:\n"
    "    c.invoke_endpoint(EndpointName='ep', Body=f, ContentType='application/octet-stream')['Body'].read()\n"
    "print(tracemalloc.get_traced_memory()[1] / 1048576)\n"
)


def bench_file_memory(url: str, runs: int) -> list[Row]:
    with tempfile.NamedTemporaryFile(suffix=".bin") as handle:
        handle.write(os.urandom(6 * 1024 * 1024))
        handle.flush()
        added: dict[str, list[float]] = {"ours": [], "boto3": []}
        for _ in range(runs):
            for name, head in _RSS.items():
                output = subprocess.run(
                    [sys.executable, "-c", head + _RSS_TAIL, url, handle.name],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                added[name].append(float(output.strip()))
    ours, boto = statistics.median(added["ours"]), statistics.median(added["boto3"])
    ratio = f"{ours / boto:.2f}" if boto else "-"
    return [("peak heap during a 6 MiB file-body call (MiB)", f"{ours:.2f}", f"{boto:.2f}", ratio)]


# --- the other benchmarks, as subprocesses ------------------------------------------------


def run_script(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(HERE / name), *args], capture_output=True, text=True, check=False
    )
    return result.stdout + (result.stderr if result.returncode else "")


def print_table(rows: list[Row]) -> None:
    header: Row = ("measure", "ours", "peer", "ours/peer")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--skip-footprint", action="store_true", help="no pip installs")
    args = parser.parse_args()
    quick = args.quick
    rows: list[Row] = []
    with loopback_server() as port:
        url = f"http://127.0.0.1:{port}"
        rows += bench_cold_start(url, 3 if quick else 9)
        if not args.skip_footprint:
            rows += bench_footprint()
        rows += bench_sequential(url, 150 if quick else 900)
        levels = [1, 16, 64, 256]
        rows += asyncio.run(_bench_async(url, levels, 256 if quick else 2048))
        rows += bench_file_memory(url, 1 if quick else 3)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {time.strftime('%Y-%m-%d')}")
    print_table(rows)
    others = {
        "bench_sign.py": ["--quick"] if quick else [],
        "bench_eventstream.py": ["--mib", "16", "--repeats", "3"] if quick else [],
        "bench_response_stream.py": [],
    }
    for script, script_args in others.items():
        if (HERE / script).exists():
            print(f"\n$ python benchmarks/{script} {' '.join(script_args)}".rstrip())
            print(run_script(script, *script_args))


if __name__ == "__main__":
    shutil.which("python3")  # nothing else runs on import
    main()
