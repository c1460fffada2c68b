"""InvokeEndpointWithResponseStream with both clients, end to end.

Every scenario runs three ways (the blocking client, the async client under asyncio and
under trio) against the SigV4-checking loopback server, whose ``StreamReply`` writes parts
as HTTP chunks with pauses, gates, corrupt bytes and cuts. The pure decoder is tested in
``test_response_stream_decoder.py``, boto3 parity in ``test_response_stream_parity.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from runtime_client._client import AsyncSageMakerRuntime
from runtime_client._config import Config
from runtime_client._errors import (
    ClientError,
    InternalStreamFailure,
    ModelStreamError,
    ParamValidationError,
    ReadTimeoutError,
    ResponseStreamingError,
    ServiceUnavailable,
    ValidationError,
)
from runtime_client.eventstream import ChecksumMismatchError
from tests.support import drivers as _drivers
from tests.support.drivers import ClientDriver, make_fixture, reset_environment
from tests.support.sigv4_server import (
    KEYS,
    Cut,
    Reply,
    SigV4Server,
    StreamReply,
    payload_part,
    stream_exception,
)
from tests.support.stream_samples import PARTS, SSE, TOKENS, tokens_from_lines

OP = "InvokeEndpointWithResponseStream"

server = _drivers.server
mode = _drivers.mode
anyio_backend = _drivers.anyio_backend
client = _drivers.client


@pytest.fixture(autouse=True)
def _clean(server: SigV4Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reset_environment(server, monkeypatch, tmp_path)


class Harness(ClientDriver):
    """The driver with what these scenarios call."""

    async def stream(self, **params: Any) -> Any:
        params.setdefault("EndpointName", "e")
        params.setdefault("Body", b"{}")
        result = self.client.invoke_endpoint_with_response_stream(**params)
        return await result if self.kind == "async" else result

    async def next(self, body: Any) -> Any:
        return next(body) if self.kind == "sync" else await body.__anext__()

    async def collect(
        self, body: Any, how: str = "parts"
    ) -> tuple[list[Any], BaseException | None]:
        """What iterating ``body`` gives (each part's bytes, lines or text), and the error
        that ended it (None at a clean end)."""
        items: list[Any] = []
        try:
            if self.kind == "sync":
                for item in body if how == "parts" else getattr(body, f"iter_{how}")():
                    items.append(item)
            else:
                async for item in body if how == "parts" else getattr(body, f"aiter_{how}")():
                    items.append(item)
        except Exception as exc:
            return self._parts(items, how), exc
        return self._parts(items, how), None

    @staticmethod
    def _parts(items: list[Any], how: str) -> list[Any]:
        return [item["PayloadPart"]["Bytes"] for item in items] if how == "parts" else items

    async def close_body(self, body: Any) -> None:
        if self.kind == "sync":
            body.close()
        else:
            await body.aclose()


make = make_fixture(Harness)


def parts_reply(*parts: bytes, pause: float = 0.0, tail: tuple[Any, ...] = ()) -> StreamReply:
    steps: list[Any] = []
    for part in parts:
        steps += [payload_part(part), pause] if pause else [payload_part(part)]
    return StreamReply((*steps, *tail))


ALL_PARAMETERS = {
    "EndpointName": "my-ep",
    "Body": b'{"inputs": "hi", "stream": true}',
    "ContentType": "application/json",
    "Accept": "application/jsonlines",
    "CustomAttributes": "trace=1",
    "TargetVariant": "variant-1",
    "TargetContainerHostname": "container-1",
    "InferenceId": "inference 1",
    "InferenceComponentName": "component-1",
    "SessionId": "sess-1",
    "PrefixAwareId": "prefix-1",
}
WIRE_NAMES = {
    "ContentType": "Content-Type",
    "Accept": "X-Amzn-SageMaker-Accept",
    "CustomAttributes": "X-Amzn-SageMaker-Custom-Attributes",
    "TargetVariant": "X-Amzn-SageMaker-Target-Variant",
    "TargetContainerHostname": "X-Amzn-SageMaker-Target-Container-Hostname",
    "InferenceId": "X-Amzn-SageMaker-Inference-Id",
    "InferenceComponentName": "X-Amzn-SageMaker-Inference-Component",
    "SessionId": "X-Amzn-SageMaker-Session-Id",
    "PrefixAwareId": "X-Amzn-SageMaker-Prefix-Aware-Id",
}


@pytest.mark.anyio
async def test_every_parameter_and_response_field(client: Harness, server: SigV4Server) -> None:
    resp = await client.stream(**ALL_PARAMETERS)
    assert resp["ContentType"] == "application/jsonlines"  # from X-Amzn-SageMaker-Content-Type
    assert resp["InvokedProductionVariant"] == "variant-1"
    assert resp["CustomAttributes"] == "trace=1"
    meta = resp["ResponseMetadata"]
    assert (meta["RequestId"], meta["HTTPStatusCode"], meta["RetryAttempts"]) == (
        "req-stream",
        200,
        0,
    )
    parts, error = await client.collect(resp["Body"])
    assert error is None
    body = ALL_PARAMETERS["Body"]
    assert parts == [body[: len(body) // 2], body[len(body) // 2 :]]
    assert resp["Body"]._response.is_closed
    [seen] = server.requests
    assert seen.signature_ok, seen.problem
    assert seen.path == "/endpoints/my-ep/invocations-response-stream"
    assert seen.body == body
    for name, wire_name in WIRE_NAMES.items():
        assert seen.header(wire_name) == ALL_PARAMETERS[name], name
    assert seen.header("Accept") != "application/jsonlines"


@pytest.mark.anyio
async def test_model_only_parameters_are_refused_before_any_traffic(
    client: Harness, server: SigV4Server
) -> None:
    for extra in ({"TargetModel": "m.tar.gz"}, {"EnableExplanations": "`true`"}):
        with pytest.raises(ParamValidationError, match="unknown parameter"):
            await client.stream(**extra)
    with pytest.raises(ParamValidationError, match="SessionId: does not match"):
        await client.stream(SessionId="NEW_SESSION")
    assert server.requests == []


@pytest.mark.anyio
async def test_parts_arrive_one_by_one_before_the_stream_ends(
    client: Harness, server: SigV4Server
) -> None:
    gate = threading.Event()
    reply = StreamReply((payload_part(b"first"), gate, payload_part(b"second")))
    server.play(reply)
    try:
        resp = await client.stream()
        assert await client.next(resp["Body"]) == {"PayloadPart": {"Bytes": b"first"}}
        # The server is still holding the last part back: we read the first one early.
        assert not reply.finished.is_set()
    finally:
        gate.set()
    parts, error = await client.collect(resp["Body"])
    assert (parts, error) == ([b"second"], None)
    assert reply.finished.is_set()


@pytest.mark.anyio
async def test_token_streaming_with_delays_lines_and_text(
    client: Harness, server: SigV4Server
) -> None:
    server.play(parts_reply(*PARTS, pause=0.02))
    resp = await client.stream()
    lines, error = await client.collect(resp["Body"], "lines")
    assert error is None
    assert lines == SSE.splitlines()
    assert tokens_from_lines(lines) == TOKENS
    assert resp["Body"]._response.is_closed
    server.play(parts_reply(*PARTS, pause=0.02))
    resp = await client.stream()
    text, error = await client.collect(resp["Body"], "text")
    assert "".join(text) == SSE.decode()
    assert len(text) > 1  # as the parts came, not all at the end
    server.play(parts_reply(*PARTS))
    parts, error = await client.collect((await client.stream())["Body"])
    assert (parts, error) == (PARTS, None)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("event", "cls", "response"),
    [
        (
            stream_exception("ModelStreamError", "Model timed out", "ModelInvocationTimeExceeded"),
            ModelStreamError,
            {"Message": "Model timed out", "ErrorCode": "ModelInvocationTimeExceeded"},
        ),
        (
            stream_exception("InternalStreamFailure", "Stream failed"),
            InternalStreamFailure,
            {"Message": "Stream failed"},
        ),
    ],
    ids=["ModelStreamError", "InternalStreamFailure"],
)
async def test_error_mid_stream_after_the_parts_and_never_retried(
    client: Harness,
    server: SigV4Server,
    event: bytes,
    cls: type[ClientError],
    response: dict[str, str],
) -> None:
    server.play(parts_reply(b"a", b"b", pause=0.02, tail=(event, 0.02, payload_part(b"late"))))
    resp = await client.stream()
    parts, error = await client.collect(resp["Body"])
    assert parts == [b"a", b"b"]
    assert type(error) is cls
    assert isinstance(error, ClientError)
    assert error.response["Error"] == {"Code": cls.__name__, "Message": response["Message"]}
    for key, value in response.items():
        assert error.response[key] == value
    assert error.response["ResponseMetadata"]["RequestId"] == "req-stream"
    assert error.operation_name == OP
    assert isinstance(error, getattr(client.client.exceptions, cls.__name__))
    assert resp["Body"]._response.is_closed
    assert len(server.requests) == 1
    _, again = await client.collect(resp["Body"])
    assert again is error  # asking again gives the error again, not a silent end


@pytest.mark.anyio
async def test_error_mid_stream_in_lines(client: Harness, server: SigV4Server) -> None:
    failure = stream_exception("ModelStreamError", "broken", "StreamBroken")
    server.play(parts_reply(b"data: 1\n\ndata: 2\n", b"\ndata: 3", tail=(failure,)))
    resp = await client.stream()
    lines, error = await client.collect(resp["Body"], "lines")
    assert lines == [b"data: 1", b"", b"data: 2", b""]  # "data: 3" never ended
    assert isinstance(error, ModelStreamError)
    assert error.response["ErrorCode"] == "StreamBroken"
    assert resp["Body"]._response.is_closed


@pytest.mark.anyio
async def test_corrupt_crc_mid_stream(client: Harness, server: SigV4Server) -> None:
    bad = bytearray(payload_part(b"bad"))
    bad[-2] ^= 0x01
    server.play(StreamReply((payload_part(b"good"), 0.02, bytes(bad), payload_part(b"more"))))
    resp = await client.stream()
    parts, error = await client.collect(resp["Body"])
    assert parts == [b"good"]
    assert isinstance(error, ResponseStreamingError)
    assert "checksum mismatch" in str(error)
    assert server.url in str(error)
    assert isinstance(error.error, ChecksumMismatchError)
    assert resp["Body"]._response.is_closed
    assert len(server.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["inside-a-message", "between-messages"])
async def test_cut_connection(client: Harness, server: SigV4Server, where: str) -> None:
    second = payload_part(b"second")
    tail = (second[:7], Cut()) if where == "inside-a-message" else (second, Cut())
    server.play(StreamReply((payload_part(b"first"), 0.02, *tail)))
    resp = await client.stream()
    parts, error = await client.collect(resp["Body"])
    assert parts == ([b"first"] if where == "inside-a-message" else [b"first", b"second"])
    assert isinstance(error, ResponseStreamingError)
    assert "response stream" in str(error)
    assert len(server.requests) == 1  # never retried once the stream began


@pytest.mark.anyio
async def test_read_timeout_between_parts(make: Any, server: SigV4Server) -> None:
    client = make(config=Config(read_timeout=0.3, retry_read_timeouts=True))
    server.play(StreamReply((payload_part(b"first"), 1.0, payload_part(b"late"))))
    resp = await client.stream()
    parts, error = await client.collect(resp["Body"])
    assert parts == [b"first"]
    assert isinstance(error, ReadTimeoutError)
    assert len(server.requests) == 1  # even with read-timeout retries on: the stream began


@pytest.mark.anyio
async def test_retried_before_the_stream_begins(client: Harness, server: SigV4Server) -> None:
    server.play(Reply.error(503, "ServiceUnavailable", "busy"), parts_reply(b"ok"))
    resp = await client.stream()
    assert resp["ResponseMetadata"]["RetryAttempts"] == 1
    assert await client.collect(resp["Body"]) == ([b"ok"], None)
    assert len(server.requests) == 2
    assert all(r.signature_ok for r in server.requests)
    server.play(*[Reply.error(503, "ServiceUnavailable", "busy")] * 3)
    with pytest.raises(ServiceUnavailable):
        await client.stream()
    server.play(Reply.error(400, "ValidationError", "Endpoint e not found."))
    with pytest.raises(ValidationError) as info:
        await client.stream()
    assert info.value.operation_name == OP


@pytest.mark.anyio
async def test_early_close_hangs_up_and_the_client_goes_on(
    client: Harness, server: SigV4Server
) -> None:
    gate = threading.Event()
    reply = StreamReply((payload_part(b"first"), gate, payload_part(b"never read")))
    server.play(reply)
    try:
        resp = await client.stream()
        body = resp["Body"]
        assert await client.next(body) == {"PayloadPart": {"Bytes": b"first"}}
        await client.close_body(body)
        assert body._response.is_closed
        assert await client.collect(body) == ([], None)  # closed by the user: the end
    finally:
        gate.set()
    assert reply.finished.wait(5)
    resp = await client.stream(Body=b"after")
    assert await client.collect(resp["Body"]) == ([b"af", b"ter"], None)


@pytest.mark.anyio
async def test_leaving_a_lines_loop_early_closes_the_stream(
    client: Harness, server: SigV4Server
) -> None:
    gate = threading.Event()
    server.play(StreamReply((payload_part(b"one\ntwo\n"), gate, payload_part(b"three\n"))))
    try:
        resp = await client.stream()
        body = resp["Body"]
        if client.kind == "sync":
            with body:
                for line in body.iter_lines():
                    assert line == b"one"
                    break
        else:
            async with body:
                lines = body.aiter_lines()
                async for line in lines:
                    assert line == b"one"
                    break
                await lines.aclose()
        assert body._response.is_closed
    finally:
        gate.set()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_async_invoke_endpoint_body_read_is_awaitable(server: SigV4Server) -> None:
    async with AsyncSageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=KEYS["AKIDEXAMPLE"][0],
    ) as client:
        resp = await client.invoke_endpoint(EndpointName="e", Body=b"aiobotocore")
        assert await resp["Body"].read() == b"aiobotocore"  # aiobotocore's spelling
