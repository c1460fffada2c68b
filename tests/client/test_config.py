"""Config validation and merging; precedence of arguments, Config, environment and profile."""

from __future__ import annotations

import pathlib
import platform
from collections.abc import Mapping
from typing import Any

import botocore.config
import pytest

from runtime_client._config import Config, InvalidConfigError, NoRegionError
from runtime_client._endpoints import EndpointResolutionError
from runtime_client._resolve import ResolvedConfig, resolve_client_config
from runtime_client._version import __version__


def resolve(
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    config: Config | None = None,
    environ: Mapping[str, str] | None = None,
    profile: Mapping[str, str] | None = None,
) -> ResolvedConfig:
    return resolve_client_config(
        region_name=region_name,
        endpoint_url=endpoint_url,
        config=config,
        profile_name=None,
        environ={} if environ is None else environ,
        profile_config={} if profile is None else profile,
    )


# --- Config ---------------------------------------------------------------------------------


def test_config_defaults() -> None:
    c = Config()
    assert (c.connect_timeout, c.read_timeout, c.max_pool_connections) == (60.0, 70.0, 10)
    assert (c.retry_read_timeouts, c.tcp_keepalive, c.parameter_validation) == (False, False, True)
    assert c.region_name is None
    assert c.retries is None
    assert c.use_fips_endpoint is None
    assert dict(c.user_provided_options) == {}


def test_config_is_immutable() -> None:
    c = Config(region_name="us-east-1", retries={"mode": "standard"})
    with pytest.raises(AttributeError, match="Config is immutable"):
        c.region_name = "eu-west-1"
    with pytest.raises(TypeError):
        c.retries["mode"] = "legacy"  # type: ignore[index]
    with pytest.raises(TypeError):
        hash(c)


def test_config_rejects_positional_and_unknown_arguments() -> None:
    with pytest.raises(TypeError):
        Config("us-east-1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Config(region="us-east-1")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"region_name": "us east 1"}, "region_name: region 'us east 1' is not a valid host"),
        ({"region_name": 1}, "region_name must be a string"),
        ({"connect_timeout": 0}, "connect_timeout must be a positive number of seconds"),
        ({"connect_timeout": "5"}, "connect_timeout must be a number of seconds or None"),
        ({"read_timeout": -1.5}, "read_timeout must be a positive number of seconds"),
        ({"read_timeout": float("nan")}, "read_timeout must be a positive number"),
        ({"read_timeout": True}, "read_timeout must be a number of seconds or None"),
        ({"retries": 3}, "retries must be a dict"),
        ({"retries": {"mode": "fast"}}, "retries['mode'] must be one of 'standard', 'legacy'"),
        ({"retries": {"max_attempts": -1}}, "retries['max_attempts'] must be an integer >= 0"),
        ({"retries": {"total_max_attempts": 0}}, "retries['total_max_attempts'] must be an"),
        ({"retries": {"max_attempts": "3"}}, "retries['max_attempts'] must be an integer"),
        ({"retries": {"attempts": 3}}, "retries has unknown key(s) 'attempts'"),
        ({"max_pool_connections": 0}, "max_pool_connections must be an integer >= 1"),
        ({"max_pool_connections": 2.5}, "max_pool_connections must be an integer >= 1"),
        ({"use_fips_endpoint": "true"}, "use_fips_endpoint must be True, False or None"),
        ({"use_dualstack_endpoint": 1}, "use_dualstack_endpoint must be True, False or None"),
        ({"retry_read_timeouts": None}, "retry_read_timeouts must be True or False"),
        ({"tcp_keepalive": "yes"}, "tcp_keepalive must be True or False"),
        ({"user_agent_extra": b"x"}, "user_agent_extra must be a string or None"),
        ({"proxies": {"https": 3}}, "proxies must be a dict of scheme"),
        ({"client_cert": ("a",)}, "client_cert must be a path to a PEM file or a"),
    ],
)
def test_config_validation_names_the_parameter(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        Config(**kwargs)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_config_accepts_none_timeouts_and_ints() -> None:
    c = Config(connect_timeout=5, read_timeout=None)
    assert (c.connect_timeout, c.read_timeout) == (5.0, None)


MERGES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        {"region_name": "us-east-1"},
        {"read_timeout": 5},
        {"region_name": "us-east-1", "read_timeout": 5},
    ),
    ({"region_name": "us-east-1"}, {"region_name": "eu-west-1"}, {"region_name": "eu-west-1"}),
    # An option left at its default in `other` does not override.
    ({"connect_timeout": 3}, {}, {"connect_timeout": 3}),
    # An option explicitly passed as None does.
    ({"region_name": "us-east-1"}, {"region_name": None}, {"region_name": None}),
    (
        {"retries": {"mode": "legacy"}},
        {"retries": {"max_attempts": 2}},
        {"retries": {"max_attempts": 2}},
    ),
]


