"""Time one SigV4 signature of an InvokeEndpoint request: ours against botocore's.

Run from the repository root::

    python benchmarks/bench_sign.py            # about 5 s on 2 cores
    python benchmarks/bench_sign.py --quick    # a few seconds, for a smoke test

Each figure is the median over several repeats of a loop of N signatures, in microseconds
per signature. Every signature includes hashing the body, as botocore's ``add_auth`` does,
and reading the clock. Three ways of signing the same request are compared:

- ``botocore SigV4Auth``: ``add_auth`` on a prepared ``AWSRequest`` (re-signed each time,
  as botocore does on a retry);
- ``sigv4.sign``: the pure function, with ``SigningParams`` built for each signature;
- ``sigv4.SigV4Auth``: the ``httpx.Auth`` adapter signing an ``httpx.Request``;
- ``sigv4.HeaderSigner``: what our client signs with on every call (bound to one
  credential scope, the canonical URI known; the body's SHA-256 and the date formatted
  per signature, as the client does).

The goal set for the signer is at most half of botocore's time per signature.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from unittest import mock

import botocore
import httpx
from botocore.auth import SigV4Auth as BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from sigv4 import (
    Credentials,
    HeaderSigner,
    SignableRequest,
    SigningParams,
    SigV4Auth,
    format_amz_date,
    sign,
)

URL = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/my-endpoint/invocations"
REGION = "us-east-1"
SERVICE = "sagemaker"
HEADERS = (
    ("Host", "runtime.sagemaker.us-east-1.amazonaws.com"),
    ("Content-Type", "application/json"),
    ("Accept", "application/json"),
    ("X-Amzn-SageMaker-Custom-Attributes", "trace_id=abc123,  mode=fast"),
)
CREDENTIALS = Credentials(
    "AKIDEXAMPLE",
    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    session_token="FwoGZXIvYXdzEXAMPLE" * 20,
)


@dataclass(frozen=True)
class Plan:
    """How many signatures per timed loop, and how many loops, for each body size."""

    label: str
    size: int
    number: int
    repeat: int


FULL = (Plan("1 KiB", 1024, 5000, 7), Plan("1 MiB", 1024 * 1024, 100, 7))
QUICK = (Plan("1 KiB", 1024, 200, 3), Plan("1 MiB", 1024 * 1024, 5, 3))


def make_body(size: int) -> bytes:
    pattern = bytes(range(256))
    return (pattern * (size // len(pattern) + 1))[:size]


def botocore_request(body: bytes) -> AWSRequest:
    request = AWSRequest(method="POST", url=URL, data=body)
    for name, value in HEADERS:
        request.headers[name] = value
    return request


def botocore_auth() -> BotocoreSigV4Auth:
    creds = BotocoreCredentials(
        CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key, CREDENTIALS.session_token
    )
    return BotocoreSigV4Auth(creds, SERVICE, REGION)


def botocore_signer(body: bytes) -> Callable[[], None]:
    request = botocore_request(body)
    auth = botocore_auth()

    def run() -> None:
        auth.add_auth(request)

    return run


def our_sign(body: bytes) -> Callable[[], None]:
    request = SignableRequest(method="POST", url=URL, headers=HEADERS, body=body)

    def run() -> None:
        params = SigningParams(CREDENTIALS, REGION, SERVICE, datetime.now(timezone.utc))
        sign(request, params)

    return run


def our_auth(body: bytes) -> Callable[[], None]:
    request = httpx.Request("POST", URL, headers=HEADERS[1:], content=body)
    auth = SigV4Auth(CREDENTIALS, REGION, SERVICE)

    def run() -> None:
        next(auth.sync_auth_flow(request))

    return run


PATH = "/endpoints/my-endpoint/invocations"  # its own canonical URI (nothing to encode)


def our_header_signer(body: bytes) -> Callable[[], None]:
    signer = HeaderSigner(CREDENTIALS, REGION, SERVICE)

    def run() -> None:
        payload_hash = hashlib.sha256(body).hexdigest()
        signer.sign(
            "POST", PATH, HEADERS, payload_hash, format_amz_date(datetime.now(timezone.utc))
        )

    return run


SIGNERS: tuple[tuple[str, Callable[[bytes], Callable[[], None]]], ...] = (
    ("botocore SigV4Auth", botocore_signer),
    ("sigv4.sign", our_sign),
    ("sigv4.SigV4Auth (httpx)", our_auth),
    ("sigv4.HeaderSigner (client)", our_header_signer),
)


def check_same_signature(body: bytes) -> None:
    """Make sure the two signers do the same work: same time in, same Authorization out."""
    when = datetime(2026, 11, 28, 3, 4, 5, tzinfo=timezone.utc)
    theirs = botocore_request(body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        botocore_auth().add_auth(theirs)
    expected = theirs.headers["Authorization"]
    request = SignableRequest(method="POST", url=URL, headers=HEADERS, body=body)
    ours = dict(sign(request, SigningParams(CREDENTIALS, REGION, SERVICE, when)).headers)
    fast = HeaderSigner(CREDENTIALS, REGION, SERVICE).sign(
        "POST", PATH, HEADERS, hashlib.sha256(body).hexdigest(), format_amz_date(when)
    )
    if ours["Authorization"] != expected or dict(fast)["Authorization"] != expected:
        raise SystemExit("the signers disagree on this request: the comparison would be unfair")


def time_per_call(run: Callable[[], None], number: int, repeat: int) -> float:
    """Median seconds per call over ``repeat`` loops of ``number`` calls."""
    run()  # warm up caches (signing key, imports)
    loops = timeit.Timer(run).repeat(repeat=repeat, number=number)
    return statistics.median(loops) / number


def machine() -> str:
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, nproc={os.cpu_count()}, "
        f"botocore {botocore.__version__}, httpx {httpx.__version__}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter loops")
    args = parser.parse_args(argv)
    plans = QUICK if args.quick else FULL

    rows: list[tuple[str, str, float, float]] = []
    for plan in plans:
        body = make_body(plan.size)
        check_same_signature(body)
        baseline = 0.0
        for name, factory in SIGNERS:
            seconds = time_per_call(factory(body), plan.number, plan.repeat)
            if not baseline:
                baseline = seconds
            rows.append((plan.label, name, seconds * 1e6, seconds / baseline))

    print(machine())
    print(f"median of {plans[0].repeat} loops; goal: sigv4 <= 0.50 x botocore per signature\n")
    header = ("body", "signer", "us/signature", "x botocore")
    widths = (6, max(len(name) for name, _ in SIGNERS), 12, 10)
    print(
        f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  "
        f"{header[2]:>{widths[2]}}  {header[3]:>{widths[3]}}"
    )
    print("  ".join("-" * width for width in widths))
    for label, name, micros, ratio in rows:
        print(
            f"{label:<{widths[0]}}  {name:<{widths[1]}}  "
            f"{micros:>{widths[2]}.1f}  {ratio:>{widths[3]}.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
