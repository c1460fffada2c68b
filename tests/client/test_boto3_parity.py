"""A boto3 user's code runs unchanged: the same scenario functions run against boto3 and
against ``SageMakerRuntime`` (both pointed at the same SigV4-checking loopback server with
``endpoint_url``), and what the user sees, and what reached the wire, is compared.

Each scenario touches the client only the way boto3 documents it: keyword arguments,
``resp["Body"].read()``, ``client.exceptions.X``, ``e.response``, ``str(e)``.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.support import parity as _parity
from tests.support.parity import Scenario, assert_same_as_boto3, response_metadata
from tests.support.sigv4_server import Reply, SigV4Server


def _result(resp: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in resp.items() if k not in ("Body", "ResponseMetadata")}
    if "Body" in resp:
        out["Body"] = resp["Body"].read()
    out["ResponseMetadata"] = response_metadata(resp["ResponseMetadata"])
    return out


def _error(e: Any) -> dict[str, Any]:
    return {
        "str": str(e),
        "operation": e.operation_name,
        "response": {
            **e.response,
            "ResponseMetadata": response_metadata(e.response["ResponseMetadata"]),
        },
    }


# --- scenarios: plain boto3-style user code --------------------------------------------


def invoke_all_parameters(client: Any, server: SigV4Server) -> Any:
    resp = client.invoke_endpoint(
        EndpointName="my-ep",
        Body=b'{"instances": [1, 2]}',
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="trace=1",
        TargetModel="model-a.tar.gz",
        TargetVariant="variant-1",
        TargetContainerHostname="container-1",
        InferenceId="inference-1",
        EnableExplanations="`true`",
        InferenceComponentName="component-1",
        SessionId="NEW_SESSION",
        PrefixAwareId="prefix-1",
    )
    return _result(resp)


def invoke_body_kinds(client: Any, server: SigV4Server) -> Any:
    results = []
    for body in (b"bytes", bytearray(b"array"), "str \u2603", io.BytesIO(b"xxfile")):
        if isinstance(body, io.BytesIO):
            body.seek(2)
        results.append(_result(client.invoke_endpoint(EndpointName="e", Body=body)))
    return results


def file_body_rewound_on_retry(client: Any, server: SigV4Server) -> Any:
    server.play(Reply.error(503, "ServiceUnavailable", "busy"))
    # From position 0: boto3 rewinds a file to 0 on retry, not to where it started (we
    # rewind to the start position; see client/test_integration.py).
    body = io.BytesIO(b"payload" * 1000)
    return _result(client.invoke_endpoint(EndpointName="e", Body=body, ContentType="a/b"))


def invoke_closed_session_and_lines(client: Any, server: SigV4Server) -> Any:
    resp = client.invoke_endpoint(
        EndpointName="e", Body=b"a\nb\r\nc", SessionId="close-7", ContentType="text/plain"
    )
    return resp["ClosedSessionId"], list(resp["Body"].iter_lines()), resp["ContentType"]


def invoke_async_all_parameters(client: Any, server: SigV4Server) -> Any:
    resp = client.invoke_endpoint_async(
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
    )
    return _result(resp)


def model_error(client: Any, server: SigV4Server) -> Any:
    server.play(
        Reply.error(
            424,
            "ModelError",
            "Received server error (500) from primary with message ...",
            {
                "OriginalStatusCode": 500,
                "OriginalMessage": "boom",
                "LogStreamArn": "arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/e",
                "ErrorCode": "SERVER_ERROR_FROM_MODEL",
            },
        )
    )
    try:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    except client.exceptions.ModelError as e:
        return _error(e)
    raise AssertionError("no ModelError")


def validation_error(client: Any, server: SigV4Server) -> Any:
    server.play(Reply.error(400, "ValidationError", "Endpoint e of account 1 not found."))
    try:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    except client.exceptions.ValidationError as e:
        return _error(e)
    raise AssertionError("no ValidationError")


def retried_then_success(client: Any, server: SigV4Server) -> Any:
    server.play(
        Reply.error(503, "ServiceUnavailable", "busy"), Reply.error(500, "InternalFailure", "x")
    )
    return _result(client.invoke_endpoint(EndpointName="e", Body=b"ok"))


def retries_exhausted(client: Any, server: SigV4Server) -> Any:
    server.play(*[Reply.error(500, "InternalFailure", "down")] * 3)
    try:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    except client.exceptions.InternalFailure as e:
        return _error(e)
    raise AssertionError("no InternalFailure")


def throttled_unmodeled(client: Any, server: SigV4Server) -> Any:
    server.play(*[Reply.error(400, "ThrottlingException", "Rate exceeded", header_code=False)] * 3)
    try:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    except client.exceptions.ClientError as e:
        return _error(e)
    raise AssertionError("no ClientError")


def html_gateway_error(client: Any, server: SigV4Server) -> Any:
    server.play(*[Reply(502, (), b"<html>bad gateway</html>")] * 3)
    try:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    except client.exceptions.ClientError as e:
        return _error(e)
    raise AssertionError("no ClientError")


def dependency_error_not_retried(client: Any, server: SigV4Server) -> Any:
    server.play(Reply.error(530, "InternalDependencyException", "dependency failed"))
    try:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    except client.exceptions.InternalDependencyException as e:
        return _error(e)
    raise AssertionError("no InternalDependencyException")


def unknown_parameter(client: Any, server: SigV4Server) -> Any:
    try:
        client.invoke_endpoint(EndpointName="e", Body=b"x", Bogus=1)
    except Exception as e:
        return type(e).__name__, "Bogus" in str(e), "EndpointName" in str(e)
    raise AssertionError("accepted an unknown parameter")


def missing_parameter(client: Any, server: SigV4Server) -> Any:
    try:
        client.invoke_endpoint(EndpointName="e")
    except Exception as e:
        return type(e).__name__, '"Body"' in str(e) or "Body:" in str(e)
    raise AssertionError("accepted a call without Body")


SCENARIOS = [
    invoke_all_parameters,
    invoke_body_kinds,
    file_body_rewound_on_retry,
    invoke_closed_session_and_lines,
    invoke_async_all_parameters,
    model_error,
    validation_error,
    retried_then_success,
    retries_exhausted,
    throttled_unmodeled,
    html_gateway_error,
    dependency_error_not_retried,
    unknown_parameter,
    missing_parameter,
]


server = _parity.server
parity_environment = _parity.parity_environment


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_same_results_as_boto3(scenario: Scenario, server: SigV4Server) -> None:
    assert_same_as_boto3(scenario, server)