@pytest.mark.parametrize(("first", "second", "merged"), MERGES)
def test_merge_like_botocore(
    first: dict[str, Any], second: dict[str, Any], merged: dict[str, Any]
) -> None:
    ours = Config(**first).merge(Config(**second))
    assert dict(ours.user_provided_options) == merged
    theirs = botocore.config.Config(**first).merge(botocore.config.Config(**second))
    for key, value in merged.items():
        assert getattr(theirs, key) == value
        assert getattr(ours, key) == value
    assert ours == Config(**merged)


def test_repr_hides_proxy_credentials() -> None:
    c = Config(proxies={"https": "http://user:s3cret@proxy.internal:3128"}, region_name="us-east-1")
    assert "s3cret" not in repr(c)
    assert "***@proxy.internal:3128" in repr(c)
    assert "region_name='us-east-1'" in repr(c)
    resolved = resolve(config=c)
    assert resolved.proxies is not None
    assert resolved.proxies["https"] == "http://user:s3cret@proxy.internal:3128"  # still usable
    assert "s3cret" not in repr(resolved)


# --- resolve_client_config: precedence ---------------------------------------------------------

REGIONS: list[tuple[dict[str, Any], str]] = [
    (
        {
            "region_name": "eu-west-1",
            "config": Config(region_name="us-west-2"),
            "environ": {"AWS_REGION": "ap-south-1"},
        },
        "eu-west-1",
    ),
    (
        {"config": Config(region_name="us-west-2"), "environ": {"AWS_REGION": "ap-south-1"}},
        "us-west-2",
    ),
    (
        {
            "environ": {"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "sa-east-1"},
            "profile": {"region": "ca-central-1"},
        },
        "sa-east-1",  # botocore's order: AWS_DEFAULT_REGION first
    ),
    # botocore ignores AWS_REGION: the profile's region wins over it...
    (
        {"environ": {"AWS_REGION": "ap-south-1"}, "profile": {"region": "ca-central-1"}},
        "ca-central-1",
    ),
    # ...and it is read only where nothing else names a region (botocore: NoRegionError)
    ({"environ": {"AWS_REGION": "ap-south-1"}}, "ap-south-1"),
    (
        {"environ": {"AWS_DEFAULT_REGION": "sa-east-1"}, "profile": {"region": "ca-central-1"}},
        "sa-east-1",
    ),
    ({"environ": {"AWS_REGION": ""}, "profile": {"region": "ca-central-1"}}, "ca-central-1"),
    ({"config": Config(region_name=None), "profile": {"region": "ca-central-1"}}, "ca-central-1"),
]


@pytest.mark.parametrize(("kwargs", "region"), REGIONS)
def test_region_precedence(kwargs: dict[str, Any], region: str) -> None:
    resolved = resolve(**kwargs)
    assert resolved.region == region
    assert resolved.endpoint_url == f"https://runtime.sagemaker.{region}.amazonaws.com"
    assert resolved.http2_endpoint_url == f"https://runtime.sagemaker.{region}.amazonaws.com:8443"


def test_missing_region_says_how_to_set_it() -> None:
    with pytest.raises(NoRegionError) as info:
        resolve()
    for hint in ("region_name", "AWS_REGION", "AWS_DEFAULT_REGION", "profile"):
        assert hint in str(info.value)
    with pytest.raises(NoRegionError, match="an endpoint_url was given, but requests are still"):
        resolve(endpoint_url="http://127.0.0.1:8080")


@pytest.mark.parametrize(
    ("kwargs", "source"),
    [
        ({"environ": {"AWS_REGION": "us_east_1"}}, "environment variable AWS_REGION"),
        ({"profile": {"region": "bad.region"}}, "profile setting 'region'"),
        ({"region_name": "-x"}, "from region_name"),
    ],
)
def test_invalid_region_names_its_source(kwargs: dict[str, Any], source: str) -> None:
    with pytest.raises(InvalidConfigError, match="not a valid host label") as info:
        resolve(**kwargs)
    assert source in str(info.value)


RETRIES: list[tuple[dict[str, Any], tuple[str, int]]] = [
    ({}, ("standard", 3)),
    ({"profile": {"retry_mode": "legacy"}}, ("legacy", 5)),
    (
        {"environ": {"AWS_RETRY_MODE": "adaptive"}, "profile": {"retry_mode": "legacy"}},
        ("adaptive", 3),
    ),
    (
        {"config": Config(retries={"mode": "standard"}), "environ": {"AWS_RETRY_MODE": "legacy"}},
        ("standard", 3),
    ),
    ({"environ": {"AWS_MAX_ATTEMPTS": "7"}, "profile": {"max_attempts": "2"}}, ("standard", 7)),
    ({"profile": {"max_attempts": "2"}}, ("standard", 2)),
    # Config max_attempts counts retries (botocore), total_max_attempts counts all attempts.
    (
        {"config": Config(retries={"max_attempts": 4}), "environ": {"AWS_MAX_ATTEMPTS": "9"}},
        ("standard", 5),
    ),
    ({"config": Config(retries={"max_attempts": 0})}, ("standard", 1)),
    ({"config": Config(retries={"total_max_attempts": 4, "max_attempts": 9})}, ("standard", 4)),
    # A mode from Config with attempts from the environment.
    (
        {"config": Config(retries={"mode": "legacy"}), "environ": {"AWS_MAX_ATTEMPTS": "2"}},
        ("legacy", 2),
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), RETRIES)
def test_retry_precedence(kwargs: dict[str, Any], expected: tuple[str, int]) -> None:
    resolved = resolve(region_name="us-east-1", **kwargs)
    assert (resolved.retry_mode, resolved.total_max_attempts) == expected
    assert f"cfg/retry-mode#{expected[0]}" in resolved.user_agent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"environ": {"AWS_MAX_ATTEMPTS": "0"}}, "environment variable AWS_MAX_ATTEMPTS must be"),
        ({"environ": {"AWS_MAX_ATTEMPTS": "three"}}, "AWS_MAX_ATTEMPTS must be an integer >= 1"),
        ({"profile": {"max_attempts": "-1"}}, "profile setting 'max_attempts' must be"),
        ({"environ": {"AWS_RETRY_MODE": "fast"}}, "environment variable AWS_RETRY_MODE must be"),
        ({"profile": {"retry_mode": "x"}}, "profile setting 'retry_mode' must be one of"),
        ({"environ": {"AWS_USE_FIPS_ENDPOINT": "1"}}, "AWS_USE_FIPS_ENDPOINT must be 'true' or"),
        ({"profile": {"use_dualstack_endpoint": "yes"}}, "'use_dualstack_endpoint' must be 'true'"),
    ],
)
def test_bad_environment_or_profile_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message):
        resolve(region_name="us-east-1", **kwargs)


