"""The chain's steps that assume a role: assume-role profiles (``role_arn`` with
``source_profile`` or ``credential_source``), web identity, and SSO.

The STS and SSO sources themselves are in :mod:`._sts`, imported by the step that uses them.
"""

from __future__ import annotations

from .._config_files import expand_home
from ._context import ChainContext, profile_str, service_endpoint
from ._errors import CredentialsConfigError
from ._local import (
    EnvSource,
    config_file_step,
    has_role,
    has_static_keys,
    process_step,
    shared_file_step,
)
from ._metadata import container_source, imds_source
from ._source import Source

__all__ = [
    "assume_role_step",
    "sso_step",
    "web_identity_step",
]


def assume_role_step(ctx: ChainContext) -> Source | str:
    if not has_role(ctx.profile):
        return f"profile {ctx.profile_name!r} has no role_arn"
    return _assume_role(ctx, ctx.profile_name, [ctx.profile_name])


def _assume_role(ctx: ChainContext, profile_name: str, visited: list[str]) -> Source:
    profile = ctx.config.profile(profile_name)
    source_profile = profile_str(profile, "source_profile")
    credential_source = profile_str(profile, "credential_source")
    where = f"profile {profile_name!r}"
    if source_profile and credential_source:
        raise CredentialsConfigError(
            f"{where} sets both source_profile and credential_source; set only one"
        )
    if profile_str(profile, "mfa_serial"):
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
        if source_profile in visited and not has_static_keys(parent):
            chain = " -> ".join([*visited, source_profile])
            raise CredentialsConfigError(f"source_profile loop: {chain}")
        if has_static_keys(parent) or not has_role(parent):
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
    duration = profile_str(profile, "duration_seconds")
    if duration is not None and not duration.isdigit():
        raise CredentialsConfigError(f"{where}: duration_seconds must be a whole number")
    region = ctx.region()
    from ._sts import AssumeRoleSource, sts_endpoint

    return AssumeRoleSource(
        role_arn=str(profile["role_arn"]),
        session_name=profile_str(profile, "role_session_name") or ctx.session_name(),
        source=source,
        endpoint=service_endpoint(ctx, "STS", "sts") or sts_endpoint(region),
        region=region or "us-east-1",
        external_id=profile_str(profile, "external_id"),
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
        container = container_source(ctx)
        if container is None:
            raise CredentialsConfigError(
                f"{where}: credential_source EcsContainer, but no container URI is set"
            )
        return container
    if kind == "Ec2InstanceMetadata":
        return imds_source(ctx)
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
        role_arn = ctx.environ.get("AWS_ROLE_ARN") or profile_str(ctx.profile, "role_arn")
        name = ctx.environ.get("AWS_ROLE_SESSION_NAME") or profile_str(
            ctx.profile, "role_session_name"
        )
        return _web_identity(ctx, token_file, role_arn, name)
    found = _web_identity_from_profile(ctx)
    if isinstance(found, str):
        return "AWS_WEB_IDENTITY_TOKEN_FILE is not set and " + found
    return found


def _web_identity_from_profile(ctx: ChainContext) -> Source | str:
    token_file = profile_str(ctx.profile, "web_identity_token_file")
    if not token_file:
        return f"profile {ctx.profile_name!r} has no web_identity_token_file"
    return _web_identity(
        ctx,
        token_file,
        profile_str(ctx.profile, "role_arn"),
        profile_str(ctx.profile, "role_session_name"),
    )


def _web_identity(
    ctx: ChainContext, token_file: str, role_arn: str | None, session: str | None
) -> Source:
    if not role_arn:
        raise CredentialsConfigError(
            "a web identity token file is configured but no role ARN "
            "(set AWS_ROLE_ARN or the profile's role_arn)"
        )
    from ._sts import WebIdentitySource, sts_endpoint

    return WebIdentitySource(
        role_arn=role_arn,
        session_name=session or ctx.session_name(),
        token_file=expand_home(token_file, ctx.environ),
        endpoint=service_endpoint(ctx, "STS", "sts") or sts_endpoint(ctx.region()),
    )


def sso_step(ctx: ChainContext) -> Source | str:
    profile = ctx.profile
    where = f"profile {ctx.profile_name!r}"
    session_name = profile_str(profile, "sso_session")
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
    from ._sts import SsoSource

    return SsoSource(
        cache_file=f"{cache_dir}/{digest}.json",
        login_hint=hint,
        account_id=str(settings["sso_account_id"]),
        role_name=str(settings["sso_role_name"]),
        endpoint=service_endpoint(ctx, "SSO", "sso")
        or f"https://portal.sso.{sso_region}.amazonaws.com",
        clock=ctx.clock,
        oidc_endpoint=(
            service_endpoint(ctx, "SSO_OIDC", "sso_oidc")
            or f"https://oidc.{sso_region}.amazonaws.com"
        )
        if session_name
        else None,
    )
