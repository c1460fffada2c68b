"""What the chain decides from: the environment, the parsed config files, the profile.

Reading a setting is pure (a mapping and the parsed files); :mod:`._chain` and
:mod:`._roles` decide from it which source applies.
"""

from __future__ import annotations

from collections.abc import Mapping

from sigv4._record import field, record

from .._config_files import AwsConfig, Section, expand_home
from ._errors import CredentialsConfigError
from ._source import Clock, utcnow

__all__ = [
    "ChainContext",
    "TRUE",
    "ca_bundle",
    "number_setting",
    "profile_str",
    "service_endpoint",
]


TRUE = "true"


@record
class ChainContext:
    """What the chain decides from: the environment, the files, the profile, a clock."""

    environ: Mapping[str, str] = field(repr=False)
    config: AwsConfig
    profile_name: str
    profile_from_argument: bool = False
    clock: Clock = utcnow
    container_retry_delay: float = 1.0

    @property
    def profile(self) -> Section:
        return self.config.profile(self.profile_name)

    def setting(self, key: str, env: str | None = None) -> str | None:
        """A plain setting: the environment variable ``env`` first, then the profile."""
        if env is not None and self.environ.get(env):
            return self.environ[env]
        value = self.profile.get(key)
        return value if isinstance(value, str) and value else None

    def region(self) -> str | None:
        """botocore's order (AWS_DEFAULT_REGION, the profile), then AWS_REGION."""
        return self.setting("region", "AWS_DEFAULT_REGION") or self.environ.get("AWS_REGION")

    def session_name(self) -> str:
        return f"botocore-session-{int(self.clock().timestamp())}"


def profile_str(section: Section, key: str) -> str | None:
    value = section.get(key)
    return value if isinstance(value, str) and value else None


def service_endpoint(ctx: ChainContext, env_suffix: str, services_key: str) -> str | None:
    """A configured endpoint URL for a service, in botocore's order.

    ``AWS_ENDPOINT_URL_<SERVICE>``, the profile's ``services`` section, ``AWS_ENDPOINT_URL``,
    the profile's ``endpoint_url``; none when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` (or
    ``ignore_configured_endpoint_urls``) is true.
    """
    ignore = ctx.setting("ignore_configured_endpoint_urls", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    if ignore is not None and ignore.lower() == TRUE:
        return None
    if ctx.environ.get(f"AWS_ENDPOINT_URL_{env_suffix}"):
        return ctx.environ[f"AWS_ENDPOINT_URL_{env_suffix}"]
    services = profile_str(ctx.profile, "services")
    if services is not None:
        nested = ctx.config.services.get(services, {}).get(services_key)
        if isinstance(nested, dict) and nested.get("endpoint_url"):
            return nested["endpoint_url"]
    return ctx.setting("endpoint_url", "AWS_ENDPOINT_URL")


def ca_bundle(ctx: ChainContext) -> str | None:
    """``AWS_CA_BUNDLE`` or the profile's ``ca_bundle`` (with ``~`` expanded)."""
    path = ctx.setting("ca_bundle", "AWS_CA_BUNDLE")
    return expand_home(path, ctx.environ) if path else None


def number_setting(ctx: ChainContext, key: str, env: str, default: float) -> float:
    value = ctx.setting(key, env)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise CredentialsConfigError(f"{env} / {key} must be a positive number, got {value!r}")
    return number
