"""Our transport mounted in a user's own httpx client: ``httpx.Client(transport=
HTTPTransport())`` and ``httpx.AsyncClient(transport=AsyncHTTPTransport())`` (asyncio and
trio) against ``RawServer``.

* GET and POST, with a bytes body and with an iterator body (read whole, then sent with
  ``Content-Length``), and an empty iterator;
* a streamed answer (``client.stream(...)`` + ``iter_raw``) whose first chunk is read
  before the server has sent the rest;
* repeated header fields kept apart both ways (``headers.get_list``, both cookies of two
  ``Set-Cookie`` lines in ``client.cookies``; two request lines of one name);
* errors as httpx's classes, ours as the cause: nothing listening ->
  ``httpx.ConnectError``, a silent server -> ``httpx.ReadTimeout``, a body cut short of
  its ``Content-Length`` -> ``httpx.RemoteProtocolError``;
* the connection is reused, and closing the httpx client closes it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from runtime_client.http import (
    AsyncHTTPTransport,
    ConnectError,
    HTTPTransport,
    ReadTimeout,
    RemoteProtocolError,
)
from tests.support import raw_client
from tests.support.raw_client import eventually
from tests.support.raw_server import Close, Hold, RawServer, Reply, chunk, head, response

pytestmark = pytest.mark.anyio

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server

PATH = "/endpoints/ep/invocations"
TIMEOUT = 0.3


class Client:
    """An httpx client of the test's mode on our transport, behind one awaitable API."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.kind = kind
        self.http: Any = (
            httpx.Client(transport=HTTPTransport(), **options)
            if kind == "sync"
            else httpx.AsyncClient(transport=AsyncHTTPTransport(), **options)
        )

    async def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        result = self.http.request(method, url, **options)
        answer: httpx.Response = await result if self.kind == "async" else result
        return answer

    def body(self, parts: list[bytes]) -> Any:
        """An iterator body of the client's kind (an async one for the async client)."""
        if self.kind == "sync":
            return iter(parts)

        async def agen() -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        return agen()

    async def close(self) -> None:
        if self.kind == "sync":
            self.http.close()
        else:
            await self.http.aclose()


@pytest.fixture
async def make(mode: tuple[str, str]) -> AsyncIterator[Callable[..., Client]]:
    made: list[Client] = []

    def factory(**options: Any) -> Client:
        client = Client(mode[0], **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.close()


async def test_get_and_post_with_a_bytes_body(
    make: Callable[..., Client], server: RawServer
) -> None:
    client = make()
    got = await client.request("GET", server.url + PATH)
    posted = await client.request("POST", server.url + PATH, content=b"bytes body")
    assert (got.status_code, got.content) == (200, b"")
    assert (posted.status_code, posted.content, posted.reason_phrase) == (200, b"bytes body", "OK")
    assert posted.http_version == "HTTP/1.1"
    assert [(r.method, r.path, r.body) for r in server.requests] == [
        ("GET", PATH, b""),
        ("POST", PATH, b"bytes body"),
    ]
    assert server.requests[1].header("Content-Length") == "10"
    assert server.requests[1].header("Host") == f"127.0.0.1:{server.port}"


@pytest.mark.parametrize("parts", [[b"ab", b"", b"cde"], []], ids=["parts", "empty"])
async def test_post_with_an_iterator_body(
    make: Callable[..., Client], server: RawServer, parts: list[bytes]
) -> None:
    client = make()
    answer = await client.request("POST", server.url + PATH, content=client.body(parts))
    whole = b"".join(parts)
    assert (answer.status_code, answer.content) == (200, whole)
    [seen] = server.requests
    assert seen.body == whole
    if whole:  # read whole, then sent with a length
        assert (seen.header("Content-Length"), seen.header("Transfer-Encoding")) == ("5", None)


async def test_a_streamed_answer_arrives_as_it_is_sent(
    make: Callable[..., Client], server: RawServer
) -> None:
    client = make()
    rest = threading.Event()
    headers = (("Transfer-Encoding", "chunked"),)
    server.play(Reply((head(200, headers), chunk(b"first"), rest, chunk(b"second"), chunk(b""))))
    got: list[bytes] = []
    try:
        if client.kind == "sync":
            with client.http.stream("POST", server.url + PATH, content=b"x") as answer:
                parts = answer.iter_raw()
                got.append(next(parts))  # before the server sent the rest
                rest.set()
                got += list(parts)
        else:
            async with client.http.stream("POST", server.url + PATH, content=b"x") as answer:
                aparts = answer.aiter_raw()
                got.append(await aparts.__anext__())
                rest.set()
                got += [part async for part in aparts]
    finally:
        rest.set()
    assert got[0] == b"first"
    assert b"".join(got) == b"firstsecond"


async def test_repeated_header_fields_are_kept_apart(
    make: Callable[..., Client], server: RawServer
) -> None:
    client = make()
    fields = (("Set-Cookie", "a=1; Path=/"), ("X-Dup", "x"), ("Set-Cookie", "b=2; Path=/"))
    server.play(Reply((response(200, (*fields, ("X-Dup", "y"))),)))
    answer = await client.request(
        "POST", server.url + PATH, content=b"x", headers=[("X-Req", "1"), ("X-Req", "2")]
    )
    assert answer.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert answer.headers.get_list("x-dup") == ["x", "y"]
    assert answer.headers["x-dup"] == "x, y"
    assert dict(client.http.cookies) == {"a": "1", "b": "2"}
    assert [v for k, v in server.requests[0].headers if k.lower() == "x-req"] == ["1", "2"]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_nothing_listening_is_httpx_connect_error(make: Callable[..., Client]) -> None:
    port = _closed_port()
    client = make()
    with pytest.raises(httpx.ConnectError) as info:
        await client.request("GET", f"http://127.0.0.1:{port}{PATH}")
    assert f"could not connect to http://127.0.0.1:{port}" in str(info.value)
    assert isinstance(info.value.__cause__, ConnectError)
    assert info.value.request.url == f"http://127.0.0.1:{port}{PATH}"


async def test_a_silent_server_is_httpx_read_timeout(
    make: Callable[..., Client], server: RawServer
) -> None:
    client = make(timeout=httpx.Timeout(TIMEOUT))
    server.play(Reply((Hold(),)))
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout) as info:
        await client.request("POST", server.url + PATH, content=b"x")
    elapsed = time.monotonic() - start
    assert TIMEOUT * 0.8 <= elapsed <= TIMEOUT * 5
    assert isinstance(info.value.__cause__, ReadTimeout)
    assert f"sent nothing for {TIMEOUT} s" in str(info.value)


async def test_a_cut_body_is_httpx_remote_protocol_error(
    make: Callable[..., Client], server: RawServer
) -> None:
    client = make()
    server.play(Reply((head(200, (("Content-Length", "100"),)), b"y" * 10, Close())))
    with pytest.raises(httpx.RemoteProtocolError) as info:
        await client.request("POST", server.url + PATH, content=b"x")
    assert "after 10 of the 100 bytes" in str(info.value)
    assert isinstance(info.value.__cause__, RemoteProtocolError)


async def test_connections_are_reused_and_closed_with_the_client(
    make: Callable[..., Client], server: RawServer
) -> None:
    client = make()
    for body in (b"one", b"two", b"three"):
        assert (await client.request("POST", server.url + PATH, content=body)).content == body
    assert [r.connection for r in server.requests] == [0, 0, 0]
    assert server.open_connections == 1
    await client.close()
    assert await eventually(lambda: server.connection(0).closed_by == "peer")
