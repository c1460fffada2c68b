"""What a boto3 user brings along, side by side with boto3 (botocore as the oracle):
botocore's own Config object, the region rule, and an httpx client of the wrong kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime_client import AsyncSageMakerRuntime, InvalidConfigError, NoRegionError
from runtime_client import SageMakerRuntime as Ours

boto3 = pytest.importorskip("boto3", reason="boto3 is the oracle of these tests")
botocore_config = pytest.importorskip("botocore.config", reason="botocore is the oracle")
botocore_exceptions = pytest.importorskip("botocore.exceptions", reason="botocore is the oracle")

KEYS: dict[str, Any] = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}


def _boto3(**kwargs: Any) -> Any:
    # A new session each time: boto3.client's default session keeps the environment it saw.
    return boto3.session.Session().client("sagemaker-runtime", **KEYS, **kwargs)


# ------------------------------------------------------------------ botocore's Config


def test_a_botocore_config_is_read_by_its_attributes_as_boto3_reads_it() -> None:
    given = botocore_config.Config(
        region_name="eu-west-1",
        connect_timeout=3,
        read_timeout=5,
        retries={"mode": "standard", "total_max_attempts": 2},
        max_pool_connections=4,
        user_agent_extra="my-app/1.0",
        tcp_keepalive=True,
        signature_version="v4",  # what we sign with anyway: accepted
    )
    ours = Ours(config=given, **KEYS)
    theirs = _boto3(config=given)
    resolved = ours.meta.resolved_config
    assert ours.meta.region_name == theirs.meta.region_name == "eu-west-1"
    assert resolved.connect_timeout == theirs.meta.config.connect_timeout == 3
    assert resolved.read_timeout == theirs.meta.config.read_timeout == 5
    assert resolved.max_pool_connections == theirs.meta.config.max_pool_connections == 4
    assert resolved.total_max_attempts == 2
    assert resolved.tcp_keepalive is True
    assert resolved.user_agent.endswith(" my-app/1.0")
    assert ours.meta.config.user_provided_options["read_timeout"] == 5
    ours.close()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"s3": {"addressing_style": "path"}}, "s3"),
        ({"proxies_config": {"proxy_ca_bundle": "/tmp/ca.pem"}}, "proxies_config"),
        ({"signature_version": "v2"}, "signature_version"),
        ({"defaults_mode": "standard"}, "defaults_mode"),
    ],
)
def test_a_botocore_option_we_cannot_honour_is_named(options: dict[str, Any], named: str) -> None:
    given = botocore_config.Config(**options)
    with pytest.raises(
        InvalidConfigError, match=f"not supported by sagemaker-runtime-lite: {named}"
    ):
        Ours(config=given, region_name="us-east-1", **KEYS)


def test_something_that_is_no_config_is_refused_naming_both_kinds() -> None:
    with pytest.raises(InvalidConfigError, match=r"runtime_client's or botocore's.*got dict"):
        Ours(config={"read_timeout": 5}, region_name="us-east-1", **KEYS)


# ------------------------------------------------------------------ the region rule


def _region_of(make: Any) -> str:
    try:
        return str(make().meta.region_name)
    except (NoRegionError, botocore_exceptions.NoRegionError):
        return "NoRegionError"


@pytest.mark.parametrize(
    ("environ", "profile_region"),
    [
        ({"AWS_DEFAULT_REGION": "sa-east-1"}, None),
        ({"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "sa-east-1"}, None),
        ({"AWS_REGION": "ap-south-1"}, "ca-central-1"),
        ({"AWS_DEFAULT_REGION": "sa-east-1"}, "ca-central-1"),
        ({}, "ca-central-1"),
        ({}, None),
    ],
)
def test_the_region_is_found_where_boto3_finds_it(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    environ: dict[str, str],
    profile_region: str | None,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if profile_region is not None:
        config = tmp_path / "config"
        config.write_text(f"[default]\nregion = {profile_region}\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert _region_of(lambda: Ours(**KEYS)) == _region_of(_boto3)


def test_aws_region_alone_is_read_where_boto3_finds_no_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")  # as other AWS SDKs read it
    assert _region_of(_boto3) == "NoRegionError"
    assert _region_of(lambda: Ours(**KEYS)) == "ap-south-1"


# ------------------------------------------------------------------ a lent httpx client


def test_a_blocking_client_refuses_an_async_httpx_client_at_once() -> None:
    lent = httpx.AsyncClient()
    with pytest.raises(
        InvalidConfigError,
        match=r"http_client must be an httpx\.Client for SageMakerRuntime, got AsyncClient: "
        r"use AsyncSageMakerRuntime",
    ):
        Ours(region_name="us-east-1", http_client=lent, **KEYS)  # type: ignore[arg-type]


def test_an_async_client_refuses_a_blocking_httpx_client_at_once() -> None:
    with (
        httpx.Client() as lent,
        pytest.raises(InvalidConfigError, match=r"httpx\.AsyncClient for AsyncSageMakerRuntime"),
    ):
        AsyncSageMakerRuntime(region_name="us-east-1", http_client=lent, **KEYS)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="got str"):
        AsyncSageMakerRuntime(region_name="us-east-1", http_client="x", **KEYS)  # type: ignore[arg-type]