ENDPOINT_FLAGS: list[tuple[dict[str, Any], str]] = [
    (
        {"environ": {"AWS_USE_FIPS_ENDPOINT": "true"}},
        "https://runtime-fips.sagemaker.us-east-1.amazonaws.com",
    ),
    (
        {"environ": {"AWS_USE_FIPS_ENDPOINT": "TRUE"}, "profile": {"use_fips_endpoint": "false"}},
        "https://runtime-fips.sagemaker.us-east-1.amazonaws.com",
    ),
    (
        {"config": Config(use_fips_endpoint=False), "environ": {"AWS_USE_FIPS_ENDPOINT": "true"}},
        "https://runtime.sagemaker.us-east-1.amazonaws.com",
    ),
    (
        {"profile": {"use_dualstack_endpoint": "true"}},
        "https://runtime.sagemaker.us-east-1.api.aws",
    ),
    (
        {"config": Config(use_fips_endpoint=True, use_dualstack_endpoint=True)},
        "https://runtime.sagemaker-fips.us-east-1.api.aws",
    ),
]


@pytest.mark.parametrize(("kwargs", "url"), ENDPOINT_FLAGS)
def test_fips_and_dualstack_precedence(kwargs: dict[str, Any], url: str) -> None:
    resolved = resolve(region_name="us-east-1", **kwargs)
    assert resolved.endpoint_url == url
    assert resolved.use_fips_endpoint == ("fips" in url)
    assert resolved.use_dualstack_endpoint == ("api.aws" in url)
    assert resolved.custom_endpoint is False


