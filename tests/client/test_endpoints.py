"""Endpoint resolution: explicit tables, botocore's endpoint tests and botocore's rule engine."""

from __future__ import annotations

import gzip
import json
import pathlib
import re
from typing import Any

import botocore
import botocore.exceptions
import botocore.loaders
import pytest
from botocore.endpoint_provider import EndpointProvider

from runtime_client._endpoints import (
    PARTITIONS,
    EndpointResolutionError,
    Partition,
    partition_for_region,
    resolve_endpoint,
    validate_endpoint_url,
)

_BOTOCORE_DATA = pathlib.Path(botocore.__file__).parent / "data"

# (region, fips, dualstack, expected URL) for the classic service.
CLASSIC = [
    ("us-east-1", False, False, "https://runtime.sagemaker.us-east-1.amazonaws.com"),
    ("us-east-1", True, False, "https://runtime-fips.sagemaker.us-east-1.amazonaws.com"),
    ("us-east-1", False, True, "https://runtime.sagemaker.us-east-1.api.aws"),
    ("us-east-1", True, True, "https://runtime.sagemaker-fips.us-east-1.api.aws"),
    ("eu-west-1", False, False, "https://runtime.sagemaker.eu-west-1.amazonaws.com"),
    ("mx-central-1", False, False, "https://runtime.sagemaker.mx-central-1.amazonaws.com"),
    ("aws-global", False, False, "https://runtime.sagemaker.aws-global.amazonaws.com"),
    ("cn-north-1", False, False, "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn"),
    ("cn-north-1", True, False, "https://runtime.sagemaker-fips.cn-north-1.amazonaws.com.cn"),
    (
        "cn-north-1",
        False,
        True,
        "https://runtime.sagemaker.cn-north-1.api.amazonwebservices.com.cn",
    ),
    ("aws-cn-global", False, False, "https://runtime.sagemaker.aws-cn-global.amazonaws.com.cn"),
    ("us-gov-west-1", False, False, "https://runtime.sagemaker.us-gov-west-1.amazonaws.com"),
    ("us-gov-west-1", True, False, "https://runtime.sagemaker.us-gov-west-1.amazonaws.com"),
    ("us-gov-west-1", True, True, "https://runtime.sagemaker-fips.us-gov-west-1.api.aws"),
    (
        "aws-us-gov-global",
        False,
        False,
        "https://runtime.sagemaker.aws-us-gov-global.amazonaws.com",
    ),
    ("us-iso-east-1", False, False, "https://runtime.sagemaker.us-iso-east-1.c2s.ic.gov"),
    ("us-iso-east-1", True, False, "https://runtime.sagemaker-fips.us-iso-east-1.c2s.ic.gov"),
    ("us-isob-east-1", False, False, "https://runtime.sagemaker.us-isob-east-1.sc2s.sgov.gov"),
    ("eu-isoe-west-1", False, False, "https://runtime.sagemaker.eu-isoe-west-1.cloud.adc-e.uk"),
    ("us-isof-south-1", False, False, "https://runtime.sagemaker.us-isof-south-1.csp.hci.ic.gov"),
    ("eusc-de-east-1", False, False, "https://runtime.sagemaker.eusc-de-east-1.amazonaws.eu"),
    # Unknown regions that are valid host labels fall back to the aws partition.
    ("foo-bar-1", False, False, "https://runtime.sagemaker.foo-bar-1.amazonaws.com"),
    ("local", True, False, "https://runtime-fips.sagemaker.local.amazonaws.com"),
]

