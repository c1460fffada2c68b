"""Both clients end to end against a SigV4-checking server on 127.0.0.1.

Every scenario is one ``async def`` run three ways: the blocking client (called directly),
and the async client under asyncio and under trio. The server checks each signature with
botocore as the oracle and records what reached the wire.
"""

from __future__ import annotations

import io
import re
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime_client._client import AsyncSageMakerRuntime, SageMakerRuntime
from runtime_client._config import Config, NoRegionError
from runtime_client._errors import (
    AccessDeniedException,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    InternalDependencyException,
    InternalFailure,
    InvalidSignatureException,
    ModelError,
    ModelNotReadyException,
    ParamValidationError,
    ReadTimeoutError,
    ServiceUnavailable,
    ThrottlingException,
    UnrecognizedClientException,
    ValidationError,
)
from sigv4._record import replace
from tests.support import drivers as _drivers
from tests.support.drivers import ClientDriver, make_fixture, reset_environment
from tests.support.sigv4_server import KEYS, Drop, Reply, SigV4Server

CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

server = _drivers.server
mode = _drivers.mode
anyio_backend = _drivers.anyio_backend
client = _drivers.client


@pytest.fixture(autouse=True)
def _clean(server: SigV4Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reset_environment(server, monkeypatch, tmp_path, CREDENTIAL_VARIABLES)


class Harness(ClientDriver):
    """The driver with what these scenarios call."""

    async def call(self, method: str, **params: Any) -> Any:
        result = getattr(self.client, method)(**params)
        return await result if self.kind == "async" else result

    async def read(self, body: Any, amt: int | None = None) -> bytes:
        data = body.read(amt) if self.kind == "sync" else await body.aread(amt)
        assert isinstance(data, bytes)
        return data

    async def lines(self, body: Any) -> list[bytes]:
        if self.kind == "sync":
            return list(body.iter_lines())
        return [line async for line in body.aiter_lines()]


make = make_fixture(Harness)


@pytest.mark.anyio
async def test_the_scenarios_send_as_the_environment_says(client: Harness) -> None:
    """These scenarios run on our transport, and again (in CI) through a lent httpx
    client: check which one this run uses, so that neither run is silently the other."""
    from runtime_client._httpx import AsyncHttpxSender, HttpxSender
    from runtime_client.http import AsyncTransport, SyncTransport

    sender = client.client._sender
    if _drivers.LEND_HTTPX:
        assert isinstance(sender, (HttpxSender, AsyncHttpxSender))
    else:
        assert isinstance(sender, (SyncTransport, AsyncTransport))


ALL_INVOKE = {
    "EndpointName": "my-ep",
    "Body": b'{"x": 1}',
    "ContentType": "application/json",
    "Accept": "text/csv",
    "CustomAttributes": "trace=1",
    "TargetModel": "model-a.tar.gz",
    "TargetVariant": "variant-1",
    "TargetContainerHostname": "container-1",
    "InferenceId": "inference 1",
    "EnableExplanations": "`true`",
    "InferenceComponentName": "component-1",
    "SessionId": "NEW_SESSION",
    "PrefixAwareId": "prefix-1",
}
WIRE_NAMES = {
    "ContentType": "Content-Type",
    "Accept": "Accept",
    "CustomAttributes": "X-Amzn-SageMaker-Custom-Attributes",
    "TargetModel": "X-Amzn-SageMaker-Target-Model",
    "TargetVariant": "X-Amzn-SageMaker-Target-Variant",
    "TargetContainerHostname": "X-Amzn-SageMaker-Target-Container-Hostname",
    "InferenceId": "X-Amzn-SageMaker-Inference-Id",
    "EnableExplanations": "X-Amzn-SageMaker-Enable-Explanations",
    "InferenceComponentName": "X-Amzn-SageMaker-Inference-Component",
    "SessionId": "X-Amzn-SageMaker-Session-Id",
    "PrefixAwareId": "X-Amzn-SageMaker-Prefix-Aware-Id",
}


@pytest.mark.anyio
async def test_every_invoke_endpoint_parameter_and_response_field(
    client: Harness, server: SigV4Server
) -> None:
    resp = await client.call("invoke_endpoint", **ALL_INVOKE)
    assert await client.read(resp["Body"]) == b'{"x": 1}'
    assert resp["ContentType"] == "text/csv"
    assert resp["InvokedProductionVariant"] == "variant-1"
    assert resp["CustomAttributes"] == "trace=1"
    assert resp["NewSessionId"] == "sess-1; Expires=2030-01-01T00:00:00Z"
    meta = resp["ResponseMetadata"]
    assert meta["RequestId"] == "req-1"
    assert meta["HTTPStatusCode"] == 200
    assert meta["RetryAttempts"] == 0
    assert meta["HTTPHeaders"]["content-length"] == "8"
    [seen] = server.requests
    assert seen.signature_ok, seen.problem
    assert seen.path == "/endpoints/my-ep/invocations"
    assert seen.body == b'{"x": 1}'
    for name, wire in WIRE_NAMES.items():
        assert seen.header(wire) == ALL_INVOKE[name], name
    assert (seen.header("User-Agent") or "").startswith("sagemaker-runtime-lite/")
    assert seen.header("amz-sdk-request") == "attempt=1; max=3"


@pytest.mark.anyio
async def test_closed_session_id_and_minimal_call(client: Harness) -> None:
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"", SessionId="close-me")
    assert resp["ClosedSessionId"] == "close-me"
    assert "NewSessionId" not in resp
    assert await client.read(resp["Body"]) == b""


