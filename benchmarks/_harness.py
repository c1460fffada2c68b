"""What the benchmark scripts share (imported by them; not a benchmark itself).

- :func:`loopback_server`: ``loopback_server.py`` as a separate process (plain or TLS),
  with :meth:`Server.cpu_seconds` to check that it is not the bottleneck;
- :func:`peer_headers`: the request headers of an InvokeEndpoint call, signed **once**,
  for the raw peers (httpx, aiohttp, http.client) that send precomputed headers;
- :class:`Spread` (median and min-max of rounds) and :func:`print_table`;
- :func:`memory_client`: our client on a sender that answers from memory.

Our client is used through its public API (``SageMakerRuntime(...)``,
``AsyncSageMakerRuntime(...)``, ``invoke_endpoint*``); the one exception is
:func:`memory_client`, which swaps the client's sender (``client._sender``) for one that
answers from memory.
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
    from runtime_client import AsyncSageMakerRuntime, SageMakerRuntime
    from runtime_client.http import Headers, Request

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

    def wakeups(self) -> int:
        """How many times the server process has gone to sleep and been woken (its
        voluntary context switches): on an idle loop, one per request that found it asleep."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
        return 0


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
        if process.stdout is not None:
            process.stdout.close()


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

#: The memory transport's answer headers, as our transport would parse them (read-only: the
#: clients only look them up, so one object serves every answer).
_MEMORY_HEADERS_RAW = [
    *((name.lower().encode(), value.encode()) for name, value in ANSWER_HEADERS),
    (b"content-length", str(len(ANSWER_BODY)).encode()),
]


class MemoryAnswer:
    """An answer as our transports return one (``runtime_client.http.SyncResponse`` /
    ``AsyncResponse``): 200, the loopback server's headers, its JSON body in one chunk."""

    __slots__ = ("_pending", "headers", "is_closed", "status_code")

    def __init__(self, headers: Headers) -> None:
        self.status_code = 200
        self.headers = headers
        self.is_closed = False
        self._pending = True  # the body's one chunk is still to be handed out

    @property
    def content(self) -> bytes:
        return ANSWER_BODY

    @property
    def text(self) -> str:
        return ANSWER_BODY.decode()

    def read_chunk(self) -> bytes | None:
        if self._pending:
            self._pending = False
            return ANSWER_BODY
        self.is_closed = True
        return None

    def read(self) -> bytes:
        self._pending, self.is_closed = False, True
        return ANSWER_BODY

    def close(self) -> None:
        self._pending, self.is_closed = False, True

    async def aread_chunk(self) -> bytes | None:
        return self.read_chunk()

    async def aread(self) -> bytes:
        return self.read()

    async def aclose(self) -> None:
        self.close()


class MemorySender:
    """A sender (``client._sender``) that answers every request from memory: no socket,
    no HTTP bytes, nothing of the request read."""

    def __init__(self) -> None:
        from runtime_client.http import Headers

        self.headers = Headers.from_raw(_MEMORY_HEADERS_RAW)

    def send(self, request: Request) -> MemoryAnswer:
        return MemoryAnswer(self.headers)


class AsyncMemorySender(MemorySender):
    """The async twin of :class:`MemorySender` (``await sender.send(request)``)."""

    async def send(self, request: Request) -> MemoryAnswer:  # type: ignore[override]
        return MemoryAnswer(self.headers)


@overload
def memory_client(kind: Literal["sync"]) -> SageMakerRuntime: ...
@overload
def memory_client(kind: Literal["async"]) -> AsyncSageMakerRuntime: ...
def memory_client(kind: Literal["sync", "async"]) -> SageMakerRuntime | AsyncSageMakerRuntime:
    """Our client (``kind`` = ``"sync"`` or ``"async"``) on a transport that answers every
    call from memory with the loopback server's InvokeEndpoint answer.

    The one place that knows the seam: a normal client whose sender (``client._sender``,
    the object the flow driver calls ``send`` on, by default our ``SyncTransport`` /
    ``AsyncTransport``) is replaced by :class:`MemorySender` / :class:`AsyncMemorySender`.
    No httpx is involved: everything the figure counts is our own code (validation,
    signing, the flow, the answer dict and body), less the transport.
    """
    from runtime_client import AsyncSageMakerRuntime, SageMakerRuntime

    if kind == "sync":
        client = SageMakerRuntime(endpoint_url="http://127.0.0.1", **keys())
        client._transport = None  # it has opened nothing: it is dropped unused
        client._sender = MemorySender()
        return client
    aclient = AsyncSageMakerRuntime(endpoint_url="http://127.0.0.1", **keys())
    aclient._transport = None
    aclient._sender = AsyncMemorySender()
    return aclient
