"""Client configuration: the boto-like :class:`Config` (its options checked when it is made).

How a client combines it with its arguments, the environment and the profile is in
:mod:`._resolve`. Every setting is looked up in this order (botocore's), the first one set wins::

    explicit argument   region_name=..., endpoint_url=... passed to the client
    Config(...)         only options the caller passed (a default never overrides the env)
    environment         AWS_DEFAULT_REGION, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE,
                        AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT,
                        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, AWS_ENDPOINT_URL,
                        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, AWS_SDK_UA_APP_ID, AWS_CA_BUNDLE
    profile             region, max_attempts, retry_mode, use_fips_endpoint,
                        use_dualstack_endpoint, endpoint_url, ignore_configured_endpoint_urls,
                        sdk_ua_app_id, ca_bundle (from ~/.aws/config and ~/.aws/credentials)
    AWS_REGION          the region, only where none of the above names one (botocore never
                        reads it: with it alone boto3 raises NoRegionError)
    default             standard retries, 3 attempts in all (5 in legacy mode)

A ``botocore.config.Config`` is accepted wherever a Config is: its given options are read
from its attributes (:meth:`Config.from_botocore`); an option we cannot honour is named.

``retries={"max_attempts": N}`` counts *retries* (botocore's meaning: N + 1 attempts in all),
while ``retries={"total_max_attempts": N}``, ``AWS_MAX_ATTEMPTS`` and the profile's
``max_attempts`` count attempts including the first.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from ._endpoints import EndpointResolutionError, validate_region
from ._errors import SageMakerRuntimeError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_POOL_CONNECTIONS",
    "DEFAULT_READ_TIMEOUT",
    "RETRY_MODES",
    "Config",
    "InvalidConfigError",
    "NoRegionError",
    "RetryMode",
    "proxy_url_problem",
    "redact_proxies",
    "redact_url",
]

RetryMode = Literal["standard", "legacy", "adaptive"]

DEFAULT_CONNECT_TIMEOUT: Final = 60.0
#: SageMaker's guidance: a model may take 60 s to answer, so read for 70 s.
DEFAULT_READ_TIMEOUT: Final = 70.0
DEFAULT_MAX_POOL_CONNECTIONS: Final = 10
RETRY_MODES: Final = ("standard", "legacy", "adaptive")
_RETRY_KEYS: Final = frozenset({"mode", "max_attempts", "total_max_attempts"})


class InvalidConfigError(SageMakerRuntimeError, ValueError):
    """A configuration value (argument, ``Config`` option, variable or profile key) is invalid."""


class NoRegionError(SageMakerRuntimeError, ValueError):
    """No region is configured; requests need one to be signed."""


class _Unset(enum.Enum):
    UNSET = "UNSET"


_UNSET: Final = _Unset.UNSET


def _timeout(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidConfigError(
            f"{name} must be a number of seconds or None, got {type(value).__name__}"
        )
    if not math.isfinite(value) or value <= 0:
        raise InvalidConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _optional_bool(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidConfigError(f"{name} must be True, False or None, got {value!r}")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidConfigError(f"{name} must be True or False, got {value!r}")
    return value


def _optional_str(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidConfigError(f"{name} must be a string or None, got {type(value).__name__}")
    return value


def _retries(value: object) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidConfigError(
            f"retries must be a dict such as {{'mode': 'standard', 'total_max_attempts': 3}}, "
            f"got {type(value).__name__}"
        )
    unknown = sorted(str(k) for k in value if k not in _RETRY_KEYS)
    if unknown:
        raise InvalidConfigError(
            f"retries has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"valid keys are {', '.join(map(repr, sorted(_RETRY_KEYS)))}"
        )
    if "mode" in value and value["mode"] not in RETRY_MODES:
        raise InvalidConfigError(
            f"retries['mode'] must be one of {', '.join(map(repr, RETRY_MODES))}, "
            f"got {value['mode']!r}"
        )
    for key, minimum in (("max_attempts", 0), ("total_max_attempts", 1)):
        if key in value:
            n = value[key]
            if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
                raise InvalidConfigError(
                    f"retries[{key!r}] must be an integer >= {minimum}, got {n!r}"
                )
    return MappingProxyType(dict(value))


def _proxies(value: object) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise InvalidConfigError(
            "proxies must be a dict of scheme (or scheme://host) to proxy URL strings, "
            "e.g. {'https': 'http://proxy.internal:3128'}"
        )
    for key, url in value.items():
        problem = proxy_url_problem(url)
        if problem is not None:
            raise InvalidConfigError(f"proxies[{key!r}]: {problem}, got {redact_url(url)!r}")
    return MappingProxyType(dict(value))


def proxy_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a proxy (``http://`` or ``https://``, a host, a port from 1
    to 65535 if given, no blanks), or None. A URL without a scheme means ``http://``."""
    if any(c.isspace() for c in url):
        return "a proxy URL must not contain blanks"
    full = url if "://" in url else f"http://{url}"
    try:
        parts = urlsplit(full)
        port = parts.port
    except ValueError as exc:
        return f"not a valid proxy URL ({exc})"
    if parts.scheme not in ("http", "https"):
        socks = ": SOCKS proxies are not supported" if parts.scheme.startswith("socks") else ""
        return f"the proxy scheme must be http or https, not {parts.scheme!r}{socks}"
    if not parts.hostname:
        return "a proxy URL needs a host"
    if port == 0:
        return "the proxy port must be from 1 to 65535"
    return None