@pytest.mark.anyio
async def test_every_async_invocation_parameter(client: Harness, server: SigV4Server) -> None:
    resp = await client.call(
        "invoke_endpoint_async",
        EndpointName="my-ep",
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="c=1",
        InferenceId="async-1",
        InputLocation="s3://bucket/in.json",
        S3OutputPathExtension="out/path",
        Filename="result.json",
        RequestTTLSeconds=600,
        InvocationTimeoutSeconds=900,
        Body=b"inline",
    )
    assert resp["InferenceId"] == "async-1"
    assert resp["OutputLocation"] == "s3://bucket/out/1.out"
    assert resp["FailureLocation"] == "s3://bucket/failure/1.out"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    [seen] = server.requests
    assert seen.signature_ok, seen.problem
    assert seen.path == "/endpoints/my-ep/async-invocations"
    assert seen.body == b"inline"
    assert seen.header("X-Amzn-SageMaker-Content-Type") == "application/json"
    assert seen.header("X-Amzn-SageMaker-Accept") == "application/json"
    assert seen.header("X-Amzn-SageMaker-InputLocation") == "s3://bucket/in.json"
    assert seen.header("X-Amzn-SageMaker-S3OutputPathExtension") == "out/path"
    assert seen.header("X-Amzn-SageMaker-Filename") == "result.json"
    assert seen.header("X-Amzn-SageMaker-RequestTTLSeconds") == "600"
    assert seen.header("X-Amzn-SageMaker-InvocationTimeoutSeconds") == "900"


@pytest.mark.anyio
async def test_session_token_is_sent_and_signed(make: Any, server: SigV4Server) -> None:
    secret, token = KEYS["ASIATEMPORARY"]
    client = make(
        aws_access_key_id="ASIATEMPORARY", aws_secret_access_key=secret, aws_session_token=token
    )
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    await client.read(resp["Body"])
    [seen] = server.requests
    assert seen.signature_ok, seen.problem
    assert "x-amz-security-token" in (seen.header("Authorization") or "")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "wire"),
    [
        (b"bytes", b"bytes"),
        (bytearray(b"array"), b"array"),
        ("h\u00e9llo \u2603", "h\u00e9llo \u2603".encode()),
    ],
    ids=["bytes", "bytearray", "str"],
)
async def test_body_kinds(client: Harness, server: SigV4Server, body: Any, wire: bytes) -> None:
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=body)
    assert await client.read(resp["Body"]) == wire
    assert server.requests[0].signature_ok


