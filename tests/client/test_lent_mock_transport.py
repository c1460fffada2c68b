"""A lent httpx client on ``httpx.MockTransport`` (respx works the same way): a handler
that returns ``httpx.Response(content=...)`` hands back a response already read, and the
body is still read through ``StreamingBody`` / ``AsyncStreamingBody``."""

from __future__ import annotations

import json

import httpx
import pytest

from runtime_client import AsyncSageMakerRuntime, SageMakerRuntime

KEYS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}
ANSWER = b'{"predictions": [1]}'


def _handler(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/endpoints/ep/invocations"
    headers = {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "v1"}
    return httpx.Response(200, headers=headers, content=ANSWER)


def _empty(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"")


def test_a_read_response_from_a_mock_transport() -> None:
    with httpx.Client(transport=httpx.MockTransport(_handler)) as http:
        client = SageMakerRuntime(region_name="us-east-1", http_client=http, **KEYS)
        answer = client.invoke_endpoint(EndpointName="ep", Body=b"{}")
        assert answer["InvokedProductionVariant"] == "v1"
        assert json.loads(answer["Body"].read()) == {"predictions": [1]}
        assert answer["Body"].read() == b""
    with httpx.Client(transport=httpx.MockTransport(_empty)) as http:
        empty = SageMakerRuntime(region_name="us-east-1", http_client=http, **KEYS)
        assert empty.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read() == b""


@pytest.mark.anyio
async def test_a_read_response_from_an_async_mock_transport() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_handler)) as http:
        client = AsyncSageMakerRuntime(region_name="us-east-1", http_client=http, **KEYS)
        answer = await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
        assert await answer["Body"].read() == ANSWER
        chunks = [chunk async for chunk in answer["Body"].aiter_chunks()]
        assert chunks == []
