"""The default credential chain, in botocore's order.

======  =================================  ================================================
 step    name                               configured by
======  =================================  ================================================
 1       ``env``                            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                                            AWS_SESSION_TOKEN / AWS_SECURITY_TOKEN,
                                            AWS_CREDENTIAL_EXPIRATION
 2       ``assume-role``                    profile ``role_arn`` + ``source_profile`` or
                                            ``credential_source``
 3       ``assume-role-with-web-identity``  AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN,
                                            AWS_ROLE_SESSION_NAME, or the profile's
                                            ``web_identity_token_file`` + ``role_arn``
 4       ``sso``                            profile ``sso_session`` (or legacy ``sso_*`` keys)
 5       ``shared-credentials-file``        ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE)
 6       ``custom-process``                 profile ``credential_process``
 7       ``config-file``                    static keys in ~/.aws/config (AWS_CONFIG_FILE)
 8       ``container-role``                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI
 9       ``iam-role``                       EC2 instance metadata (IMDS)
======  =================================  ================================================

Deciding which step applies is pure (it reads only the environment mapping and the
parsed files); only fetching does I/O, through the flows of each source. A profile
given as an argument removes step 1, as in botocore (``AWS_PROFILE`` does not). A
step that is configured but fails raises; only IMDS, which is never "configured",
is skipped when it does not answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sigv4 import Credentials

from ._awsconfig import AwsConfig, Section, expand_home
from ._credentials_errors import (
    CredentialsConfigError,
    CredentialsRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)
from ._credentials_http import (
    Clock,
    ContainerSource,
    ImdsSource,
    Source,
    StaticSource,
    parse_timestamp,
    utcnow,
    validate_container_uri,
)
from ._sansio import Call, Flow

if TYPE_CHECKING:
    import subprocess

# The STS/SSO sources (and subprocess, shlex, hashlib) are imported by the steps that use
# them: most processes get their credentials from the environment or a profile's keys.

__all__ = [
    "CHAIN",
    "ChainContext",
    "EnvSource",
    "ProcessSource",
    "assume_role_step",
    "ca_bundle",
    "config_file_step",
    "container_step",
    "env_step",
    "imds_step",
    "process_step",
    "resolve_chain",
    "service_endpoint",
    "shared_file_step",
    "sso_step",
    "web_identity_step",
]

_TRUE = "true"


@dataclass
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
        return self.environ.get("AWS_REGION") or self.setting("region", "AWS_DEFAULT_REGION")

    def session_name(self) -> str:
        return f"botocore-session-{int(self.clock().timestamp())}"


def _str(section: Section, key: str) -> str | None:
    value = section.get(key)
    return value if isinstance(value, str) and value else None


def service_endpoint(ctx: ChainContext, env_suffix: str, services_key: str) -> str | None:
    """A configured endpoint URL for a service, in botocore's order.

    ``AWS_ENDPOINT_URL_<SERVICE>``, the profile's ``services`` section, ``AWS_ENDPOINT_URL``,
    the profile's ``endpoint_url``; none when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` (or
    ``ignore_configured_endpoint_urls``) is true.
    """
    ignore = ctx.setting("ignore_configured_endpoint_urls", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    if ignore is not None and ignore.lower() == _TRUE:
        return None
    if ctx.environ.get(f"AWS_ENDPOINT_URL_{env_suffix}"):
        return ctx.environ[f"AWS_ENDPOINT_URL_{env_suffix}"]
    services = _str(ctx.profile, "services")
    if services is not None:
        nested = ctx.config.services.get(services, {}).get(services_key)
        if isinstance(nested, dict) and nested.get("endpoint_url"):
            return nested["endpoint_url"]
    return ctx.setting("endpoint_url", "AWS_ENDPOINT_URL")


def ca_bundle(ctx: ChainContext) -> str | None:
    """``AWS_CA_BUNDLE`` or the profile's ``ca_bundle`` (with ``~`` expanded)."""
    path = ctx.setting("ca_bundle", "AWS_CA_BUNDLE")
    return expand_home(path, ctx.environ) if path else None


