"""The bidirectional stream bridged by the local endpoint to a real container: its WebSocket
endpoint, or a POST per message where it has none."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from runtime_client import _errors
from runtime_client.local import LocalEndpoint, serve
from tests.local.bidi_helpers import (
    TIMEOUT,
    call,
    part,
    sync_call,
)
from tests.local.emulator import ACCEPTED
from tests.support.container_server import ContainerServer

# --------------------------------------------------------------------- container bridge


async def _ws_container_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A container: GET /ping, and a WebSocket that upper-cases text, reverses bytes,
    closes on "bye" (1000) and "crash" (1011), and refuses /refuse (403)."""
    if scope["type"] == "lifespan":
        while True:  # ends with shutdown
            message = await receive()
            kind = message["type"].rsplit(".", 1)[1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "http":
        status = 200 if scope["path"] == "/ping" else 404
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()  # websocket.connect
    if scope["path"] == "/refuse":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    if scope["path"] != "/invocations-bidirectional-stream":
        where = f"{scope['path']}?{scope['query_string'].decode()}"
        await send({"type": "websocket.send", "text": where})
    while True:  # ends with the caller's close or ours
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text in ("bye", "crash"):
            await send({"type": "websocket.close", "code": 1000 if text == "bye" else 1011})
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text.upper()})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})


class WebSocketContainer:
    """``_ws_container_app`` served by hypercorn on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = HypercornConfig()
        config.bind = [f"fd://{sock.detach()}"]
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        started = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            started.set()
            await hypercorn_serve(_ws_container_app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

        self._thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
        self._thread.start()
        assert started.wait(TIMEOUT)

    def close(self) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(TIMEOUT)


@pytest.fixture(scope="module")
def bridged() -> Iterator[LocalEndpoint]:
    container = WebSocketContainer()
    try:
        with serve(model=container.url, credentials=ACCEPTED, ping_timeout=10) as endpoint:
            yield endpoint
    finally:
        container.close()


@pytest.mark.anyio
async def test_container_websocket_bridge(bridged: LocalEndpoint) -> None:
    stream = await call(bridged, EndpointName="ep")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"hello"))
            assert await stream.receive() == {
                "PayloadPart": {
                    "Bytes": b"HELLO",
                    "DataType": "UTF8",
                    "CompletionState": "COMPLETE",
                }
            }
            await stream.input_stream.send(part(b"\x01\x02\x03", kind="BINARY"))
            event = await stream.receive()
            assert event is not None
            assert event["PayloadPart"]["Bytes"] == b"\x03\x02\x01"
            assert event["PayloadPart"]["DataType"] == "BINARY"
            await stream.input_stream.close()  # a close frame; the container's ends it
            assert [e async for e in stream] == []


def test_sync_container_closes_or_breaks_the_stream(bridged: LocalEndpoint) -> None:
    with sync_call(bridged, EndpointName="ep") as stream:
        stream.input_stream.send(part(b"bye"))
        assert stream.receive() is None  # the container ended it, input still open
    with sync_call(bridged, EndpointName="ep") as stream:
        stream.input_stream.send(part(b"crash"))
        with pytest.raises(_errors.ModelStreamError) as info:
            stream.receive()
        assert info.value.response["ErrorCode"] == "StreamBroken"
        assert "1011" in info.value.response["Error"]["Message"]


def test_sync_container_path_query_and_refusal(bridged: LocalEndpoint) -> None:
    with sync_call(
        bridged, EndpointName="ep", ModelInvocationPath="v1/listen", ModelQueryString="model=x"
    ) as stream:
        event = stream.receive()
        assert event is not None
        assert event["PayloadPart"]["Bytes"] == b"/v1/listen?model=x"
    with sync_call(bridged, EndpointName="ep", ModelInvocationPath="refuse") as stream:
        with pytest.raises(_errors.ModelError) as info:
            stream.output()
        assert info.value.response["OriginalStatusCode"] == 403


def test_sync_container_without_websocket_gets_a_post_per_message() -> None:
    with (
        ContainerServer() as container,
        serve(model=container.url, credentials=ACCEPTED, ping_timeout=10) as endpoint,
        sync_call(endpoint, EndpointName="ep") as stream,
    ):
        stream.input_stream.send(part(b"one ", "PARTIAL"))
        stream.input_stream.send(part(b"message"))
        event = stream.receive()
        assert event is not None
        answer = json.loads(event["PayloadPart"]["Bytes"])
        assert answer["body"] == "one message"
        assert answer["content_type"] == "text/plain; charset=utf-8"
        assert event["PayloadPart"]["DataType"] == "UTF8"
        stream.input_stream.send(part(b'{"status": 500, "message": "boom"}'))
        with pytest.raises(_errors.ModelStreamError, match="boom"):
            stream.receive()
    assert [r["path"] for r in container.requests] == ["/invocations", "/invocations"]
