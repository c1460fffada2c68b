"""Reading the shared AWS config and credentials files, the way botocore does.

Two INI files hold settings, both optional:

* the config file, ``~/.aws/config`` (or ``AWS_CONFIG_FILE``), whose sections are
  ``[default]``, ``[profile NAME]``, ``[sso-session NAME]`` and ``[services NAME]``;
* the credentials file, ``~/.aws/credentials`` (or ``AWS_SHARED_CREDENTIALS_FILE``),
  whose sections are bare profile names (``[default]``, ``[NAME]``).

A value that starts on the next line is a nested sub-section::

    [profile dev]
    s3 =
      addressing_style = path

    [services local]
    sts =
      endpoint_url = http://127.0.0.1:4566

The profile used is, in order: the name given by the caller, ``AWS_PROFILE``,
``AWS_DEFAULT_PROFILE``, then ``default``. For one profile, a key set in the
credentials file wins over the same key in the config file (botocore merges them so).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sigv4._record import field, record

from ._errors import SageMakerRuntimeError

__all__ = [
    "AwsConfig",
    "ConfigFileError",
    "ProfileNotFoundError",
    "Section",
    "config_file_paths",
    "expand_home",
    "load_aws_config",
    "load_profile_config",
    "parse_ini",
    "select_profile",
]

#: One section: plain values are strings, nested sub-sections are dicts of strings.
Section = dict[str, "str | dict[str, str]"]

#: Keys that carry secrets; never returned by :func:`load_profile_config`.
_CREDENTIAL_KEYS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token"}
)


class ConfigFileError(SageMakerRuntimeError, ValueError):
    """A shared config or credentials file cannot be parsed (names the file)."""


class ProfileNotFoundError(SageMakerRuntimeError, ValueError):
    """A profile named explicitly (argument or ``AWS_PROFILE``) exists in neither file."""

    def __init__(self, profile: str, config_file: str, credentials_file: str) -> None:
        self.profile = profile
        super().__init__(
            f"profile {profile!r} was not found in the config file ({config_file}) "
            f"or the shared credentials file ({credentials_file})"
        )


@record(frozen=True)
class AwsConfig:
    """Everything read from the two files, for one environment.

    ``profiles`` come from the config file, ``credential_profiles`` from the
    credentials file; :meth:`profile` merges both for one name.
    """

    config_file: str
    credentials_file: str
    profiles: dict[str, Section] = field(default_factory=dict)
    credential_profiles: dict[str, Section] = field(default_factory=dict)
    sso_sessions: dict[str, Section] = field(default_factory=dict)
    services: dict[str, Section] = field(default_factory=dict)

    def __repr__(self) -> str:  # the files may hold secrets: show only names
        return (
            f"AwsConfig(config_file={self.config_file!r}, "
            f"credentials_file={self.credentials_file!r}, profiles={sorted(self.profiles)!r}, "
            f"credential_profiles={sorted(self.credential_profiles)!r})"
        )

    def has_profile(self, name: str) -> bool:
        return name in self.profiles or name in self.credential_profiles

    def profile(self, name: str) -> Section:
        """The merged settings of profile ``name`` (credentials file wins); {} if absent."""
        merged: Section = dict(self.profiles.get(name, {}))
        merged.update(self.credential_profiles.get(name, {}))
        return merged


def expand_home(path: str, environ: Mapping[str, str]) -> str:
    """Expand a leading ``~`` using ``HOME`` (or ``USERPROFILE``) from ``environ``."""
    if not path.startswith("~"):
        return path
    home = environ.get("HOME") or environ.get("USERPROFILE")
    if not home:
        return os.path.expanduser(path)
    rest = path[1:]
    if rest and rest[0] not in "/\\":
        return os.path.expanduser(path)  # ~otheruser/...: leave it to the OS
    return home + rest


def parse_ini(text: str, source: str = "<string>") -> dict[str, Section]:
    """Parse INI text into sections; values starting on a new line are sub-sections.

    Keys are lower-cased and values stripped, as botocore's parser does. A later
    duplicate section or key wins rather than being an error.
    """
    if not text.strip():
        return {}  # an empty (or /dev/null) file: no sections, and no configparser import
    import configparser  # only when a file has content: its import is not free

    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        # configparser's messages quote the offending line, which may hold a secret.
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ConfigFileError(
            f"cannot parse {source}{where}: {type(exc).__name__}; expected "
            "'[section]' headers followed by 'key = value' lines"
        ) from None
    sections: dict[str, Section] = {}
    for name in parser.sections():
        section: Section = {}
        for key, value in parser.items(name):
            if value.startswith("\n"):
                section[key] = _parse_nested(value)
            else:
                section[key] = value.strip()
        sections[name] = section
    return sections


def _parse_nested(value: str) -> dict[str, str]:
    nested: dict[str, str] = {}
    for line in value.strip().splitlines():
        key, sep, val = line.partition("=")
        if sep:
            nested[key.strip().lower()] = val.strip()
    return nested


def _read_ini(path: str) -> dict[str, Section] | None:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as exc:  # unreadable (permissions, a device): say which file
        raise ConfigFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigFileError(
            f"cannot parse {path} (line {line}): it is not UTF-8 text "
            f"(byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    return parse_ini(text, source=path)


def _split_config_sections(
    raw: dict[str, Section],
) -> tuple[dict[str, Section], dict[str, Section], dict[str, Section]]:
    profiles: dict[str, Section] = {}
    sso_sessions: dict[str, Section] = {}
    services: dict[str, Section] = {}
    # `[profile default]` is honoured, but a plain `[default]` wins when both exist.
    for name, values in raw.items():
        kind, _, rest = name.strip().partition(" ")
        rest = _unquote(rest.strip())
        if name.strip() == "default":
            continue
        if kind == "profile" and rest:
            profiles[rest] = values
        elif kind == "sso-session" and rest:
            sso_sessions[rest] = values
        elif kind == "services" and rest:
            services[rest] = values
    if "default" in raw:
        profiles["default"] = raw["default"]
    return profiles, sso_sessions, services


def _unquote(name: str) -> str:
    if (
        name
        and not any(c in name for c in "\"'\\")
        and len(name.split()) == 1 == len(name.split(" "))
    ):
        return name  # one plain word (the common case): shlex would return it unchanged
    import shlex

    try:
        parts = shlex.split(name)
    except ValueError:
        return name
    return parts[0] if len(parts) == 1 else name


def config_file_paths(environ: Mapping[str, str]) -> tuple[str, str]:
    """The config and credentials file paths, after ``~`` expansion."""
    config = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    creds = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return expand_home(config, environ), expand_home(creds, environ)


def load_aws_config(environ: Mapping[str, str] | None = None) -> AwsConfig:
    """Read both files (a missing file is empty). Blocking: call off the event loop."""
    env = os.environ if environ is None else environ
    config_path, creds_path = config_file_paths(env)
    raw_config = _read_ini(config_path) or {}
    raw_creds = _read_ini(creds_path) or {}
    profiles, sso_sessions, services = _split_config_sections(raw_config)
    return AwsConfig(
        config_file=config_path,
        credentials_file=creds_path,
        profiles=profiles,
        credential_profiles={k.strip(): v for k, v in raw_creds.items()},
        sso_sessions=sso_sessions,
        services=services,
    )


def select_profile(profile_name: str | None, environ: Mapping[str, str]) -> tuple[str, bool]:
    """The profile to use and whether it was named explicitly.

    Order: the argument, ``AWS_PROFILE``, ``AWS_DEFAULT_PROFILE``, ``"default"``.
    Only the argument and ``AWS_PROFILE`` count as explicit (a missing explicit
    profile is an error; a missing implicit one just means no settings).
    """
    if profile_name is not None:
        if not isinstance(profile_name, str) or not profile_name.strip():
            raise ValueError("profile_name: must be a non-empty string or None")
        return profile_name, True
    if environ.get("AWS_PROFILE"):
        return environ["AWS_PROFILE"], True
    if environ.get("AWS_DEFAULT_PROFILE"):
        return environ["AWS_DEFAULT_PROFILE"], False
    return "default", False


def load_profile_config(
    profile_name: str | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The settings of the selected profile, e.g. ``region``, ``retry_mode``, ``endpoint_url``.

    Keys from the config file and the credentials file are merged (the credentials
    file wins). Credential keys (access key, secret, token) are left out. Nested
    sub-sections are flattened to ``"parent.key"`` (``"s3.addressing_style"``).
    Returns ``{}`` when there is no file or no such profile, unless the profile was
    named explicitly (argument or ``AWS_PROFILE``): then :class:`ProfileNotFoundError`.
    """
    env = os.environ if environ is None else environ
    name, explicit = select_profile(profile_name, env)
    config = load_aws_config(env)
    if not config.has_profile(name):
        if explicit:
            raise ProfileNotFoundError(name, config.config_file, config.credentials_file)
        return {}
    result: dict[str, str] = {}
    for key, value in config.profile(name).items():
        if key in _CREDENTIAL_KEYS:
            continue
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                result[f"{key}.{sub}"] = subvalue
        else:
            result[key] = value
    return result
