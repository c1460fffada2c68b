"""A slow or silent server against each timeout, as a user of the client sees it.

Each scenario runs three ways (the blocking client, the async client under asyncio and
under trio) with small timeouts, and checks the error class of the library's tree, that
it came in about the configured time (at least most of it, at most ``SLACK`` times it:
no speed goals, only "the timer is the one configured, and nothing is retried forever"),
and what the server saw.

* connecting: a port with no listener (refused at once: ``EndpointConnectionError``, not a
  timeout), a listener whose accept queue is full (SYNs dropped:
  ``ConnectTimeoutError``), and a server that accepts the TCP connection but never answers
  the TLS handshake (``ConnectTimeoutError``);
* reading: the answer's headers never come, or its body stalls part way (InvokeEndpoint:
  when ``Body`` is read; InvokeEndpointAsync: at the call): ``ReadTimeoutError``, not
  retried (an inference may be running), and the client hangs up the connection;
* writing: a server that never reads a large request body: a timeout error within the
  configured bound (the client's writes are bounded by ``read_timeout``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime_client import (
    Config,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from tests.support import raw_client
from tests.support.raw_client import Driver, eventually
from tests.support.raw_server import Hold, RawServer, Reply, full_backlog, head

pytestmark = pytest.mark.anyio

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make

TIMEOUT = 0.3
SLACK = 3.0
#: One attempt, so that the elapsed time is one timer's (connect failures are retried).
ONCE = Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"total_max_attempts": 1})
#: The default retries: a read timeout must still surface after one attempt.
DEFAULT_RETRIES = Config(connect_timeout=2, read_timeout=TIMEOUT)
MAX_BODY = 6291456  # InvokeEndpoint's largest request body


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def check(self, timeout: float, what: str) -> None:
        elapsed = time.monotonic() - self.start
        assert elapsed >= timeout * 0.8, f"{what} after {elapsed:.2f}s, before the {timeout}s timer"
        assert elapsed <= timeout * SLACK, f"{what} after {elapsed:.2f}s (timeout {timeout}s)"


# --- connecting -------------------------------------------------------------------------


async def test_refused_connection_is_a_connection_error_not_a_timeout(
    make: Callable[..., Driver],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = make(endpoint_url=f"http://127.0.0.1:{port}", config=ONCE)
    start = time.monotonic()
    with pytest.raises(EndpointConnectionError) as info:
        await client.invoke(EndpointName="ep", Body=b"x")
    assert type(info.value) is EndpointConnectionError
    assert f"127.0.0.1:{port}" in str(info.value)
    assert time.monotonic() - start < TIMEOUT


async def test_connect_timeout_on_a_full_accept_queue(make: Callable[..., Driver]) -> None:
    with full_backlog() as (host, port):
        client = make(endpoint_url=f"http://{host}:{port}", config=ONCE)
        clock = Clock()
        with pytest.raises(ConnectTimeoutError) as info:
            await client.invoke(EndpointName="ep", Body=b"x")
        clock.check(TIMEOUT, "ConnectTimeoutError")
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_connect_timeout_is_retried_a_bounded_number_of_times(
    make: Callable[..., Driver],
) -> None:
    """With the default retries (3 attempts), a dead address still fails within 3 timers
    (and the small backoffs), never retried forever."""
    with full_backlog() as (host, port):
        client = make(endpoint_url=f"http://{host}:{port}", config=Config(connect_timeout=0.1))
        start = time.monotonic()
        with pytest.raises(ConnectTimeoutError):
            await client.invoke(EndpointName="ep", Body=b"x")
        elapsed = time.monotonic() - start
    assert 0.1 * 0.8 <= elapsed <= 3 * 0.1 * SLACK


async def test_tls_handshake_that_never_completes_is_a_connect_timeout(
    make: Callable[..., Driver],
) -> None:
    with RawServer(silent=True) as silent:
        client = make(endpoint_url=f"https://127.0.0.1:{silent.port}", config=ONCE, verify=False)
        clock = Clock()
        with pytest.raises(ConnectTimeoutError):
            await client.invoke(EndpointName="ep", Body=b"x")
        clock.check(TIMEOUT, "ConnectTimeoutError")
        assert silent.accepted == 1  # the TCP connection was made; TLS never finished


# --- reading ----------------------------------------------------------------------------


async def test_headers_that_never_come(make: Callable[..., Driver], server: RawServer) -> None:
    client = make(config=DEFAULT_RETRIES)
    server.play(Reply((Hold(),)))
    clock = Clock()
    with pytest.raises(ReadTimeoutError) as info:
        await client.invoke(EndpointName="ep", Body=b"x")
    clock.check(TIMEOUT, "ReadTimeoutError")
    assert server.url in str(info.value)
    assert len(server.requests) == 1  # not retried: the inference may be running
    # The client gives the connection up (it cannot tell what would come next on it).
    assert await eventually(lambda: server.connection(0).closed_by == "peer", timeout=1.0)


def _stalled_body(status: int, body: bytes) -> Reply:
    headers = (("Content-Type", "application/json"), ("Content-Length", str(len(body))))
    return Reply((head(status, headers), body[: len(body) // 2], Hold()))


async def test_body_that_stalls_part_way(make: Callable[..., Driver], server: RawServer) -> None:
    client = make(config=DEFAULT_RETRIES)
    server.play(_stalled_body(200, b"0123456789" * 100))
    answer = await client.invoke(EndpointName="ep", Body=b"x")
    clock = Clock()
    got: list[bytes] = []
    with pytest.raises(ReadTimeoutError):
        await client.chunks(answer["Body"], None, got)
    clock.check(TIMEOUT, "ReadTimeoutError")
    assert got == []  # read() never returns a short body
    assert len(server.requests) == 1
    assert await eventually(lambda: server.connection(0).closed_by == "peer", timeout=1.0)


async def test_async_invocation_answer_that_stalls(
    make: Callable[..., Driver], server: RawServer
) -> None:
    client = make(config=DEFAULT_RETRIES)
    server.play(_stalled_body(202, b'{"InferenceId": "' + b"x" * 500 + b'"}'))
    clock = Clock()
    with pytest.raises(ReadTimeoutError):
        await client.invoke_async(EndpointName="ep", InputLocation="s3://bucket/in.json")
    clock.check(TIMEOUT, "ReadTimeoutError")
    assert len(server.requests) == 1


# --- writing ----------------------------------------------------------------------------


@pytest.fixture
def deaf_server() -> Iterator[RawServer]:
    """A server with a small receive buffer, so that not reading stalls a writer soon."""
    with RawServer(rcvbuf=4096) as srv:
        yield srv


async def test_server_that_never_reads_the_request_body(
    make: Callable[..., Driver], deaf_server: RawServer
) -> None:
    client = make(endpoint_url=deaf_server.url, config=ONCE)
    deaf_server.play(Reply((Hold(drain=False),), read_body=False))
    body: Any = b"\0" * MAX_BODY  # more than the socket buffers on both sides hold
    clock = Clock()
    with pytest.raises(ReadTimeoutError) as info:
        await client.invoke(EndpointName="ep", Body=body)
    clock.check(TIMEOUT, "the timeout error")
    assert deaf_server.url in str(info.value)
    assert [r.body for r in deaf_server.requests] == [b""]  # the head came; no body read
