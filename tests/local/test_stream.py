"""InvokeEndpointWithResponseStream against the local endpoint: payload parts, model failures
mid-stream, a caller hanging up, HTTP/2 with prior knowledge."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import runtime_client.local as local
from runtime_client.local import (
    LocalEndpoint,
    ModelRequest,
    ModelResponse,
    ModelStream,
    serve,
)
from tests.local.emulator import (
    ACCEPTED,
    INVOKE,
    STREAM,
    auth,
    decode,
    error_of,
)

# ----------------------------------------------------------------------------- the stream op


def test_stream_op_sends_payload_parts_with_the_stream_headers(streamer: LocalEndpoint) -> None:
    with httpx.Client(base_url=streamer.url, auth=auth()) as c:
        response = c.post(
            STREAM,
            content=json.dumps({"inputs": "Hello  world, again", "parameters": {}}).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Amzn-SageMaker-Accept": "text/event-stream",
                "X-Amzn-SageMaker-Custom-Attributes": "k=v",
            },
        )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.amazon.eventstream"
    assert response.headers["X-Amzn-SageMaker-Content-Type"] == "text/event-stream"
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "k=v"
    messages = decode(response.content)
    assert all(m.message_type == "event" and m.event_type == "PayloadPart" for m in messages)
    texts = [json.loads(m.payload.removeprefix(b"data: "))["token"]["text"] for m in messages]
    assert texts == ["Hello  ", "world, ", "again"]


def test_stream_op_on_echo_joins_back_to_the_body(echo: LocalEndpoint) -> None:
    body = bytes(range(256)) * 3
    with httpx.Client(base_url=echo.url, auth=auth()) as c:
        response = c.post(STREAM, content=body, headers={"Content-Type": "application/x-bytes"})
    messages = decode(response.content)
    assert len(messages) == len(body) // 16
    assert b"".join(m.payload for m in messages) == body
    assert response.headers["X-Amzn-SageMaker-Content-Type"] == "application/x-bytes"


def test_a_big_part_goes_as_several_events(tmp_path: Path) -> None:
    body = bytes(range(256)) * (10 * 1024)  # 2.5 MiB, yielded by the model as one part
    model = local.EchoModel(part_size=len(body))
    with (
        serve(model=model, credentials=ACCEPTED, data_dir=tmp_path) as endpoint,
        httpx.Client(base_url=endpoint.url, auth=auth(), timeout=20) as c,
    ):
        messages = decode(c.post(STREAM, content=body).content)
    assert [len(m.payload) for m in messages] == [1048576, 1048576, 524288]
    assert b"".join(m.payload for m in messages) == body


def test_model_failure_mid_stream_is_an_exception_event(failing: LocalEndpoint) -> None:
    with httpx.Client(base_url=failing.url, auth=auth()) as c:
        timed_out = decode(c.post(STREAM, content=b"timeout").content)
        internal = decode(c.post(STREAM, content=b"other").content)
    assert [m.payload for m in timed_out[:2]] == [b"first ", b"second "]
    error = timed_out[2]
    assert (error.message_type, error.exception_type) == ("exception", "ModelStreamError")
    assert json.loads(error.payload) == {
        "Message": "too slow",
        "ErrorCode": "ModelInvocationTimeExceeded",
    }
    assert len(timed_out) == 3
    assert internal[2].exception_type == "InternalStreamFailure"
    assert "Message" in json.loads(internal[2].payload)


def test_in_process_model_failures_are_model_errors(failing: LocalEndpoint) -> None:
    with httpx.Client(base_url=failing.url, auth=auth()) as c:
        status, code, body = error_of(c.post(INVOKE, content=b"x"))
        crashed = error_of(c.post(INVOKE, content=b"crash"))
    assert (status, code) == (424, "ModelError")
    assert body["ErrorCode"] == "CLIENT_ERROR_FROM_MODEL"
    assert (body["OriginalStatusCode"], body["OriginalMessage"]) == (422, "cannot answer that")
    assert crashed[2]["OriginalStatusCode"] == 500
    assert crashed[2]["ErrorCode"] == "INTERNAL_FAILURE_FROM_MODEL"
    assert "model crashed" in crashed[2]["OriginalMessage"]


class Endless:
    """A model whose stream runs for a long time and records when it is closed."""

    name = "endless"

    def __init__(self) -> None:
        self.closed = threading.Event()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def invoke(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(b"")

    async def stream(self, request: ModelRequest) -> ModelStream:
        async def parts() -> AsyncIterator[bytes]:
            try:
                for _ in range(10_000):  # 100 s at most, unless the caller hangs up
                    yield b"tick "
                    await asyncio.sleep(0.01)
            finally:
                self.closed.set()

        return ModelStream(parts())


def test_a_caller_hanging_up_mid_stream_stops_the_model(tmp_path: Path) -> None:
    model = Endless()
    with serve(model=model, credentials=ACCEPTED, data_dir=tmp_path) as endpoint:
        with (
            httpx.Client(base_url=endpoint.url, auth=auth()) as c,
            c.stream("POST", STREAM, content=b"go") as response,
        ):
            assert response.status_code == 200
            first = next(response.iter_raw())
            assert first
        assert model.closed.wait(5), "the model's stream was not closed"


def test_http2_prior_knowledge_is_served(echo: LocalEndpoint) -> None:
    pytest.importorskip("h2", reason="HTTP/2 needs the h2 package (the http2 extra)")
    with httpx.Client(base_url=echo.url, auth=auth(), http1=False, http2=True) as c:
        response = c.post(INVOKE, content=b"over h2", headers={"Content-Type": "text/plain"})
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    assert response.content == b"over h2"
    assert response.headers["x-amzn-invoked-production-variant"] == "AllTraffic"
