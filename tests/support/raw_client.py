"""The client side of the ``RawServer`` tests: one scenario, three ways.

:class:`Driver` puts a client of either kind (the blocking one, or the async one under
the test's anyio backend) behind one awaitable API. A test module binds the fixtures to
its own names (``mode = raw_client.mode``; importing them by name would read as unused):
``mode`` parametrizes a test over ``MODES``, ``anyio_backend`` follows it, ``server`` is a
fresh :class:`RawServer` per test (so its connection counts are the test's own), and
``make`` builds drivers of the test's mode for that server, closing them afterwards.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest

from runtime_client import AsyncSageMakerRuntime, SageMakerRuntime
from tests.support.raw_server import RawServer

__all__ = [
    "MODES",
    "MODE_IDS",
    "Driver",
    "anyio_backend",
    "eventually",
    "make",
    "mode",
    "server",
]

#: (client kind, anyio backend): the blocking client, the async one under asyncio and trio.
MODES = [("sync", "asyncio"), ("async", "asyncio"), ("async", "trio")]
MODE_IDS = ["sync", "async-asyncio", "async-trio"]


class Driver:
    """A client of either kind behind one awaitable API; the blocking client is called
    inline (it blocks the event loop, which is harmless: the server runs in threads).
    Keyword arguments go to the client; the keys are any (the raw server checks none)."""

    def __init__(self, kind: str, url: str, **options: Any) -> None:
        self.kind = kind
        settings: dict[str, Any] = {
            "region_name": "us-east-1",
            "endpoint_url": url,
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            **options,
        }
        cls = SageMakerRuntime if kind == "sync" else AsyncSageMakerRuntime
        self.client: Any = cls(**settings)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        result = getattr(self.client, method)(**params)
        answer: dict[str, Any] = await result if self.kind == "async" else result
        return answer

    async def invoke(self, **params: Any) -> dict[str, Any]:
        return await self.call("invoke_endpoint", **params)

    async def invoke_async(self, **params: Any) -> dict[str, Any]:
        return await self.call("invoke_endpoint_async", **params)

    async def read(self, body: Any, amt: int | None = None) -> bytes:
        data = body.read(amt) if self.kind == "sync" else await body.read(amt)
        assert isinstance(data, bytes)
        return data

    async def chunks(self, body: Any, size: int | None, into: list[bytes]) -> None:
        """Read ``body`` ``size`` bytes at a time (None: all at once) into ``into``, which
        keeps what was read if reading fails."""
        while data := await self.read(body, size):
            into.append(data)

    async def close(self) -> None:
        if self.kind == "sync":
            self.client.close()
        else:
            await self.client.aclose()


async def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll ``condition`` (yielding to the event loop) until it holds (True) or
    ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await anyio.sleep(0.01)
    return True


@pytest.fixture(params=MODES, ids=MODE_IDS)
def mode(request: pytest.FixtureRequest) -> tuple[str, str]:
    value: tuple[str, str] = request.param
    return value


@pytest.fixture
def anyio_backend(mode: tuple[str, str]) -> str:
    return mode[1]


@pytest.fixture
def server() -> Iterator[RawServer]:
    with RawServer() as srv:
        yield srv


@pytest.fixture
async def make(mode: tuple[str, str], server: RawServer) -> AsyncIterator[Callable[..., Driver]]:
    """``make(**options)``: a driver of the test's mode for ``server`` (``endpoint_url``
    may be overridden), closed after the test."""
    made: list[Driver] = []

    def factory(**options: Any) -> Driver:
        url = options.pop("endpoint_url", server.url)
        driver = Driver(mode[0], url, **options)
        made.append(driver)
        return driver

    yield factory
    for driver in made:
        await driver.close()
