"""The transports speaking HTTP/2 to a real loopback TLS server (``tests.support.h2_origin``):
ALPN (and its fall-back to HTTP/1.1), large bodies both ways, concurrent requests sharing
one connection (async), a GOAWAY that retries only the request the server did not
process, a reset stream, timeouts, and a cancelled async call that leaves the shared
connection to the others. Async tests run under asyncio and trio."""

from __future__ import annotations

import gc
import io
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from runtime_client.http import (
    AsyncHTTPTransport,
    AsyncTransport,
    FileBody,
    HTTPTransport,
    Origin,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    SyncTransport,
    Timeouts,
    TLSSettings,
    WriteTimeout,
)
from tests.support.h2_origin import H2Origin
from tests.support.h2_server import make_tls_files

TIMEOUT = 10.0
MiB = 1024 * 1024


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return make_tls_files(tmp_path)


@pytest.fixture
def origin(tls_files: tuple[Path, Path]) -> Iterator[H2Origin]:
    with H2Origin(tls_files) as server:
        yield server
    assert server.errors == []


def request(
    server: H2Origin, path: str, body: bytes | FileBody = b"", read: float = 5.0
) -> Request:
    where = Origin.from_url(server.url)
    length = body.length if isinstance(body, FileBody) else len(body)
    headers = [("Host", where.authority), ("Content-Length", str(length)), ("Connection", "close")]
    return Request("POST", where, path, headers, body, Timeouts(5.0, read, 5.0))


def sync_transport(tls_files: tuple[Path, Path]) -> SyncTransport:
    return SyncTransport(tls=TLSSettings(str(tls_files[0])), http2=True)


def async_transport(tls_files: tuple[Path, Path]) -> AsyncTransport:
    return AsyncTransport(tls=TLSSettings(str(tls_files[0])), http2=True)


# --------------------------------------------------------------------- blocking