# (region, fips, dualstack, expected URL) for the bidirectional-stream service.
HTTP2 = [
    ("us-east-1", False, False, "https://runtime.sagemaker.us-east-1.amazonaws.com:8443"),
    ("us-east-1", True, False, "https://runtime-fips.sagemaker.us-east-1.amazonaws.com:8443"),
    ("us-east-1", False, True, "https://runtime.sagemaker.us-east-1.api.aws:8443"),
    ("us-east-1", True, True, "https://runtime-fips.sagemaker.us-east-1.api.aws:8443"),
    ("cn-north-1", True, False, "https://runtime-fips.sagemaker.cn-north-1.amazonaws.com.cn:8443"),
    ("us-gov-west-1", True, False, "https://runtime-fips.sagemaker.us-gov-west-1.amazonaws.com:8443"),
    ("us-iso-east-1", False, False, "https://runtime.sagemaker.us-iso-east-1.c2s.ic.gov:8443"),
    ("eusc-de-east-1", False, True, "https://runtime.sagemaker.eusc-de-east-1.api.amazonwebservices.eu:8443"),
    # aws-iso-e is not named by the HTTP2 rule set: its generic rules (no port) apply.
    ("eu-isoe-west-1", False, False, "https://runtime.sagemaker.eu-isoe-west-1.cloud.adc-e.uk"),
    ("eu-isoe-west-1", True, False, "https://runtime.sagemaker-fips.eu-isoe-west-1.cloud.adc-e.uk"),
]  # fmt: skip


@pytest.mark.parametrize(("region", "fips", "dualstack", "url"), CLASSIC)
def test_classic_endpoint(region: str, fips: bool, dualstack: bool, url: str) -> None:
    assert resolve_endpoint(region, use_fips=fips, use_dualstack=dualstack) == url


@pytest.mark.parametrize(("region", "fips", "dualstack", "url"), HTTP2)
def test_http2_endpoint(region: str, fips: bool, dualstack: bool, url: str) -> None:
    got = resolve_endpoint(region, use_fips=fips, use_dualstack=dualstack, http2=True)
    assert got == url


@pytest.mark.parametrize(
    ("endpoint_url", "expected"),
    [
        ("https://example.com", "https://example.com"),
        ("https://example.com/", "https://example.com"),
        ("http://127.0.0.1:8080//", "http://127.0.0.1:8080"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
        ("https://proxy.internal/sagemaker/", "https://proxy.internal/sagemaker"),
        ("HTTPS://Example.COM", "HTTPS://Example.COM"),
    ],
)
@pytest.mark.parametrize("http2", [False, True])
def test_custom_endpoint_url(endpoint_url: str, expected: str, http2: bool) -> None:
    assert resolve_endpoint("us-west-2", endpoint_url=endpoint_url, http2=http2) == expected
    # The rule set needs no region when an endpoint is given.
    assert resolve_endpoint(None, endpoint_url=endpoint_url, http2=http2) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"use_fips": True},
            "Invalid Configuration: FIPS and custom endpoint are not supported",
        ),
        (
            {"use_dualstack": True},
            "Invalid Configuration: Dualstack and custom endpoint are not supported",
        ),
    ],
)
def test_custom_endpoint_with_fips_or_dualstack_is_an_error(
    kwargs: dict[str, bool], message: str
) -> None:
    fips, dualstack = kwargs.get("use_fips", False), kwargs.get("use_dualstack", False)
    with pytest.raises(EndpointResolutionError, match=message) as info:
        resolve_endpoint(
            "us-east-1", endpoint_url="https://example.com", use_fips=fips, use_dualstack=dualstack
        )
    assert "endpoint_url='https://example.com'" in str(info.value)


@pytest.mark.parametrize(
    ("endpoint_url", "fragment"),
    [
        ("example.com", "must start with http:// or https://"),
        ("ftp://example.com", "must start with http:// or https://"),
        ("https://", "has no host name"),
        ("https:///path", "has no host name"),
        ("https://exa mple.com", "whitespace"),
        ("https://example.com\n", "whitespace"),
        (" https://example.com", "whitespace"),
        ("https://bad_host.com", "invalid host name 'bad_host.com'"),
        ("https://-bad.com", "invalid host name"),
        ("https://[zz::1]/", "not a valid URL"),
        ("https://example.com:99999", "not a valid URL"),
        ("https://example.com:0", "invalid port 0"),
        ("https://user:pw@example.com", "must not contain credentials"),
        ("https://example.com/?x=1", "query string or fragment"),
        ("https://example.com#frag", "query string or fragment"),
    ],
)
def test_bad_endpoint_url_names_the_parameter(endpoint_url: str, fragment: str) -> None:
    with pytest.raises(EndpointResolutionError) as info:
        resolve_endpoint("us-east-1", endpoint_url=endpoint_url)
    assert "endpoint_url" in str(info.value)
    assert fragment in str(info.value)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "region", ["", "a.b", "us-east-1/", "-us", "us-", "123", "a" * 64, "us east", "us_east_1"]
)
def test_bad_region_names_region(region: str) -> None:
    with pytest.raises(EndpointResolutionError, match=r"region .* is not a valid host label"):
        resolve_endpoint(region)
    # Validated even when a custom endpoint makes the region irrelevant to the URL.
    with pytest.raises(EndpointResolutionError, match="not a valid host label"):
        resolve_endpoint(region, endpoint_url="https://example.com")


