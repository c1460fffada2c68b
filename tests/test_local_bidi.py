"""InvokeEndpointWithBidirectionalStream against the local emulator, through our client.

``runtime_client.local.serve(...)`` answers on one port in HTTP/1.1 and cleartext HTTP/2
(prior knowledge); the client, given ``endpoint_url=endpoint.url``, opens its h2c
connection there. The emulator checks the request signature and every event signature
of the chain, so each test that gets an answer also shows the chain was right. Async
tests run under asyncio and trio; the blocking form has its own tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from _container_server import ContainerServer
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from runtime_client import _errors
from runtime_client._client import AsyncSageMakerRuntime, SageMakerRuntime
from runtime_client._config import Config
from runtime_client._model import INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM
from runtime_client._restjson import SerializedRequest, serialize_request
from runtime_client.bidi import _connection as _bidi
from runtime_client.bidi._async import (
    AsyncBidirectionalStream,
)
from runtime_client.bidi._events import build_bidi_request
from runtime_client.bidi._sync import (
    BidirectionalStream,
)
from runtime_client.eventstream import EventStreamDecoder, EventStreamMessage, encode_message
from runtime_client.local import EchoModel, LocalEndpoint, ModelFailure, serve
from runtime_client.local._bidi_models import BidiInvocation, BidiPart
from sigv4 import Credentials, EventSigner, SignedEvent

SECRET = "bidi-emulator-secret"
CREDS = Credentials("AKIDBIDIEMULATOR0000", SECRET)
ACCEPTED = {CREDS.access_key_id: SECRET}
REGION = "us-east-1"
TIMEOUT = 15.0
MiB = 1024 * 1024


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


@pytest.fixture(scope="module")
def echo() -> Iterator[LocalEndpoint]:
    with serve(model="echo", credentials=ACCEPTED) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def streamer() -> Iterator[LocalEndpoint]:
    with serve(model="stream", credentials=ACCEPTED) as endpoint:
        yield endpoint


def part(data: bytes, state: str = "COMPLETE", kind: str = "UTF8") -> dict[str, Any]:
    return {"PayloadPart": {"Bytes": data, "DataType": kind, "CompletionState": state}}


def options(url: str) -> dict[str, Any]:
    return {
        "region_name": REGION,
        "endpoint_url": url,
        "aws_access_key_id": CREDS.access_key_id,
        "aws_secret_access_key": SECRET,
        "config": Config(read_timeout=TIMEOUT, connect_timeout=TIMEOUT),
    }


async def call(endpoint: LocalEndpoint, **params: Any) -> AsyncBidirectionalStream:
    client = AsyncSageMakerRuntime(**options(endpoint.url))
    with anyio.fail_after(TIMEOUT):
        return await client.invoke_endpoint_with_bidirectional_stream(**params)


def sync_call(endpoint: LocalEndpoint, **params: Any) -> BidirectionalStream:
    client = SageMakerRuntime(**options(endpoint.url))
    return client.invoke_endpoint_with_bidirectional_stream(**params)


# --------------------------------------------------------------------- interleaving


@pytest.mark.anyio
async def test_interleaved_send_and_receive(echo: LocalEndpoint) -> None:
    stream = await call(echo, EndpointName="my-endpoint", TargetVariant="AllTraffic")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"first", "PARTIAL"))
            # The answer to message 1 arrives while the input is still open ...
            assert await stream.receive() == {
                "PayloadPart": {"Bytes": b"first", "DataType": "UTF8", "CompletionState": "PARTIAL"}
            }
            # ... and only then is message 2 sent.
            await stream.input_stream.send(part(b"\x00\xff", kind="BINARY"))
            assert await stream.receive() == {
                "PayloadPart": {
                    "Bytes": b"\x00\xff",
                    "DataType": "BINARY",
                    "CompletionState": "COMPLETE",
                }
            }
            output = await stream.await_output()
            assert output["InvokedProductionVariant"] == "AllTraffic"
            assert output["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert output["ResponseMetadata"]["RequestId"]
            await stream.input_stream.close()
            assert [event async for event in stream] == []  # the end of input ends it


def test_sync_interleaved_send_and_receive(echo: LocalEndpoint) -> None:
    with sync_call(echo, EndpointName="my-endpoint") as stream:
        for index in range(5):  # each answer before the next message
            stream.input_stream.send(part(f"message {index}".encode()))
            event = stream.receive()
            assert event is not None
            assert event["PayloadPart"]["Bytes"] == f"message {index}".encode()
        stream.input_stream.close()
        assert list(stream) == []


@pytest.mark.anyio
async def test_token_streamer_answers_each_message_word_by_word(streamer: LocalEndpoint) -> None:
    stream = await call(streamer, EndpointName="llm")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"Hello ", "PARTIAL"))
            await stream.input_stream.send(part(b"big world"))
            words = []
            while True:  # bounded: the message has two words
                event = await stream.receive()
                assert event is not None
                words.append(json.loads(event["PayloadPart"]["Bytes"])["token"]["text"])
                if event["PayloadPart"]["CompletionState"] == "COMPLETE":
                    break
            assert words == ["Hello ", "big ", "world"]
            await stream.input_stream.send(part(b"\xff\xfe not utf-8", kind="BINARY"))
            with pytest.raises(_errors.ModelStreamError) as info:
                await stream.receive()
            assert info.value.response["ErrorCode"] == "StreamBroken"


# --------------------------------------------------------------------- early rejection


class RefusingModel(EchoModel):
    """Refuses at once, or (``after_first``) once it has read the first part."""

    def __init__(self, after_first: bool = False) -> None:
        super().__init__()
        self.after_first = after_first

    async def open_bidirectional(
        self, invocation: BidiInvocation, parts: AsyncIterator[BidiPart]
    ) -> AsyncIterator[BidiPart]:
        if self.after_first:
            first = await parts.__anext__()
            message = f"cannot handle {first.data.decode()}"
        else:
            message = "model is not ready for streams"
        raise ModelFailure(message, status_code=400)


@pytest.mark.anyio
async def test_early_rejection_while_input_is_open() -> None:
    with serve(model=RefusingModel(), credentials=ACCEPTED) as endpoint:
        stream = await call(endpoint, EndpointName="picky")
        with anyio.fail_after(TIMEOUT):
            async with stream:
                with pytest.raises(_errors.ModelError) as info:
                    await stream.await_output()  # nothing sent, input still open
                response = info.value.response
                assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
                assert response["OriginalStatusCode"] == 400
                assert response["OriginalMessage"] == "model is not ready for streams"
                assert response["ErrorCode"] == "CLIENT_ERROR_FROM_MODEL"
                with pytest.raises(_errors.ModelError):
                    await stream.input_stream.send(part(b"too late"))
                with pytest.raises(_errors.ModelError):
                    await stream.receive()


def test_sync_early_rejection_after_the_first_message() -> None:
    with (
        serve(model=RefusingModel(after_first=True), credentials=ACCEPTED) as endpoint,
        sync_call(endpoint, EndpointName="picky") as stream,
    ):
        stream.input_stream.send(part(b"this"))
        with pytest.raises(_errors.ModelError) as info:
            stream.receive()
        assert info.value.response["OriginalMessage"] == "cannot handle this"


@pytest.mark.anyio
async def test_initial_validation_errors(echo: LocalEndpoint) -> None:
    stream = await call(echo, EndpointName="ep", TargetVariant="Other")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            with pytest.raises(_errors.InputValidationError, match="Variant Other not found"):
                await stream.await_output()


# --------------------------------------------------------------------- signatures


class TamperingSigner(EventSigner):
    """Signs as usual but flips a bit of the signature of message number ``bad``."""

    bad = 1

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.count = 0

    def sign(self, payload: bytes | bytearray | memoryview, time: datetime) -> SignedEvent:
        signed = super().sign(payload, time)
        self.count += 1
        if self.count - 1 != self.bad:
            return signed
        broken = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
        return dataclasses.replace(signed, signature=broken)


@pytest.mark.anyio
async def test_a_tampered_chunk_signature_is_rejected(
    echo: LocalEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bidi, "EventSigner", TamperingSigner)
    stream = await call(echo, EndpointName="ep")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"signed well"))
            assert (await stream.receive() or {})["PayloadPart"]["Bytes"] == b"signed well"
            await stream.input_stream.send(part(b"signed badly"))
            with pytest.raises(_errors.InvalidSignatureException) as info:
                await stream.receive()  # the emulator refused message 1, echoed nothing
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert "message 1" in error["Message"]


def test_sync_tampered_first_message(echo: LocalEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TamperingSigner, "bad", 0)
    monkeypatch.setattr(_bidi, "EventSigner", TamperingSigner)
    with sync_call(echo, EndpointName="ep") as stream:
        stream.input_stream.send(part(b"forged"))
        with pytest.raises(_errors.InvalidSignatureException):
            stream.receive()


@pytest.mark.anyio
async def test_a_wrong_secret_is_refused_before_the_stream(echo: LocalEndpoint) -> None:
    client = AsyncSageMakerRuntime(**{**options(echo.url), "aws_secret_access_key": "wrong"})
    with anyio.fail_after(TIMEOUT):
        stream = await client.invoke_endpoint_with_bidirectional_stream(EndpointName="ep")
        async with stream:
            with pytest.raises(_errors.InvalidSignatureException):
                await stream.await_output()


# --------------------------------------------------------------------- flow control


@pytest.mark.anyio
async def test_large_payloads_cross_flow_control_windows(echo: LocalEndpoint) -> None:
    blobs = [os.urandom(3 * MiB + i) for i in range(3)]  # 9 MiB each way
    received: list[bytes] = []
    stream = await call(echo, EndpointName="ep")
    with anyio.fail_after(TIMEOUT * 2):
        async with stream:

            async def sender() -> None:
                for blob in blobs:
                    await stream.input_stream.send(part(blob, kind="BINARY"))
                await stream.input_stream.close()

            async with anyio.create_task_group() as group:
                group.start_soon(sender)
                async for event in stream:
                    received.append(event["PayloadPart"]["Bytes"])
    assert received == blobs


def test_sync_large_payloads_cross_flow_control_windows(echo: LocalEndpoint) -> None:
    blobs = [os.urandom(4 * MiB), b"between", os.urandom(2 * MiB)]
    with sync_call(echo, EndpointName="ep", Body=[part(b, kind="BINARY") for b in blobs]) as s:
        received = [event["PayloadPart"]["Bytes"] for event in s]
    assert received == blobs


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


# --------------------------------------------------------------------- raw HTTP/2


def test_sync_tampered_first_message_before_the_answer_is_a_403(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This model waits for the first part before it answers, so the emulator has sent
    # no headers yet when the bad signature arrives: the answer is a rest-json 403.
    monkeypatch.setattr(TamperingSigner, "bad", 0)
    monkeypatch.setattr(_bidi, "EventSigner", TamperingSigner)
    with (
        serve(model=RefusingModel(after_first=True), credentials=ACCEPTED) as endpoint,
        sync_call(endpoint, EndpointName="picky") as stream,
    ):
        stream.input_stream.send(part(b"forged"))
        with pytest.raises(_errors.InvalidSignatureException) as info:
            stream.output()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def raw_call(
    endpoint: LocalEndpoint,
    inputs: list[tuple[bytes, datetime]],
    *,
    signed: bool = True,
    milliseconds: bool = False,
) -> tuple[int, list[EventStreamMessage], bytes]:
    """Send the request and ``inputs`` (outer payloads, each signed at its time) on raw h2
    frames, then END_STREAM; return the status, the decoded events (200) or the body.
    ``milliseconds``: the ``:date`` headers carry milliseconds, as AWS's own signers send."""
    now = datetime.now(timezone.utc)
    request = build_bidi_request(
        endpoint.url, _bidi_call({"EndpointName": "ep"}), credentials=CREDS, region=REGION, time=now
    )
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    headers = request.h2_headers
    if not signed:
        headers = [(k, v) for k, v in headers if k != "authorization"]
    conn.send_headers(1, headers)
    params = request.params
    signer = EventSigner(
        request.signature,
        params.credentials,
        params.region,
        params.service,
        milliseconds=milliseconds,
    )
    for payload, time in inputs:
        signed_event = signer.sign(payload, time)
        conn.send_data(1, encode_message(signed_event.headers, payload))
    conn.end_stream(1)
    status, body = 0, bytearray()
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=TIMEOUT) as sock:
        sock.sendall(conn.data_to_send())
        done = False
        while not done:  # bounded by the socket timeout and the server's END_STREAM
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    fields = {str(k): str(v) for k, v in event.headers}  # str: utf-8 decoding
                    status = int(fields[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            sock.sendall(conn.data_to_send())
    if status != 200:
        return status, [], bytes(body)
    decoder = EventStreamDecoder()
    messages = decoder.feed(bytes(body))
    decoder.end()
    return status, messages, b""


def inner(data: bytes, event_type: str = "PayloadPart") -> bytes:
    return encode_message([(":message-type", "event"), (":event-type", event_type)], data)


def test_raw_end_of_stream_without_the_final_signed_message(echo: LocalEndpoint) -> None:
    now = datetime.now(timezone.utc)
    status, messages, _ = raw_call(echo, [(inner(b"only"), now)])  # no empty message
    assert status == 200
    echoed, error = messages
    assert echoed.payload == b"only"
    assert error.message_type == "error"
    assert error.error_code == "IncompleteSignatureException"
    assert "final signed empty message" in (error.error_message or "")


def test_event_dates_with_milliseconds_verify_as_sent(echo: LocalEndpoint) -> None:
    # smithy-python and aws-c-auth sign the :date header with its milliseconds.
    now = datetime.now(timezone.utc).replace(microsecond=123_000)
    inputs = [(inner(b"one"), now), (inner(b"two"), now + timedelta(milliseconds=7)), (b"", now)]
    status, messages, _ = raw_call(echo, inputs, milliseconds=True)
    assert status == 200
    assert [(m.message_type, m.payload) for m in messages] == [("event", b"one"), ("event", b"two")]


def test_raw_stale_event_date_and_unknown_event_are_refused(echo: LocalEndpoint) -> None:
    now = datetime.now(timezone.utc)
    stale = now - timedelta(minutes=10)
    _, messages, _ = raw_call(echo, [(inner(b"late"), stale), (b"", now)])
    assert [(m.message_type, m.error_code) for m in messages] == [
        ("error", "InvalidSignatureException")
    ]
    assert "Signature expired" in (messages[0].error_message or "")
    _, messages, _ = raw_call(echo, [(inner(b"?", "Mystery"), now), (b"", now)])
    assert [m.error_code for m in messages] == ["InputValidationError"]


def test_raw_unsigned_request_and_http1_are_refused(echo: LocalEndpoint) -> None:
    status, _, body = raw_call(echo, [], signed=False)
    assert status == 403
    assert b"Missing Authentication Token" in body
    response = httpx.post(f"{echo.url}/endpoints/ep/invocations-bidirectional-stream")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InputValidationError"
    assert "needs HTTP/2" in response.json()["message"]


@pytest.mark.anyio
async def test_early_rejection_reaches_a_flooding_sender_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # DATA that arrives after the complete 424 makes hypercorn drop the connection; the
    # caller already has its answer, and the emulator does not log it as an error.
    with serve(model=RefusingModel(), credentials=ACCEPTED) as endpoint:
        stream = await call(endpoint, EndpointName="picky")
        error: Exception | None = None
        with anyio.fail_after(TIMEOUT):
            async with stream:
                for _ in range(200):  # bounded: the 424 arrives within a few sends
                    try:
                        await stream.input_stream.send(part(b"x" * 20000))
                    except _errors.ModelError as exc:
                        error = exc
                        break
        assert isinstance(error, _errors.ModelError)
        stream = await call(endpoint, EndpointName="picky")  # the endpoint still serves
        with anyio.fail_after(TIMEOUT):
            async with stream:
                with pytest.raises(_errors.ModelError):
                    await stream.await_output()
    assert [r for r in caplog.records if r.levelno >= 40] == []


def _bidi_call(params: dict[str, str]) -> SerializedRequest:
    """The operation's parameters laid out as the client sends them."""
    return serialize_request(INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM, params)
