"""What the benchmark scripts share (imported by them; not a benchmark itself).

- :func:`loopback_server`: ``loopback_server.py`` as a separate process (plain or TLS),
  with :meth:`Server.cpu_seconds` to check that it is not the bottleneck;
- :func:`peer_headers`: the request headers of an InvokeEndpoint call, signed **once**,
  for the raw peers (httpx, aiohttp, http.client) that send precomputed headers;
- :class:`Spread` (median and min-max of rounds) and :func:`print_table`;
- :func:`memory_client`: our client on a transport that answers from memory.

Our client is only ever used through its public API (``SageMakerRuntime(...)``,
``AsyncSageMakerRuntime(...)``, ``invoke_endpoint*``), so these benchmarks keep working
when the HTTP layer under it changes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict, overload

if TYPE_CHECKING:
    import httpx

    from runtime_client import AsyncSageMakerRuntime, SageMakerRuntime

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AKID, SECRET, REGION = "AKIDBENCHMARK", "benchmark-secret", "us-east-1"
INVOCATIONS = "/endpoints/ep/invocations"
BODY_1K = b"x" * 1024

#: What the loopback server answers to InvokeEndpoint (and so does the memory transport).
ANSWER_HEADERS = (
    ("Content-Type", "application/json"),
    ("x-Amzn-Invoked-Production-Variant", "AllTraffic"),
    ("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000"),
)
ANSWER_BODY = b'{"predictions": [0.5]}'


class Keys(TypedDict):
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


def keys() -> Keys:
    """The client keyword arguments of the fixed benchmark credentials and region."""
    return {"region_name": REGION, "aws_access_key_id": AKID, "aws_secret_access_key": SECRET}


def isolate_from_aws_settings() -> None:
    """Drop this process's ``AWS_*`` variables and point the config files at nothing, so
    that no profile, region, CA bundle or credential of the machine changes a figure."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


# --- the loopback server -----------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (clock-tick resolution)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def loopback_server(*extra: str, scheme: str = "http") -> Iterator[Server]:
    """Run ``loopback_server.py`` with ``extra`` arguments (``--tls CERT KEY``)."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_server.py"), *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"loopback server did not start: {line!r}")
        yield Server(int(line.split()[1]), process.pid, scheme)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- precomputed headers for the raw peers ------------------------------------------------


def peer_headers(body: bytes, host: str = "127.0.0.1") -> dict[str, str]:
    """The headers our client sends for InvokeEndpoint (``Content-Type: application/json``),
    signed once now: the raw peers send these same bytes on every call, signing nothing.
    (Host and Content-Length are left to each HTTP stack.)"""
    import sigv4

    url = f"http://{host}{INVOCATIONS}"
    content = [("Content-Type", "application/json")]
    signed = sigv4.sign(
        sigv4.SignableRequest("POST", url, [("Host", host), *content], body),
        sigv4.SigningParams(
            sigv4.Credentials(AKID, SECRET), REGION, "sagemaker", datetime.now(timezone.utc)
        ),
    )
    return {
        **dict(content),
        "User-Agent": "Boto3/1.0 md/benchmark",
        "amz-sdk-invocation-id": "00000000-0000-4000-8000-000000000000",
        "amz-sdk-request": "attempt=1; max=3",
        **dict(signed.headers),
    }


# --- statistics and tables ----------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The median of some rounds and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        values = list(values)
        return cls(statistics.median(values), min(values), max(values))

    def show(self, digits: int = 0) -> str:
        return f"{self.median:,.{digits}f} ({self.low:,.{digits}f}-{self.high:,.{digits}f})"


def goal(ratio: float, op: str, target: float) -> str:
    """``"<= 0.5x: met"`` or ``"... NOT met"``: ``ratio`` against the goal ``op target``."""
    met = ratio <= target if op == "<=" else ratio >= target
    return f"{op} {target:g}x: {'met' if met else 'NOT met'}"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Markdown table, columns padded to their widest cell."""
    width = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in width], *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)) + " |")


# --- our client on a transport that answers from memory -----------------------------------


def _memory_answer(request: httpx.Request) -> httpx.Response:
    import httpx

    # A stream, as a network transport returns: ``content=`` would make a response that is
    # already read, which our streamed bodies refuse (httpx raises StreamConsumed).
    headers = [*ANSWER_HEADERS, ("Content-Length", str(len(ANSWER_BODY)))]
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(ANSWER_BODY))


def memory_http(kind: Literal["sync", "async"]) -> httpx.Client | httpx.AsyncClient:
    """An httpx client whose transport answers every request from memory (httpx's
    ``MockTransport``: the request body is read, no socket is touched)."""
    import httpx

    transport = httpx.MockTransport(_memory_answer)
    return (
        httpx.Client(transport=transport)
        if kind == "sync"
        else httpx.AsyncClient(transport=transport)
    )


@overload
def memory_client(kind: Literal["sync"]) -> SageMakerRuntime: ...
@overload
def memory_client(kind: Literal["async"]) -> AsyncSageMakerRuntime: ...
def memory_client(kind: Literal["sync", "async"]) -> SageMakerRuntime | AsyncSageMakerRuntime:
    """Our client (``kind`` = ``"sync"`` or ``"async"``) on a transport that answers every
    call from memory with the loopback server's InvokeEndpoint answer.

    The one place that knows the seam: today a lent ``http_client`` on httpx's
    ``MockTransport`` (so the figures include httpx's own request and response handling;
    ``memory_http`` gives the bare httpx client to subtract). Point this at the new
    transport's seam when it lands, and every memory figure follows.
    """
    import httpx

    from runtime_client import AsyncSageMakerRuntime, SageMakerRuntime

    http = memory_http(kind)
    if isinstance(http, httpx.Client):
        return SageMakerRuntime(endpoint_url="http://127.0.0.1", http_client=http, **keys())
    return AsyncSageMakerRuntime(endpoint_url="http://127.0.0.1", http_client=http, **keys())