CUSTOM: list[tuple[dict[str, Any], str | None]] = [
    (
        {
            "endpoint_url": "http://arg:1/",
            "environ": {
                "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://svc:2",
                "AWS_ENDPOINT_URL": "http://all:3",
            },
            "profile": {"endpoint_url": "http://prof:4"},
        },
        "http://arg:1",
    ),
    (
        {
            "environ": {
                "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://svc:2",
                "AWS_ENDPOINT_URL": "http://all:3",
            },
            "profile": {"endpoint_url": "http://prof:4"},
        },
        "http://svc:2",
    ),
    (
        {
            "environ": {"AWS_ENDPOINT_URL": "http://all:3"},
            "profile": {"endpoint_url": "http://prof:4"},
        },
        "http://all:3",
    ),
    ({"profile": {"endpoint_url": "http://prof:4/"}}, "http://prof:4"),
    # Ignoring configured endpoint URLs never ignores the explicit argument.
    (
        {
            "endpoint_url": "http://arg:1",
            "environ": {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
        },
        "http://arg:1",
    ),
    (
        {
            "environ": {
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
                "AWS_ENDPOINT_URL": "http://all:3",
            }
        },
        None,
    ),
    (
        {"profile": {"ignore_configured_endpoint_urls": "true", "endpoint_url": "http://prof:4"}},
        None,
    ),
    (
        {
            "config": Config(ignore_configured_endpoint_urls=False),
            "environ": {
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
                "AWS_ENDPOINT_URL": "http://all:3",
            },
        },
        "http://all:3",
    ),
    (
        {
            "config": Config(ignore_configured_endpoint_urls=True),
            "environ": {"AWS_ENDPOINT_URL": "http://all:3"},
        },
        None,
    ),
]


@pytest.mark.parametrize(("kwargs", "url"), CUSTOM)
def test_endpoint_url_precedence(kwargs: dict[str, Any], url: str | None) -> None:
    resolved = resolve(region_name="us-east-1", **kwargs)
    default = "https://runtime.sagemaker.us-east-1.amazonaws.com"
    assert resolved.endpoint_url == (url or default)
    assert resolved.http2_endpoint_url == (url or default + ":8443")
    assert resolved.custom_endpoint is (url is not None)


def test_configured_endpoint_with_fips_names_the_source() -> None:
    with pytest.raises(EndpointResolutionError) as info:
        resolve(
            region_name="us-east-1",
            environ={"AWS_ENDPOINT_URL": "http://all:3", "AWS_USE_FIPS_ENDPOINT": "true"},
        )
    assert "FIPS and custom endpoint are not supported" in str(info.value)
    assert "environment variable AWS_ENDPOINT_URL" in str(info.value)
    with pytest.raises(EndpointResolutionError, match="Dualstack and custom endpoint"):
        resolve(
            region_name="us-east-1",
            endpoint_url="http://arg:1",
            config=Config(use_dualstack_endpoint=True),
        )
    with pytest.raises(EndpointResolutionError, match="profile setting 'endpoint_url'"):
        resolve(region_name="us-east-1", profile={"endpoint_url": "ftp://x"})


def test_values_taken_from_config() -> None:
    resolved = resolve(
        region_name="us-east-1",
        config=Config(
            connect_timeout=2,
            read_timeout=None,
            retry_read_timeouts=True,
            max_pool_connections=50,
            tcp_keepalive=True,
            client_cert=("c.pem", "k.pem"),
            parameter_validation=False,
        ),
    )
    assert (resolved.connect_timeout, resolved.read_timeout) == (2.0, None)
    assert resolved.retry_after_send is True  # retry_read_timeouts is its older name
    assert resolved.max_pool_connections == 50
    assert resolved.tcp_keepalive is True
    assert resolved.client_cert == ("c.pem", "k.pem")
    assert resolved.parameter_validation is False
    assert resolved.ca_bundle is None
    default = resolve(region_name="us-east-1")
    assert (default.connect_timeout, default.read_timeout) == (60.0, 70.0)
    assert default.retry_after_send is False


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        (
            {"HTTPS_PROXY": "proxy.corp:3128", "http_proxy": "http://p2:8080"},
            {"http": "http://p2:8080", "https": "http://proxy.corp:3128"},
        ),
        ({"ALL_PROXY": "http://all:1"}, {"http": "http://all:1", "https": "http://all:1"}),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com,amazonaws.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".us-east-1.amazonaws.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, {"https": "http://p:1"}),
    ],
)
def test_proxies_from_the_environment_as_boto3(
    environ: dict[str, str], expected: dict[str, str] | None
) -> None:
    assert resolve(region_name="us-east-1", environ=environ).proxies == expected


