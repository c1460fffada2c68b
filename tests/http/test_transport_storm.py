"""A storm of cancelled async calls leaves the client's pool usable (asyncio and trio).

2,000 calls are each cancelled at a random point: in bursts of 8, every other call gets a
deadline of 0-30 ms (drawn with most of its weight near 0, so that many land on the first
awaits of a call, where the pool hands out a connection), the others one of 30-60 ms, so
that in each burst cancelled calls and calls that complete interleave: the pattern that
jammed httpcore's pool (encode/httpcore#1093: a request cancelled after the pool gave it
a new connection and before it used it leaks that connection's slot). The server pauses
at random before and inside each answer, so the cancels also land while connecting,
sending, waiting for the answer and reading the body. Eight bursts are in flight at once,
64 calls over the default 10 connections, so the pool is contended throughout. A call
that completes must have its own answer.

Afterwards, as a user would see it:

* 100 concurrent calls all get their own answers within a few seconds;
* the pool still gives out all of its connections: 10 calls held open by the server all
  reach it at once (a leaked slot shows as 9 arriving, the 10th waiting);
* once the calls are done the server has no more connections open than the client may
  keep idle (``Config(max_pool_connections=N)``, 10 by default): nothing leaked at
  either end.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import anyio
import pytest

from runtime_client import AsyncSageMakerRuntime, Config, HTTPClientError
from tests.support.raw_client import eventually
from tests.support.raw_server import RawServer, Reply, response

pytestmark = pytest.mark.anyio

KEYS: dict[str, Any] = {
    "region_name": "us-east-1",
    "aws_access_key_id": "AKIDEXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
IDLE = 10  # Config's default max_pool_connections
CALLS = 2000
BURST = 8
BURSTS_IN_FLIGHT = 8  # 64 calls at once, over 10 connections: the pool is contended
STORM_LIMIT = 30.0


class Storm:
    """The calls of the storm and what became of them."""

    def __init__(self, client: AsyncSageMakerRuntime) -> None:
        self.client = client
        self.random = random.Random(1093)
        self.cancelled = 0
        self.completed = 0
        self.problems: list[str] = []

    async def call(self, name: str, cancel_after: float | None) -> None:
        body = name.encode()
        with anyio.move_on_after(cancel_after) as scope:
            try:
                answer = await self.client.invoke_endpoint(EndpointName="ep", Body=body)
                data = await answer["Body"].read()
            except HTTPClientError as exc:
                self.problems.append(f"{name}: {exc!r}")
                return
            if data != body:
                self.problems.append(f"{name}: got {data[:40]!r}")
        if scope.cancelled_caught:
            self.cancelled += 1
        else:
            self.completed += 1

    def deadline(self, position: int) -> float:
        """Every other call of a burst: 0-30 ms, mostly early; the others 30-60 ms."""
        if position % 2:
            return 0.030 * self.random.random() ** 3
        return self.random.uniform(0.030, 0.060)

    async def burst(self, number: int) -> None:
        async with anyio.create_task_group() as group:
            for i in range(BURST):
                group.start_soon(self.call, f"storm-{number}-{i}", self.deadline(i))

    async def run(self) -> None:
        bursts = CALLS // BURST
        with anyio.move_on_after(STORM_LIMIT):
            for first in range(0, bursts, BURSTS_IN_FLIGHT):
                async with anyio.create_task_group() as group:
                    for number in range(first, min(first + BURSTS_IN_FLIGHT, bursts)):
                        group.start_soon(self.burst, number)
                if self.problems:
                    return


async def test_cancellation_storm_leaves_the_pool_usable(anyio_backend: str) -> None:
    with RawServer(echo_pauses=(0.0, 0.008)) as server:
        config = Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1})
        client = AsyncSageMakerRuntime(endpoint_url=server.url, config=config, **KEYS)
        try:
            storm = Storm(client)
            await storm.run()
            assert storm.problems == [], f"uncancelled calls failed: {storm.problems[:5]}"
            assert storm.cancelled + storm.completed == CALLS, "the storm timed out"
            assert storm.cancelled >= CALLS // 4, "too few cancels landed on a call in flight"
            server.echo_pauses = (0.0, 0.0)
            await _hundred_at_once(client)
            await _all_connections_at_once(client, server)
            assert await eventually(lambda: server.open_connections <= IDLE), (
                f"{server.open_connections} connections still open at the server "
                f"(the client may keep {IDLE} idle)"
            )
        finally:
            await client.aclose()


async def _hundred_at_once(client: AsyncSageMakerRuntime) -> None:
    after = Storm(client)
    start = time.monotonic()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for i in range(100):
                group.start_soon(after.call, f"after-{i}", None)
    elapsed = time.monotonic() - start
    assert after.problems == [], f"after the storm: {after.problems[:5]}"
    assert after.completed == 100
    assert elapsed < 5.0, f"100 calls took {elapsed:.1f}s after the storm"


async def _all_connections_at_once(client: AsyncSageMakerRuntime, server: RawServer) -> None:
    """IDLE calls that the server holds until all of them have arrived."""
    gate = threading.Event()
    server.play(*[Reply((gate, response(200, (), b"held")))] * IDLE)
    seen = len(server.requests)
    answers: list[bytes] = []

    async def held() -> None:
        answer = await client.invoke_endpoint(EndpointName="ep", Body=b"held")
        answers.append(await answer["Body"].read())

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                for _ in range(IDLE):
                    group.start_soon(held)
                await eventually(lambda: len(server.requests) - seen >= IDLE)
                arrived = len(server.requests) - seen
                gate.set()
    finally:
        gate.set()
    assert arrived >= IDLE, (
        f"only {arrived} of {IDLE} concurrent calls reached the server within 2s (the rest "
        "came once those were answered): the pool lost connection slots in the storm"
    )
    assert answers == [b"held"] * IDLE
