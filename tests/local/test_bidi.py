"""InvokeEndpointWithBidirectionalStream against the local emulator, through our client.

``runtime_client.local.serve(...)`` answers on one port in HTTP/1.1 and cleartext HTTP/2
(prior knowledge); the client, given ``endpoint_url=endpoint.url``, opens its h2c
connection there. The emulator checks the request signature and every event signature
of the chain, so each test that gets an answer also shows the chain was right. Async
tests run under asyncio and trio; the blocking form has its own tests.
"""

from __future__ import annotations

import json
import os

import anyio
import pytest

from runtime_client import _errors
from runtime_client._client import AsyncSageMakerRuntime
from runtime_client._config import Config
from runtime_client.bidi import _connection as _bidi
from runtime_client.local import LocalEndpoint, serve
from tests.local.bidi_helpers import (
    TIMEOUT,
    MiB,
    RefusingModel,
    TamperingSigner,
    call,
    options,
    part,
    sync_call,
)
from tests.local.emulator import ACCEPTED

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


@pytest.mark.anyio
async def test_the_endpoint_checks_the_model_rules_the_client_was_told_to_skip(
    echo: LocalEndpoint,
) -> None:
    # The client's checks are off; the endpoint applies the same model rules itself.
    settings = {**options(echo.url), "config": Config(parameter_validation=False)}
    client = AsyncSageMakerRuntime(**settings)
    stream = await client.invoke_endpoint_with_bidirectional_stream(
        EndpointName="ep", ModelInvocationPath="p" * 101
    )
    with anyio.fail_after(TIMEOUT):
        async with stream:
            with pytest.raises(_errors.InputValidationError) as info:
                await stream.await_output()
    message = info.value.response["Error"]["Message"]
    assert message.startswith("1 validation error detected: ")
    assert "'modelInvocationPath'" in message
    assert "length less than or equal to 100" in message


# --------------------------------------------------------------------- signatures


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
