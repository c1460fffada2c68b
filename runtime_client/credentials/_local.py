"""Credential sources on this machine: environment variables, the shared files' static
keys, and ``credential_process`` (a command that prints credentials as JSON).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sigv4 import Credentials
from sigv4._record import field, record

from .._config_files import Section
from .._flow import Call, Flow
from ._context import ChainContext, profile_str
from ._errors import CredentialsConfigError, CredentialsRetrievalError, PartialCredentialsError
from ._source import Source, StaticSource, parse_timestamp

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "EnvSource",
    "ProcessSource",
    "config_file_step",
    "env_step",
    "file_source",
    "has_role",
    "has_static_keys",
    "process_step",
    "shared_file_step",
]


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


@record
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


def has_static_keys(section: Section) -> bool:
    return bool(profile_str(section, "aws_access_key_id"))


def has_role(section: Section) -> bool:
    return bool(profile_str(section, "role_arn")) and not profile_str(
        section, "web_identity_token_file"
    )


def file_source(section: Section, name: str) -> Source | None:
    creds = _static_from(section, name, _FILE_KEYS)
    return None if creds is None else StaticSource(name, creds)


def _run_process(argv: list[str], timeout: float) -> subprocess.CompletedProcess[bytes] | None:
    """The finished process, or None when it ran out of time (it is killed)."""
    import subprocess

    try:
        return subprocess.run(argv, capture_output=True, check=False, shell=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


#: Runs of 20+ opaque characters (key ids, secrets, tokens): masked in quoted stderr.
_OPAQUE = re.compile(r"[A-Za-z0-9/+=_\-]{20,}")
_STDERR_SHOWN = 300

DEFAULT_PROCESS_TIMEOUT = 120.0


def _quoted_stderr(raw: bytes) -> str:
    """A process's stderr as an error may quote it: one line, shortened, anything that
    looks like a key or token masked (the process may print the secret it failed on)."""
    text = " ".join(raw.decode("utf-8", "replace").split())
    text = _OPAQUE.sub("***", text)
    if len(text) > _STDERR_SHOWN:
        text = text[:_STDERR_SHOWN] + "..."
    return text or "(no error output)"


@record
class ProcessSource:
    """``credential_process``: run the command (no shell), read JSON ``Version: 1``.

    The command is stopped after ``timeout`` seconds (the profile's
    ``credential_process_timeout``, an extension botocore ignores; default 120): a
    process that hangs (waiting on a prompt nobody sees) must not hang the caller."""

    command: str
    name: str = "custom-process"
    timeout: float = DEFAULT_PROCESS_TIMEOUT

    def fetch(self) -> Flow[Credentials]:
        import shlex

        try:
            argv = shlex.split(self.command)
        except ValueError as exc:
            raise CredentialsConfigError(f"credential_process cannot be parsed: {exc}") from None
        if not argv:
            raise CredentialsConfigError("credential_process is empty")
        try:
            result = yield Call(_run_process, (argv, self.timeout))
        except OSError as exc:
            raise CredentialsRetrievalError(
                self.name, f"cannot run {argv[0]!r}: {type(exc).__name__}: {exc.strerror}"
            ) from None
        if result is None:
            raise CredentialsRetrievalError(
                self.name,
                f"{argv[0]!r} did not finish within {self.timeout:g} s and was stopped "
                "(credential_process_timeout in the profile sets the limit)",
            )
        if result.returncode != 0:
            raise CredentialsRetrievalError(
                self.name,
                f"{argv[0]!r} exited with status {result.returncode}: "
                f"{_quoted_stderr(result.stderr)}",
            )
        import json  # here: only credential_process answers in JSON (cold start)

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


def env_step(ctx: ChainContext) -> Source | str:
    if ctx.profile_from_argument:
        return "skipped: a profile was given explicitly"
    source = EnvSource(ctx.environ)
    return source if source.read() is not None else "AWS_ACCESS_KEY_ID is not set"


def shared_file_step(ctx: ChainContext) -> Source | str:
    section = ctx.config.credential_profiles.get(ctx.profile_name)
    if section is None:
        return f"no [{ctx.profile_name}] section in {ctx.config.credentials_file}"
    found = file_source(section, "shared-credentials-file")
    return (
        found or f"[{ctx.profile_name}] in {ctx.config.credentials_file} has no aws_access_key_id"
    )


def process_step(ctx: ChainContext) -> Source | str:
    command = profile_str(ctx.profile, "credential_process")
    if command is None:
        return f"profile {ctx.profile_name!r} has no credential_process"
    limit = profile_str(ctx.profile, "credential_process_timeout")
    if limit is None:
        return ProcessSource(command)
    try:
        seconds = float(limit)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise CredentialsConfigError(
            f"profile {ctx.profile_name!r}: credential_process_timeout must be a number of "
            f"seconds > 0, got {limit!r}"
        )
    return ProcessSource(command, timeout=seconds)


def config_file_step(ctx: ChainContext) -> Source | str:
    section = ctx.config.profiles.get(ctx.profile_name)
    if section is None:
        return f"no profile {ctx.profile_name!r} in {ctx.config.config_file}"
    found = file_source(section, "config-file")
    return (
        found
        or f"profile {ctx.profile_name!r} in {ctx.config.config_file} has no aws_access_key_id"
    )
