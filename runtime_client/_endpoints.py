"""Endpoint resolution for SageMaker Runtime, following the service's endpoint rule sets.

Two services share the hosts:

* the classic rest-json service (``sagemaker-runtime`` 2017-05-13) on port 443, and
* the bidirectional-stream service (``sagemaker-runtime-http2`` 2025-10-01) on port 8443.

A region picks its *partition* the way the rule set's ``aws.partition`` function does: an
exact match in the partition's list of named regions (``aws-global``, ``aws-cn-global``, ...),
or a match of the partition's region regex, tried partition by partition in the order of
botocore's ``partitions.json``; a region that matches nothing falls back to ``aws``.

Classic service (``{r}`` = region, ``{dns}`` / ``{ds}`` = the partition's DNS suffix /
dual-stack DNS suffix)::

    plain               https://runtime.sagemaker.{r}.{dns}
    FIPS, aws           https://runtime-fips.sagemaker.{r}.amazonaws.com
    FIPS, aws-us-gov    https://runtime.sagemaker.{r}.amazonaws.com
    FIPS, elsewhere     https://runtime.sagemaker-fips.{r}.{dns}
    dual-stack          https://runtime.sagemaker.{r}.{ds}
    FIPS + dual-stack   https://runtime.sagemaker-fips.{r}.{ds}

Bidirectional-stream service, for the partitions its rule set names (every partition here
except ``aws-iso-e``)::

    plain / dual-stack          https://runtime.sagemaker.{r}.{dns or ds}:8443
    FIPS / FIPS + dual-stack    https://runtime-fips.sagemaker.{r}.{dns or ds}:8443

Any other partition falls through to the rule set's generic rules, which have no port and use
the ``runtime.sagemaker-fips`` form for FIPS (this is what the published rule set says).

A custom ``endpoint_url`` wins over all of this, but cannot be combined with FIPS or
dual-stack.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sigv4._record import record

from ._errors import SageMakerRuntimeError

__all__ = [
    "PARTITIONS",
    "EndpointResolutionError",
    "Partition",
    "partition_for_region",
    "resolve_endpoint",
    "validate_endpoint_url",
    "validate_region",
]


class EndpointResolutionError(SageMakerRuntimeError, ValueError):
    """The region, endpoint URL or FIPS/dual-stack options cannot be resolved to an endpoint."""


@record(frozen=True)
class Partition:
    """One AWS partition, as in botocore's ``partitions.json``."""

    name: str
    region_regex: str
    regions: frozenset[str]
    dns_suffix: str
    dual_stack_dns_suffix: str
    supports_fips: bool = True
    supports_dual_stack: bool = True

    def matches(self, region: str) -> bool:
        """True when ``region`` is a named region of this partition or matches its regex."""
        return region in self.regions or re.match(self.region_regex, region) is not None


#: The partitions in the order ``aws.partition`` tries them (botocore ``partitions.json``).
PARTITIONS: tuple[Partition, ...] = (
    Partition(
        "aws",
        r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$",
        frozenset({"aws-global"}),
        "amazonaws.com",
        "api.aws",
    ),
    Partition(
        "aws-cn",
        r"^cn\-\w+\-\d+$",
        frozenset({"aws-cn-global"}),
        "amazonaws.com.cn",
        "api.amazonwebservices.com.cn",
    ),
    Partition(
        "aws-eusc",
        r"^eusc\-(de)\-\w+\-\d+$",
        frozenset(),
        "amazonaws.eu",
        "api.amazonwebservices.eu",
    ),
    Partition(
        "aws-iso",
        r"^us\-iso\-\w+\-\d+$",
        frozenset({"aws-iso-global"}),
        "c2s.ic.gov",
        "api.aws.ic.gov",
    ),
    Partition(
        "aws-iso-b",
        r"^us\-isob\-\w+\-\d+$",
        frozenset({"aws-iso-b-global"}),
        "sc2s.sgov.gov",
        "api.aws.scloud",
    ),
    Partition(
        "aws-iso-e",
        r"^eu\-isoe\-\w+\-\d+$",
        frozenset({"aws-iso-e-global"}),
        "cloud.adc-e.uk",
        "api.cloud-aws.adc-e.uk",
    ),
    Partition(
        "aws-iso-f",
        r"^us\-isof\-\w+\-\d+$",
        frozenset({"aws-iso-f-global"}),
        "csp.hci.ic.gov",
        "api.aws.hci.ic.gov",
    ),
    Partition(
        "aws-us-gov",
        r"^us\-gov\-\w+\-\d+$",
        frozenset({"aws-us-gov-global"}),
        "amazonaws.com",
        "api.aws",
    ),
)

