"""A user-supplied ``httpx`` client (``http_client=httpx.Client()`` / ``httpx.AsyncClient()``)
keeps the behaviour the transport tests ask of the client's own transport.

The same scenarios as ``test_transport_connections.py`` and ``test_transport_timeouts.py``,
three ways (blocking, asyncio, trio), with the client lent: an echo call (its own answer,
and the lent client's pool keeps the connection for the next call), an answer cut short of
its ``Content-Length`` or between chunks (an error of the library's tree when ``Body`` is
read, never a short answer), and a read timeout, whether it comes from ``Config`` or from
the lent client's own timeout. The lent client stays open when the SageMaker client is
closed, as documented.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from runtime_client import (
    Config,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from tests.support import raw_client
from tests.support.raw_client import Driver
from tests.support.raw_server import Close, Hold, RawServer, Reply, chunk, head

pytestmark = pytest.mark.anyio

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make

TIMEOUT = 0.3
SLACK = 3.0
DATA = bytes(range(250)) * 4  # 1000 bytes


@pytest.fixture
async def lend(mode: tuple[str, str]) -> AsyncIterator[Callable[..., Any]]:
    """``lend(**options)``: an httpx client of the mode's kind, closed after the test."""
    lent: list[Any] = []

    def factory(**options: Any) -> Any:
        http: Any = httpx.Client(**options) if mode[0] == "sync" else httpx.AsyncClient(**options)
        lent.append(http)
        return http

    yield factory
    for http in lent:
        if isinstance(http, httpx.Client):
            http.close()
        else:
            await http.aclose()


async def test_echo_through_a_lent_client(
    make: Callable[..., Driver], lend: Callable[..., Any], server: RawServer
) -> None:
    http = lend()
    client = make(http_client=http)
    for i in range(3):
        body = f"lent-{i}".encode()
        answer = await client.invoke(EndpointName="ep", Body=body)
        assert await client.read(answer["Body"]) == body
    assert [r.connection for r in server.requests] == [0, 0, 0]  # kept alive in its pool
    await client.close()
    assert not http.is_closed  # a lent client stays open


async def test_body_cut_short_through_a_lent_client(
    make: Callable[..., Driver], lend: Callable[..., Any], server: RawServer
) -> None:
    client = make(http_client=lend())
    headers = (("Content-Type", "application/octet-stream"), ("Content-Length", "1000"))
    server.play(Reply((head(200, headers), DATA[:400], Close())))
    answer = await client.invoke(EndpointName="ep", Body=b"x")
    got: list[bytes] = []
    with pytest.raises(IncompleteReadError) as info:
        await client.chunks(answer["Body"], None, got)
    assert (info.value.actual_bytes, info.value.expected_bytes) == (400, 1000)
    assert got == []


async def test_chunked_body_cut_through_a_lent_client(
    make: Callable[..., Driver], lend: Callable[..., Any], server: RawServer
) -> None:
    client = make(http_client=lend())
    headers = (("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked"))
    server.play(Reply((head(200, headers), chunk(DATA[:300]), Close())))
    answer = await client.invoke(EndpointName="ep", Body=b"x")
    got: list[bytes] = []
    with pytest.raises(ResponseStreamingError) as info:
        await client.chunks(answer["Body"], 100, got)
    assert server.url in str(info.value)
    assert b"".join(got) == DATA[: len(b"".join(got))]


@pytest.mark.parametrize("where", ["config", "lent-client"])
async def test_read_timeout_through_a_lent_client(
    make: Callable[..., Driver], lend: Callable[..., Any], server: RawServer, where: str
) -> None:
    """``Config(read_timeout=...)`` applies to a lent client; without it, the lent
    client's own timeout does (as documented for ``http_client``)."""
    if where == "config":
        client = make(http_client=lend(), config=Config(read_timeout=TIMEOUT))
    else:
        client = make(http_client=lend(timeout=httpx.Timeout(TIMEOUT)))
    server.play(Reply((Hold(),)))
    start = time.monotonic()
    with pytest.raises(ReadTimeoutError) as info:
        await client.invoke(EndpointName="ep", Body=b"x")
    elapsed = time.monotonic() - start
    assert TIMEOUT * 0.8 <= elapsed <= TIMEOUT * SLACK
    assert server.url in str(info.value)
    assert len(server.requests) == 1  # not retried
