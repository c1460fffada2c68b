"""Client configuration: the boto-like :class:`Config` and its resolution against the environment.

Every setting is looked up in this order (botocore's), the first one set wins::

    explicit argument   region_name=..., endpoint_url=... passed to the client
    Config(...)         only options the caller passed (a default never overrides the env)
    environment         AWS_REGION, AWS_DEFAULT_REGION, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE,
                        AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT,
                        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, AWS_ENDPOINT_URL,
                        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, AWS_SDK_UA_APP_ID, AWS_CA_BUNDLE
    profile             region, max_attempts, retry_mode, use_fips_endpoint,
                        use_dualstack_endpoint, endpoint_url, ignore_configured_endpoint_urls,
                        sdk_ua_app_id, ca_bundle (from ~/.aws/config and ~/.aws/credentials)
    default             standard retries, 3 attempts in all (5 in legacy mode)

``retries={"max_attempts": N}`` counts *retries* (botocore's meaning: N + 1 attempts in all),
while ``retries={"total_max_attempts": N}``, ``AWS_MAX_ATTEMPTS`` and the profile's
``max_attempts`` count attempts including the first.
"""

from __future__ import annotations

import enum
import math
import os
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from ._endpoints import EndpointResolutionError, resolve_endpoint, validate_region
from ._errors import SageMakerRuntimeError
from ._version import __version__

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_POOL_CONNECTIONS",
    "DEFAULT_READ_TIMEOUT",
    "Config",
    "InvalidConfigError",
    "NoRegionError",
    "ResolvedConfig",
    "RetryMode",
    "resolve_client_config",
]

RetryMode = Literal["standard", "legacy", "adaptive"]

DEFAULT_CONNECT_TIMEOUT: Final = 60.0
#: SageMaker's guidance: a model may take 60 s to answer, so read for 70 s.
DEFAULT_READ_TIMEOUT: Final = 70.0
DEFAULT_MAX_POOL_CONNECTIONS: Final = 10
_RETRY_MODES: Final = ("standard", "legacy", "adaptive")
_RETRY_KEYS: Final = frozenset({"mode", "max_attempts", "total_max_attempts"})
_DEFAULT_TOTAL_ATTEMPTS: Final[Mapping[str, int]] = {"standard": 3, "adaptive": 3, "legacy": 5}
_SERVICE_ENV: Final = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"
_UA_ALLOWED: Final = frozenset(string.ascii_letters + string.digits + "!$%&'*+-.^_`|~,")


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
    if "mode" in value and value["mode"] not in _RETRY_MODES:
        raise InvalidConfigError(
            f"retries['mode'] must be one of {', '.join(map(repr, _RETRY_MODES))}, "
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
    return MappingProxyType(dict(value))


def _client_cert(value: object) -> str | tuple[str, str] | None:
    if value is None or isinstance(value, str):
        return value
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(part, str) for part in value)
    ):
        return cast("tuple[str, str]", value)
    raise InvalidConfigError(
        "client_cert must be a path to a PEM file or a (cert_path, key_path) tuple"
    )


