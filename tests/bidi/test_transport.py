"""The bidirectional stream on the http package's HTTP/2 connections and drivers: the one
error of a stream that ends unanswered (blocking, asyncio and trio alike), a proxy's
CONNECT tunnel (h2c and TLS), and a TLS server that will not speak HTTP/2."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from runtime_client import _errors
from runtime_client._config import Config
from tests.bidi.helpers import TIMEOUT, call, part, sync_call
from tests.support.connect_proxy import ConnectProxy
from tests.support.h2_origin import H2Origin
from tests.support.h2_server import H2BidiServer, Script

UNANSWERED = "the stream ended before the service answered"
HOW = ["hang_up", "reset"]


def _unanswered(server: H2BidiServer, how: str) -> None:
    server.scripts["gone"] = Script(hang_up=how == "hang_up", reset=how == "reset")


# --------------------------------------------------------------------- unanswered


@pytest.mark.parametrize("how", HOW)
def test_sync_unanswered_stream_raises_response_streaming_error(
    server: H2BidiServer, how: str
) -> None:
    _unanswered(server, how)
    with sync_call(server.url, EndpointName="gone") as stream:
        with pytest.raises(_errors.ResponseStreamingError, match=UNANSWERED) as info:
            stream.output()
        with pytest.raises(_errors.ResponseStreamingError, match=UNANSWERED):
            stream.receive()
        with pytest.raises(_errors.ResponseStreamingError, match=UNANSWERED):
            stream.input_stream.send(part(b"late"))
    assert not isinstance(info.value, _errors.ReadTimeoutError)  # no time passed
    assert isinstance(info.value, _errors.HTTPClientError)


@pytest.mark.anyio
@pytest.mark.parametrize("how", HOW)
async def test_async_unanswered_stream_raises_the_same(server: H2BidiServer, how: str) -> None:
    _unanswered(server, how)
    stream = await call(server.url, EndpointName="gone")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            with pytest.raises(_errors.ResponseStreamingError, match=UNANSWERED):
                await stream.await_output()
            with pytest.raises(_errors.ResponseStreamingError, match=UNANSWERED):
                await stream.receive()
            with pytest.raises(_errors.ResponseStreamingError, match=UNANSWERED):
                await stream.input_stream.send(part(b"late"))


# --------------------------------------------------------------------- proxies


def test_sync_stream_through_a_connect_proxy(server: H2BidiServer) -> None:
    with ConnectProxy() as proxy:
        config = Config(proxies={"http": proxy.url}, read_timeout=TIMEOUT)
        with sync_call(server.url, EndpointName="ep", client_kwargs={"config": config}) as stream:
            stream.input_stream.send(part(b"via the proxy"))
            event = stream.receive()
            stream.input_stream.close()
            assert list(stream) == []
    assert event is not None
    assert event["PayloadPart"]["Bytes"] == b"via the proxy"
    assert proxy.requests == [f"CONNECT 127.0.0.1:{server.port} HTTP/1.1"]
    assert server.logs[0].ended


@pytest.mark.anyio
async def test_async_stream_over_tls_through_a_connect_proxy(
    tls_files: tuple[Path, Path],
) -> None:
    with H2BidiServer(tls=tls_files) as srv, ConnectProxy() as proxy:
        kwargs = {"config": Config(proxies={"https": proxy.url}), "verify": str(tls_files[0])}
        stream = await call(srv.url, EndpointName="ep", client_kwargs=kwargs)
        with anyio.fail_after(TIMEOUT):
            async with stream:
                await stream.input_stream.send(part(b"tunnelled tls"))
                event = await stream.receive()
                await stream.input_stream.close()
                assert await stream.receive() is None
        assert srv.errors == []
    assert event is not None
    assert event["PayloadPart"]["Bytes"] == b"tunnelled tls"
    assert proxy.requests == [f"CONNECT 127.0.0.1:{srv.port} HTTP/1.1"]


def test_sync_stream_over_tls_through_a_connect_proxy(tls_files: tuple[Path, Path]) -> None:
    with H2BidiServer(tls=tls_files) as srv, ConnectProxy() as proxy:
        kwargs = {
            "config": Config(proxies={"https": proxy.url}, read_timeout=TIMEOUT),
            "verify": str(tls_files[0]),
        }
        with sync_call(srv.url, EndpointName="ep", Body=[part(b"b")], client_kwargs=kwargs) as s:
            assert [event["PayloadPart"]["Bytes"] for event in s] == [b"b"]
        assert srv.errors == []
    assert len(proxy.requests) == 1


# --------------------------------------------------------------------- ALPN


def test_sync_refuses_a_tls_server_without_http2(tls_files: tuple[Path, Path]) -> None:
    verify = {"verify": str(tls_files[0])}
    with (
        H2Origin(tls_files, alpn=("http/1.1",)) as origin,
        pytest.raises(_errors.EndpointConnectionError, match="ALPN gave None"),
    ):
        sync_call(origin.url, EndpointName="ep", client_kwargs=verify)
    assert origin.errors == []  # not a byte of HTTP/2 went to it
    assert origin.seen == []


@pytest.mark.anyio
async def test_async_refuses_a_tls_server_without_http2(tls_files: tuple[Path, Path]) -> None:
    verify = {"verify": str(tls_files[0])}
    with (
        H2Origin(tls_files, alpn=("http/1.1",)) as origin,
        pytest.raises(_errors.EndpointConnectionError, match="ALPN gave None"),
    ):
        await call(origin.url, EndpointName="ep", client_kwargs=verify)
    assert origin.errors == []
    assert origin.seen == []
