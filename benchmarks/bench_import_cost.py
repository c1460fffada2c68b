"""What a cold start imports, by package: ours against the ``httpx.post`` floor.

    python benchmarks/bench_import_cost.py [--runs 9]

The two HTTPS programs of ``bench_cold_start.py`` with a full trust store (import, client,
first signed call to a loopback TLS server; ``httpx.post`` with precomputed headers) run
under ``python -X importtime``, interleaved, after a warm-up run that writes the bytecode
cache. Each module's own microseconds (importtime's "self" column) are the median of the
runs; modules are grouped by top-level package, and what bare ``python -c pass`` imports
is left out. A module imported on first use (``ssl`` at the first TLS connection) counts:
the whole program runs.

``-X importtime`` adds its own cost to every import, so the totals read higher than the
stage times of ``bench_cold_start.py``; compare the two columns, not the absolute figures.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from _harness import loopback_server, print_table
from bench_cold_start import _env, _programs, full_trust, make_tls_files

_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)$")
Row = list[str]


def _importtime(code: str, url: str, env: dict[str, str]) -> dict[str, int]:
    """Module -> its own microseconds, from one whole process under ``-X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the process failed ({result.returncode}):\n{result.stderr[-2000:]}")
    found: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if match := _LINE.match(line):
            found[match.group(2)] = int(match.group(1))
    return found


def _by_package(runs: list[dict[str, int]], bare: set[str]) -> dict[str, float]:
    """Top-level package -> median ms of its modules' own time, without ``bare``'s."""
    names = {name for run in runs for name in run} - bare
    packages: dict[str, float] = defaultdict(float)
    for name in names:
        median = statistics.median(run.get(name, 0) for run in runs)
        packages[name.split(".")[0]] += median / 1000
    return dict(packages)


def measure(runs: int) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """(ours by package, httpx.post by package, modules imported by each)."""
    programs = _programs()
    keys = {"ours": ("ours", "trust"), "httpx.post": ("httpx.post", "trust")}
    samples: dict[str, list[dict[str, int]]] = {name: [] for name in (*keys, "bare")}
    with tempfile.TemporaryDirectory() as directory:
        ca, cert, key = make_tls_files(Path(directory))
        trust = full_trust(ca, Path(directory))
        if trust is None:
            raise SystemExit("no system hashed certificate folder or no openssl: nothing to do")
        with loopback_server("--tls", str(cert), str(key), scheme="https") as tls:
            pycache = str(Path(directory) / "pycache")
            env = {name: _env(key, pycache, str(ca), trust) for name, key in keys.items()}
            env["bare"] = _env(("python -c pass", "keys"), pycache, str(ca), trust)
            code = {name: programs[key] for name, key in keys.items()}
            code["bare"] = "pass\n"
            for _ in range(runs + 1):  # the first run writes the bytecode cache
                for name in samples:
                    samples[name].append(_importtime(code[name], tls.url, env[name]))
    bare = {name for run in samples["bare"][1:] for name in run}
    ours, peer = (_by_package(samples[name][1:], bare) for name in keys)
    counts = {name: len(set(samples[name][-1]) - bare) for name in keys}
    return ours, peer, counts


def table(ours: dict[str, float], peer: dict[str, float], counts: dict[str, int]) -> list[Row]:
    shown = sorted(
        (name for name in {*ours, *peer} if max(ours.get(name, 0), peer.get(name, 0)) >= 0.5),
        key=lambda name: -max(ours.get(name, 0), peer.get(name, 0)),
    )
    rows = [[name, f"{ours.get(name, 0):.1f}", f"{peer.get(name, 0):.1f}"] for name in shown]
    rest = [sum(v for k, v in side.items() if k not in shown) for side in (ours, peer)]
    rows.append(["everything else", f"{rest[0]:.1f}", f"{rest[1]:.1f}"])
    rows.append([
        "total (ms, under -X importtime)", f"{sum(ours.values()):.1f}", f"{sum(peer.values()):.1f}"
    ])  # fmt: skip
    rows.append(["modules imported", str(counts["ours"]), str(counts["httpx.post"])])
    return rows


def main() -> None:
    from _harness import isolate_from_aws_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    isolate_from_aws_settings()
    ours, peer, counts = measure(args.runs)
    print_table(("package (own ms, median)", "ours", "httpx.post"), table(ours, peer, counts))


if __name__ == "__main__":
    main()