def _client_cert(value: object) -> str | tuple[str, str] | None:
    if value is None:
        return None
    paths = (value,) if isinstance(value, str) else value
    if not (
        isinstance(value, str)
        or (isinstance(value, tuple) and len(value) == 2 and all(isinstance(p, str) for p in value))
    ):
        raise InvalidConfigError(
            "client_cert must be a path to a PEM file or a (cert_path, key_path) tuple"
        )
    import os

    for path in cast("tuple[str, ...]", paths):
        if not path.strip():
            raise InvalidConfigError("client_cert: a path must not be empty")
        if os.path.isdir(path):
            raise InvalidConfigError(f"client_cert: {path!r} is a folder, not a PEM file")
    return cast("str | tuple[str, str]", value)


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (proxy URLs carry them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def redact_proxies(proxies: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if proxies is None else {k: redact_url(v) for k, v in proxies.items()}


#: botocore Config options we have no knob for, and the values that mean what we do anyway
#: (so a Config that sets them to these is accepted).
_BOTOCORE_EQUIVALENT: Final[Mapping[str, tuple[object, ...]]] = {
    "signature_version": (None, "v4"),
    "inject_host_prefix": (True,),
    "defaults_mode": ("legacy",),
    "endpoint_discovery_enabled": (None, False),
    "disable_request_compression": (None, False, True),  # no operation compresses
    "request_min_compression_size_bytes": (None,),
    "request_checksum_calculation": (None, "when_supported", "when_required"),
    "response_checksum_validation": (None, "when_supported", "when_required"),
    "account_id_endpoint_mode": (None, "preferred", "disabled"),  # no account-id endpoints
    "s3": (None,),
    "proxies_config": (None,),
    "client_context_params": (None,),
    "sigv4a_signing_region_set": (None,),
    "auth_scheme_preference": (None,),
    "s3_disable_express_session_auth": (None,),
}


def as_config(value: object) -> Config:
    """``value`` if it is our Config, else the Config a botocore Config describes."""
    return value if isinstance(value, Config) else Config.from_botocore(value)


class Config:
    """Advanced client options, shaped like ``botocore.config.Config`` (a subset of it).

    Options left out keep their default and, as in botocore, do not override the environment
    or the profile. The object is immutable; :meth:`merge` combines two of them.

    * ``region_name``: the AWS region (``"us-east-1"``).
    * ``connect_timeout`` / ``read_timeout``: seconds, or None for no limit (60 / 70).
    * ``retries``: ``{"mode": "standard" | "legacy" | "adaptive", "max_attempts": N}`` where
      ``max_attempts`` counts retries, or ``"total_max_attempts"`` counting all attempts.
    * ``retry_after_send``: retry a failure that came after the whole request may have
      been sent (a read timeout, a connection reset or closed without an answer; default
      False: the model may be running it, and an inference is not idempotent; see
      ``_retry``). ``retry_read_timeouts`` is its older name (either enables it).
    * ``retry_read_timeouts``: retry after a read timeout (default False: an inference may
      already be running, and it is not idempotent).
    * ``http2``: offer HTTP/2 (TLS ALPN ``h2``, then ``http/1.1``) for InvokeEndpoint,
      InvokeEndpointAsync and InvokeEndpointWithResponseStream, and speak what the server
      picks (default False: HTTP/1.1, as boto3; needs the ``http2`` extra). Concurrent
      async calls then share one connection. Like ``retry_read_timeouts``, an extension
      beyond botocore's Config. The bidirectional stream is HTTP/2 whatever it says.
    * ``user_agent`` (replaces the whole header), ``user_agent_extra`` (appended),
      ``user_agent_appid`` (``app/...``).
    * ``use_fips_endpoint``, ``use_dualstack_endpoint``, ``ignore_configured_endpoint_urls``.
    * ``max_pool_connections`` (10), ``proxies``, ``client_cert``, ``tcp_keepalive`` (False),
      ``parameter_validation`` (True).
    """

    region_name: str | None
    connect_timeout: float | None
    read_timeout: float | None
    retries: Mapping[str, Any] | None
    retry_read_timeouts: bool
    retry_after_send: bool
    http2: bool
    user_agent: str | None
    user_agent_extra: str | None
    user_agent_appid: str | None
    use_fips_endpoint: bool | None
    use_dualstack_endpoint: bool | None
    ignore_configured_endpoint_urls: bool | None
    max_pool_connections: int
    proxies: Mapping[str, str] | None
    client_cert: str | tuple[str, str] | None
    tcp_keepalive: bool
    parameter_validation: bool
    _user_provided: Mapping[str, Any]

    _DEFAULTS: Final[Mapping[str, Any]] = {
        "region_name": None,
        "connect_timeout": DEFAULT_CONNECT_TIMEOUT,
        "read_timeout": DEFAULT_READ_TIMEOUT,
        "retries": None,
        "retry_read_timeouts": False,
        "retry_after_send": False,
        "http2": False,
        "user_agent": None,
        "user_agent_extra": None,
        "user_agent_appid": None,
        "use_fips_endpoint": None,
        "use_dualstack_endpoint": None,
        "ignore_configured_endpoint_urls": None,
        "max_pool_connections": DEFAULT_MAX_POOL_CONNECTIONS,
        "proxies": None,
        "client_cert": None,
        "tcp_keepalive": False,
        "parameter_validation": True,
    }

    def __init__(
        self,
        *,
        region_name: str | _Unset | None = _UNSET,
        connect_timeout: float | _Unset | None = _UNSET,
        read_timeout: float | _Unset | None = _UNSET,
        retries: Mapping[str, Any] | _Unset | None = _UNSET,
        retry_read_timeouts: bool | _Unset = _UNSET,
        retry_after_send: bool | _Unset = _UNSET,
        http2: bool | _Unset = _UNSET,
        user_agent: str | _Unset | None = _UNSET,
        user_agent_extra: str | _Unset | None = _UNSET,
        user_agent_appid: str | _Unset | None = _UNSET,
        use_fips_endpoint: bool | _Unset | None = _UNSET,
        use_dualstack_endpoint: bool | _Unset | None = _UNSET,
        ignore_configured_endpoint_urls: bool | _Unset | None = _UNSET,
        max_pool_connections: int | _Unset = _UNSET,
        proxies: Mapping[str, str] | _Unset | None = _UNSET,
        client_cert: str | tuple[str, str] | _Unset | None = _UNSET,
        tcp_keepalive: bool | _Unset = _UNSET,
        parameter_validation: bool | _Unset = _UNSET,
    ) -> None:
        given = {k: v for k, v in locals().items() if k != "self" and v is not _UNSET}
        values = {**self._DEFAULTS, **given}
        region = _optional_str("region_name", values["region_name"])
        if region is not None:
            try:
                validate_region(region)
            except EndpointResolutionError as exc:
                raise InvalidConfigError(f"region_name: {exc}") from None
        checked: dict[str, Any] = {
            "region_name": region,
            "connect_timeout": _timeout("connect_timeout", values["connect_timeout"]),
            "read_timeout": _timeout("read_timeout", values["read_timeout"]),
            "retries": _retries(values["retries"]),
            "retry_read_timeouts": _bool("retry_read_timeouts", values["retry_read_timeouts"]),
            "retry_after_send": _bool("retry_after_send", values["retry_after_send"]),
            "http2": _bool("http2", values["http2"]),
            "user_agent": _optional_str("user_agent", values["user_agent"]),
            "user_agent_extra": _optional_str("user_agent_extra", values["user_agent_extra"]),
            "user_agent_appid": _optional_str("user_agent_appid", values["user_agent_appid"]),
            "use_fips_endpoint": _optional_bool("use_fips_endpoint", values["use_fips_endpoint"]),
            "use_dualstack_endpoint": _optional_bool(
                "use_dualstack_endpoint", values["use_dualstack_endpoint"]
            ),
            "ignore_configured_endpoint_urls": _optional_bool(
                "ignore_configured_endpoint_urls", values["ignore_configured_endpoint_urls"]
            ),
            "max_pool_connections": values["max_pool_connections"],
            "proxies": _proxies(values["proxies"]),
            "client_cert": _client_cert(values["client_cert"]),
            "tcp_keepalive": _bool("tcp_keepalive", values["tcp_keepalive"]),
            "parameter_validation": _bool("parameter_validation", values["parameter_validation"]),
        }
        pool = checked["max_pool_connections"]
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1:
            raise InvalidConfigError(f"max_pool_connections must be an integer >= 1, got {pool!r}")
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_user_provided", MappingProxyType(given))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Config is immutable; use Config.merge() to change {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Config is immutable; cannot delete {name!r}")

    @property
    def user_provided_options(self) -> Mapping[str, Any]:
        """The options passed to the constructor (as botocore's ``_user_provided_options``)."""
        return self._user_provided

    @classmethod
    def from_botocore(cls, config: object) -> Config:
        """Our Config with the options a ``botocore.config.Config`` was given (read from
        its attributes; botocore is not imported). An option we do not support, set to a
        value other than the one we behave as, is an ``InvalidConfigError`` naming it."""
        given = getattr(config, "_user_provided_options", None)
        if not isinstance(given, Mapping):
            raise InvalidConfigError(
                f"config must be a Config (runtime_client's or botocore's), got "
                f"{type(config).__name__}"
            )
        ours = {k: v for k, v in given.items() if k in cls._DEFAULTS}
        unsupported = sorted(
            name
            for name, value in given.items()
            if name not in cls._DEFAULTS and value not in _BOTOCORE_EQUIVALENT.get(name, ())
        )
        if unsupported:
            raise InvalidConfigError(
                f"botocore Config option(s) not supported by sagemaker-runtime-lite: "
                f"{', '.join(unsupported)} (supported: {', '.join(sorted(cls._DEFAULTS))})"
            )
        return cls(**ours)

    def merge(self, other: Config) -> Config:
        """A new Config: this one's given options, overridden by the options ``other`` was
        given (defaults of ``other`` never override), as botocore's ``Config.merge``."""
        if not isinstance(other, Config):
            raise TypeError(f"Config.merge() needs a Config, got {type(other).__name__}")
        return Config(**{**self._user_provided, **other._user_provided})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return dict(self._user_provided) == dict(other._user_provided)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the options it was given (a client pickles with its Config)."""
        given = {
            k: dict(v) if isinstance(v, Mapping) else v for k, v in self._user_provided.items()
        }
        return (_config_from, (given,))

    def __repr__(self) -> str:
        shown = {
            k: redact_proxies(v) if k == "proxies" else v for k, v in self._user_provided.items()
        }
        return f"Config({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _config_from(given: dict[str, Any]) -> Config:
    return Config(**given)
