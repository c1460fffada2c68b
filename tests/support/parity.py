"""The boto3 parity harness: a scenario (plain boto3-style user code) runs against boto3
and against ``SageMakerRuntime``, both pointed with ``endpoint_url`` at the same
SigV4-checking loopback server, and what the user sees and what reached the wire must be
the same.

A test module shares the fixtures by binding them to module names (``server =
_parity.server``; importing them by name would read as unused).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.retries.standard import ExponentialBackoff

from runtime_client._client import SageMakerRuntime
from tests.support.drivers import server
from tests.support.sigv4_server import KEYS, SigV4Server, wire_summary

__all__ = [
    "Scenario",
    "assert_same_as_boto3",
    "parity_environment",
    "response_metadata",
    "server",
]

Scenario = Callable[[Any, SigV4Server], Any]


@pytest.fixture(autouse=True)
def parity_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the machine's AWS settings away from both SDKs, and retry without waiting in
    both (backoff is tested elsewhere)."""
    for name in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


def response_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """``ResponseMetadata`` less the ``date`` header (which two runs need not share)."""
    headers = {k: v for k, v in meta["HTTPHeaders"].items() if k != "date"}
    return {**meta, "HTTPHeaders": headers}


def _run(scenario: Scenario, client: Any, server: SigV4Server) -> tuple[Any, list[Any]]:
    server.reset()
    result = scenario(client, server)
    return result, wire_summary(server.requests)


def assert_same_as_boto3(scenario: Scenario, server: SigV4Server) -> None:
    """Run ``scenario`` on boto3, then on ours, and compare the results and the wire."""
    creds: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": server.url,
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": KEYS["AKIDEXAMPLE"][0],
    }
    boto = boto3.client(
        "sagemaker-runtime",
        config=BotoConfig(retries={"mode": "standard"}, read_timeout=70),
        **creds,
    )
    expected, expected_wire = _run(scenario, boto, server)
    # The one line a boto3 user changes:
    with SageMakerRuntime(**creds) as ours:
        ours._ctx.retry_policy._random = lambda: 0.0
        actual, actual_wire = _run(scenario, ours, server)
    boto.close()
    assert actual == expected
    assert actual_wire == expected_wire
