"""The clients' own transport against a real loopback server: reuse, the pool's size, a
body read to exactly its length giving its connection back, and the socket options
``Config`` asks for."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest

from runtime_client import AsyncSageMakerRuntime, Config, SageMakerRuntime

pytestmark = pytest.mark.anyio


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: set[int]  # client ports seen, one per connection

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        type(self).peers.add(self.client_address[1])
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, set[int]]]:
    peers: set[int] = set()
    handler = type("Handler", (_Handler,), {"peers": peers})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", peers
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _keepalive_of(body: object) -> int:
    """SO_KEEPALIVE of the socket under an unread body's connection."""
    conn = body._response._conn  # type: ignore[attr-defined]
    transport = getattr(conn, "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else conn.sock
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))


async def test_calls_reuse_one_connection_and_keep_at_most_the_pool_size(
    server: tuple[str, set[int]],
) -> None:
    url, peers = server
    async with AsyncSageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=url.rstrip("/"),
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=Config(max_pool_connections=2),
    ) as client:
        for _ in range(5):  # one after the other: one connection
            answer = await client.invoke_endpoint(EndpointName="ep", Body=b"x")
            assert await answer["Body"].read() == b"ok"
        assert len(peers) == 1
        peers.clear()

        async def one() -> None:
            answer = await client.invoke_endpoint(EndpointName="ep", Body=b"x")
            assert await answer["Body"].read() == b"ok"

        async with anyio.create_task_group() as group:  # 6 at once: beyond the pool's size
            for _ in range(6):
                group.start_soon(one)
        assert client._transport is not None
        assert client._transport._pool.idle_count() <= 2


@pytest.mark.parametrize("keepalive", [False, True])
def test_tcp_keepalive_option_reaches_the_socket_sync(
    server: tuple[str, set[int]], keepalive: bool
) -> None:
    url, _ = server
    with SageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=url.rstrip("/"),
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=Config(tcp_keepalive=keepalive),
    ) as client:
        answer = client.invoke_endpoint(EndpointName="ep", Body=b"x")
        assert _keepalive_of(answer["Body"]) == int(keepalive)
        assert answer["Body"].read() == b"ok"


@pytest.mark.parametrize("pool_size", [2, 16])
async def test_tcp_keepalive_option_reaches_the_socket_async(
    server: tuple[str, set[int]], pool_size: int
) -> None:
    url, _ = server
    async with AsyncSageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=url.rstrip("/"),
        aws_access_key_id="AKID",
        aws_secret_access_key="secret",
        config=Config(tcp_keepalive=True, max_pool_connections=pool_size),
    ) as client:
        answer = await client.invoke_endpoint(EndpointName="ep", Body=b"x")
        assert _keepalive_of(answer["Body"]) == 1
        assert await answer["Body"].read() == b"ok"


def _keys(url: str) -> dict[str, Any]:
    return {
        "region_name": "us-east-1",
        "endpoint_url": url.rstrip("/"),
        "aws_access_key_id": "AKID",
        "aws_secret_access_key": "secret",
    }


def test_reading_exactly_the_content_length_frees_the_connection_sync(
    server: tuple[str, set[int]],
) -> None:
    url, peers = server
    with SageMakerRuntime(**_keys(url)) as client:
        first = client.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"]
        assert first.read(2) == b"ok"  # its whole length, but not read to the end
        second = client.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"]
        assert second.read() == b"ok"
        assert len(peers) == 1  # the first body's connection carried the second call
        assert (first.read(), first.read(1)) == (b"", b"")  # and it still reads as ended
        first.close()


async def test_reading_exactly_the_content_length_frees_the_connection_async(
    server: tuple[str, set[int]],
) -> None:
    url, peers = server
    async with AsyncSageMakerRuntime(**_keys(url)) as client:
        first = (await client.invoke_endpoint(EndpointName="ep", Body=b"x"))["Body"]
        assert await first.read(2) == b"ok"
        second = (await client.invoke_endpoint(EndpointName="ep", Body=b"x"))["Body"]
        assert await second.read() == b"ok"
        assert len(peers) == 1
        assert (await first.read(), await first.read(1)) == (b"", b"")
        await first.aclose()
