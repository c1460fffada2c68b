"""``Config(http2=True)``: the clients' three classic operations over HTTP/2 (TLS ALPN h2)
against the loopback h2 origin, which echoes the body; the default stays HTTP/1.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime_client import AsyncSageMakerRuntime, Config, SageMakerRuntime
from tests.support.h2_origin import H2Origin
from tests.support.h2_server import make_tls_files


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[tuple[H2Origin, str]]:
    cert, key = make_tls_files(tmp_path)
    with H2Origin((cert, key)) as server:
        yield server, str(cert)
    assert server.errors == []


def _options(url: str, cert: str, **config: Any) -> dict[str, Any]:
    return {
        "region_name": "us-east-1",
        "endpoint_url": url,
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": "secret",
        "verify": cert,
        "config": Config(retries={"total_max_attempts": 1}, **config),
    }


def test_config_http2_defaults_to_false() -> None:
    assert Config().http2 is False
    assert Config(http2=True).http2 is True
    with pytest.raises(ValueError, match="http2 must be True or False"):
        Config(http2="yes")  # type: ignore[arg-type]


def test_blocking_client_over_http2_and_by_default_http11(origin: tuple[H2Origin, str]) -> None:
    server, cert = origin
    with SageMakerRuntime(**_options(server.url, cert, http2=True)) as client:
        for body in (b"first", b"second"):
            answer = client.invoke_endpoint(EndpointName="ep", Body=body)
            assert answer["Body"].read() == body
    with SageMakerRuntime(**_options(server.url, cert)) as client:
        assert client.invoke_endpoint(EndpointName="ep", Body=b"h1")["Body"].read() == b"h1"
    assert [seen.protocol for seen in server.seen] == ["h2", "h2", "http/1.1"]
    signed = server.seen[0].headers
    assert signed[":authority"] == f"127.0.0.1:{server.port}"  # the signed Host
    assert signed[":path"] == "/endpoints/ep/invocations"
    assert "SignedHeaders=" in signed["authorization"]
    assert server.connections == 2


@pytest.mark.anyio
async def test_async_client_calls_at_once_share_a_connection(origin: tuple[H2Origin, str]) -> None:
    server, cert = origin
    answers: list[bytes] = []
    async with AsyncSageMakerRuntime(**_options(server.url, cert, http2=True)) as client:

        async def call(i: int) -> None:
            answer = await client.invoke_endpoint(EndpointName="ep", Body=str(i).encode())
            answers.append(await answer["Body"].read())

        with anyio.fail_after(10):
            await call(0)
            async with anyio.create_task_group() as group:
                for i in range(1, 9):
                    group.start_soon(call, i)
    assert sorted(answers) == [str(i).encode() for i in range(9)]
    assert {seen.protocol for seen in server.seen} == {"h2"}
    assert server.connections == 1
