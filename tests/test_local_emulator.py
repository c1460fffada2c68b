"""The local endpoint emulator, end to end: real loopback servers, raw httpx + SigV4Auth.

Each test talks to ``runtime_client.local.serve(...)`` on 127.0.0.1 and checks what a
client would see on the wire. botocore (a dev dependency) serves as an independent
client to show the emulator speaks the real protocol.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from _container_server import ContainerServer

import runtime_client.local as local
from runtime_client.eventstream import EventStreamDecoder, EventStreamMessage
from runtime_client.local import (
    ContainerModel,
    LocalEndpoint,
    ModelFailure,
    ModelRequest,
    ModelResponse,
    ModelStream,
    serve,
)
from sigv4 import Credentials, SigV4Auth, hash_payload

SECRET = "emulator-test-secret"
CREDS = Credentials("AKIDEMULATORTEST", SECRET)
ACCEPTED = {CREDS.access_key_id: SECRET}
REGION = "us-east-1"
INVOKE = "/endpoints/my-endpoint/invocations"
STREAM = "/endpoints/my-endpoint/invocations-response-stream"
ASYNC = "/endpoints/my-endpoint/async-invocations"
POLL_SECONDS = 5.0


def auth(creds: Credentials = CREDS, **kwargs: Any) -> SigV4Auth:
    return SigV4Auth(
        creds, kwargs.pop("region", REGION), kwargs.pop("service", "sagemaker"), **kwargs
    )


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEndpoint]:
    data = tmp_path_factory.mktemp("echo-data")
    with serve(model="echo", credentials=ACCEPTED, data_dir=data) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def streamer() -> Iterator[LocalEndpoint]:
    with serve(model="stream", credentials=ACCEPTED) as endpoint:
        yield endpoint


@pytest.fixture
def client(echo: LocalEndpoint) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo.url, auth=auth(), timeout=10) as c:
        yield c


def decode(body: bytes) -> list[EventStreamMessage]:
    decoder = EventStreamDecoder()
    messages = decoder.feed(body)
    decoder.end()
    return messages


def error_of(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    assert response.headers["x-amzn-RequestId"]
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.headers["x-amzn-ErrorType"], response.json()


def wait_for_file(*paths: Path) -> Path:
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        for path in paths:
            if path.exists():
                return path
        time.sleep(0.02)
    raise AssertionError(f"none of {paths} appeared within {POLL_SECONDS} s")


def local_path(location: str) -> Path:
    assert location.startswith("file://"), location
    return Path(location.removeprefix("file://"))


# ----------------------------------------------------------------------------- the server


def test_serve_binds_loopback_on_an_ephemeral_port_and_closes(tmp_path: Path) -> None:
    endpoint = serve(data_dir=tmp_path)
    assert endpoint.host == "127.0.0.1"
    assert endpoint.port > 0
    assert endpoint.url == f"http://127.0.0.1:{endpoint.port}"
    assert endpoint.credentials.access_key_id == local.DEMO_ACCESS_KEY_ID
    assert local.DEMO_SECRET_ACCESS_KEY not in repr(endpoint.credentials)
    with httpx.Client(auth=auth(endpoint.credentials)) as c:
        assert c.post(endpoint.url + INVOKE, content=b"x").status_code == 200
    endpoint.close()
    endpoint.close()  # idempotent
    assert endpoint.closed
    with pytest.raises(httpx.ConnectError):
        httpx.post(endpoint.url + INVOKE, content=b"x", timeout=2)


def test_a_temporary_data_dir_is_removed_at_close() -> None:
    with serve() as endpoint:
        folder = endpoint.data_dir
        assert folder.is_dir()
    assert not folder.exists()


def test_bad_arguments_are_refused_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="model must be 'echo', 'stream'"):
        serve(model="parrot")
    with pytest.raises(ValueError, match="port must be"):
        serve(port=70000)
    with pytest.raises(ValueError, match="credentials must"):
        serve(credentials={})
    with pytest.raises(ValueError, match="reachable from other machines: give credentials"):
        serve(host="0.0.0.0")
    with pytest.raises(ValueError, match="output_locations must be 'file' or 's3', not 'ftp'"):
        serve(output_locations="ftp")
    with pytest.raises(ValueError, match="ping_timeout must be a number of seconds > 0"):
        serve(ping_timeout=0)
    with pytest.raises(TypeError, match=r"unknown local endpoint option.* mdoel; valid: .*model"):
        serve(mdoel="echo")


def test_one_settings_value_serves_and_keywords_replace_its_options(tmp_path: Path) -> None:
    settings = local.EndpointSettings(model="stream", region="eu-west-1", data_dir=tmp_path)
    assert "secret" not in repr(settings)  # the accepted keys are never shown
    with serve(settings, region="eu-central-1") as endpoint:
        assert endpoint.region == "eu-central-1"
        assert endpoint.data_dir == tmp_path
    assert settings.region == "eu-west-1"  # a frozen value: replaced, never changed


def test_a_port_in_use_is_an_error(echo: LocalEndpoint) -> None:
    with pytest.raises(OSError):
        serve(port=echo.port)


def test_the_public_surface_is_all() -> None:
    public = {name for name in dir(local) if not name.startswith("_")}
    assert public == set(local.__all__)
    for info in pkgutil.iter_modules(local.__path__):
        module = importlib.import_module(f"{local.__name__}.{info.name}")
        declared = module.__all__
        assert [name for name in declared if not hasattr(module, name)] == [], info.name


def test_run_serves_until_interrupted() -> None:
    code = (
        "from runtime_client.local import run\n"
        "run(port=0, access_log=False, on_ready=lambda info: print(info.url, flush=True))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        out = child.stdout
        assert out is not None
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        url = lines.get(timeout=20).strip()
        assert url.startswith("http://127.0.0.1:"), child.stderr.read() if child.stderr else ""
        demo = Credentials(local.DEMO_ACCESS_KEY_ID, local.DEMO_SECRET_ACCESS_KEY)
        response = httpx.post(url + INVOKE, content=b"ping", auth=auth(demo), timeout=10)
        assert response.content == b"ping"
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


# ----------------------------------------------------------------------------- InvokeEndpoint


def test_invoke_endpoint_echoes_with_the_service_headers(client: httpx.Client) -> None:
    response = client.post(
        INVOKE,
        content=b'{"inputs": [1, 2]}',
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Amzn-SageMaker-Custom-Attributes": "trace=abc, c1=2",
        },
    )
    assert response.status_code == 200
    assert response.content == b'{"inputs": [1, 2]}'
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=abc, c1=2"
    assert len(response.headers["x-amzn-RequestId"]) == 36


def test_no_custom_attributes_in_none_out(client: httpx.Client) -> None:
    response = client.post(INVOKE, content=b"raw")
    assert response.status_code == 200
    assert "X-Amzn-SageMaker-Custom-Attributes" not in response.headers
    assert response.headers["Content-Type"] == "application/octet-stream"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_invokes_and_streams(streamer: LocalEndpoint) -> None:
    async with httpx.AsyncClient(base_url=streamer.url, auth=auth(), timeout=10) as c:
        response = await c.post(INVOKE, content=b'{"inputs": "hi there"}')
        assert response.status_code == 200
        assert response.json() == [{"generated_text": "hi there"}]
        decoder = EventStreamDecoder()
        messages: list[EventStreamMessage] = []
        async with c.stream("POST", STREAM, content=b'{"inputs": "one two three"}') as stream:
            assert stream.status_code == 200
            async for chunk in stream.aiter_raw():
                messages += decoder.feed(chunk)
        decoder.end()
    assert [m.event_type for m in messages] == ["PayloadPart"] * 3
    assert [m.payload for m in messages] == [
        b'data: {"token": {"text": "one "}}\n\n',
        b'data: {"token": {"text": "two "}}\n\n',
        b'data: {"token": {"text": "three"}}\n\n',
    ]


def test_a_target_variant_other_than_the_one_served_is_a_validation_error(
    client: httpx.Client,
) -> None:
    ok = client.post(
        INVOKE, content=b"x", headers={"X-Amzn-SageMaker-Target-Variant": "AllTraffic"}
    )
    assert ok.status_code == 200
    response = client.post(
        INVOKE, content=b"x", headers={"X-Amzn-SageMaker-Target-Variant": "Blue"}
    )
    status, code, body = error_of(response)
    assert (status, code) == (400, "ValidationError")
    assert "Variant Blue not found" in body["message"]


def test_endpoint_name_can_be_limited(tmp_path: Path) -> None:
    with (
        serve(credentials=ACCEPTED, endpoint_name="my-endpoint", data_dir=tmp_path) as endpoint,
        httpx.Client(base_url=endpoint.url, auth=auth()) as c,
    ):
        assert c.post(INVOKE, content=b"x").status_code == 200
        status, code, body = error_of(c.post("/endpoints/other/invocations", content=b"x"))
    assert (status, code) == (400, "ValidationError")
    assert body["message"] == "Endpoint other of account 000000000000 not found."


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        (
            "/endpoints/bad_name/invocations",
            {},
            "1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        ),
        (
            "/endpoints/" + "e" * 64 + "/invocations",
            {},
            "Member must have length less than or equal to 63",
        ),
        (
            INVOKE,
            {"X-Amzn-SageMaker-Custom-Attributes": "a" * 1025},
            "1 validation error detected: Value at 'customAttributes' failed to satisfy "
            "constraint: Member must have length less than or equal to 1024",
        ),
        (
            INVOKE,
            {"X-Amzn-SageMaker-Inference-Id": "i" * 65},
            "at 'inferenceId' failed to satisfy constraint: Member must have length less than "
            "or equal to 64",
        ),
        (
            STREAM,
            {"X-Amzn-SageMaker-Session-Id": "NEW_SESSION"},
            "Value 'NEW_SESSION' at 'sessionId' failed to satisfy constraint",
        ),
        (
            ASYNC,
            {
                "X-Amzn-SageMaker-InputLocation": "s3://b/k",
                "X-Amzn-SageMaker-RequestTTLSeconds": "59",
            },
            "Value '59' at 'requestTTLSeconds' failed to satisfy constraint: Member must have "
            "value greater than or equal to 60",
        ),
        (
            ASYNC,
            {
                "X-Amzn-SageMaker-InputLocation": "s3://b/k",
                "X-Amzn-SageMaker-InvocationTimeoutSeconds": "soon",
            },
            "Value 'soon' at 'invocationTimeoutSeconds' failed to satisfy constraint: Member "
            "must be an integer",
        ),
        (
            ASYNC,
            {"X-Amzn-SageMaker-InputLocation": "ftp://host/file"},
            "at 'inputLocation' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: ^(https|s3)://([^/]+)/?(.*)$",
        ),
    ],
)
def test_validation_errors_name_the_member_and_the_rule(
    client: httpx.Client, path: str, headers: dict[str, str], expected: str
) -> None:
    status, code, body = error_of(client.post(path, content=b"x", headers=headers))
    assert (status, code) == (400, "ValidationError")
    assert expected in body["message"]


def test_every_fault_is_reported(client: httpx.Client) -> None:
    response = client.post(
        "/endpoints/-bad/invocations",
        content=b"x",
        headers={"X-Amzn-SageMaker-Target-Variant": "v" * 64},
    )
    status, _, body = error_of(response)
    assert status == 400
    assert body["message"].startswith("2 validation errors detected: ")
    assert "'endpointName'" in body["message"]
    assert "'targetVariant'" in body["message"]


def test_a_body_over_the_limit_is_refused(client: httpx.Client) -> None:
    status, code, body = error_of(client.post(INVOKE, content=b"x" * (6291456 + 1)))
    assert (status, code) == (400, "ValidationError")
    assert (
        "Value at 'body' failed to satisfy constraint: Member must have length less than or "
        "equal to 6291456"
    ) in body["message"]


def test_unknown_operations_are_404(client: httpx.Client) -> None:
    for method, path in [("POST", "/endpoints/my-endpoint/predict"), ("GET", INVOKE)]:
        status, code, _ = error_of(client.request(method, path, content=b"x"))
        assert (status, code) == (404, "UnknownOperationException")


# ----------------------------------------------------------------------------- signatures


def test_a_wrong_secret_is_refused(echo: LocalEndpoint) -> None:
    wrong = Credentials(CREDS.access_key_id, "not-the-secret")
    response = httpx.post(echo.url + INVOKE, content=b"x", auth=auth(wrong))
    status, code, body = error_of(response)
    assert (status, code) == (403, "InvalidSignatureException")
    assert body["message"].startswith("The request signature we calculated does not match")
    assert SECRET not in response.text
    assert "not-the-secret" not in response.text


def test_an_unknown_access_key_is_refused(echo: LocalEndpoint) -> None:
    stranger = Credentials("AKIDSTRANGER", SECRET)
    status, code, _ = error_of(httpx.post(echo.url + INVOKE, content=b"x", auth=auth(stranger)))
    assert (status, code) == (403, "UnrecognizedClientException")


def test_an_expired_date_is_refused(echo: LocalEndpoint) -> None:
    then = datetime.now(timezone.utc) - timedelta(minutes=6)
    response = httpx.post(echo.url + INVOKE, content=b"x", auth=auth(clock=lambda: then))
    status, code, body = error_of(response)
    assert (status, code) == (403, "InvalidSignatureException")
    assert body["message"].startswith("Signature expired: ")
    assert "is now earlier than" in body["message"]
    assert "date" in response.headers  # the server's clock, for the client's skew correction


def test_a_date_in_the_future_is_refused_and_a_small_skew_is_not(echo: LocalEndpoint) -> None:
    later = datetime.now(timezone.utc) + timedelta(minutes=6)
    status, _, body = error_of(
        httpx.post(echo.url + INVOKE, content=b"x", auth=auth(clock=lambda: later))
    )
    assert status == 403
    assert body["message"].startswith("Signature not yet current: ")
    skewed = datetime.now(timezone.utc) - timedelta(minutes=4)
    ok = httpx.post(echo.url + INVOKE, content=b"x", auth=auth(clock=lambda: skewed))
    assert ok.status_code == 200


def test_a_tampered_body_is_refused(echo: LocalEndpoint) -> None:
    signed = httpx.Request("POST", echo.url + INVOKE, content=b'{"amount": 10}')
    next(auth().sync_auth_flow(signed))
    assert "authorization" in signed.headers
    tampered = httpx.Request("POST", signed.url, headers=signed.headers, content=b'{"amount": 99}')
    with httpx.Client() as c:
        assert c.send(signed).status_code == 200
        status, code, body = error_of(c.send(tampered))
    assert (status, code) == (403, "InvalidSignatureException")
    assert "does not match the signature you provided" in body["message"]


def test_a_tampered_header_or_path_is_refused(echo: LocalEndpoint) -> None:
    signed = httpx.Request(
        "POST", echo.url + INVOKE, content=b"x", headers={"Content-Type": "text/plain"}
    )
    next(auth().sync_auth_flow(signed))
    headers = dict(signed.headers)
    headers["content-type"] = "application/json"
    with httpx.Client() as c:
        moved = httpx.Request(
            "POST", echo.url + "/endpoints/other/invocations", headers=signed.headers, content=b"x"
        )
        changed = httpx.Request("POST", signed.url, headers=headers, content=b"x")
        for request in (moved, changed):
            status, code, _ = error_of(c.send(request))
            assert (status, code) == (403, "InvalidSignatureException")


def test_missing_signature_region_and_service_are_checked(echo: LocalEndpoint) -> None:
    status, code, _ = error_of(httpx.post(echo.url + INVOKE, content=b"x"))
    assert (status, code) == (403, "MissingAuthenticationTokenException")
    status, code, body = error_of(
        httpx.post(echo.url + INVOKE, content=b"x", auth=auth(region="eu-west-1"))
    )
    assert (status, code) == (403, "InvalidSignatureException")
    assert "region" in body["message"]
    status, code, body = error_of(
        httpx.post(echo.url + INVOKE, content=b"x", auth=auth(service="runtime.sagemaker"))
    )
    assert (status, code) == (403, "InvalidSignatureException")
    assert "'sagemaker'" in body["message"]


def test_a_percent_encoded_path_and_a_session_token_verify(echo: LocalEndpoint) -> None:
    with_token = Credentials(CREDS.access_key_id, SECRET, "a-session-token")
    response = httpx.post(
        echo.url + "/endpoints/my-endpoint/invocations?x=a%20b", content=b"x", auth=auth(with_token)
    )
    assert response.status_code == 200


def test_a_streamed_body_signed_by_its_content_hash_verifies(client: httpx.Client) -> None:
    chunks = [b"part one, ", b"part two"]
    response = client.post(
        INVOKE,
        content=iter(chunks),  # sent chunked: the signer cannot read it, the header says its hash
        headers={"x-amz-content-sha256": hash_payload(chunks)},
    )
    assert response.status_code == 200
    assert response.content == b"part one, part two"
    wrong = client.post(
        INVOKE, content=iter(chunks), headers={"x-amz-content-sha256": hash_payload(b"other")}
    )
    assert error_of(wrong)[:2] == (403, "InvalidSignatureException")


def test_the_signature_check_uses_the_servers_clock(tmp_path: Path) -> None:
    late = datetime.now(timezone.utc) + timedelta(hours=1)
    with serve(credentials=ACCEPTED, clock=lambda: late, data_dir=tmp_path) as endpoint:
        response = httpx.post(endpoint.url + INVOKE, content=b"x", auth=auth())
        assert error_of(response)[:2] == (403, "InvalidSignatureException")
        response = httpx.post(endpoint.url + INVOKE, content=b"x", auth=auth(clock=lambda: late))
        assert response.status_code == 200


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


class Failing:
    """A model that streams two parts, then fails as told by the request body."""

    name = "failing"

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def invoke(self, request: ModelRequest) -> ModelResponse:
        if request.body == b"crash":
            raise RuntimeError("model crashed")
        raise ModelFailure("cannot answer that", status_code=422)

    async def stream(self, request: ModelRequest) -> ModelStream:
        async def parts() -> AsyncIterator[bytes]:
            yield b"first "
            yield b"second "
            if request.body == b"timeout":
                raise ModelFailure("too slow", stream_error_code="ModelInvocationTimeExceeded")
            raise RuntimeError("internal")

        return ModelStream(parts(), "text/plain")


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEndpoint]:
    data = tmp_path_factory.mktemp("failing-data")
    with serve(model=Failing(), credentials=ACCEPTED, data_dir=data) as endpoint:
        yield endpoint


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


# ----------------------------------------------------------------------------- async


def test_async_invocation_reads_s3_input_and_writes_the_output(echo: LocalEndpoint) -> None:
    source = echo.data_dir / "s3" / "my-bucket" / "in" / "request.json"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b'{"question": 42}')
    with httpx.Client(base_url=echo.url, auth=auth()) as c:
        response = c.post(
            ASYNC,
            headers={
                "X-Amzn-SageMaker-InputLocation": "s3://my-bucket/in/request.json",
                "X-Amzn-SageMaker-Content-Type": "application/json",
                "X-Amzn-SageMaker-Inference-Id": "my-inference-1",
            },
        )
    assert response.status_code == 202
    assert response.json() == {"InferenceId": "my-inference-1"}
    output = local_path(response.headers["X-Amzn-SageMaker-OutputLocation"])
    failure = local_path(response.headers["X-Amzn-SageMaker-FailureLocation"])
    assert output.name.endswith(".out")
    assert failure.name.endswith("-error.out")
    assert wait_for_file(output, failure) == output
    assert output.read_bytes() == b'{"question": 42}'


def test_async_invocation_reads_file_urls_and_local_paths(
    echo: LocalEndpoint, tmp_path: Path
) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(b"local input")
    with httpx.Client(base_url=echo.url, auth=auth()) as c:
        for location in (source.as_uri(), str(source)):
            response = c.post(ASYNC, headers={"X-Amzn-SageMaker-InputLocation": location})
            assert response.status_code == 202, response.text
            assert len(response.json()["InferenceId"]) == 36
            output = local_path(response.headers["X-Amzn-SageMaker-OutputLocation"])
            assert wait_for_file(output).read_bytes() == b"local input"


def test_async_output_as_s3_locations_with_filename_and_extension(tmp_path: Path) -> None:
    source = tmp_path / "s3" / "bucket" / "key"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"payload")
    with serve(credentials=ACCEPTED, data_dir=tmp_path, output_locations="s3") as endpoint:
        with httpx.Client(base_url=endpoint.url, auth=auth()) as c:
            response = c.post(
                ASYNC,
                headers={
                    "X-Amzn-SageMaker-InputLocation": "https://bucket.s3.us-east-1.amazonaws.com/key",
                    "X-Amzn-SageMaker-Filename": "result.json",
                    "X-Amzn-SageMaker-S3OutputPathExtension": "runs/7",
                },
            )
        assert response.status_code == 202
        location = response.headers["X-Amzn-SageMaker-OutputLocation"]
        assert location == "s3://sagemaker-local/async-output/runs/7/result.json"
        assert response.headers["X-Amzn-SageMaker-FailureLocation"] == (
            "s3://sagemaker-local/async-failures/runs/7/result.json-error.out"
        )
        output = tmp_path / "s3" / location.removeprefix("s3://")
        assert wait_for_file(output).read_bytes() == b"payload"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("s3://my-bucket/missing.json", "no such file"),
        ("s3://my-bucket/../../../etc/passwd", "must not contain '.' or '..'"),
        ("https://example.com/data.json", "only in the form of S3 URLs"),
    ],
)
def test_async_input_that_cannot_be_read_is_a_validation_error(
    client: httpx.Client, location: str, expected: str
) -> None:
    response = client.post(ASYNC, headers={"X-Amzn-SageMaker-InputLocation": location})
    status, code, body = error_of(response)
    assert (status, code) == (400, "ValidationError")
    assert expected in body["message"]


def test_async_input_may_be_the_request_body(client: httpx.Client) -> None:
    response = client.post(ASYNC, content=b"inline input")
    assert response.status_code == 202
    output = local_path(response.headers["X-Amzn-SageMaker-OutputLocation"])
    assert wait_for_file(output).read_bytes() == b"inline input"


def test_async_without_input_is_a_validation_error(client: httpx.Client) -> None:
    status, code, body = error_of(client.post(ASYNC))
    assert (status, code) == (400, "ValidationError")
    assert (
        "'inputLocation' failed to satisfy constraint: Member must not be null" in body["message"]
    )


def test_async_failure_is_written_to_the_failure_location(
    failing: LocalEndpoint, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.write_bytes(b"x")
    with httpx.Client(base_url=failing.url, auth=auth()) as c:
        response = c.post(ASYNC, headers={"X-Amzn-SageMaker-InputLocation": str(source)})
    assert response.status_code == 202
    output = local_path(response.headers["X-Amzn-SageMaker-OutputLocation"])
    failure = local_path(response.headers["X-Amzn-SageMaker-FailureLocation"])
    assert wait_for_file(output, failure) == failure
    assert 'Received client error (422) from primary with message "cannot answer that"' in (
        failure.read_text()
    )


# ----------------------------------------------------------------------------- a container


@pytest.fixture(scope="module")
def container() -> Iterator[ContainerServer]:
    with ContainerServer() as server:
        yield server


@pytest.fixture(scope="module")
def proxied(container: ContainerServer) -> Iterator[LocalEndpoint]:
    model = ContainerModel(container.url, invocation_timeout=1.0, ping_timeout=5.0)
    with serve(model=model, credentials=ACCEPTED) as endpoint:
        yield endpoint


def test_the_container_gets_the_request_and_its_answer_comes_back(
    proxied: LocalEndpoint, container: ContainerServer
) -> None:
    with httpx.Client(base_url=proxied.url, auth=auth()) as c:
        response = c.post(
            INVOKE,
            content=b'{"inputs": "hi"}',
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Amzn-SageMaker-Custom-Attributes": "user=7",
                "X-Amzn-SageMaker-Target-Model": "model-a.tar.gz",
                "X-Amzn-SageMaker-Inference-Id": "inf-1",
            },
        )
    assert response.status_code == 200
    assert response.json() == {
        "body": '{"inputs": "hi"}',
        "content_type": "application/json",
        "accept": "application/json",
        "target_model": "model-a.tar.gz",
        "inference_id": "inf-1",
    }
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "seen=user=7"
    received = container.requests[-1]
    assert "Authorization" not in received["headers"]


@pytest.mark.parametrize(
    ("status", "error_code", "side"),
    [(400, "CLIENT_ERROR_FROM_MODEL", "client"), (503, "INTERNAL_FAILURE_FROM_MODEL", "server")],
)
def test_container_errors_are_model_errors(
    proxied: LocalEndpoint, status: int, error_code: str, side: str
) -> None:
    order = {"status": status, "message": "the model says no"}
    with httpx.Client(base_url=proxied.url, auth=auth()) as c:
        for path in (INVOKE, STREAM):
            code_status, code, body = error_of(c.post(path, content=json.dumps(order).encode()))
            assert (code_status, code) == (424, "ModelError")
            assert body["ErrorCode"] == error_code
            assert body["OriginalStatusCode"] == status
            assert body["OriginalMessage"] == "the model says no"
            assert body["Message"].startswith(
                f'Received {side} error ({status}) from primary with message "the model says no".'
            )
            assert body["LogStreamArn"] == (
                "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/my-endpoint"
            )


def test_a_container_stream_is_relayed_part_by_part(proxied: LocalEndpoint) -> None:
    order = {"stream": ["data: a\n\n", "data: b\n\n", "data: c\n\n"]}
    with httpx.Client(base_url=proxied.url, auth=auth()) as c:
        response = c.post(
            STREAM,
            content=json.dumps(order).encode(),
            headers={"X-Amzn-SageMaker-Custom-Attributes": "s=1"},
        )
    assert response.status_code == 200
    assert response.headers["X-Amzn-SageMaker-Content-Type"] == "text/event-stream"
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "seen=s=1"
    messages = decode(response.content)
    assert b"".join(m.payload for m in messages) == b"data: a\n\ndata: b\n\ndata: c\n\n"
    assert len(messages) >= 2  # flushed chunks arrive as separate parts


def test_a_broken_container_stream_ends_with_model_stream_error(proxied: LocalEndpoint) -> None:
    order = {"stream": ["one ", "two "], "break": True}
    with httpx.Client(base_url=proxied.url, auth=auth()) as c:
        messages = decode(c.post(STREAM, content=json.dumps(order).encode()).content)
    assert b"".join(m.payload for m in messages[:-1]) == b"one two "
    last = messages[-1]
    assert last.exception_type == "ModelStreamError"
    assert json.loads(last.payload)["ErrorCode"] == "StreamBroken"


def test_a_slow_container_is_a_timeout_model_error(proxied: LocalEndpoint) -> None:
    with httpx.Client(base_url=proxied.url, auth=auth(), timeout=10) as c:
        status, code, body = error_of(c.post(INVOKE, content=b'{"sleep": 2}'))
    assert (status, code) == (424, "ModelError")
    assert "timed out" in body["Message"]
    assert "OriginalStatusCode" not in body


def test_a_container_that_is_not_ready_stops_serve(container: ContainerServer) -> None:
    container.set_ready(False)
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"did not answer GET /ping with 200.*status 503"):
            serve(model=ContainerModel(container.url, ping_timeout=0.5))
        assert time.monotonic() - started < 5
    finally:
        container.set_ready(True)


def test_serve_takes_a_container_url(container: ContainerServer) -> None:
    with serve(model=container.url, credentials=ACCEPTED) as endpoint:
        response = httpx.post(endpoint.url + INVOKE, content=b"{}", auth=auth())
    assert response.status_code == 200
    assert response.json()["body"] == "{}"


# ----------------------------------------------------------------------------- botocore


def test_botocore_talks_to_the_emulator(proxied: LocalEndpoint, streamer: LocalEndpoint) -> None:
    boto3 = pytest.importorskip("boto3", reason="boto3 is the independent client here")
    from botocore.config import Config
    from botocore.exceptions import EventStreamError

    def client(endpoint: LocalEndpoint) -> Any:
        return boto3.client(
            "sagemaker-runtime",
            endpoint_url=endpoint.url,
            region_name=REGION,
            aws_access_key_id=CREDS.access_key_id,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}),
        )

    runtime, streaming = client(proxied), client(streamer)
    try:
        answer = runtime.invoke_endpoint(
            EndpointName="my-endpoint",
            Body=b"{}",
            ContentType="application/json",
            CustomAttributes="b=1",
        )
        assert answer["CustomAttributes"] == "seen=b=1"
        assert answer["InvokedProductionVariant"] == "AllTraffic"
        assert json.loads(answer["Body"].read())["body"] == "{}"
        with pytest.raises(runtime.exceptions.ModelError) as info:
            runtime.invoke_endpoint(
                EndpointName="my-endpoint", Body=b'{"status": 418, "message": "teapot"}'
            )
        assert info.value.response["OriginalStatusCode"] == 418
        assert info.value.response["OriginalMessage"] == "teapot"
        assert info.value.response["Error"]["Code"] == "ModelError"

        events = streaming.invoke_endpoint_with_response_stream(
            EndpointName="my-endpoint", Body=b"a b"
        )
        assert events["ContentType"] == "text/event-stream"
        parts = [event["PayloadPart"]["Bytes"] for event in events["Body"]]
        assert parts == [
            b'data: {"token": {"text": "a "}}\n\n',
            b'data: {"token": {"text": "b"}}\n\n',
        ]

        broken_events = runtime.invoke_endpoint_with_response_stream(
            EndpointName="my-endpoint", Body=json.dumps({"stream": ["x"], "break": True}).encode()
        )
        with pytest.raises(EventStreamError) as broken:
            list(broken_events["Body"])
        assert broken.value.response["Error"]["Code"] == "ModelStreamError"
        assert "broke" in broken.value.response["Error"]["Message"]
        broken_events["Body"].close()
    finally:
        runtime.close()
        streaming.close()
