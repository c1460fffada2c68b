"""InvokeEndpointWithResponseStream: boto3 user code runs unchanged against our client.

The same scenario functions run against boto3 and against ``SageMakerRuntime``, both
pointed with ``endpoint_url`` at the SigV4-checking loopback server, which plays the same
scripted event streams to each. What the user sees (the parts, the response fields, the
error's ``Error`` and ``str``) and what reached the wire must be the same. Where we differ
on purpose (the exception class of an in-stream error, which boto3 makes a generic
``EventStreamError``; the ``ErrorCode`` that boto3 drops; the class of a transport error)
the scenario records only what both promise.
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime_client._client import SageMakerRuntime
from runtime_client.eventstream import encode_message
from tests.support import parity as _parity
from tests.support.parity import Scenario, assert_same_as_boto3, response_metadata
from tests.support.sigv4_server import (
    KEYS,
    Cut,
    Reply,
    SigV4Server,
    StreamReply,
    payload_part,
    stream_error,
    stream_exception,
)


def _fields(resp: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in resp.items() if k not in ("Body", "ResponseMetadata")}
    out["ResponseMetadata"] = response_metadata(resp["ResponseMetadata"])
    return out


def _drain(body: Any) -> tuple[list[Any], Exception | None]:
    events: list[Any] = []
    try:
        for event in body:
            events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


def _client_error(error: Exception | None) -> dict[str, Any]:
    assert error is not None
    response = getattr(error, "response", None)
    assert isinstance(response, dict), repr(error)
    return {"Error": response["Error"], "str": str(error)}


# --- scenarios: plain boto3-style user code --------------------------------------------


def all_parameters(client: Any, server: SigV4Server) -> Any:
    resp = client.invoke_endpoint_with_response_stream(
        EndpointName="my-ep",
        Body=b'{"inputs": "Hello", "parameters": {"max_new_tokens": 4}, "stream": true}',
        ContentType="application/json",
        Accept="text/event-stream",
        CustomAttributes="trace=1",
        TargetVariant="variant-1",
        TargetContainerHostname="container-1",
        InferenceId="inference-1",
        InferenceComponentName="component-1",
        SessionId="sess-1",
        PrefixAwareId="prefix-1",
    )
    events, error = _drain(resp["Body"])
    return _fields(resp), events, error


def token_stream_with_pauses(client: Any, server: SigV4Server) -> Any:
    parts = [b'data: {"token": {"text": "H\xc3', b'\xa9"}}\n', b"\ndata: [DONE]\n\n", b""]
    steps: list[Any] = []
    for part in parts:
        steps += [payload_part(part), 0.01]
    server.play(StreamReply(tuple(steps)))
    resp = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
    return _fields(resp), _drain(resp["Body"])


def unknown_events_are_skipped(client: Any, server: SigV4Server) -> Any:
    server.play(
        StreamReply(
            (
                encode_message({":message-type": "event", ":event-type": "Future"}, b"?"),
                payload_part(b"kept"),
            )
        )
    )
    resp = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
    return _drain(resp["Body"])


def _failing(client: Any, server: SigV4Server, failure: bytes) -> Any:
    server.play(StreamReply((payload_part(b"one"), 0.01, failure, payload_part(b"late"))))
    resp = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
    events, error = _drain(resp["Body"])
    return events, _client_error(error), isinstance(error, client.exceptions.ClientError)


def model_stream_error(client: Any, server: SigV4Server) -> Any:
    failure = stream_exception("ModelStreamError", "The model timed out.", "StreamBroken")
    return _failing(client, server, failure)


def internal_stream_failure(client: Any, server: SigV4Server) -> Any:
    return _failing(client, server, stream_exception("InternalStreamFailure", "Try again."))


def error_message(client: Any, server: SigV4Server) -> Any:
    return _failing(client, server, stream_error("ServiceUnavailable", "going away"))


def corrupt_crc(client: Any, server: SigV4Server) -> Any:
    bad = bytearray(payload_part(b"bad"))
    bad[-1] ^= 0xFF
    server.play(StreamReply((payload_part(b"good"), 0.01, bytes(bad))))
    resp = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
    events, error = _drain(resp["Body"])
    return events, error is not None


def cut_connection(client: Any, server: SigV4Server) -> Any:
    server.play(StreamReply((payload_part(b"good"), 0.01, payload_part(b"cut")[:9], Cut())))
    resp = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
    events, error = _drain(resp["Body"])
    return events, error is not None, len(server.requests)


def retried_before_the_stream(client: Any, server: SigV4Server) -> Any:
    server.play(Reply.error(503, "ServiceUnavailable", "busy"))
    resp = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"ab")
    return _fields(resp), _drain(resp["Body"])


def validation_error(client: Any, server: SigV4Server) -> Any:
    server.play(Reply.error(400, "ValidationError", "Endpoint e of account 1 not found."))
    try:
        client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"x")
    except client.exceptions.ValidationError as e:
        return e.response["Error"], str(e), response_metadata(e.response["ResponseMetadata"])
    raise AssertionError("no ValidationError")


def close_early(client: Any, server: SigV4Server) -> Any:
    resp = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"abcd")
    body = resp["Body"]
    first = next(iter(body))
    body.close()
    again = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"xy")
    return first, _drain(again["Body"])


def model_only_parameter(client: Any, server: SigV4Server) -> Any:
    try:
        client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"x", TargetModel="m")
    except Exception as e:
        return type(e).__name__, "TargetModel" in str(e)
    raise AssertionError("accepted TargetModel")


SCENARIOS = [
    all_parameters,
    token_stream_with_pauses,
    unknown_events_are_skipped,
    model_stream_error,
    internal_stream_failure,
    error_message,
    corrupt_crc,
    cut_connection,
    retried_before_the_stream,
    validation_error,
    close_early,
    model_only_parameter,
]


server = _parity.server
parity_environment = _parity.parity_environment


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_same_results_as_boto3(scenario: Scenario, server: SigV4Server) -> None:
    assert_same_as_boto3(scenario, server)


def test_model_stream_error_keeps_error_code_that_boto3_drops(server: SigV4Server) -> None:
    server.reset()
    server.play(StreamReply((stream_exception("ModelStreamError", "m", "StreamBroken"),)))
    with SageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=KEYS["AKIDEXAMPLE"][0],
    ) as ours:
        resp = ours.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"{}")
        _, error = _drain(resp["Body"])
    assert isinstance(error, ours.exceptions.ModelStreamError)
    assert error.response["ErrorCode"] == "StreamBroken"