def test_config_proxies_win_over_the_environment() -> None:
    resolved = resolve(
        region_name="us-east-1",
        environ={"HTTPS_PROXY": "http://env:1"},
        config=Config(proxies={"https": "http://cfg:2"}),
    )
    assert resolved.proxies == {"https": "http://cfg:2"}


def test_no_proxy_matches_the_endpoint_host_with_a_port() -> None:
    environ = {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1"}
    assert (
        resolve(
            region_name="us-east-1", endpoint_url="http://127.0.0.1:8080", environ=environ
        ).proxies
        is None
    )


def test_ca_bundle() -> None:
    env = {"AWS_CA_BUNDLE": "/env.pem"}
    assert resolve(region_name="us-east-1", environ=env).ca_bundle == "/env.pem"
    assert resolve(region_name="us-east-1", profile={"ca_bundle": "/p.pem"}).ca_bundle == "/p.pem"


def test_user_agent() -> None:
    ua = resolve(region_name="us-east-1", config=Config(user_agent_extra="my-app/1.2")).user_agent
    assert ua.startswith(f"sagemaker-runtime-lite/{__version__} ")
    assert f"lang/python#{platform.python_version()}" in ua
    assert ua.endswith(" my-app/1.2")
    with_app = resolve(region_name="us-east-1", environ={"AWS_SDK_UA_APP_ID": "shop cart"})
    assert " app/shop-cart" in with_app.user_agent
    from_config = resolve(
        region_name="us-east-1",
        config=Config(user_agent_appid="cfg"),
        environ={"AWS_SDK_UA_APP_ID": "env"},
    )
    assert " app/cfg" in from_config.user_agent
    replaced = resolve(
        region_name="us-east-1", config=Config(user_agent="mine/1", user_agent_extra="x")
    )
    assert replaced.user_agent == "mine/1 x"
    with pytest.raises(InvalidConfigError, match="must not contain line breaks"):
        resolve(region_name="us-east-1", config=Config(user_agent_extra="a\r\nX-Evil: 1"))


def test_config_must_be_a_config() -> None:
    with pytest.raises(InvalidConfigError, match="config must be a Config"):
        resolve(region_name="us-east-1", config={"region_name": "x"})  # type: ignore[arg-type]


def test_profile_is_read_from_files_when_not_given(tmp_path: pathlib.Path) -> None:
    config_file = tmp_path / "config"
    config_file.write_text(
        "[default]\nregion = eu-north-1\n\n[profile dev]\nregion = ap-northeast-2\n"
        "retry_mode = legacy\n",
        "utf-8",
    )
    environ = {
        "AWS_CONFIG_FILE": str(config_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "missing"),
        "HOME": str(tmp_path),
    }
    default = resolve_client_config(
        region_name=None, endpoint_url=None, config=None, profile_name=None, environ=environ
    )
    assert default.region == "eu-north-1"
    dev = resolve_client_config(
        region_name=None, endpoint_url=None, config=None, profile_name="dev", environ=environ
    )
    assert (dev.region, dev.retry_mode, dev.total_max_attempts) == ("ap-northeast-2", "legacy", 5)
