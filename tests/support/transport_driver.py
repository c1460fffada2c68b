"""Our transports (``runtime_client.http``) behind one awaitable API, for the transport
acceptance tests: :class:`TransportDriver` wraps a :class:`SyncTransport` (called inline)
or an :class:`AsyncTransport` (awaited, under the test's anyio backend).

A test module binds the fixture to its own name (``transports =
transport_driver.transports``) next to ``raw_client.mode``/``anyio_backend``; then
``transports(**options)`` makes a driver of the test's mode, closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest

from runtime_client.http import AsyncTransport, Headers, Origin, Request, SyncTransport, Timeouts

__all__ = ["Answer", "TransportDriver", "request_for", "transports"]

#: Short enough that a test that goes wrong fails in seconds.
TIMEOUTS = Timeouts(connect=3.0, read=3.0, write=3.0)


def request_for(
    url: str,
    method: str = "GET",
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    timeouts: Timeouts = TIMEOUTS,
) -> Request:
    """A request for ``url`` with ``Host`` (and ``Content-Length`` when there is a body)."""
    origin = Origin.from_url(url)
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    fields = [("Host", origin.authority), *headers]
    if body or method in ("POST", "PUT"):
        fields.append(("Content-Length", str(len(body))))
    return Request(method, origin, target or "/", fields, body, timeouts)


class Answer:
    """What a request got: status, headers and the whole body."""

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:40]!r})"


class TransportDriver:
    """A transport of either kind; keyword arguments go to the transport."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.kind = kind
        self.transport: Any = (
            SyncTransport(**options) if kind == "sync" else AsyncTransport(**options)
        )

    async def send(self, request: Request) -> Answer:
        if self.kind == "sync":
            response = self.transport.send(request)
            body = response.read()
        else:
            response = await self.transport.send(request)
            body = await response.aread()
        return Answer(response.status_code, response.headers, body)

    async def get(self, url: str, **options: Any) -> Answer:
        return await self.send(request_for(url, **options))

    async def post(self, url: str, body: bytes, **options: Any) -> Answer:
        return await self.send(request_for(url, "POST", body, **options))

    def idle_connections(self) -> list[Any]:
        """The connections the transport's pool keeps (its own objects, for inspection)."""
        pool = self.transport._pool
        return [conn for idle in pool._idle.values() for conn in idle]

    def close(self) -> None:
        self.transport.close()


@pytest.fixture
async def transports(mode: tuple[str, str]) -> AsyncIterator[Callable[..., TransportDriver]]:
    """``transports(**options)``: a transport driver of the test's mode, closed after it."""
    made: list[TransportDriver] = []

    def factory(**options: Any) -> TransportDriver:
        driver = TransportDriver(mode[0], **options)
        made.append(driver)
        return driver

    yield factory
    for driver in made:
        driver.close()