def _redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (proxy URLs carry them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def _redact_proxies(proxies: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if proxies is None else {k: _redact_url(v) for k, v in proxies.items()}


class Config:
    """Advanced client options, shaped like ``botocore.config.Config`` (a subset of it).

    Options left out keep their default and, as in botocore, do not override the environment
    or the profile. The object is immutable; :meth:`merge` combines two of them.

    * ``region_name``: the AWS region (``"us-east-1"``).
    * ``connect_timeout`` / ``read_timeout``: seconds, or None for no limit (60 / 70).
    * ``retries``: ``{"mode": "standard" | "legacy" | "adaptive", "max_attempts": N}`` where
      ``max_attempts`` counts retries, or ``"total_max_attempts"`` counting all attempts.
    * ``retry_read_timeouts``: retry after a read timeout (default False: an inference may
      already be running, and it is not idempotent).
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

    def __repr__(self) -> str:
        shown = {
            k: _redact_proxies(v) if k == "proxies" else v for k, v in self._user_provided.items()
        }
        return f"Config({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


@dataclass(frozen=True, repr=False)
class ResolvedConfig:
    """Everything a client needs, after applying the precedence rules (all values final)."""

    region: str
    endpoint_url: str
    http2_endpoint_url: str
    custom_endpoint: bool
    use_fips_endpoint: bool
    use_dualstack_endpoint: bool
    retry_mode: RetryMode
    total_max_attempts: int
    connect_timeout: float | None
    read_timeout: float | None
    retry_read_timeouts: bool
    user_agent: str
    max_pool_connections: int
    proxies: Mapping[str, str] | None
    client_cert: str | tuple[str, str] | None
    tcp_keepalive: bool
    parameter_validation: bool
    ca_bundle: str | None

    def __repr__(self) -> str:
        fields = {
            name: _redact_proxies(self.proxies) if name == "proxies" else getattr(self, name)
            for name in self.__dataclass_fields__
        }
        return f"ResolvedConfig({', '.join(f'{k}={v!r}' for k, v in fields.items())})"


class _Lookup:
    """Reads a setting from the environment, then the profile, naming the source on error."""

    def __init__(self, environ: Mapping[str, str], profile: Mapping[str, str]) -> None:
        self.environ = environ
        self.profile = profile

    def get(self, env_var: str | None, profile_key: str | None) -> tuple[str, str] | None:
        """``(value, where)`` from the first source that sets it (empty strings do not)."""
        if env_var is not None and self.environ.get(env_var, "").strip():
            return self.environ[env_var].strip(), f"environment variable {env_var}"
        if profile_key is not None and self.profile.get(profile_key, "").strip():
            return self.profile[profile_key].strip(), f"profile setting {profile_key!r}"
        return None

    def boolean(self, env_var: str, profile_key: str) -> bool | None:
        found = self.get(env_var, profile_key)
        if found is None:
            return None
        value, where = found
        if value.lower() not in ("true", "false"):
            raise InvalidConfigError(f"{where} must be 'true' or 'false', got {value!r}")
        return value.lower() == "true"


def _sanitize_ua(value: str, allow_hash: bool = False) -> str:
    return "".join(c if c in _UA_ALLOWED or (allow_hash and c == "#") else "-" for c in value)


_IMPLEMENTATIONS: Final = {"cpython": "CPython", "pypy": "PyPy"}
_platform_cache: tuple[str, str, str, str] | None = None


def _platform() -> tuple[str, str, str, str]:
    """``platform.system()``, ``.release()``, ``.python_version()``, ``.python_implementation()``.

    Read from ``os.uname()`` and ``sys`` where they give the same answers, because importing
    ``platform`` costs a few milliseconds of every cold start; computed once per process.
    """
    global _platform_cache
    if _platform_cache is None:
        implementation = _IMPLEMENTATIONS.get(sys.implementation.name)
        if hasattr(os, "uname") and implementation is not None:
            uname = os.uname()
            system, release = uname.sysname, uname.release
            python_version = sys.version.split(None, 1)[0]
        else:  # Windows, or an interpreter named differently by platform
            import platform

            system, release = platform.system(), platform.release()
            python_version = platform.python_version()
            implementation = platform.python_implementation()
        _platform_cache = (system, release, python_version, implementation)
    return _platform_cache


def _build_user_agent(config: Config, retry_mode: str, appid: str | None) -> str:
    if config.user_agent is not None:
        ua = config.user_agent
    else:
        system, release, python_version, implementation = _platform()
        parts = [
            f"sagemaker-runtime-lite/{__version__}",
            "ua/2.1",
            f"os/{_sanitize_ua(system.lower() or 'other')}#{_sanitize_ua(release)}",
            f"lang/python#{python_version}",
            f"md/pyimpl#{_sanitize_ua(implementation)}",
            f"cfg/retry-mode#{retry_mode}",
        ]
        if appid:
            parts.append(f"app/{_sanitize_ua(appid)}")
        ua = " ".join(parts)
    if config.user_agent_extra:
        ua = f"{ua} {config.user_agent_extra}"
    if re.search(r"[\r\n\x00]", ua):
        raise InvalidConfigError("user_agent / user_agent_extra must not contain line breaks")
    return ua


def _resolve_region(
    region_name: str | None, config: Config, look: _Lookup
) -> tuple[str | None, str]:
    if region_name is not None:
        return region_name, "region_name"
    if config.region_name is not None:
        return config.region_name, "Config(region_name=...)"
    found = look.get("AWS_REGION", None) or look.get("AWS_DEFAULT_REGION", "region")
    if found is None:
        return None, ""
    return found


def _resolve_retries(config: Config, look: _Lookup) -> tuple[RetryMode, int]:
    retries = config.retries or {}
    if "mode" in retries:
        mode = retries["mode"]
    else:
        found = look.get("AWS_RETRY_MODE", "retry_mode")
        mode = "standard" if found is None else found[0]
        if mode not in _RETRY_MODES:
            assert found is not None
            raise InvalidConfigError(
                f"{found[1]} must be one of {', '.join(map(repr, _RETRY_MODES))}, got {mode!r}"
            )
    if "total_max_attempts" in retries:
        total = int(retries["total_max_attempts"])
    elif "max_attempts" in retries:
        total = int(retries["max_attempts"]) + 1
    else:
        found = look.get("AWS_MAX_ATTEMPTS", "max_attempts")
        if found is None:
            total = _DEFAULT_TOTAL_ATTEMPTS[mode]
        else:
            value, where = found
            if not value.isdigit() or int(value) < 1:
                raise InvalidConfigError(
                    f"{where} must be an integer >= 1 (attempts in all), got {value!r}"
                )
            total = int(value)
    return cast("RetryMode", mode), total


def _resolve_endpoint_url(
    endpoint_url: str | None, config: Config, look: _Lookup
) -> tuple[str | None, str]:
    if endpoint_url is not None:
        return endpoint_url, "endpoint_url"
    ignore = config.ignore_configured_endpoint_urls
    if ignore is None:
        ignore = look.boolean(
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "ignore_configured_endpoint_urls"
        )
    if ignore:
        return None, ""
    found = look.get(_SERVICE_ENV, None) or look.get("AWS_ENDPOINT_URL", "endpoint_url")
    return (None, "") if found is None else found


def _environment_proxies(env: Mapping[str, str], endpoint_url: str) -> Mapping[str, str] | None:
    """Proxies from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` (either case), unless
    ``NO_PROXY`` covers the endpoint's host: what boto3 honours when Config has none."""

    def get(name: str) -> str | None:
        return env.get(name) or env.get(name.upper())

    host = endpoint_url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    host = host.strip("[]").lower()
    for entry in (get("no_proxy") or "").split(","):
        entry = entry.strip().lower()
        if entry == "*":
            return None
        entry = entry.removeprefix("*").lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return None
    proxies: dict[str, str] = {}
    for scheme in ("http", "https"):
        value = get(f"{scheme}_proxy") or get("all_proxy")
        if value:
            proxies[scheme] = value if "://" in value else f"http://{value}"
    return proxies or None


def resolve_client_config(
    *,
    region_name: str | None,
    endpoint_url: str | None,
    config: Config | None,
    profile_name: str | None,
    environ: Mapping[str, str] | None = None,
    profile_config: Mapping[str, str] | None = None,
) -> ResolvedConfig:
    """Combine the client arguments, ``config``, the environment and the profile.

    ``environ`` defaults to ``os.environ``; ``profile_config`` defaults to the settings of
    the selected profile (``runtime_client._config_files.load_profile_config``), which is only
    read when ``profile_config`` is None.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    if profile_config is None:
        from ._config_files import load_profile_config

        profile_config = load_profile_config(profile_name, env)
    if config is None:
        config = Config()
    elif not isinstance(config, Config):
        raise InvalidConfigError(f"config must be a Config, got {type(config).__name__}")
    look = _Lookup(env, profile_config)

    region, region_source = _resolve_region(region_name, config, look)
    if region is None:
        how = (
            "pass region_name=..., or Config(region_name=...), or set the AWS_REGION or "
            "AWS_DEFAULT_REGION environment variable, or set 'region' in your AWS profile"
        )
        if endpoint_url is not None:
            raise NoRegionError(
                "You must specify a region: an endpoint_url was given, but requests are still "
                f"signed for a region; {how}."
            )
        raise NoRegionError(f"You must specify a region: {how}.")
    try:
        validate_region(region)
    except EndpointResolutionError as exc:
        raise InvalidConfigError(f"{exc} (from {region_source})") from None

    use_fips = config.use_fips_endpoint
    if use_fips is None:
        use_fips = bool(look.boolean("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"))
    use_dualstack = config.use_dualstack_endpoint
    if use_dualstack is None:
        use_dualstack = bool(look.boolean("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint"))

    custom_url, url_source = _resolve_endpoint_url(endpoint_url, config, look)
    try:
        url = resolve_endpoint(
            region, endpoint_url=custom_url, use_fips=use_fips, use_dualstack=use_dualstack
        )
        http2_url = resolve_endpoint(
            region,
            endpoint_url=custom_url,
            use_fips=use_fips,
            use_dualstack=use_dualstack,
            http2=True,
        )
    except EndpointResolutionError as exc:
        if custom_url is not None and url_source != "endpoint_url":
            raise EndpointResolutionError(f"{exc} (endpoint URL from {url_source})") from None
        raise

    mode, total = _resolve_retries(config, look)
    appid = config.user_agent_appid
    if appid is None:
        found = look.get("AWS_SDK_UA_APP_ID", "sdk_ua_app_id")
        appid = None if found is None else found[0]
    ca_found = look.get("AWS_CA_BUNDLE", "ca_bundle")

    return ResolvedConfig(
        region=region,
        endpoint_url=url,
        http2_endpoint_url=http2_url,
        custom_endpoint=custom_url is not None,
        use_fips_endpoint=use_fips,
        use_dualstack_endpoint=use_dualstack,
        retry_mode=mode,
        total_max_attempts=total,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        retry_read_timeouts=config.retry_read_timeouts,
        user_agent=_build_user_agent(config, mode, appid),
        max_pool_connections=config.max_pool_connections,
        proxies=config.proxies if config.proxies is not None else _environment_proxies(env, url),
        client_cert=config.client_cert,
        tcp_keepalive=config.tcp_keepalive,
        parameter_validation=config.parameter_validation,
        ca_bundle=None if ca_found is None else ca_found[0],
    )