def test_missing_region() -> None:
    with pytest.raises(EndpointResolutionError, match="Missing Region") as info:
        resolve_endpoint(None)
    assert "AWS_REGION" in str(info.value)


def test_endpoint_url_validation_on_its_own() -> None:
    assert validate_endpoint_url("https://a.example/") == "https://a.example"
    with pytest.raises(EndpointResolutionError, match="endpoint_url must be a string"):
        validate_endpoint_url(b"https://a.example")  # type: ignore[arg-type]


_NO_SUPPORT = tuple(
    Partition(p.name, p.region_regex, p.regions, p.dns_suffix, p.dual_stack_dns_suffix,
              supports_fips=False, supports_dual_stack=False)
    for p in PARTITIONS
)  # fmt: skip


@pytest.mark.parametrize(
    ("fips", "dualstack", "message"),
    [
        (True, True, "FIPS and DualStack are enabled, but this partition does not support one"),
        (True, False, "FIPS is enabled but this partition does not support FIPS"),
        (False, True, "DualStack is enabled but this partition does not support DualStack"),
    ],
)
def test_partition_without_fips_or_dualstack(fips: bool, dualstack: bool, message: str) -> None:
    with pytest.raises(EndpointResolutionError, match=message) as info:
        resolve_endpoint(
            "us-isob-east-1", use_fips=fips, use_dualstack=dualstack, partitions=_NO_SUPPORT
        )
    assert "partition 'aws-iso-b'" in str(info.value)
    assert resolve_endpoint("us-isob-east-1", partitions=_NO_SUPPORT).endswith("sc2s.sgov.gov")


def _load_json(path: pathlib.Path) -> Any:
    if path.exists():
        return json.loads(path.read_text("utf-8"))
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        return json.loads(gzip.decompress(gz.read_bytes()))
    return None


def test_partitions_match_botocore() -> None:
    data = _load_json(_BOTOCORE_DATA / "partitions.json")
    if data is None:
        pytest.skip("botocore's data/partitions.json is not installed")
    theirs = {
        p["id"]: (
            p["regionRegex"],
            frozenset(r for r in p["regions"] if not re.match(p["regionRegex"], r)),
            p["outputs"]["dnsSuffix"],
            p["outputs"]["dualStackDnsSuffix"],
            p["outputs"]["supportsFIPS"],
            p["outputs"]["supportsDualStack"],
        )
        for p in data["partitions"]
    }
    ours = {
        p.name: (
            p.region_regex,
            p.regions,
            p.dns_suffix,
            p.dual_stack_dns_suffix,
            p.supports_fips,
            p.supports_dual_stack,
        )
        for p in PARTITIONS
    }
    assert list(ours) == [p["id"] for p in data["partitions"]]  # same order of matching
    assert ours == theirs


def test_partition_lookup() -> None:
    assert partition_for_region("aws-iso-b-global").name == "aws-iso-b"
    assert partition_for_region("us-gov-east-1").name == "aws-us-gov"
    assert partition_for_region("nowhere").name == "aws"


