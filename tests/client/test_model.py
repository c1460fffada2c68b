"""Unit tests of the service model: validation rules and serialization of every member."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from runtime_client._errors import ParamValidationError
from runtime_client._httpx import FileByteStream
from runtime_client._model import INVOKE_ENDPOINT, INVOKE_ENDPOINT_ASYNC
from runtime_client._restjson import serialize_request
from runtime_client.http._models import FileBody


def test_every_invoke_endpoint_input_goes_to_its_header() -> None:
    params = {
        "EndpointName": "my-ep",
        "Body": "héllo",
        "ContentType": "text/plain",
        "Accept": "application/json",
        "CustomAttributes": "c=1",
        "TargetModel": "model.tar.gz",
        "TargetVariant": "v-1",
        "TargetContainerHostname": "host-1",
        "InferenceId": "id 1",
        "EnableExplanations": "`true`",
        "InferenceComponentName": "ic-1",
        "SessionId": "NEW_SESSION",
        "PrefixAwareId": "p-1",
    }
    serialized = serialize_request(INVOKE_ENDPOINT, params)
    assert serialized.path == "/endpoints/my-ep/invocations"
    assert dict(serialized.headers) == {
        "Content-Type": "text/plain",
        "Accept": "application/json",
        "X-Amzn-SageMaker-Custom-Attributes": "c=1",
        "X-Amzn-SageMaker-Target-Model": "model.tar.gz",
        "X-Amzn-SageMaker-Target-Variant": "v-1",
        "X-Amzn-SageMaker-Target-Container-Hostname": "host-1",
        "X-Amzn-SageMaker-Inference-Id": "id 1",
        "X-Amzn-SageMaker-Enable-Explanations": "`true`",
        "X-Amzn-SageMaker-Inference-Component": "ic-1",
        "X-Amzn-SageMaker-Session-Id": "NEW_SESSION",
        "X-Amzn-SageMaker-Prefix-Aware-Id": "p-1",
    }
    assert serialized.body.data == "héllo".encode()
    assert "héllo" not in repr(serialized.body)


def test_async_integer_headers_are_sent_as_decimal() -> None:
    serialized = serialize_request(
        INVOKE_ENDPOINT_ASYNC,
        {"EndpointName": "e", "RequestTTLSeconds": 60, "InvocationTimeoutSeconds": 3600},
    )
    assert ("X-Amzn-SageMaker-RequestTTLSeconds", "60") in serialized.headers
    assert ("X-Amzn-SageMaker-InvocationTimeoutSeconds", "3600") in serialized.headers


BAD_PARAMS = [
    ({"EndpointName": "my_ep", "Body": b""}, "EndpointName", "pattern"),
    ({"EndpointName": "-ep", "Body": b""}, "EndpointName", "pattern"),
    ({"EndpointName": "a" * 64, "Body": b""}, "EndpointName", "max length: 63"),
    ({"EndpointName": 5, "Body": b""}, "EndpointName", "valid types: str"),
    ({"Body": b""}, "EndpointName", "missing required parameter"),
    ({"EndpointName": "e"}, "Body", "missing required parameter"),
    ({"EndpointName": "e", "Body": b"", "Bogus": 1}, "Bogus", "must be one of: EndpointName, Body"),
    (
        {"EndpointName": "e", "Body": b"", "ContentType": "a\r\nX-Evil: 1"},
        "ContentType",
        "CR or LF",
    ),
    (
        {"EndpointName": "e", "Body": b"", "CustomAttributes": "caf\u00e9"},
        "CustomAttributes",
        "ASCII",
    ),
    (
        {"EndpointName": "e", "Body": b"", "CustomAttributes": "x" * 1025},
        "CustomAttributes",
        "max length: 1024",
    ),
    ({"EndpointName": "e", "Body": b"", "Accept": "a\x00b"}, "Accept", "printable ASCII"),
    ({"EndpointName": "e", "Body": b"", "InferenceId": ""}, "InferenceId", "min length: 1"),
    ({"EndpointName": "e", "Body": b"", "InferenceId": "x" * 65}, "InferenceId", "max length: 64"),
    ({"EndpointName": "e", "Body": b"", "InferenceId": " lead"}, "InferenceId", "pattern"),
    ({"EndpointName": "e", "Body": b"", "TargetModel": ""}, "TargetModel", "min length: 1"),
    ({"EndpointName": "e", "Body": b"", "TargetVariant": "v_1"}, "TargetVariant", "pattern"),
    (
        {"EndpointName": "e", "Body": b"", "TargetContainerHostname": "h.1"},
        "TargetContainerHostname",
        "pattern",
    ),
    (
        {"EndpointName": "e", "Body": b"", "InferenceComponentName": "ic-"},
        "InferenceComponentName",
        "pattern",
    ),
    ({"EndpointName": "e", "Body": b"", "SessionId": "new_session"}, "SessionId", "pattern"),
    (
        {"EndpointName": "e", "Body": b"", "EnableExplanations": ""},
        "EnableExplanations",
        "min length: 1",
    ),
    (
        {"EndpointName": "e", "Body": b"", "PrefixAwareId": "x" * 65},
        "PrefixAwareId",
        "max length: 64",
    ),
    ({"EndpointName": "e", "Body": b"x" * 6291457}, "Body", "valid max length: 6291456"),
    ({"EndpointName": "e", "Body": 12}, "Body", "valid types: bytes, bytearray, str"),
    ({"EndpointName": "e", "Body": io.StringIO("x")}, "Body", "binary mode"),
]


@pytest.mark.parametrize(("params", "name", "rule"), BAD_PARAMS)
def test_bad_invoke_endpoint_parameters_are_refused(
    params: dict[str, Any], name: str, rule: str
) -> None:
    with pytest.raises(ParamValidationError) as info:
        serialize_request(INVOKE_ENDPOINT, params)
    assert isinstance(info.value, ValueError)
    assert (name, info.value.errors[0][1]) in info.value.errors
    assert info.value.errors[0][0] == name
    assert rule in info.value.errors[0][1]
    assert str(info.value).startswith("Parameter validation failed:\n" + name + ": ")


BAD_ASYNC = [
    ({"EndpointName": "e", "InputLocation": "ftp://x/y"}, "InputLocation", "pattern"),
    ({"EndpointName": "e", "RequestTTLSeconds": 59}, "RequestTTLSeconds", "valid min value: 60"),
    ({"EndpointName": "e", "RequestTTLSeconds": 21601}, "RequestTTLSeconds", "max value: 21600"),
    (
        {"EndpointName": "e", "InvocationTimeoutSeconds": 0},
        "InvocationTimeoutSeconds",
        "min value: 1",
    ),
    (
        {"EndpointName": "e", "InvocationTimeoutSeconds": "5"},
        "InvocationTimeoutSeconds",
        "valid types: int",
    ),
    (
        {"EndpointName": "e", "InvocationTimeoutSeconds": True},
        "InvocationTimeoutSeconds",
        "valid types: int",
    ),
    ({"EndpointName": "e", "Filename": "a.b.c"}, "Filename", "pattern"),
    ({"EndpointName": "e", "Filename": "x" * 33}, "Filename", "max length: 32"),
    ({"EndpointName": "e", "S3OutputPathExtension": "s3://x"}, "S3OutputPathExtension", "pattern"),
    ({"EndpointName": "e", "Body": b"x" * 128001}, "Body", "valid max length: 128000"),
]


@pytest.mark.parametrize(("params", "name", "rule"), BAD_ASYNC)
def test_bad_async_parameters_are_refused(params: dict[str, Any], name: str, rule: str) -> None:
    with pytest.raises(ParamValidationError) as info:
        serialize_request(INVOKE_ENDPOINT_ASYNC, params)
    assert info.value.errors[0][0] == name
    assert rule in info.value.errors[0][1]


def test_all_problems_are_reported_together_and_secrets_are_not_shown() -> None:
    with pytest.raises(ParamValidationError) as info:
        serialize_request(
            INVOKE_ENDPOINT, {"EndpointName": "bad name", "CustomAttributes": "s\u00e9cret"}
        )
    names = [name for name, _ in info.value.errors]
    assert names == ["EndpointName", "Body", "CustomAttributes"]
    assert "'bad name'" in str(info.value)
    assert "cret" not in str(info.value)


class _Pipe(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def test_non_seekable_bodies_are_refused_before_sending() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x"

    for body in (_Pipe(), chunks()):
        with pytest.raises(ParamValidationError, match=r"Body: (a non-seekable|invalid type)"):
            serialize_request(INVOKE_ENDPOINT, {"EndpointName": "e", "Body": body})


def test_a_file_body_over_the_limit_is_refused_without_reading_it() -> None:
    data = io.BytesIO(b"\0" * 6291457)
    with pytest.raises(ParamValidationError, match="invalid length 6291457 bytes"):
        serialize_request(INVOKE_ENDPOINT, {"EndpointName": "e", "Body": data})
    data.seek(1)  # from the current position it fits
    assert serialize_request(INVOKE_ENDPOINT, {"EndpointName": "e", "Body": data}).body.length == (
        6291456
    )


def test_file_byte_stream_rewinds_each_iteration_in_bounded_chunks() -> None:
    data = io.BytesIO(b"head" + b"z" * 100)
    stream = FileByteStream(FileBody(data, 4, 100, chunk_size=16))
    first = list(stream)
    assert max(len(c) for c in first) == 16
    assert b"".join(first) == b"z" * 100
    assert b"".join(stream) == b"z" * 100


def test_a_file_that_shrinks_while_sending_is_reported() -> None:
    stream = FileByteStream(FileBody(io.BytesIO(b"abc"), 0, 10))
    with pytest.raises(OSError, match="ended after 3 of 10 bytes"):
        list(stream)


def test_parameter_validation_off_keeps_the_wire_safety_checks() -> None:
    lax = serialize_request(
        INVOKE_ENDPOINT, {"EndpointName": "not_a_valid_name", "Body": b"x" * 6291457}, strict=False
    )
    assert lax.path == "/endpoints/not_a_valid_name/invocations"
    for bad in ({"ContentType": "a\nb"}, {"Accept": "caf\u00e9"}, {"Bogus": 1}, {"Body": 5}):
        with pytest.raises(ParamValidationError):
            serialize_request(
                INVOKE_ENDPOINT, {"EndpointName": "e", "Body": b"", **bad}, strict=False
            )


def test_every_header_member_is_signed() -> None:
    """The request builder signs every header member as it is (no filtering per call):
    so none may be one of the headers SigV4 leaves unsigned here."""
    from runtime_client._model import OPERATIONS
    from runtime_client._operation import _UNSIGNED

    for operation in OPERATIONS.values():
        wires = [m.wire_name.lower() for m in operation.inputs if m.location == "header"]
        assert not set(wires) & _UNSIGNED, operation.name