@pytest.mark.anyio
async def test_file_body_is_sent_from_its_position_and_rewound_on_retry(
    client: Harness, server: SigV4Server, tmp_path: Path
) -> None:
    path = tmp_path / "payload.bin"
    data = bytes(range(256)) * 1000  # 256 000 bytes: several chunks
    path.write_bytes(b"HEADER" + data)
    server.play(Reply.error(503, "ServiceUnavailable", "busy"))
    with path.open("rb") as f:
        f.seek(6)
        resp = await client.call("invoke_endpoint", EndpointName="e", Body=f)
        assert await client.read(resp["Body"]) == data
    assert resp["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(server.requests) == 2
    for seen in server.requests:
        assert seen.signature_ok, seen.problem
        assert seen.body == data
        assert seen.header("Content-Length") == str(len(data))


@pytest.mark.anyio
async def test_retries_are_resigned_with_sdk_headers(client: Harness, server: SigV4Server) -> None:
    ticks = iter(range(1000))
    start = datetime.now(timezone.utc)
    client.client._ctx = replace(  # a clock 10 s faster per reading: every attempt re-dated
        client.client._ctx, clock=lambda: start + timedelta(seconds=10 * next(ticks))
    )
    server.play(
        Reply.error(503, "ServiceUnavailable", "a"), Reply.error(500, "InternalFailure", "b")
    )
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"z")
    assert await client.read(resp["Body"]) == b"z"
    assert resp["ResponseMetadata"]["RetryAttempts"] == 2
    sdk = [r.header("amz-sdk-request") or "" for r in server.requests]
    assert sdk[0] == "attempt=1; max=3"  # ttl= (when the client stops waiting) on retries:
    assert re.fullmatch(r"ttl=\d{8}T\d{6}Z; attempt=2; max=3", sdk[1])
    assert re.fullmatch(r"ttl=\d{8}T\d{6}Z; attempt=3; max=3", sdk[2])
    assert len({r.header("amz-sdk-invocation-id") for r in server.requests}) == 1
    assert len({r.header("Authorization") for r in server.requests}) == 3
    assert len({r.header("X-Amz-Date") for r in server.requests}) == 3
    assert all(r.signature_ok for r in server.requests)


@pytest.mark.anyio
async def test_max_attempts_from_config(make: Any, server: SigV4Server) -> None:
    client = make(config=Config(retries={"total_max_attempts": 2}))
    server.play(*[Reply.error(500, "InternalFailure", "down")] * 2)
    with pytest.raises(InternalFailure, match=r"\(reached max retries: 1\): down"):
        await client.call("invoke_endpoint", EndpointName="e", Body=b"z")
    assert len(server.requests) == 2


ERRORS = [
    (Reply.error(400, "ValidationError", "Endpoint e not found."), ValidationError, 1, {}),
    (
        Reply.error(
            424,
            "ModelError",
            "Received client error (400) from primary",
            {
                "OriginalStatusCode": 400,
                "OriginalMessage": "bad json",
                "LogStreamArn": "arn:aws:logs:us-east-1:123:log-group:/aws/sagemaker/Endpoints/e",
            },
        ),
        ModelError,
        1,
        {"OriginalStatusCode": 400, "OriginalMessage": "bad json"},
    ),
    (Reply.error(429, "ModelNotReadyException", "not ready"), ModelNotReadyException, 3, {}),
    (Reply.error(500, "InternalFailure", "oops"), InternalFailure, 3, {}),
    (Reply.error(503, "ServiceUnavailable", "later"), ServiceUnavailable, 3, {}),
    (Reply.error(530, "InternalDependencyException", "dep"), InternalDependencyException, 1, {}),
    (
        Reply.error(400, "ThrottlingException", "Rate exceeded", header_code=False),
        ThrottlingException,
        3,
        {},
    ),
    (Reply.error(403, "AccessDeniedException", "no"), AccessDeniedException, 1, {}),
    (Reply(502, (), b"<html>bad gateway</html>"), ClientError, 3, {}),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "cls", "attempts", "fields"),
    ERRORS,
    ids=[e[1].__name__ + str(e[0].status) for e in ERRORS],
)
async def test_error_shapes(
    client: Harness,
    server: SigV4Server,
    reply: Reply,
    cls: type[ClientError],
    attempts: int,
    fields: dict[str, Any],
) -> None:
    server.play(*[reply] * attempts)
    with pytest.raises(cls) as info:
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    err = info.value
    assert type(err) is cls
    assert len(server.requests) == attempts
    response = err.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == reply.status
    assert response["ResponseMetadata"]["RetryAttempts"] == attempts - 1
    assert response["ResponseMetadata"].get("MaxAttemptsReached", False) is (attempts > 1)
    for key, value in fields.items():
        assert response[key] == value
    assert err.operation_name == "InvokeEndpoint"
    assert str(err).startswith(
        f"An error occurred ({response['Error']['Code']}) when calling the InvokeEndpoint operation"
    )
    if cls is not ClientError:
        assert response["Error"]["Code"] == cls.__name__
        assert response["ResponseMetadata"]["RequestId"] == "req-err"
        assert isinstance(err, getattr(client.client.exceptions, cls.__name__))
    else:
        assert response["Error"] == {"Code": "502", "Message": "Bad Gateway"}


