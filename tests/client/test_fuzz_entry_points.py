"""Hypothesis against every answer parser and the public entry points (issue 15): whatever
comes in, nothing is raised outside the documented tree (``SageMakerRuntimeError``; the
sans-IO parsers return a value). The HTTP/1.1 layer is fuzzed against h11 in
``tests/http/test_h1_differential.py`` (only its ``RemoteProtocolError`` may escape), the
event-stream codec in ``tests/eventstream/test_fuzz.py``."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime_client import SageMakerRuntime, SageMakerRuntimeError
from runtime_client._config import Config
from runtime_client._errors import parse_error_response
from runtime_client._model import OPERATIONS
from runtime_client._response_stream import (
    END,
    NEED_DATA,
    ResponseStreamDecoder,
    error_from_message,
)
from runtime_client._restjson import parse_header_members, parse_json_output
from runtime_client.bidi._events import _error_code_member
from runtime_client.eventstream import EventStreamMessage, encode_message

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
member_names = st.sampled_from(
    ["message", "Message", "__type", "code", "Code", "OriginalStatusCode", "OriginalMessage",
     "LogStreamArn", "ErrorCode", "InferenceId", "OutputLocation", "x"]
)  # fmt: skip
json_bodies = st.one_of(
    st.binary(max_size=200),
    st.dictionaries(member_names, json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
)
header_maps = st.dictionaries(
    st.sampled_from(["x-amzn-ErrorType", "x-amzn-RequestId", "Content-Type", "Date"]),
    st.text(max_size=40),
    max_size=4,
)


@SETTINGS
@given(st.integers(100, 599), header_maps, json_bodies)
def test_error_answers_always_parse(status: int, headers: dict[str, str], body: bytes) -> None:
    error = parse_error_response(status, headers, body)
    assert isinstance(error["Error"]["Code"], str)
    assert isinstance(error["Error"]["Message"], str)
    repr(error)


@SETTINGS
@given(st.sampled_from(sorted(OPERATIONS)), json_bodies, header_maps)
def test_success_answers_always_parse(name: str, body: bytes, headers: dict[str, str]) -> None:
    operation = OPERATIONS[name]
    parse_json_output(operation, body)
    parse_header_members(operation, {k.lower(): v for k, v in headers.items()})
    _error_code_member(body)


message_headers = st.dictionaries(
    st.sampled_from([":message-type", ":event-type", ":exception-type", ":error-code",
                     ":error-message", ":content-type"]),
    st.sampled_from(["event", "exception", "error", "PayloadPart", "ModelStreamError",
                     "InternalStreamFailure", "Other", ""]),
    max_size=5,
)  # fmt: skip


@SETTINGS
@given(message_headers, json_bodies)
def test_stream_messages_become_events_or_library_errors(
    headers: dict[str, str], payload: bytes
) -> None:
    message = EventStreamMessage(headers, payload)
    if headers.get(":message-type") in ("exception", "error"):
        assert isinstance(error_from_message(message, "Op", {}), SageMakerRuntimeError)
    decoder = ResponseStreamDecoder("InvokeEndpointWithResponseStream", "http://h", {})
    try:
        decoder.receive_data(encode_message(headers, payload))
        decoder.receive_eof()
        for _ in range(10):
            if decoder.next_event() in (NEED_DATA, END):
                break
    except SageMakerRuntimeError:
        pass


@SETTINGS
@given(st.binary(max_size=300))
def test_random_stream_bytes_raise_only_library_errors(data: bytes) -> None:
    decoder = ResponseStreamDecoder("InvokeEndpointWithResponseStream", "http://h", {})
    try:
        decoder.receive_data(data)
        decoder.receive_eof()
        for _ in range(10):
            decoder.next_event()
    except SageMakerRuntimeError:
        pass


# --------------------------------------------------------------------- public entry points

param_values = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=30),
    st.integers(-(10**20), 10**20),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.floats(allow_nan=True),
)


@SETTINGS
@given(
    st.sampled_from(
        ["invoke_endpoint", "invoke_endpoint_async", "invoke_endpoint_with_response_stream"]
    ),
    st.dictionaries(
        st.sampled_from(["EndpointName", "Body", "ContentType", "Accept", "CustomAttributes",
                         "InferenceId", "TargetVariant", "InputLocation", "RequestTTLSeconds",
                         "SessionId", "Nope"]),
        param_values,
        max_size=6,
    ),
)  # fmt: skip
def test_any_parameters_give_an_answer_or_a_library_error(
    method: str, params: dict[str, Any]
) -> None:
    client = SageMakerRuntime(
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # nothing listens: a connect error at worst
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    try:
        getattr(client, method)(**params)
    except SageMakerRuntimeError:
        pass
    finally:
        client.close()


config_options = st.fixed_dictionaries(
    {},
    optional={
        "region_name": param_values,
        "connect_timeout": param_values,
        "read_timeout": param_values,
        "retries": st.one_of(param_values, st.dictionaries(st.text(max_size=20), param_values)),
        "max_pool_connections": param_values,
        "proxies": st.one_of(
            param_values, st.dictionaries(st.text(max_size=8), st.text(max_size=30))
        ),
        "client_cert": st.one_of(
            param_values, st.tuples(st.text(max_size=5), st.text(max_size=5))
        ),
        "user_agent_extra": param_values,
        "tcp_keepalive": param_values,
        "http2": param_values,
    },
)  # fmt: skip


@SETTINGS
@given(
    config_options,
    st.one_of(st.none(), st.text(max_size=30)),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_any_configuration_gives_a_client_or_a_library_error(
    options: dict[str, Any], region: str | None, endpoint_url: str | None
) -> None:
    try:
        client = SageMakerRuntime(
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(**options),
        )
    except SageMakerRuntimeError:
        return
    client.close()