def _check_rule_set_cases(cases: list[dict[str, Any]]) -> int:
    """Assert each case (``endpoint-tests-1.json`` format); return how many were checked."""
    for case in cases:
        params = case.get("params", {})
        region = params.get("Region")
        endpoint_url = params.get("Endpoint")
        fips = params.get("UseFIPS", False)
        dualstack = params.get("UseDualStack", False)
        expect = case["expect"]
        if "error" in expect:
            with pytest.raises(EndpointResolutionError) as info:
                resolve_endpoint(
                    region, endpoint_url=endpoint_url, use_fips=fips, use_dualstack=dualstack
                )
            assert expect["error"] in str(info.value), case.get("documentation")
        else:
            got = resolve_endpoint(
                region, endpoint_url=endpoint_url, use_fips=fips, use_dualstack=dualstack
            )
            assert got == expect["endpoint"]["url"], case.get("documentation")
    return len(cases)


def test_rule_set_case_runner_on_known_cases() -> None:
    """The runner used for botocore's file, on cases written in the same format."""
    cases: list[dict[str, Any]] = [
        {
            "documentation": "For region us-east-1 with FIPS enabled and DualStack enabled",
            "expect": {"endpoint": {"url": "https://runtime.sagemaker-fips.us-east-1.api.aws"}},
            "params": {"Region": "us-east-1", "UseFIPS": True, "UseDualStack": True},
        },
        {
            "documentation": "Missing region",
            "expect": {"error": "Invalid Configuration: Missing Region"},
        },
        {
            "documentation": "For custom endpoint with fips enabled and dualstack disabled",
            "expect": {
                "error": "Invalid Configuration: FIPS and custom endpoint are not supported"
            },
            "params": {"Region": "us-east-1", "UseFIPS": True, "Endpoint": "https://example.com"},
        },
    ]
    assert _check_rule_set_cases(cases) == 3
    wrong = [{**cases[0], "expect": {"endpoint": {"url": "https://wrong.example"}}}]
    with pytest.raises(AssertionError):
        _check_rule_set_cases(wrong)


def test_botocore_endpoint_tests_file() -> None:
    """Every case of botocore's own ``endpoint-tests-1.json`` (shipped only in some builds)."""
    service_dir = _BOTOCORE_DATA / "sagemaker-runtime"
    files = sorted(service_dir.glob("*/endpoint-tests-1.json*")) if service_dir.exists() else []
    if not files:
        print(f"no endpoint-tests-1.json under {service_dir} (the botocore wheel omits it)")
        pytest.skip(f"botocore's endpoint-tests-1.json is not installed under {service_dir}")
    data = _load_json(files[-1].with_name("endpoint-tests-1.json"))
    assert data is not None
    assert _check_rule_set_cases(data["testCases"]) > 0


_ORACLE_REGIONS = [
    "us-east-1", "ap-southeast-7", "aws-global", "cn-northwest-1", "aws-cn-global",
    "us-gov-east-1", "aws-us-gov-global", "us-iso-west-1", "aws-iso-global", "us-isob-east-1",
    "eu-isoe-west-1", "us-isof-east-1", "eusc-de-east-1", "foo-bar-1", "local", "cn-local",
]  # fmt: skip


def _oracle() -> EndpointProvider:
    loader = botocore.loaders.create_loader()
    ruleset = loader.load_service_model("sagemaker-runtime", "endpoint-rule-set-1")
    return EndpointProvider(ruleset, loader.load_data("partitions"))


@pytest.mark.parametrize("region", _ORACLE_REGIONS)
def test_matches_botocore_rule_engine(region: str) -> None:
    """Our resolver against botocore's rule engine on the installed classic rule set."""
    oracle = _oracle()
    for fips in (False, True):
        for dualstack in (False, True):
            for endpoint in (None, "https://example.com"):
                params: dict[str, Any] = {
                    "Region": region,
                    "UseFIPS": fips,
                    "UseDualStack": dualstack,
                }
                if endpoint:
                    params["Endpoint"] = endpoint
                try:
                    expected = oracle.resolve_endpoint(**params).url
                except botocore.exceptions.EndpointResolutionError as exc:
                    expected = f"error: {exc.kwargs['msg']}"
                try:
                    got = resolve_endpoint(
                        region, endpoint_url=endpoint, use_fips=fips, use_dualstack=dualstack
                    )
                except EndpointResolutionError as exc:
                    got = f"error: {exc}"
                if expected.startswith("error: "):
                    assert got.startswith(expected), params
                else:
                    assert got == expected, params