# --- static keys: environment and files -------------------------------------------------


def _static_from(
    values: Mapping[str, object], source: str, keys: tuple[str, str, str, str]
) -> Credentials | None:
    key_id, secret, token, alt_token = keys
    access = values.get(key_id)
    if not isinstance(access, str) or not access:
        return None
    secret_value = values.get(secret)
    if not isinstance(secret_value, str) or not secret_value:
        raise PartialCredentialsError(source, secret)
    session = values.get(token) or values.get(alt_token)
    return Credentials(access, secret_value, session if isinstance(session, str) else None)


_FILE_KEYS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
)
_ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


@dataclass
class EnvSource:
    """Credentials from environment variables, read again on every fetch."""

    environ: Mapping[str, str] = field(repr=False)
    name: str = "env"

    def read(self) -> Credentials | None:
        creds = _static_from(self.environ, self.name, _ENV_KEYS)
        expiry = self.environ.get("AWS_CREDENTIAL_EXPIRATION")
        if creds is None or not expiry:
            return creds
        expiration = parse_timestamp(expiry, self.name, "AWS_CREDENTIAL_EXPIRATION")
        return Credentials(
            creds.access_key_id, creds.secret_access_key, creds.session_token, expiration
        )

    def fetch(self) -> Flow[Credentials]:
        yield from ()  # a flow with no steps
        creds = self.read()
        if creds is None:
            raise CredentialsRetrievalError(self.name, "AWS_ACCESS_KEY_ID is no longer set")
        return creds


def _has_static(section: Section) -> bool:
    return bool(_str(section, "aws_access_key_id"))


def _has_role(section: Section) -> bool:
    return bool(_str(section, "role_arn")) and not _str(section, "web_identity_token_file")


def _file_source(section: Section, name: str) -> Source | None:
    creds = _static_from(section, name, _FILE_KEYS)
    return None if creds is None else StaticSource(name, creds)


# --- credential_process ------------------------------------------------------------------


