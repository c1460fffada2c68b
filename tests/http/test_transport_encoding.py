"""What the transport must leave alone: compressed answers, and blank-edged header values.

**Never inflate.** An answer with ``Content-Encoding: gzip`` is handed over as the bytes
that came, as boto3 does: InvokeEndpoint's ``Body.read()`` gives the compressed bytes, and
an error (424) or a 202 whose body is a gzip bomb (about 125 KiB that would inflate to
128 MiB of JSON) is parsed from the raw bytes, so the process's memory grows by a few
MiB at most (measured with ``tracemalloc``, which sees every Python allocation, the
server thread's included) and the error's message is not the inflated JSON's.

**Blank-edged header values** (``ContentType=" application/json "``, a tab around
``Accept``, ``CustomAttributes=" a=b "``, ...): either the request goes out as boto3 sends
it (compared at the SigV4-checking server, which parses both the same way) and its
signature verifies, once (never retried), or the client refuses it locally with a
``ParamValidationError`` that names the parameter, before any traffic. Anything else (a
transport error, a retry, a signature the server rejects) fails.
"""

from __future__ import annotations

import functools
import gzip
import json
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from runtime_client import ModelError, ParamValidationError, SageMakerRuntimeError
from tests.support import drivers, raw_client
from tests.support.raw_client import Driver
from tests.support.raw_server import RawServer, Reply, response
from tests.support.sigv4_server import KEYS, SigV4Server

pytestmark = pytest.mark.anyio

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make

MIB = 1 << 20
#: How much more memory than before a call may use at its peak, answer included.
MEMORY_BOUND = 32 * MIB
INFLATED = 128 * MIB
MARKER = "INFLATED-MARKER"


@functools.cache
def gzip_bomb() -> bytes:
    """128 MiB of JSON gzipped (about 125 KiB): ``{"message": MARKER, "InferenceId":
    MARKER, "pad": "aaa..."}``, so that an inflating client would find a message (an
    error) or an inference id (a 202) that the raw bytes do not have."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    start = json.dumps({"message": MARKER, "InferenceId": MARKER})[:-1] + ', "pad": "'
    parts = [compressor.compress(start.encode())]
    block = b"a" * MIB
    parts += [compressor.compress(block) for _ in range(INFLATED // MIB)]
    parts += [compressor.compress(b'"}'), compressor.flush()]
    return b"".join(parts)


async def _peak_growth(call: Callable[[], Any]) -> tuple[Any, int]:
    """``(outcome, bytes)``: what ``await call()`` returned or raised, and how far the
    traced memory rose above where it stood before the call."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        try:
            outcome: Any = await call()
        except Exception as exc:  # the caller checks what it is
            outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak - before


def _gzip_answer(status: int, body: bytes, *extra: tuple[str, str]) -> Reply:
    headers = (("Content-Type", "application/json"), ("Content-Encoding", "gzip"), *extra)
    return Reply((response(status, headers, body),))


def test_the_bomb_is_what_it_claims() -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 150 * 1024
    head = zlib.decompressobj(31).decompress(bomb, 64)
    assert head.startswith(b'{"message": "INFLATED-MARKER", "InferenceId": "INFLATED-MARKER"')


async def test_error_answer_with_gzip_bomb_is_not_inflated(
    make: Callable[..., Driver], server: RawServer
) -> None:
    bomb = gzip_bomb()
    server.play(_gzip_answer(424, bomb, ("x-amzn-ErrorType", "ModelError:http://internal/")))
    client = make()

    async def call() -> Any:
        return await client.invoke(EndpointName="ep", Body=b"x")

    error, growth = await _peak_growth(call)
    assert isinstance(error, ModelError), repr(error)
    assert growth < MEMORY_BOUND, f"the call's memory grew by {growth / MIB:.0f} MiB"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    message = error.response["Error"]["Message"]
    assert MARKER not in message  # not the inflated JSON's message
    assert len(message) <= len(bomb) * 2  # at most the raw bytes, as text
    assert len(server.requests) == 1


async def test_async_invocation_answer_with_gzip_bomb_is_not_inflated(
    make: Callable[..., Driver], server: RawServer
) -> None:
    server.play(_gzip_answer(202, gzip_bomb(), ("X-Amzn-SageMaker-OutputLocation", "s3://o")))
    client = make()

    async def call() -> Any:
        return await client.invoke_async(EndpointName="ep", InputLocation="s3://bucket/in")

    outcome, growth = await _peak_growth(call)
    assert growth < MEMORY_BOUND, f"the call's memory grew by {growth / MIB:.0f} MiB"
    if isinstance(outcome, Exception):  # refusing the answer is fine; only ours
        assert isinstance(outcome, SageMakerRuntimeError), repr(outcome)
    else:
        assert outcome.get("InferenceId") != MARKER  # not read from the inflated JSON
        assert outcome["OutputLocation"] == "s3://o"
        assert outcome["ResponseMetadata"]["HTTPStatusCode"] == 202


