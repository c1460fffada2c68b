"""A client's settings resolved: its arguments, :class:`~._config.Config`, the environment
and the profile combined by botocore's precedence (see :mod:`._config`), into one
:class:`ResolvedConfig` of final values.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Final, cast

from sigv4._record import field_names, record

from ._config import (
    RETRY_MODES,
    Config,
    InvalidConfigError,
    NoRegionError,
    RetryMode,
    as_config,
    proxy_url_problem,
    redact_proxies,
    redact_url,
)
from ._endpoints import EndpointResolutionError, resolve_endpoint, validate_region
from ._version import __version__

__all__ = ["ClientMeta", "ResolvedConfig", "resolve_client_config"]


_DEFAULT_TOTAL_ATTEMPTS: Final[Mapping[str, int]] = {"standard": 3, "adaptive": 3, "legacy": 5}


_SERVICE_ENV: Final = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"


_UA_ALLOWED: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!$%&'*+-.^_`|~,"
)


@record(frozen=True, repr=False)
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
    retry_after_send: bool
    http2: bool
    user_agent: str
    max_pool_connections: int
    proxies: Mapping[str, str] | None
    client_cert: str | tuple[str, str] | None
    tcp_keepalive: bool
    parameter_validation: bool
    ca_bundle: str | None

    def __repr__(self) -> str:
        fields = {
            name: redact_proxies(self.proxies) if name == "proxies" else getattr(self, name)
            for name in field_names(self)
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
    # botocore's order (AWS_DEFAULT_REGION, then the profile); AWS_REGION, which botocore
    # ignores and other AWS SDKs read, only where neither names a region.
    found = look.get("AWS_DEFAULT_REGION", "region") or look.get("AWS_REGION", None)
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
        if mode not in RETRY_MODES:
            assert found is not None
            raise InvalidConfigError(
                f"{found[1]} must be one of {', '.join(map(repr, RETRY_MODES))}, got {mode!r}"
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
        name = next(
            (n for n in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY")
             if env.get(n)),
            None,
        )  # fmt: skip
        if name is None:
            continue
        value = env[name]
        problem = proxy_url_problem(value)
        if problem is not None:
            raise InvalidConfigError(
                f"environment variable {name}: {problem}, got {redact_url(value)!r}"
            )
        proxies[scheme] = value if "://" in value else f"http://{value}"
    return proxies or None


def resolve_client_config(
    *,
    region_name: str | None,
    endpoint_url: str | None,
    config: Config | object | None,
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
    config = Config() if config is None else as_config(config)
    look = _Lookup(env, profile_config)
    region = _checked_region(region_name, endpoint_url, config, look)
    use_fips = config.use_fips_endpoint
    if use_fips is None:
        use_fips = bool(look.boolean("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"))
    use_dualstack = config.use_dualstack_endpoint
    if use_dualstack is None:
        use_dualstack = bool(look.boolean("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint"))
    custom_url, url_source = _resolve_endpoint_url(endpoint_url, config, look)
    url, http2_url = _endpoints(region, custom_url, url_source, use_fips, use_dualstack)
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
        retry_after_send=config.retry_after_send or config.retry_read_timeouts,
        http2=config.http2,
        user_agent=_build_user_agent(config, mode, appid),
        max_pool_connections=config.max_pool_connections,
        proxies=config.proxies if config.proxies is not None else _environment_proxies(env, url),
        client_cert=config.client_cert,
        tcp_keepalive=config.tcp_keepalive,
        parameter_validation=config.parameter_validation,
        ca_bundle=None if ca_found is None else ca_found[0],
    )


def _checked_region(
    region_name: str | None, endpoint_url: str | None, config: Config, look: _Lookup
) -> str:
    """The signing region, or a ``NoRegionError`` saying where one may be set."""
    region, region_source = _resolve_region(region_name, config, look)
    if region is None:
        how = (
            "pass region_name=..., or Config(region_name=...), or set the AWS_DEFAULT_REGION "
            "(or AWS_REGION) environment variable, or set 'region' in your AWS profile"
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
    return region


def _endpoints(
    region: str, custom_url: str | None, url_source: str, use_fips: bool, use_dualstack: bool
) -> tuple[str, str]:
    """The classic endpoint and the HTTP/2 one (the bidirectional stream's, port 8443)."""

    def url(http2: bool) -> str:
        return resolve_endpoint(
            region,
            endpoint_url=custom_url,
            use_fips=use_fips,
            use_dualstack=use_dualstack,
            http2=http2,
        )

    try:
        return url(False), url(True)
    except EndpointResolutionError as exc:
        if custom_url is not None and url_source != "endpoint_url":
            raise EndpointResolutionError(f"{exc} (endpoint URL from {url_source})") from None
        raise


class ClientMeta:
    """boto3's ``client.meta`` in small: region, endpoint, resolved configuration."""

    service_name = "sagemaker-runtime"

    def __init__(self, resolved: ResolvedConfig, config: Config | None) -> None:
        self.region_name = resolved.region
        self.endpoint_url = resolved.endpoint_url
        self.config = config if config is not None else Config()
        self.resolved_config = resolved

    def __repr__(self) -> str:
        return f"ClientMeta(region_name={self.region_name!r}, endpoint_url={self.endpoint_url!r})"
