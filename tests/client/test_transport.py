"""The async client's pool of small connection pools, against a real loopback server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest

from runtime_client import AsyncSageMakerRuntime, Config, SageMakerRuntime
from runtime_client._httpx import CONNECTIONS_PER_POOL, PooledAsyncTransport

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


async def test_requests_spread_over_pools_and_counts_return_to_zero(
    server: tuple[str, set[int]],
) -> None:
    url, peers = server
    transport = PooledAsyncTransport(max_connections=10, verify=False)
    assert len(transport._transports) == 3  # 4 + 3 + 3 connections
    async with httpx.AsyncClient(transport=transport) as client:
        responses: list[bytes] = []

        async def call() -> None:
            response = await client.post(url, content=b"x")
            responses.append(response.content)

        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(call)
        assert responses == [b"ok"] * 30
        assert transport._counts == [0, 0, 0]
        assert 1 < len(peers) <= 10  # connections were opened in parallel, within the limit


async def test_a_streamed_response_counts_until_closed(server: tuple[str, set[int]]) -> None:
    url, _ = server
    transport = PooledAsyncTransport(max_connections=2 * CONNECTIONS_PER_POOL, verify=False)
    async with httpx.AsyncClient(transport=transport) as client:
        request = client.build_request("POST", url, content=b"x")
        response = await client.send(request, stream=True)
        assert sorted(transport._counts) == [0, 1]
        await response.aread()
        await response.aclose()
        assert transport._counts == [0, 0]


async def test_a_failed_request_does_not_stay_counted() -> None:
    transport = PooledAsyncTransport(max_connections=8, verify=False)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("http://127.0.0.1:9/", content=b"x")  # discard port: refused
    assert transport._counts == [0, 0]


def _keepalive_of(body: object) -> int:
    response = body._response  # type: ignore[attr-defined]
    sock = response.extensions["network_stream"].get_extra_info("socket")
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))


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
