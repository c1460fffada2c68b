"""The asyncio driver's read timer: one per connection, moved on lazily. Whatever a
connection's earlier waits left pending, each wait fails at its own deadline, and a
wait that ends in time never fails later."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator

import pytest

from runtime_client.http import NetworkError, Origin, ReadTimeout, Timeouts
from runtime_client.http._asyncio import AsyncioConnection, open_connection
from runtime_client.http._tls import TLSSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the asyncio driver only (trio has its own)


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, asyncio.Queue[bytes]]]:
    """A server that sends what the test queues, when it queues it."""
    outbox: asyncio.Queue[bytes] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        while data := await outbox.get():
            writer.write(data)
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield port, outbox
    finally:
        # Since Python 3.12 wait_closed() waits for the connections too: end them first.
        for _ in writers:
            outbox.put_nowait(b"")
        for writer in writers:
            writer.close()
        listener.close()
        await asyncio.wait_for(listener.wait_closed(), 5.0)


async def _connect(port: int) -> AsyncioConnection:
    origin = Origin("http", "127.0.0.1", port)
    return await open_connection(origin, None, TLSSettings(), Timeouts(), ())


async def test_a_short_wait_after_a_long_one_fails_at_its_own_deadline(
    server: tuple[int, asyncio.Queue[bytes]],
) -> None:
    port, outbox = server
    conn = await _connect(port)
    try:
        asyncio.get_running_loop().call_later(0.05, outbox.put_nowait, b"x")
        assert await conn.recv(30.0) == b"x"  # leaves the timer due in ~30 s
        start = time.monotonic()
        with pytest.raises(ReadTimeout, match=r"sent nothing for 0\.2 s"):
            await conn.recv(0.2)
        assert 0.15 < time.monotonic() - start < 2.0
    finally:
        conn.close()


async def test_waits_that_end_in_time_never_fail_later(
    server: tuple[int, asyncio.Queue[bytes]],
) -> None:
    port, outbox = server
    conn = await _connect(port)
    loop = asyncio.get_running_loop()
    try:
        for _ in range(5):  # each wait ends before its deadline; the timer moves on
            loop.call_later(0.1, outbox.put_nowait, b"y")
            assert await conn.recv(0.3) == b"y"
        await asyncio.sleep(0.4)  # the timer fires with no wait: nothing happens
        loop.call_later(0.1, outbox.put_nowait, b"z")
        assert await conn.recv(0.3) == b"z"
        start = time.monotonic()
        with pytest.raises(ReadTimeout):
            await conn.recv(0.3)
        assert 0.25 < time.monotonic() - start < 2.0
    finally:
        conn.close()


def test_a_client_kept_across_event_loops_leaves_no_socket_open() -> None:
    """A client used under one ``asyncio.run()`` and then another (a CLI command or a
    test per loop): the connections of a closed loop are closed when next met, not left
    to the garbage collector (their loop can no longer close them)."""
    import gc
    import os

    from runtime_client import AsyncSageMakerRuntime
    from tests.support.raw_server import RawServer

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("counting open descriptors needs /proc/self/fd (Linux)")
    gc.disable()  # as between two collections: nothing may rely on the collector
    try:
        with RawServer() as server:
            client = AsyncSageMakerRuntime(
                region_name="us-east-1",
                endpoint_url=server.url,
                aws_access_key_id="AKIDEXAMPLE",
                aws_secret_access_key="secret",
            )

            async def calls() -> None:
                answers = await asyncio.gather(
                    *(client.invoke_endpoint(EndpointName="ep", Body=b"x") for _ in range(6))
                )
                for answer in answers:
                    await answer["Body"].read()

            before = open_fds()
            asyncio.run(calls())
            first = open_fds()  # this loop's idle connections (both ends are in this process)
            assert first > before
            for _ in range(3):
                asyncio.run(calls())
                assert open_fds() <= first  # a closed loop's connections were closed
            asyncio.run(client.aclose())
            deadline = time.monotonic() + 5
            while open_fds() > before and time.monotonic() < deadline:
                time.sleep(0.02)  # the server's ends close as they read the end of file
            assert open_fds() <= before
    finally:
        gc.enable()


class _Closing:
    """A transport asyncio has started to close: it tells the protocol why a turn later."""

    def is_closing(self) -> bool:
        return True


async def test_a_write_on_a_closing_connection_says_why_it_closed(
    server: tuple[int, asyncio.Queue[bytes]],
) -> None:
    # As a TLS alert that came before the request (a client certificate the server
    # requires): the SSL layer closes the transport, connection_lost follows later.
    port, _ = server
    conn = await _connect(port)
    real = conn.transport
    conn.transport = _Closing()  # type: ignore[assignment]
    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert")
    asyncio.get_running_loop().call_soon(conn.connection_lost, alert)
    try:
        with pytest.raises(NetworkError, match="CERTIFICATE_REQUIRED") as info:
            await conn.send(b"POST / HTTP/1.1\r\n", 5.0)
        assert getattr(info.value, "bytes_sent", None) == 0
    finally:
        conn.transport = real
        conn.close()


async def test_a_write_on_a_connection_closed_cleanly_says_closed(
    server: tuple[int, asyncio.Queue[bytes]],
) -> None:
    port, outbox = server
    conn = await _connect(port)
    try:
        outbox.put_nowait(b"")  # the server closes
        assert await conn.recv(5.0) == b""
        with pytest.raises(NetworkError, match="closed the connection"):
            await conn.send(b"POST / HTTP/1.1\r\n", 5.0)
    finally:
        conn.close()