@pytest.mark.anyio
async def test_wrong_secret_is_refused_by_the_server(make: Any, server: SigV4Server) -> None:
    client = make(aws_secret_access_key="not-the-secret")
    with pytest.raises(InvalidSignatureException):
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert len(server.requests) == 1
    assert not server.requests[0].signature_ok


@pytest.mark.anyio
async def test_unknown_access_key(make: Any) -> None:
    client = make(aws_access_key_id="AKIDUNKNOWN")
    with pytest.raises(UnrecognizedClientException) as info:
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.anyio
@pytest.mark.parametrize(
    "offset", [timedelta(hours=1), timedelta(hours=-1)], ids=["behind", "ahead"]
)
async def test_clock_skew_is_corrected_once_and_remembered(
    client: Harness, server: SigV4Server, offset: timedelta
) -> None:
    server.clock_offset = offset
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"1")
    assert await client.read(resp["Body"]) == b"1"
    assert resp["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(server.requests) == 2
    assert server.requests[1].signature_ok
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"2")
    assert await client.read(resp["Body"]) == b"2"
    assert len(server.requests) == 3  # the offset was kept: no second correction


@pytest.mark.anyio
async def test_read_timeout_is_not_retried_by_default(make: Any, server: SigV4Server) -> None:
    client = make(config=Config(read_timeout=0.3))
    server.play(Reply(200, (), b"late", delay=1.0))
    with pytest.raises(ReadTimeoutError, match="Read timeout on endpoint URL"):
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_read_timeout_retry_is_opt_in(make: Any, server: SigV4Server) -> None:
    client = make(config=Config(read_timeout=0.3, retry_read_timeouts=True))
    server.play(Reply(200, (), b"late", delay=1.0))
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert await client.read(resp["Body"]) == b"x"
    assert resp["ResponseMetadata"]["RetryAttempts"] == 1


@pytest.mark.anyio
async def test_a_connection_dropped_after_the_request_is_not_retried(
    client: Harness, server: SigV4Server
) -> None:
    # The server read the whole request: the model may be running it (the retry rule).
    server.play(Drop())
    with pytest.raises(ConnectionClosedError, match="Connection was closed"):
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_dropped_connections_are_retried_on_opt_in(make: Any, server: SigV4Server) -> None:
    client = make(config=Config(retry_after_send=True))
    server.play(Drop())
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert await client.read(resp["Body"]) == b"x"
    assert resp["ResponseMetadata"]["RetryAttempts"] == 1
    server.play(Drop(), Drop(), Drop())
    with pytest.raises(ConnectionClosedError, match="Connection was closed"):
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")