async def test_gzip_body_is_returned_as_the_compressed_bytes(
    make: Callable[..., Driver], server: RawServer
) -> None:
    small = gzip.compress(b'{"answer": 42}')
    bomb = gzip_bomb()
    server.play(_gzip_answer(200, small), _gzip_answer(200, bomb))
    client = make()
    answer = await client.invoke(EndpointName="ep", Body=b"x")
    assert await client.read(answer["Body"]) == small
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-encoding"] == "gzip"
    # Nothing asked for compression that the client will not undo.
    assert server.requests[0].header("Accept-Encoding") in (None, "identity")

    async def call() -> bytes:
        answer = await client.invoke(EndpointName="ep", Body=b"x")
        return await client.read(answer["Body"])

    data, growth = await _peak_growth(call)
    assert data == bomb
    assert growth < MEMORY_BOUND, f"the call's memory grew by {growth / MIB:.0f} MiB"


# --- blank-edged header values ------------------------------------------------------------

sigv4_server = drivers.server  # module-scoped SigV4Server

BLANK_EDGED = [
    ("invoke_endpoint", "ContentType", " application/json "),
    ("invoke_endpoint", "ContentType", "application/json "),
    ("invoke_endpoint", "ContentType", " application/json"),
    ("invoke_endpoint", "Accept", "\ttext/csv\t"),
    ("invoke_endpoint", "CustomAttributes", " a=b "),
    ("invoke_endpoint", "TargetModel", " model.tar.gz "),
    ("invoke_endpoint", "TargetVariant", " variant-1 "),
    ("invoke_endpoint", "InferenceId", " id-1 "),
    ("invoke_endpoint_async", "ContentType", " application/json "),
    ("invoke_endpoint_async", "Accept", " application/json\t"),
    ("invoke_endpoint_async", "CustomAttributes", " a=b "),
]
WIRE = {
    ("invoke_endpoint", "ContentType"): "Content-Type",
    ("invoke_endpoint", "Accept"): "Accept",
    ("invoke_endpoint_async", "ContentType"): "X-Amzn-SageMaker-Content-Type",
    ("invoke_endpoint_async", "Accept"): "X-Amzn-SageMaker-Accept",
    ("invoke_endpoint", "CustomAttributes"): "X-Amzn-SageMaker-Custom-Attributes",
    ("invoke_endpoint_async", "CustomAttributes"): "X-Amzn-SageMaker-Custom-Attributes",
    ("invoke_endpoint", "TargetModel"): "X-Amzn-SageMaker-Target-Model",
    ("invoke_endpoint", "TargetVariant"): "X-Amzn-SageMaker-Target-Variant",
    ("invoke_endpoint", "InferenceId"): "X-Amzn-SageMaker-Inference-Id",
}
_BOTO3_SENT: dict[tuple[str, str, str], str | None] = {}


def _params(operation: str, name: str, value: str) -> dict[str, Any]:
    params: dict[str, Any] = {"EndpointName": "ep", name: value}
    if operation == "invoke_endpoint":
        params["Body"] = b"{}"
    else:
        params["InputLocation"] = "s3://bucket/in.json"
    return params


def _boto3_sends(server: SigV4Server, operation: str, name: str, value: str) -> str | None:
    """The header value as the server received it from boto3 (once per case)."""
    key = (operation, name, value)
    if key not in _BOTO3_SENT:
        server.reset()
        boto = boto3.client(
            "sagemaker-runtime",
            region_name="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key=KEYS["AKIDEXAMPLE"][0],
        )
        try:
            getattr(boto, operation)(**_params(operation, name, value))
        finally:
            boto.close()
        [seen] = server.requests
        assert seen.signature_ok, seen.problem
        _BOTO3_SENT[key] = seen.header(WIRE[operation, name])
        server.reset()
    return _BOTO3_SENT[key]


@pytest.fixture
def signing_server(
    sigv4_server: SigV4Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[SigV4Server]:
    drivers.reset_environment(sigv4_server, monkeypatch, tmp_path)
    yield sigv4_server
    sigv4_server.reset()


@pytest.mark.parametrize(("operation", "name", "value"), BLANK_EDGED)
async def test_blank_edged_header_value_is_sent_as_boto3_does_or_refused(
    mode: tuple[str, str], signing_server: SigV4Server, operation: str, name: str, value: str
) -> None:
    expected = _boto3_sends(signing_server, operation, name, value)
    client = Driver(mode[0], signing_server.url)
    try:
        outcome = await _answer_or_refusal(client, operation, _params(operation, name, value))
    finally:
        await client.close()
    if isinstance(outcome, ParamValidationError):
        assert name in str(outcome), str(outcome)
        assert signing_server.requests == [], "refused, yet something was sent"
        return
    [seen] = signing_server.requests  # sent once: never retried
    assert seen.signature_ok, seen.problem
    assert seen.header(WIRE[operation, name]) == expected


async def _answer_or_refusal(
    client: Driver, operation: str, params: dict[str, Any]
) -> dict[str, Any] | ParamValidationError:
    """The answer (its body read), or the local refusal; any other error propagates."""
    try:
        answer = await client.call(operation, **params)
    except ParamValidationError as refused:
        return refused
    if operation == "invoke_endpoint":
        await client.read(answer["Body"])
    return answer


def test_boto3_sends_the_blank_edged_values() -> None:
    """The comparison above is not empty: boto3 does send such values, and the parsing
    server keeps what it does not strip (a trailing blank)."""
    with SigV4Server() as server:
        sent = _boto3_sends(server, "invoke_endpoint", "CustomAttributes", " a=b ")
    assert sent in ("a=b ", " a=b ")