def _run_process(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    import subprocess

    return subprocess.run(argv, capture_output=True, check=False, shell=False)


@dataclass
class ProcessSource:
    """``credential_process``: run the command (no shell), read JSON ``Version: 1``."""

    command: str
    name: str = "custom-process"

    def fetch(self) -> Flow[Credentials]:
        import shlex

        try:
            argv = shlex.split(self.command)
        except ValueError as exc:
            raise CredentialsConfigError(f"credential_process cannot be parsed: {exc}") from None
        if not argv:
            raise CredentialsConfigError("credential_process is empty")
        try:
            result = yield Call(_run_process, (argv,))
        except OSError as exc:
            raise CredentialsRetrievalError(
                self.name, f"cannot run {argv[0]!r}: {type(exc).__name__}: {exc.strerror}"
            ) from None
        if result.returncode != 0:
            stderr = result.stderr.decode("utf-8", "replace").strip()[:500]
            raise CredentialsRetrievalError(
                self.name, f"{argv[0]!r} exited with status {result.returncode}: {stderr}"
            )
        try:
            data = json.loads(result.stdout)
        except ValueError:  # never echo the output: it holds secrets
            raise CredentialsRetrievalError(self.name, "output is not valid JSON") from None
        if not isinstance(data, dict) or data.get("Version") != 1:
            raise CredentialsRetrievalError(
                self.name, 'output must be a JSON object with "Version": 1'
            )
        for key in ("AccessKeyId", "SecretAccessKey"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise CredentialsRetrievalError(self.name, f"output has no {key}")
        expiry = data.get("Expiration")
        token = data.get("SessionToken")
        return Credentials(
            data["AccessKeyId"],
            data["SecretAccessKey"],
            token if isinstance(token, str) else None,
            parse_timestamp(expiry, self.name, "Expiration") if expiry else None,
        )


# --- the steps ----------------------------------------------------------------------------

Step = Callable[[ChainContext], "Source | str"]


def env_step(ctx: ChainContext) -> Source | str:
    if ctx.profile_from_argument:
        return "skipped: a profile was given explicitly"
    source = EnvSource(ctx.environ)
    return source if source.read() is not None else "AWS_ACCESS_KEY_ID is not set"


def assume_role_step(ctx: ChainContext) -> Source | str:
    if not _has_role(ctx.profile):
        return f"profile {ctx.profile_name!r} has no role_arn"
    return _assume_role(ctx, ctx.profile_name, [ctx.profile_name])


def _assume_role(ctx: ChainContext, profile_name: str, visited: list[str]) -> Source:
    profile = ctx.config.profile(profile_name)
    source_profile = _str(profile, "source_profile")
    credential_source = _str(profile, "credential_source")
    where = f"profile {profile_name!r}"
    if source_profile and credential_source:
        raise CredentialsConfigError(
            f"{where} sets both source_profile and credential_source; set only one"
        )
    if _str(profile, "mfa_serial"):
        raise CredentialsConfigError(f"{where}: mfa_serial (an MFA prompt) is not supported")
    source: Source
    if credential_source:
        source = _credential_source(ctx, credential_source, where)
    elif source_profile:
        if not ctx.config.has_profile(source_profile):
            raise CredentialsConfigError(
                f"{where}: source_profile {source_profile!r} does not exist"
            )
        parent = ctx.config.profile(source_profile)
        if source_profile in visited and not _has_static(parent):
            chain = " -> ".join([*visited, source_profile])
            raise CredentialsConfigError(f"source_profile loop: {chain}")
        if _has_static(parent) or not _has_role(parent):
            found = _profile_source(ctx, source_profile)
            if found is None:
                raise CredentialsConfigError(
                    f"{where}: source_profile {source_profile!r} must have static credentials, "
                    "an assume-role, web identity, SSO or credential_process configuration"
                )
            source = found
        else:
            source = _assume_role(ctx, source_profile, [*visited, source_profile])
    else:
        raise CredentialsConfigError(
            f"{where} sets role_arn but neither source_profile nor credential_source"
        )
    duration = _str(profile, "duration_seconds")
    if duration is not None and not duration.isdigit():
        raise CredentialsConfigError(f"{where}: duration_seconds must be a whole number")
    region = ctx.region()
    from ._credentials_sts import AssumeRoleSource, sts_endpoint

    return AssumeRoleSource(
        role_arn=str(profile["role_arn"]),
        session_name=_str(profile, "role_session_name") or ctx.session_name(),
        source=source,
        endpoint=service_endpoint(ctx, "STS", "sts") or sts_endpoint(region),
        region=region or "us-east-1",
        external_id=_str(profile, "external_id"),
        duration_seconds=int(duration) if duration else None,
        clock=ctx.clock,
    )


def _credential_source(ctx: ChainContext, kind: str, where: str) -> Source:
    if kind == "Environment":
        env = EnvSource(ctx.environ)
        if env.read() is None:
            raise CredentialsConfigError(
                f"{where}: credential_source Environment, but AWS_ACCESS_KEY_ID is not set"
            )
        return env
    if kind == "EcsContainer":
        container = _container(ctx)
        if container is None:
            raise CredentialsConfigError(
                f"{where}: credential_source EcsContainer, but no container URI is set"
            )
        return container
    if kind == "Ec2InstanceMetadata":
        return _imds(ctx)
    raise CredentialsConfigError(
        f"{where}: credential_source {kind!r} is not one of Environment, Ec2InstanceMetadata, "
        "EcsContainer"
    )


def _profile_source(ctx: ChainContext, profile_name: str) -> Source | None:
    """The credentials a source profile itself holds (botocore's profile provider chain)."""
    sub = ChainContext(ctx.environ, ctx.config, profile_name, True, ctx.clock)
    for step in (
        _web_identity_from_profile,
        sso_step,
        shared_file_step,
        process_step,
        config_file_step,
    ):
        found = step(sub)
        if not isinstance(found, str):
            return found
    return None


def web_identity_step(ctx: ChainContext) -> Source | str:
    token_file = ctx.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    if token_file:
        role_arn = ctx.environ.get("AWS_ROLE_ARN") or _str(ctx.profile, "role_arn")
        name = ctx.environ.get("AWS_ROLE_SESSION_NAME") or _str(ctx.profile, "role_session_name")
        return _web_identity(ctx, token_file, role_arn, name)
    found = _web_identity_from_profile(ctx)
    if isinstance(found, str):
        return "AWS_WEB_IDENTITY_TOKEN_FILE is not set and " + found
    return found


def _web_identity_from_profile(ctx: ChainContext) -> Source | str:
    token_file = _str(ctx.profile, "web_identity_token_file")
    if not token_file:
        return f"profile {ctx.profile_name!r} has no web_identity_token_file"
    return _web_identity(
        ctx, token_file, _str(ctx.profile, "role_arn"), _str(ctx.profile, "role_session_name")
    )


def _web_identity(
    ctx: ChainContext, token_file: str, role_arn: str | None, session: str | None
) -> Source:
    if not role_arn:
        raise CredentialsConfigError(
            "a web identity token file is configured but no role ARN "
            "(set AWS_ROLE_ARN or the profile's role_arn)"
        )
    from ._credentials_sts import WebIdentitySource, sts_endpoint

    return WebIdentitySource(
        role_arn=role_arn,
        session_name=session or ctx.session_name(),
        token_file=expand_home(token_file, ctx.environ),
        endpoint=service_endpoint(ctx, "STS", "sts") or sts_endpoint(ctx.region()),
    )


def sso_step(ctx: ChainContext) -> Source | str:
    profile = ctx.profile
    where = f"profile {ctx.profile_name!r}"
    session_name = _str(profile, "sso_session")
    if session_name:
        session = ctx.config.sso_sessions.get(session_name)
        if session is None:
            raise CredentialsConfigError(
                f"{where}: sso_session {session_name!r} has no [sso-session {session_name}] section"
            )
        settings = {k: v for k, v in session.items() if isinstance(v, str)}
        for key in ("sso_account_id", "sso_role_name"):
            if isinstance(profile.get(key), str):
                settings[key] = str(profile[key])
        cache_key, hint = session_name, f"--sso-session {session_name}"
        required = ("sso_region", "sso_start_url", "sso_account_id", "sso_role_name")
    elif any(k in profile for k in ("sso_start_url", "sso_account_id", "sso_role_name")):
        settings = {k: v for k, v in profile.items() if isinstance(v, str)}
        cache_key, hint = settings.get("sso_start_url", ""), f"--profile {ctx.profile_name}"
        required = ("sso_start_url", "sso_region", "sso_account_id", "sso_role_name")
    else:
        return f"profile {ctx.profile_name!r} has no sso_session or sso_start_url"
    missing = [key for key in required if not settings.get(key)]
    if missing:
        raise CredentialsConfigError(f"{where}: SSO configuration is missing {', '.join(missing)}")
    import hashlib

    digest = hashlib.sha1(cache_key.encode("utf-8")).hexdigest()  # a cache file name, not security
    cache_dir = expand_home("~/.aws/sso/cache", ctx.environ)
    sso_region = str(settings["sso_region"])
    from ._credentials_sts import SsoSource

    return SsoSource(
        cache_file=f"{cache_dir}/{digest}.json",
        login_hint=hint,
        account_id=str(settings["sso_account_id"]),
        role_name=str(settings["sso_role_name"]),
        endpoint=service_endpoint(ctx, "SSO", "sso")
        or f"https://portal.sso.{sso_region}.amazonaws.com",
        clock=ctx.clock,
    )


def shared_file_step(ctx: ChainContext) -> Source | str:
    section = ctx.config.credential_profiles.get(ctx.profile_name)
    if section is None:
        return f"no [{ctx.profile_name}] section in {ctx.config.credentials_file}"
    found = _file_source(section, "shared-credentials-file")
    return (
        found or f"[{ctx.profile_name}] in {ctx.config.credentials_file} has no aws_access_key_id"
    )


def process_step(ctx: ChainContext) -> Source | str:
    command = _str(ctx.profile, "credential_process")
    if command is None:
        return f"profile {ctx.profile_name!r} has no credential_process"
    return ProcessSource(command)


def config_file_step(ctx: ChainContext) -> Source | str:
    section = ctx.config.profiles.get(ctx.profile_name)
    if section is None:
        return f"no profile {ctx.profile_name!r} in {ctx.config.config_file}"
    found = _file_source(section, "config-file")
    return (
        found
        or f"profile {ctx.profile_name!r} in {ctx.config.config_file} has no aws_access_key_id"
    )


def _container(ctx: ChainContext) -> ContainerSource | None:
    relative = ctx.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = ctx.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if relative:
        url = "http://169.254.170.2" + ("" if relative.startswith("/") else "/") + relative
    elif full:
        url = validate_container_uri(full)
    else:
        return None
    token_file = ctx.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") or None
    return ContainerSource(
        url=url,
        token=None if token_file else ctx.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        token_file=token_file,
        retry_delay=ctx.container_retry_delay,
    )


def container_step(ctx: ChainContext) -> Source | str:
    found = _container(ctx)
    return found or "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set"


def _number(ctx: ChainContext, key: str, env: str, default: float) -> float:
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


def _imds(ctx: ChainContext) -> ImdsSource:
    endpoint = ctx.setting("ec2_metadata_service_endpoint", "AWS_EC2_METADATA_SERVICE_ENDPOINT")
    if endpoint is None:
        mode = (
            ctx.setting(
                "ec2_metadata_service_endpoint_mode", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"
            )
            or "IPv4"
        )
        if mode.lower() not in ("ipv4", "ipv6"):
            raise CredentialsConfigError(
                f"ec2_metadata_service_endpoint_mode must be IPv4 or IPv6, got {mode!r}"
            )
        endpoint = "http://[fd00:ec2::254]" if mode.lower() == "ipv6" else "http://169.254.169.254"
    v1_disabled = ctx.setting("ec2_metadata_v1_disabled", "AWS_EC2_METADATA_V1_DISABLED")
    return ImdsSource(
        endpoint=endpoint,
        v1_disabled=(v1_disabled or "").lower() == _TRUE,
        timeout=_number(ctx, "metadata_service_timeout", "AWS_METADATA_SERVICE_TIMEOUT", 1.0),
        attempts=int(
            _number(ctx, "metadata_service_num_attempts", "AWS_METADATA_SERVICE_NUM_ATTEMPTS", 1)
        ),
    )


def imds_step(ctx: ChainContext) -> Source | str:
    if ctx.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == _TRUE:
        return "disabled by AWS_EC2_METADATA_DISABLED"
    return _imds(ctx)


CHAIN: tuple[tuple[str, Step], ...] = (
    ("env", env_step),
    ("assume-role", assume_role_step),
    ("assume-role-with-web-identity", web_identity_step),
    ("sso", sso_step),
    ("shared-credentials-file", shared_file_step),
    ("custom-process", process_step),
    ("config-file", config_file_step),
    ("container-role", container_step),
    ("iam-role", imds_step),
)


def resolve_chain(ctx: ChainContext) -> Flow[tuple[Source, Credentials]]:
    """Walk the chain; return the first source that applies and its first credentials."""
    tried: list[tuple[str, str]] = []
    for name, step in CHAIN:
        found = step(ctx)
        if isinstance(found, str):
            tried.append((name, found))
            continue
        if name != "iam-role":
            creds = yield from found.fetch()
            return found, creds
        try:
            creds = yield from found.fetch()
        except CredentialsRetrievalError as exc:  # IMDS is probed, not configured
            tried.append((name, exc.problem))
            continue
        return found, creds
    raise NoCredentialsError(tried)
