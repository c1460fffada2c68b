"""The typed parameters and answers (``runtime_client.type_defs``) against the service model,
and what a type checker makes of a user's code: mypy run on sample files flags a misspelled
parameter, a value of the wrong type and a misspelled answer key, and passes correct code."""

from __future__ import annotations

import textwrap
import typing
from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from typing import Any

import pytest

from runtime_client import type_defs
from runtime_client._model import OPERATIONS, PAYLOAD_PART, Member, Operation
from runtime_client._response_body import AsyncStreamingBody, StreamingBody
from runtime_client._response_stream import AsyncEventStream, EventStream

_NAMESPACE = {
    "StreamingBody": StreamingBody,
    "AsyncStreamingBody": AsyncStreamingBody,
    "EventStream": EventStream,
    "AsyncEventStream": AsyncEventStream,
}

_STREAM = {
    "sync": Iterable[type_defs.RequestStreamEvent],
    "async": AsyncIterable[type_defs.RequestStreamEvent] | Iterable[type_defs.RequestStreamEvent],
}


def _hints(typed: type) -> dict[str, Any]:
    return typing.get_type_hints(typed, globalns=vars(type_defs), localns=_NAMESPACE)


def _expected_type(member: Member, flavour: str) -> object:
    if member.kind == "blob":
        return type_defs.BlobInput
    if member.kind == "eventstream":
        return _STREAM[flavour]
    return {"string": str, "integer": int}[member.kind]


REQUESTS: list[tuple[str, type, str]] = [
    ("InvokeEndpoint", type_defs.InvokeEndpointRequest, "sync"),
    ("InvokeEndpointAsync", type_defs.InvokeEndpointAsyncRequest, "sync"),
    ("InvokeEndpointWithResponseStream", type_defs.InvokeEndpointWithResponseStreamRequest, "sync"),
    (
        "InvokeEndpointWithBidirectionalStream",
        type_defs.InvokeEndpointWithBidirectionalStreamRequest,
        "sync",
    ),
    (
        "InvokeEndpointWithBidirectionalStream",
        type_defs.AsyncInvokeEndpointWithBidirectionalStreamRequest,
        "async",
    ),
]


@pytest.mark.parametrize(
    ("name", "typed", "flavour"), REQUESTS, ids=lambda v: getattr(v, "__name__", v)
)
def test_each_request_type_is_the_models_input(name: str, typed: Any, flavour: str) -> None:
    operation = OPERATIONS[name]
    hints = _hints(typed)
    assert set(hints) == {member.name for member in operation.inputs}
    assert typed.__required_keys__ == operation.required
    for member in operation.inputs:
        assert hints[member.name] == _expected_type(member, flavour), member.name


RESPONSES: list[tuple[str, type, type | None]] = [
    ("InvokeEndpoint", type_defs.InvokeEndpointResponse, StreamingBody),
    ("InvokeEndpoint", type_defs.AsyncInvokeEndpointResponse, AsyncStreamingBody),
    ("InvokeEndpointAsync", type_defs.InvokeEndpointAsyncResponse, None),
    (
        "InvokeEndpointWithResponseStream",
        type_defs.InvokeEndpointWithResponseStreamResponse,
        EventStream,
    ),
    (
        "InvokeEndpointWithResponseStream",
        type_defs.AsyncInvokeEndpointWithResponseStreamResponse,
        AsyncEventStream,
    ),
]


@pytest.mark.parametrize(
    ("name", "typed", "body"), RESPONSES, ids=lambda v: getattr(v, "__name__", v)
)
def test_each_response_type_is_the_models_output(name: str, typed: Any, body: type | None) -> None:
    operation: Operation = OPERATIONS[name]
    hints = _hints(typed)
    members = {member.name for member in operation.outputs}
    payload = {"Body"} if operation.output_payload is not None else set()
    assert set(hints) == members | payload | {"ResponseMetadata"}
    assert typed.__required_keys__ == payload | {"ResponseMetadata"}
    assert all(hints[member] is str for member in members)
    if body is not None:
        assert hints["Body"] is body
    assert hints["ResponseMetadata"] is type_defs.ResponseMetadata


def test_the_payload_part_type_is_the_models_event() -> None:
    hints = _hints(type_defs.RequestPayloadPart)
    assert set(hints) == {member.name for member in PAYLOAD_PART.members}
    assert type_defs.RequestPayloadPart.__required_keys__ == {"Bytes"}


def test_the_public_surface_is_all() -> None:
    public = {name for name in vars(type_defs) if not name.startswith("_")}
    declared = set(type_defs.__all__)
    assert declared <= public
    assert all(name[0].isupper() for name in declared)


# --------------------------------------------------------------------- mypy on user code

_SAMPLE = """\
from runtime_client import AsyncSageMakerRuntime, SageMakerRuntime

client = SageMakerRuntime(region_name="us-east-1")
{sync}

async def main() -> None:
    aclient = AsyncSageMakerRuntime(region_name="us-east-1")
{async_}
"""


def _mypy(tmp_path: Path, sync: str, async_: str = "pass") -> list[str]:
    api = pytest.importorskip("mypy.api", reason="mypy checks the sample files")
    sample = tmp_path / "sample.py"
    sample.write_text(
        _SAMPLE.format(
            sync=textwrap.dedent(sync), async_=textwrap.indent(textwrap.dedent(async_), "    ")
        )
    )
    out, err, status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(sample),
        ]
    )
    assert status in (0, 1), out + err
    return [line.split(": error: ", 1)[1] for line in out.splitlines() if ": error: " in line]


def test_mypy_passes_correct_code_and_types_the_answers(tmp_path: Path) -> None:
    errors = _mypy(
        tmp_path,
        """
        answer = client.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="a/b")
        data: bytes = answer["Body"].read()
        status: int = answer["ResponseMetadata"]["HTTPStatusCode"]
        queued = client.invoke_endpoint_async(EndpointName="ep", RequestTTLSeconds=60)
        where: str = queued.get("OutputLocation", "")
        """,
        """
        streamed = await aclient.invoke_endpoint_with_response_stream(EndpointName="e", Body="x")
        async for event in streamed["Body"]:
            print(event)
        """,
    )
    assert errors == []


def test_mypy_flags_a_misspelled_parameter_a_wrong_type_and_a_wrong_key(tmp_path: Path) -> None:
    errors = _mypy(
        tmp_path,
        """
        client.invoke_endpoint(EndpiontName="ep", Body=b"{}")
        client.invoke_endpoint(EndpointName="ep", Body=42)
        client.invoke_endpoint_async(EndpointName="ep", RequestTTLSeconds="60")
        answer = client.invoke_endpoint(EndpointName="ep", Body=b"")
        answer["Bodyy"]
        """,
        """await aclient.invoke_endpoint(Body=b"x")""",
    )
    text = "\n".join(errors)
    assert 'Unexpected keyword argument "EndpiontName"' in text
    assert (
        'Argument "Body" to "invoke_endpoint" of "SageMakerRuntime" has incompatible type "int"'
        in text
    )
    assert '"RequestTTLSeconds" to "invoke_endpoint_async"' in text
    assert '"str"' in text
    assert '"InvokeEndpointResponse" has no key "Bodyy"' in text
    assert 'Missing named argument "EndpointName"' in text
