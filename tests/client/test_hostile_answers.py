"""Hostile answers end as documented errors, bounded (issue 15): bodies nested 100,000 deep,
numbers that are not numbers, 5,000-digit numbers, in error bodies, 202 bodies and stream
exception payloads. Each test is named after what it proves."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from runtime_client import ClientError, ModelError, SageMakerRuntime
from runtime_client._errors import parse_error_response
from runtime_client._model import INVOKE_ENDPOINT_ASYNC
from runtime_client._response_stream import error_from_message
from runtime_client._restjson import parse_json_output
from runtime_client.bidi._events import _error_code_member
from runtime_client.eventstream import EventStreamMessage, encode_message
from tests.support.sigv4_server import KEYS, REGION, Reply, SigV4Server

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
HEADERS = {"x-amzn-ErrorType": "ModelError", "x-amzn-RequestId": "rid"}


@pytest.fixture
def server() -> Iterator[SigV4Server]:
    with SigV4Server() as srv:
        yield srv


def _client(url: str) -> SageMakerRuntime:
    secret = KEYS["AKIDEXAMPLE"][0]
    return SageMakerRuntime(
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=secret,
    )


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, b'{"message": ' + DEEP + b"}"])
def test_an_error_body_nested_100000_deep_is_a_client_error_not_a_recursion_error(
    body: bytes,
) -> None:
    error = parse_error_response(424, HEADERS, body)
    assert error["Error"] == {"Code": "ModelError", "Message": ""}
    repr(error)  # nothing deep was kept: printing it cannot recurse


def test_a_deep_error_body_over_the_wire_raises_model_error(server: SigV4Server) -> None:
    server.play(Reply(424, tuple(HEADERS.items()), b'{"OriginalMessage": ' + DEEP + b"}"))
    with _client(server.url) as client, pytest.raises(ModelError) as info:
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    assert "OriginalMessage" not in info.value.response
    str(info.value)
    repr(info.value.response)


@pytest.mark.parametrize(
    "value",
    [b'"\xc2\xb2"', b'"' + b"1" * 5000 + b'"', b"1" * 5000, b'"4O4"', b"true", b"[424]", b'"-"'],
)
def test_original_status_code_that_is_no_number_or_too_long_is_left_out(value: bytes) -> None:
    body = b'{"OriginalStatusCode": ' + value + b', "OriginalMessage": "m"}'
    error = parse_error_response(424, HEADERS, body)
    assert error["Error"]["Code"] == "ModelError"
    assert "OriginalStatusCode" not in error
    if value != b"1" * 5000:  # a 5,000-digit JSON number makes the whole body unreadable
        assert error["OriginalMessage"] == "m"


@pytest.mark.parametrize(("value", "expected"), [("503", 503), (500, 500), ("-1", -1)])
def test_original_status_code_as_a_number_or_digits_is_an_int(value: object, expected: int) -> None:
    body = json.dumps({"OriginalStatusCode": value}).encode()
    assert parse_error_response(424, HEADERS, body)["OriginalStatusCode"] == expected


def test_a_string_member_that_is_not_a_string_is_left_out() -> None:
    body = json.dumps({"OriginalMessage": {"nested": [1, 2]}, "LogStreamArn": 7}).encode()
    error = parse_error_response(424, HEADERS, body)
    assert "OriginalMessage" not in error
    assert "LogStreamArn" not in error


def test_a_non_string_code_or_message_falls_back_to_the_status() -> None:
    body = json.dumps({"code": {"x": 1}, "message": [1]}).encode()
    error = parse_error_response(400, {}, body)
    assert error["Error"] == {"Code": "400", "Message": ""}


def test_a_deep_202_body_gives_no_members_and_no_error() -> None:
    assert parse_json_output(INVOKE_ENDPOINT_ASYNC, DEEP_OBJECT) == {}
    odd = json.dumps({"InferenceId": {"deep": [1]}, "OutputLocation": "s3://b/k"}).encode()
    assert parse_json_output(INVOKE_ENDPOINT_ASYNC, odd) == {}  # OutputLocation is a header


def test_a_stream_exception_with_a_deep_payload_is_a_model_stream_error() -> None:
    message = EventStreamMessage(
        {":message-type": "exception", ":exception-type": "ModelStreamError"},
        b'{"Message": "broke", "ErrorCode": ' + DEEP + b"}",
    )
    error = error_from_message(message, "InvokeEndpointWithResponseStream", {})
    assert error.response["Error"]["Code"] == "ModelStreamError"
    assert "ErrorCode" not in error.response
    deep = EventStreamMessage(
        {":message-type": "exception", ":exception-type": "ModelStreamError"}, DEEP_OBJECT
    )
    assert error_from_message(deep, "Op", {}).response["Error"]["Message"] == ""


def test_a_stream_exception_over_the_wire_with_a_deep_payload(server: SigV4Server) -> None:
    headers = {
        ":exception-type": "ModelStreamError",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    event = encode_message(headers, b'{"Message": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    stream_type = (("Content-Type", "application/vnd.amazon.eventstream"),)
    server.play(Reply(200, stream_type, event))
    with _client(server.url) as client:
        answer = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=b"x")
        with pytest.raises(ClientError) as info:
            list(answer["Body"])
    assert info.value.response["Error"] == {"Code": "ModelStreamError", "Message": ""}


def test_a_bidirectional_error_code_member_that_is_deep_is_ignored() -> None:
    assert _error_code_member(b'{"ErrorCode": ' + DEEP + b"}") is None
    assert _error_code_member(DEEP) is None
    assert _error_code_member(b'{"ErrorCode": "E1"}') == "E1"
