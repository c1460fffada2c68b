"""The default chain: botocore's order, each precedence rule, and the "nothing found" error."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from runtime_client._config_files import ProfileNotFoundError
from runtime_client.credentials._errors import CredentialsError, NoCredentialsError
from runtime_client.credentials._provider import default_credentials_provider
from tests.support.credential_servers import (
    ContainerApp,
    ImdsApp,
    LoopbackServer,
    SsoApp,
    StsApp,
    aws_env,
    creds_json,
    iso,
    serve,
)

ORDER = [
    "env",
    "assume-role",
    "assume-role-with-web-identity",
    "sso",
    "shared-credentials-file",
    "custom-process",
    "config-file",
    "container-role",
    "iam-role",
]


@pytest.fixture
def servers() -> Iterator[dict[str, LoopbackServer]]:
    sts = StsApp(keys={"K-shared": ("s", None)})
    with ExitStack() as stack:
        running = {
            "sts": stack.enter_context(serve(sts)),
            "sso": stack.enter_context(serve(SsoApp())),
            "container": stack.enter_context(
                serve(ContainerApp(lambda: creds_json("K-container")))
            ),
            "imds": stack.enter_context(serve(ImdsApp(lambda: creds_json("K-imds")))),
        }
        sts.host = running["sts"].url.removeprefix("http://")
        yield running


def _configure(tmp: Path, enabled: set[str], servers: dict[str, LoopbackServer]) -> dict[str, str]:
    """Configure every source in ``enabled`` at once, each with its own access key id."""
    config: list[str] = ["[default]"]
    credentials = ["[default]"]
    extra: dict[str, str] = {
        "AWS_ENDPOINT_URL_STS": servers["sts"].url,
        "AWS_ENDPOINT_URL_SSO": servers["sso"].url,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": servers["imds"].url,
    }
    if "env" in enabled:
        extra.update(AWS_ACCESS_KEY_ID="K-env", AWS_SECRET_ACCESS_KEY="s")
    if "assume-role" in enabled:
        config += ["role_arn = arn:aws:iam::1:role/R", "source_profile = base"]
    if "assume-role-with-web-identity" in enabled:
        (tmp / "jwt").write_text("jwt-token")
        extra.update(
            AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp / "jwt"), AWS_ROLE_ARN="arn:aws:iam::1:role/W"
        )
    if "sso" in enabled:
        config += ["sso_session = corp", "sso_account_id = 123456789012", "sso_role_name = Dev"]
    if "shared-credentials-file" in enabled:
        credentials += ["aws_access_key_id = K-shared", "aws_secret_access_key = s"]
    if "custom-process" in enabled:
        script = tmp / "p.py"
        script.write_text(
            "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'K-process',"
            " 'SecretAccessKey': 's'}))\n"
        )
        config.append(f'credential_process = "{sys.executable}" "{script}"')
    if "config-file" in enabled:
        config += ["aws_access_key_id = K-config", "aws_secret_access_key = s"]
    if "container-role" in enabled:
        extra["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = servers["container"].url + "/v2/credentials"
    config += ["[sso-session corp]", "sso_region = us-east-1", "sso_start_url = https://x"]
    credentials += ["[base]", "aws_access_key_id = K-shared", "aws_secret_access_key = s"]
    env = aws_env(tmp, "\n".join(config) + "\n", "\n".join(credentials) + "\n", **extra)
    if "iam-role" not in enabled:
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    else:
        del env["AWS_EC2_METADATA_DISABLED"]
    cache = Path(env["HOME"]) / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    (cache / (hashlib.sha1(b"corp").hexdigest() + ".json")).write_text(
        json.dumps({"accessToken": "sso-access-token", "expiresAt": iso(later)})
    )
    return env


WINNER_KEYS = {
    "env": "K-env",
    "assume-role": "ASIASTS1",
    "assume-role-with-web-identity": "ASIAWEB1",
    "sso": "ASIASSO",
    "shared-credentials-file": "K-shared",
    "custom-process": "K-process",
    "config-file": "K-config",
    "container-role": "K-container",
    "iam-role": "K-imds",
}


@pytest.mark.parametrize("first", range(len(ORDER)), ids=ORDER)
def test_each_source_beats_every_later_one(
    tmp_path: Path, servers: dict[str, LoopbackServer], first: int
) -> None:
    env = _configure(tmp_path, set(ORDER[first:]), servers)
    creds = default_credentials_provider(environ=env).get_credentials()
    assert creds.access_key_id == WINNER_KEYS[ORDER[first]]


def test_nothing_found_lists_every_source_in_order(tmp_path: Path) -> None:
    env = aws_env(tmp_path)
    with pytest.raises(NoCredentialsError) as info:
        default_credentials_provider(environ=env).get_credentials()
    assert [name for name, _ in info.value.tried] == ORDER
    message = str(info.value)
    assert message.startswith("Unable to locate AWS credentials. Sources tried, in order:")
    positions = [message.index(f"- {name}: ") for name in ORDER]
    assert positions == sorted(positions)
    assert "AWS_ACCESS_KEY_ID is not set" in message
    assert "disabled by AWS_EC2_METADATA_DISABLED" in message
    assert isinstance(info.value, CredentialsError)


SHARED = (
    "[default]\naws_access_key_id = K-default\naws_secret_access_key = s\n"
    "[a]\naws_access_key_id = K-a\naws_secret_access_key = s\n"
    "[b]\naws_access_key_id = K-b\naws_secret_access_key = s\n"
)
ENV_KEYS = {"AWS_ACCESS_KEY_ID": "K-env", "AWS_SECRET_ACCESS_KEY": "s"}


def _key(env: dict[str, str], profile: str | None = None) -> str:
    return default_credentials_provider(profile, env).get_credentials().access_key_id


def test_profile_argument_skips_the_environment(tmp_path: Path) -> None:
    env = aws_env(tmp_path, credentials=SHARED, **ENV_KEYS)
    assert _key(env, "a") == "K-a"


def test_aws_profile_does_not_skip_the_environment(tmp_path: Path) -> None:
    env = aws_env(tmp_path, credentials=SHARED, AWS_PROFILE="a", **ENV_KEYS)
    assert _key(env) == "K-env"


def test_profile_selection_argument_then_aws_profile_then_default_profile(tmp_path: Path) -> None:
    env = aws_env(tmp_path, credentials=SHARED, AWS_PROFILE="a", AWS_DEFAULT_PROFILE="b")
    assert _key(env, "b") == "K-b"
    assert _key(env) == "K-a"
    del env["AWS_PROFILE"]
    assert _key(env) == "K-b"
    del env["AWS_DEFAULT_PROFILE"]
    assert _key(env) == "K-default"


def test_explicit_missing_profile_is_named(tmp_path: Path) -> None:
    env = aws_env(tmp_path, credentials=SHARED, **ENV_KEYS)
    with pytest.raises(ProfileNotFoundError, match="'ghost'"):
        _key(env, "ghost")
    with pytest.raises(ProfileNotFoundError, match="'ghost'"):
        _key({**env, "AWS_PROFILE": "ghost"})


def test_missing_default_profile_is_not_an_error(tmp_path: Path) -> None:
    env = aws_env(tmp_path, credentials=SHARED, AWS_DEFAULT_PROFILE="ghost")
    with pytest.raises(NoCredentialsError, match=r"no \[ghost\] section"):
        _key(env)


def test_web_identity_environment_beats_the_profile(
    tmp_path: Path, servers: dict[str, LoopbackServer]
) -> None:
    (tmp_path / "env-jwt").write_text("jwt-token")
    config = (
        f"[default]\nweb_identity_token_file = {tmp_path / 'none'}\n"
        "role_arn = arn:aws:iam::1:role/FromProfile\n"
    )
    env = aws_env(
        tmp_path,
        config=config,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "env-jwt"),
        AWS_ROLE_ARN="arn:aws:iam::1:role/FromEnv",
        AWS_ENDPOINT_URL_STS=servers["sts"].url,
    )
    assert _key(env) == "ASIAWEB1"
    assert servers["sts"].requests[0].form["RoleArn"].endswith("FromEnv")


def test_role_arn_with_a_token_file_is_web_identity_not_assume_role(
    tmp_path: Path, servers: dict[str, LoopbackServer]
) -> None:
    (tmp_path / "jwt").write_text("jwt-token")
    config = (
        f"[default]\nweb_identity_token_file = {tmp_path / 'jwt'}\n"
        "role_arn = arn:aws:iam::1:role/P\n"
    )
    env = aws_env(tmp_path, config=config, AWS_ENDPOINT_URL_STS=servers["sts"].url)
    assert _key(env) == "ASIAWEB1"


def test_the_provider_is_lazy(tmp_path: Path) -> None:
    env = aws_env(tmp_path)
    provider = default_credentials_provider(environ=env)
    Path(env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(SHARED)  # written after creation
    assert provider.get_credentials().access_key_id == "K-default"


def test_the_chosen_source_sticks(tmp_path: Path) -> None:
    env = aws_env(tmp_path, credentials=SHARED)
    provider = default_credentials_provider(environ=env)
    assert provider.get_credentials().access_key_id == "K-default"
    env.update(ENV_KEYS)
    assert provider.get_credentials().access_key_id == "K-default"


def test_secrets_stay_out_of_reprs(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path,
        AWS_ACCESS_KEY_ID="AKIDVISIBLE",
        AWS_SECRET_ACCESS_KEY="hidden-secret",
        AWS_SESSION_TOKEN="hidden-token",
    )
    provider = default_credentials_provider(environ=env)
    creds = provider.get_credentials()
    for text in (repr(provider), repr(creds), str(creds)):
        assert "hidden" not in text
    assert "AKIDVISIBLE" in repr(creds)


def test_secrets_stay_out_of_internal_reprs(tmp_path: Path) -> None:
    from runtime_client._config_files import load_aws_config
    from runtime_client.credentials._context import ChainContext
    from runtime_client.credentials._local import env_step, shared_file_step
    from runtime_client.credentials._metadata import container_step

    env = aws_env(
        tmp_path,
        credentials="[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = xyzzy1\n",
        AWS_ACCESS_KEY_ID="AKIDENV",
        AWS_SECRET_ACCESS_KEY="xyzzy2",
        AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1/x",
        AWS_CONTAINER_AUTHORIZATION_TOKEN="xyzzy3",
    )
    ctx = ChainContext(env, load_aws_config(env), "default")
    texts = [repr(ctx), repr(ctx.config), repr(env_step(ctx)), repr(container_step(ctx))]
    texts.append(repr(shared_file_step(ctx)))
    for text in texts:
        assert "xyzzy" not in text, text
    assert "AKIDFILE" in texts[-1]