@pytest.mark.anyio
async def test_refused_connection(make: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make(endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(EndpointConnectionError, match=f"127.0.0.1:{port}"):
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")


@pytest.mark.anyio
async def test_validation_happens_before_any_traffic(client: Harness, server: SigV4Server) -> None:
    with pytest.raises(ParamValidationError, match="CustomAttributes: must not contain CR or LF"):
        await client.call(
            "invoke_endpoint", EndpointName="e", Body=b"x", CustomAttributes="a\r\nInjected: 1"
        )
    with pytest.raises(ParamValidationError, match="Body: a non-seekable stream"):
        await client.call("invoke_endpoint", EndpointName="e", Body=_NonSeekable())
    assert server.requests == []


class _NonSeekable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


@pytest.mark.anyio
async def test_streaming_body_reads_in_pieces_and_lines(
    client: Harness, server: SigV4Server
) -> None:
    server.play(Reply(200, (("Content-Type", "text/plain"),), b"one\ntwo\r\nthree"))
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert await client.lines(resp["Body"]) == [b"one", b"two", b"three"]
    resp = await client.call("invoke_endpoint", EndpointName="e", Body=b"0123456789")
    body = resp["Body"]
    assert await client.read(body, 3) == b"012"
    assert await client.read(body) == b"3456789"


@pytest.mark.anyio
async def test_lent_http_client_is_used_and_left_open(
    mode: tuple[str, str], server: SigV4Server
) -> None:
    seen: list[str] = []
    options: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": server.url,
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": KEYS["AKIDEXAMPLE"][0],
    }
    if mode[0] == "sync":

        def hook(request: httpx.Request) -> None:
            seen.append(request.url.path)

        with httpx.Client(event_hooks={"request": [hook]}) as http:
            with SageMakerRuntime(http_client=http, **options) as sm:
                sm.invoke_endpoint(EndpointName="e", Body=b"x")["Body"].read()
            assert not http.is_closed
    else:

        async def ahook(request: httpx.Request) -> None:
            seen.append(request.url.path)

        async with httpx.AsyncClient(event_hooks={"request": [ahook]}) as ahttp:
            async with AsyncSageMakerRuntime(http_client=ahttp, **options) as asm:
                resp = await asm.invoke_endpoint(EndpointName="e", Body=b"x")
                await resp["Body"].aread()
            assert not ahttp.is_closed
    assert seen == ["/endpoints/e/invocations"]


def test_no_region_is_a_clear_error() -> None:
    with pytest.raises(NoRegionError, match="You must specify a region"):
        SageMakerRuntime(aws_access_key_id="a", aws_secret_access_key="b")


def test_exceptions_namespace_and_meta(server: SigV4Server) -> None:
    with SageMakerRuntime(
        region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    ) as sm:
        assert sm.exceptions.ModelError is ModelError
        assert issubclass(sm.exceptions.ValidationError, sm.exceptions.ClientError)
        assert sm.meta.region_name == "eu-west-1"
        assert sm.meta.endpoint_url == "https://runtime.sagemaker.eu-west-1.amazonaws.com"
        assert "b" not in repr(sm).replace("sagemaker", "")


@pytest.mark.anyio
async def test_aws_max_attempts_and_retry_mode_from_the_environment(
    make: Any, server: SigV4Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    client = make()
    server.play(*[Reply.error(503, "ServiceUnavailable", "x")] * 2)
    with pytest.raises(ServiceUnavailable):
        await client.call("invoke_endpoint", EndpointName="e", Body=b"x")
    assert server.requests[0].header("amz-sdk-request") == "attempt=1; max=2"
    assert len(server.requests) == 2


def test_default_timeouts_and_user_agent() -> None:
    from runtime_client._version import __version__

    with SageMakerRuntime(
        region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    ) as sm:
        timeouts = sm._ctx.timeouts
        assert timeouts is not None
        assert (timeouts.connect, timeouts.read, timeouts.write) == (60.0, 70.0, 70.0)
        assert sm._ctx.user_agent.startswith(f"sagemaker-runtime-lite/{__version__} ")
    with SageMakerRuntime(
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(connect_timeout=5, read_timeout=7, user_agent_extra="my-app/2"),
    ) as sm:
        assert sm._ctx.timeouts is not None
        assert (sm._ctx.timeouts.connect, sm._ctx.timeouts.read) == (5.0, 7.0)
        assert sm._ctx.user_agent.endswith(" my-app/2")


@pytest.mark.anyio
async def test_concurrent_calls_share_one_client(
    mode: tuple[str, str], client: Harness, server: SigV4Server
) -> None:
    bodies = [f"call-{i}".encode() for i in range(8)]
    results: dict[bytes, bytes] = {}
    if mode[0] == "sync":
        from concurrent.futures import ThreadPoolExecutor

        def one(body: bytes) -> bytes:
            data: bytes = client.client.invoke_endpoint(EndpointName="e", Body=body)["Body"].read()
            return data

        with ThreadPoolExecutor(4) as pool:
            results = dict(zip(bodies, pool.map(one, bodies), strict=True))
    else:
        import anyio

        async def aone(body: bytes) -> None:
            resp = await client.client.invoke_endpoint(EndpointName="e", Body=body)
            results[body] = await resp["Body"].aread()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for body in bodies:
                    tg.start_soon(aone, body)
    assert results == {body: body for body in bodies}
    assert len(server.requests) == 8
    assert all(r.signature_ok for r in server.requests)