# The partitions the bidirectional-stream rule set lists by name (port 8443 endpoints).
_HTTP2_PARTITIONS = frozenset(
    {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-f", "aws-eusc"}
)

# A DNS host label: 1-63 letters, digits and hyphens, no hyphen at either end, not all digits
# (botocore's ``validate_region_name`` rule, minus its acceptance of the empty string).
_HOST_LABEL = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")
# Whitespace: urlsplit() silently drops tab, CR and LF (bpo-43882); a space is never valid.
_UNSAFE_URL_CHARS = frozenset("\t\r\n ")
_HOSTNAME = re.compile(r"^((?!-)[a-z\d-]{1,63}(?<!-)\.)*((?!-)[a-z\d-]{1,63}(?<!-))\.?$", re.I)
_IPV6 = re.compile(r"^[0-9a-f:.]+(%[\w.~-]+)?$", re.I)


def validate_region(region: str) -> str:
    """Return ``region`` if it is a valid DNS host label, else raise naming the rule."""
    if not isinstance(region, str):
        raise EndpointResolutionError(f"region must be a string, got {type(region).__name__}")
    if _HOST_LABEL.match(region) is None:
        raise EndpointResolutionError(
            f"region {region!r} is not a valid host label: it must be 1-63 letters, digits or "
            "hyphens, must not start or end with a hyphen and must not be all digits "
            "(for example 'us-east-1')"
        )
    return region


def validate_endpoint_url(endpoint_url: str) -> str:
    """Return ``endpoint_url`` without its trailing slashes, or raise naming the rule.

    The URL must use ``http`` or ``https``, name a host (a DNS name, an IPv4 address or a
    bracketed IPv6 address), and carry no query, fragment or credentials. A path prefix is
    kept (for a proxy that routes on it).
    """
    if not isinstance(endpoint_url, str):
        raise EndpointResolutionError(
            f"endpoint_url must be a string, got {type(endpoint_url).__name__}"
        )
    if _UNSAFE_URL_CHARS.intersection(endpoint_url) or endpoint_url != endpoint_url.strip():
        raise EndpointResolutionError(
            f"endpoint_url {endpoint_url!r} contains whitespace or control characters"
        )
    try:
        parts = urlsplit(endpoint_url)
        port = parts.port
    except ValueError as exc:
        raise EndpointResolutionError(
            f"endpoint_url {endpoint_url!r} is not a valid URL: {exc}"
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise EndpointResolutionError(
            f"endpoint_url {endpoint_url!r} must start with http:// or https:// "
            "(for example 'https://runtime.sagemaker.us-east-1.amazonaws.com')"
        )
    host = parts.hostname
    if not host:
        raise EndpointResolutionError(f"endpoint_url {endpoint_url!r} has no host name")
    is_ipv6 = parts.netloc.rpartition("@")[2].startswith("[")
    if is_ipv6 and _IPV6.match(host) is None:  # Python 3.10's urlsplit lets this through
        raise EndpointResolutionError(
            f"endpoint_url {endpoint_url!r} is not a valid URL: invalid IPv6 address {host!r}"
        )
    if not is_ipv6 and _HOSTNAME.match(host) is None:
        raise EndpointResolutionError(
            f"endpoint_url {endpoint_url!r} has an invalid host name {host!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise EndpointResolutionError(
            "endpoint_url must not contain credentials (user:password@); they are never sent"
        )
    if parts.query or parts.fragment or endpoint_url.endswith(("?", "#")):
        raise EndpointResolutionError(
            f"endpoint_url {endpoint_url!r} must not contain a query string or fragment"
        )
    if port == 0:
        raise EndpointResolutionError(f"endpoint_url {endpoint_url!r} has an invalid port 0")
    return endpoint_url.rstrip("/")


def partition_for_region(region: str, partitions: tuple[Partition, ...] = PARTITIONS) -> Partition:
    """The partition of ``region``; unknown regions fall back to the first (``aws``)."""
    for partition in partitions:
        if partition.matches(region):
            return partition
    return partitions[0]


def resolve_endpoint(
    region: str | None,
    *,
    endpoint_url: str | None = None,
    use_fips: bool = False,
    use_dualstack: bool = False,
    http2: bool = False,
    partitions: tuple[Partition, ...] = PARTITIONS,
) -> str:
    """Resolve the endpoint URL (scheme and host, no trailing slash) for SageMaker Runtime.

    ``http2=True`` resolves the bidirectional-stream service (port 8443). ``partitions`` is
    for tests and for partitions newer than this module.

    >>> resolve_endpoint("us-east-1")
    'https://runtime.sagemaker.us-east-1.amazonaws.com'
    >>> resolve_endpoint("us-east-1", use_fips=True, http2=True)
    'https://runtime-fips.sagemaker.us-east-1.amazonaws.com:8443'
    """
    if region is not None:
        validate_region(region)
    if endpoint_url is not None:
        return _custom_endpoint(endpoint_url, use_fips, use_dualstack)
    if region is None:
        raise EndpointResolutionError(
            "Invalid Configuration: Missing Region (pass region_name, or set "
            "AWS_DEFAULT_REGION or AWS_REGION, or give an endpoint_url)"
        )
    partition = partition_for_region(region, partitions)
    if http2 and partition.name in _HTTP2_PARTITIONS:
        prefix = "runtime-fips" if use_fips else "runtime"
        dns = partition.dual_stack_dns_suffix if use_dualstack else partition.dns_suffix
        return f"https://{prefix}.sagemaker.{region}.{dns}:8443"
    _check_support(partition, region, use_fips=use_fips, use_dualstack=use_dualstack)
    if use_fips and use_dualstack:
        return f"https://runtime.sagemaker-fips.{region}.{partition.dual_stack_dns_suffix}"
    if use_fips:
        if http2:
            # Generic rule of the bidirectional-stream rule set: no per-partition special case.
            return f"https://runtime.sagemaker-fips.{region}.{partition.dns_suffix}"
        if partition.name == "aws":
            return f"https://runtime-fips.sagemaker.{region}.amazonaws.com"
        if partition.name == "aws-us-gov":
            return f"https://runtime.sagemaker.{region}.amazonaws.com"
        return f"https://runtime.sagemaker-fips.{region}.{partition.dns_suffix}"
    if use_dualstack:
        return f"https://runtime.sagemaker.{region}.{partition.dual_stack_dns_suffix}"
    return f"https://runtime.sagemaker.{region}.{partition.dns_suffix}"


def _custom_endpoint(endpoint_url: str, use_fips: bool, use_dualstack: bool) -> str:
    # Rule set: "Invalid Configuration: FIPS and custom endpoint are not supported".
    if use_fips:
        raise EndpointResolutionError(
            "Invalid Configuration: FIPS and custom endpoint are not supported "
            f"(endpoint_url={endpoint_url!r} was given with use_fips_endpoint=True; "
            "unset one of them)"
        )
    if use_dualstack:
        raise EndpointResolutionError(
            "Invalid Configuration: Dualstack and custom endpoint are not supported "
            f"(endpoint_url={endpoint_url!r} was given with use_dualstack_endpoint=True; "
            "unset one of them)"
        )
    return validate_endpoint_url(endpoint_url)


def _check_support(
    partition: Partition, region: str, *, use_fips: bool, use_dualstack: bool
) -> None:
    """The rule set's errors for a variant the region's partition lacks."""
    where = f"region {region!r} is in partition {partition.name!r}"
    if use_fips and use_dualstack:
        if not (partition.supports_fips and partition.supports_dual_stack):
            raise EndpointResolutionError(
                "FIPS and DualStack are enabled, but this partition does not support one or "
                f"both ({where}; unset use_fips_endpoint or use_dualstack_endpoint)"
            )
    elif use_fips and not partition.supports_fips:
        raise EndpointResolutionError(
            f"FIPS is enabled but this partition does not support FIPS ({where}; unset "
            "use_fips_endpoint)"
        )
    elif use_dualstack and not partition.supports_dual_stack:
        raise EndpointResolutionError(
            "DualStack is enabled but this partition does not support DualStack "
            f"({where}; unset use_dualstack_endpoint)"
        )
