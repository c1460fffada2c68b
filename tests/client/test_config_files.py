"""Parsing ~/.aws/config and ~/.aws/credentials, and choosing the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime_client._config_files import (
    ConfigFileError,
    ProfileNotFoundError,
    expand_home,
    load_aws_config,
    load_profile_config,
    parse_ini,
    select_profile,
)

CONFIG = """\
# a comment
[default]
region = us-west-2
retry_mode = standard

[profile dev]
region = eu-west-1
max_attempts = 5
s3 =
  addressing_style = path
  use_accelerate_endpoint = true
services = local

[profile "quoted name"]
region = ap-south-1

[sso-session corp]
sso_region = us-east-1
sso_start_url = https://corp.awsapps.com/start

[services local]
sts =
  endpoint_url = http://127.0.0.1:1
"""

CREDENTIALS = """\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default

[dev]
aws_access_key_id = AKIDDEV
aws_secret_access_key = secret-dev
region = eu-central-1

[only-in-credentials]
aws_access_key_id = AKIDONLY
aws_secret_access_key = secret-only
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(CONFIG)
    (tmp_path / "credentials").write_text(CREDENTIALS)
    return {
        "HOME": str(tmp_path / "home"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }


def test_parse_ini_sections_and_nested_values() -> None:
    sections = parse_ini(CONFIG)
    assert sections["profile dev"]["s3"] == {
        "addressing_style": "path",
        "use_accelerate_endpoint": "true",
    }
    assert sections["services local"]["sts"] == {"endpoint_url": "http://127.0.0.1:1"}
    assert sections["default"] == {"region": "us-west-2", "retry_mode": "standard"}


def test_parse_error_names_the_file_but_not_the_line_text() -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_ini("aws_secret_access_key = hunter2\n", source="/x/credentials")
    assert "/x/credentials" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_a_config_file_with_invalid_utf8_is_a_config_file_error_naming_file_and_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(env["AWS_CONFIG_FILE"])
    path.write_bytes(b"[default]\nregion = us-east-1\nname = caf\xe9\n")
    with pytest.raises(ConfigFileError) as info:
        load_aws_config(env)
    assert str(info.value) == (
        f"cannot parse {path} (line 3): it is not UTF-8 text (byte 0xe9 at offset 39)"
    )
    # ...and a client says the same, as a configuration error (boto3: a parse error)
    from runtime_client import SageMakerRuntime

    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    with pytest.raises(ConfigFileError, match=r"\(line 3\): it is not UTF-8"):
        SageMakerRuntime(region_name="us-east-1")


def test_sections_are_split_by_kind(env: dict[str, str]) -> None:
    config = load_aws_config(env)
    assert set(config.profiles) == {"default", "dev", "quoted name"}
    assert config.sso_sessions["corp"]["sso_region"] == "us-east-1"
    assert "local" in config.services
    assert set(config.credential_profiles) == {"default", "dev", "only-in-credentials"}


def test_load_profile_config_default_profile(env: dict[str, str]) -> None:
    assert load_profile_config(environ=env) == {"region": "us-west-2", "retry_mode": "standard"}


def test_credentials_file_wins_and_secrets_are_left_out(env: dict[str, str]) -> None:
    settings = load_profile_config("dev", env)
    assert settings["region"] == "eu-central-1"  # the credentials file wins, as in botocore
    assert settings["max_attempts"] == "5"
    assert settings["s3.addressing_style"] == "path"
    assert not any(key.startswith("aws_") for key in settings)


def test_quoted_profile_name(env: dict[str, str]) -> None:
    assert load_profile_config("quoted name", env) == {"region": "ap-south-1"}


@pytest.mark.parametrize(
    ("argument", "extra", "expected"),
    [
        ("dev", {"AWS_PROFILE": "x", "AWS_DEFAULT_PROFILE": "y"}, ("dev", True)),
        (None, {"AWS_PROFILE": "dev", "AWS_DEFAULT_PROFILE": "y"}, ("dev", True)),
        (None, {"AWS_DEFAULT_PROFILE": "dev"}, ("dev", False)),
        (None, {}, ("default", False)),
    ],
)
def test_profile_selection_order(
    argument: str | None, extra: dict[str, str], expected: tuple[str, bool]
) -> None:
    assert select_profile(argument, extra) == expected


def test_explicit_missing_profile_is_an_error(env: dict[str, str]) -> None:
    with pytest.raises(ProfileNotFoundError, match="'nope'") as info:
        load_profile_config("nope", env)
    assert env["AWS_CONFIG_FILE"] in str(info.value)
    with pytest.raises(ProfileNotFoundError):
        load_profile_config(environ={**env, "AWS_PROFILE": "nope"})


def test_implicit_missing_profile_is_empty(env: dict[str, str]) -> None:
    assert load_profile_config(environ={**env, "AWS_DEFAULT_PROFILE": "nope"}) == {}


def test_profile_only_in_credentials_file_exists(env: dict[str, str]) -> None:
    assert load_profile_config("only-in-credentials", env) == {}


def test_no_files_means_no_settings(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert load_profile_config(environ=env) == {}


def test_home_expansion_uses_the_given_environment(tmp_path: Path) -> None:
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nregion = sa-east-1\n")
    assert load_profile_config(environ={"HOME": str(tmp_path)}) == {"region": "sa-east-1"}
    assert expand_home("~/x", {"HOME": "/h"}) == "/h/x"
    assert expand_home("/abs/x", {"HOME": "/h"}) == "/abs/x"


def test_empty_profile_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="profile_name"):
        select_profile("  ", {})