def test_sync_large_bodies_both_ways_on_one_connection(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    up = os.urandom(3 * MiB)
    with sync_transport(tls_files) as transport:
        response = transport.send(request(origin, "/echo", up))
        assert response.http_version == "HTTP/2"
        assert response.read() == up  # 3 MiB through our 1 MiB stream window
        response = transport.send(request(origin, f"/size/{5 * MiB}"))
        assert len(response.read()) == 5 * MiB
        file_body = FileBody(io.BytesIO(b"-" * 10 + up), 10, len(up), chunk_size=100_000)
        assert transport.send(request(origin, "/echo", file_body)).read() == up
    assert origin.connections == 1  # one after another on the same connection
    assert [seen.protocol for seen in origin.seen] == ["h2"] * 3
    assert "connection" not in origin.seen[0].headers  # an HTTP/1.1-only field


def test_sync_alpn_falls_back_to_http11(tls_files: tuple[Path, Path]) -> None:
    with H2Origin(tls_files, alpn=("http/1.1",)) as server, sync_transport(tls_files) as t:
        response = t.send(request(server, "/echo", b"over h1"))
        assert response.http_version == "HTTP/1.1"
        assert response.read() == b"over h1"
    assert [seen.protocol for seen in server.seen] == ["http/1.1"]


def test_sync_http2_off_offers_only_http11(origin: H2Origin, tls_files: tuple[Path, Path]) -> None:
    with SyncTransport(tls=TLSSettings(str(tls_files[0]))) as transport:
        assert transport.send(request(origin, "/echo", b"x")).http_version == "HTTP/1.1"
    assert origin.seen[0].protocol == "http/1.1"


def test_sync_goaway_is_retried_on_a_new_connection(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    with sync_transport(tls_files) as transport:
        assert transport.send(request(origin, "/echo", b"warm")).read() == b"warm"
        assert transport.send(request(origin, "/goaway-once", b"again")).read() == b"again"
    assert origin.connections == 2
    assert [seen.connection for seen in origin.seen] == [1, 1, 2]


def test_sync_reset_is_an_error_and_the_connection_stays(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    with sync_transport(tls_files) as transport:
        with pytest.raises(RemoteProtocolError, match="reset the stream \\(INTERNAL_ERROR\\)"):
            transport.send(request(origin, "/reset/2"))
        assert transport.send(request(origin, "/echo", b"after")).read() == b"after"
    assert origin.connections == 1


def test_sync_read_timeout(origin: H2Origin, tls_files: tuple[Path, Path]) -> None:
    with sync_transport(tls_files) as transport:
        with pytest.raises(ReadTimeout, match=r"sent nothing for 0\.3 s"):
            transport.send(request(origin, "/silent", read=0.3))
        assert transport.send(request(origin, "/echo", b"next")).read() == b"next"


def test_sync_closing_a_response_early_resets_only_its_stream(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    with sync_transport(tls_files) as transport:
        response = transport.send(request(origin, f"/size/{4 * MiB}"))
        assert response.read_chunk()
        response.close()  # most of the body still to come
        assert transport.send(request(origin, "/echo", b"next")).read() == b"next"
    assert origin.connections == 1  # the connection was kept
    assert 1 in origin.resets_received


def test_sync_body_waits_for_credit_at_most_the_write_timeout(
    tls_files: tuple[Path, Path],
) -> None:
    with H2Origin(tls_files, acknowledge=False) as server, sync_transport(tls_files) as t:
        stuck = request(server, "/echo", b"x" * 300_000)
        stuck.timeouts = Timeouts(5.0, 5.0, 0.3)
        with pytest.raises(WriteTimeout, match=r"no flow-control credit for 0\.3 s"):
            t.send(stuck)


def test_httpx_adapter_speaks_http2(origin: H2Origin, tls_files: tuple[Path, Path]) -> None:
    adapter = HTTPTransport(verify=str(tls_files[0]), http2=True)
    with httpx.Client(transport=adapter) as client:
        response = client.post(f"{origin.url}/echo", content=b"via httpx")
    assert response.http_version == "HTTP/2"
    assert response.content == b"via httpx"


# --------------------------------------------------------------------- async


@pytest.mark.anyio
async def test_concurrent_requests_share_one_connection(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    transport = async_transport(tls_files)
    answers: list[bytes] = []

    async def one(i: int) -> None:
        response = await transport.send(request(origin, "/gather/20", str(i).encode()))
        answers.append(await response.aread())

    try:
        with anyio.fail_after(TIMEOUT):
            first = await transport.send(request(origin, "/echo", b"warm"))
            assert first.http_version == "HTTP/2"
            assert await first.aread() == b"warm"
            async with anyio.create_task_group() as group:
                for i in range(20):
                    group.start_soon(one, i)
    finally:
        await transport.aclose()
    assert answers == [b"gathered"] * 20
    assert origin.connections == 1
    assert origin.max_open_streams == 20  # all at once, not one after another


@pytest.mark.anyio
async def test_async_large_bodies_both_ways(origin: H2Origin, tls_files: tuple[Path, Path]) -> None:
    up = os.urandom(3 * MiB)
    transport = async_transport(tls_files)
    try:
        with anyio.fail_after(TIMEOUT):
            echo, big = [
                await transport.send(request(origin, path, body))
                for path, body in (("/echo", up), (f"/size/{5 * MiB}", b""))
            ]
            assert len(await big.aread()) == 5 * MiB  # read second: the first one waits
            assert await echo.aread() == up
    finally:
        await transport.aclose()
    assert origin.connections == 1


@pytest.mark.anyio
async def test_goaway_retries_only_the_unprocessed_request(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    transport = async_transport(tls_files)
    outcomes: dict[str, object] = {}

    async def call(name: str, path: str) -> None:
        try:
            response = await transport.send(request(origin, path, name.encode()))
            outcomes[name] = await response.aread()
        except RemoteProtocolError as exc:
            outcomes[name] = exc

    try:
        with anyio.fail_after(TIMEOUT):
            assert await (await transport.send(request(origin, "/echo", b"1"))).aread() == b"1"
            async with anyio.create_task_group() as group:
                group.start_soon(call, "processed", "/slow/300")  # stream 3
                while len(origin.seen) < 2:  # it reached the server before stream 5 goes
                    await anyio.sleep(0.01)
                group.start_soon(call, "unprocessed", "/goaway-once")  # stream 5: GOAWAY(3)
    finally:
        await transport.aclose()
    assert outcomes["unprocessed"] == b"unprocessed"  # sent again, on a new connection
    assert isinstance(outcomes["processed"], RemoteProtocolError)  # may have run: not resent
    paths = [seen.headers[":path"] for seen in origin.seen]
    assert paths.count("/slow/300") == 1
    assert paths.count("/goaway-once") == 2
    assert origin.connections == 2


@pytest.mark.anyio
async def test_cancelled_call_leaves_the_connection_to_the_others(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    transport = async_transport(tls_files)
    try:
        with anyio.fail_after(TIMEOUT):
            assert await (await transport.send(request(origin, "/echo", b"a"))).aread() == b"a"
            async with anyio.create_task_group() as group:

                async def hangs() -> None:
                    await transport.send(request(origin, "/silent"))

                group.start_soon(hangs)
                while len(origin.seen) < 2:  # the silent request reached the server
                    await anyio.sleep(0.01)
                slow = await transport.send(request(origin, "/slow/100", b""))
                group.cancel_scope.cancel()
            assert await slow.aread() == b"slow"  # a stream of the same connection, unharmed
            after = await transport.send(request(origin, "/echo", b"after"))
            assert await after.aread() == b"after"
    finally:
        await transport.aclose()
    assert origin.connections == 1
    assert 3 in origin.resets_received  # the cancelled stream was reset, not left open


@pytest.mark.anyio
async def test_async_timeout_and_reset_fail_one_stream_only(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    transport = async_transport(tls_files)
    failures: list[BaseException] = []

    async def failing(path: str, read: float) -> None:
        try:
            await transport.send(request(origin, path, read=read))
        except (ReadTimeout, RemoteProtocolError) as exc:
            failures.append(exc)

    try:
        with anyio.fail_after(TIMEOUT):
            assert await (await transport.send(request(origin, "/echo", b"w"))).aread() == b"w"
            async with anyio.create_task_group() as group:
                group.start_soon(failing, "/silent", 0.3)
                group.start_soon(failing, "/reset/8", 5.0)
                fine = await transport.send(request(origin, "/slow/500", b""))
                assert await fine.aread() == b"slow"
    finally:
        await transport.aclose()
    assert sorted(type(exc).__name__ for exc in failures) == ["ReadTimeout", "RemoteProtocolError"]
    assert origin.connections == 1


@pytest.mark.anyio
async def test_async_response_closed_or_dropped_unread_frees_its_stream(
    origin: H2Origin, tls_files: tuple[Path, Path]
) -> None:
    transport = async_transport(tls_files)
    try:
        with anyio.fail_after(TIMEOUT):
            closed = await transport.send(request(origin, f"/size/{4 * MiB}"))
            assert await closed.aread_chunk()
            await closed.aclose()
            dropped = await transport.send(request(origin, f"/size/{4 * MiB}"))
            del dropped
            gc.collect()  # its stream is reset at the connection's next step
            after = await transport.send(request(origin, "/echo", b"after"))
            assert await after.aread() == b"after"
            last = await transport.send(request(origin, "/echo", b"last"))
            assert await last.aread() == b"last"
    finally:
        await transport.aclose()
    assert origin.connections == 1
    assert {1, 3} <= set(origin.resets_received)


@pytest.mark.anyio
async def test_async_alpn_fallback_and_httpx_adapter(tls_files: tuple[Path, Path]) -> None:
    with H2Origin(tls_files, alpn=("http/1.1",)) as server:
        adapter = AsyncHTTPTransport(verify=str(tls_files[0]), http2=True)
        async with httpx.AsyncClient(transport=adapter) as client:
            with anyio.fail_after(TIMEOUT):
                response = await client.post(f"{server.url}/echo", content=b"h1 after all")
        assert response.http_version == "HTTP/1.1"
        assert response.content == b"h1 after all"
    assert [seen.protocol for seen in server.seen] == ["http/1.1"]
