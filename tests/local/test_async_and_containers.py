"""InvokeEndpointAsync against the local endpoint (inputs from its S3 stand-in, outputs and
failures written there), a real container behind it, and botocore as an independent client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime_client.local import (
    ContainerModel,
    LocalEndpoint,
    serve,
)
from tests.local.emulator import (
    ACCEPTED,
    ASYNC,
    CREDS,
    INVOKE,
    REGION,
    SECRET,
    STREAM,
    auth,
    decode,
    error_of,
    local_path,
    wait_for_file,
)
from tests.support.container_server import ContainerServer

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


def test_async_invocation_reads_file_urls_and_local_paths(echo: LocalEndpoint) -> None:
    source = echo.data_dir / "inputs" / "input.bin"  # local files: inside the data folder
    source.parent.mkdir(exist_ok=True)
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
    assert expected in body["Message"]


def test_async_input_may_be_the_request_body(client: httpx.Client) -> None:
    response = client.post(ASYNC, content=b"inline input")
    assert response.status_code == 202
    output = local_path(response.headers["X-Amzn-SageMaker-OutputLocation"])
    assert wait_for_file(output).read_bytes() == b"inline input"


def test_async_without_input_is_a_validation_error(client: httpx.Client) -> None:
    status, code, body = error_of(client.post(ASYNC))
    assert (status, code) == (400, "ValidationError")
    assert (
        "'inputLocation' failed to satisfy constraint: Member must not be null" in body["Message"]
    )


def test_async_failure_is_written_to_the_failure_location(failing: LocalEndpoint) -> None:
    source = failing.data_dir / "in"
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
