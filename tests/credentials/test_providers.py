"""Each credential source, against loopback servers and temporary files.

STS-based sources (assume role, web identity) and SSO are in test_credentials_sts.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from runtime_client._config_files import load_aws_config
from runtime_client._flow import Send, run_sync
from runtime_client.credentials._context import ChainContext
from runtime_client.credentials._errors import (
    CredentialsConfigError,
    CredentialsRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)
from runtime_client.credentials._metadata import (
    ContainerSource,
    ImdsSource,
    container_step,
    imds_step,
    validate_container_uri,
)
from runtime_client.credentials._provider import default_credentials_provider
from runtime_client.credentials._source import parse_timestamp
from runtime_client.http._models import Timeouts
from runtime_client.http._sync import SyncTransport
from tests.support.credential_servers import ContainerApp, ImdsApp, aws_env, creds_json, serve


def _ctx(env: dict[str, str]) -> ChainContext:
    return ChainContext(env, load_aws_config(env), "default")


# --- environment ------------------------------------------------------------------------


def test_env_keys_token_and_expiration(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path,
        AWS_ACCESS_KEY_ID="AKIDENV",
        AWS_SECRET_ACCESS_KEY="secret-env",
        AWS_SESSION_TOKEN="token-env",
        AWS_CREDENTIAL_EXPIRATION="2099-01-02T03:04:05Z",
    )
    creds = default_credentials_provider(environ=env).get_credentials()
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "AKIDENV",
        "secret-env",
        "token-env",
    )
    assert creds.expiration == datetime(2099, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_env_security_token_is_the_legacy_name(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path, AWS_ACCESS_KEY_ID="A", AWS_SECRET_ACCESS_KEY="s", AWS_SECURITY_TOKEN="legacy"
    )
    assert default_credentials_provider(environ=env).get_credentials().session_token == "legacy"


def test_env_partial_keys_name_the_missing_variable(tmp_path: Path) -> None:
    env = aws_env(tmp_path, AWS_ACCESS_KEY_ID="AKIDENV")
    with pytest.raises(PartialCredentialsError, match="AWS_SECRET_ACCESS_KEY"):
        default_credentials_provider(environ=env).get_credentials()


def test_env_expiration_is_reread_on_refresh(tmp_path: Path) -> None:
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)  # inside the mandatory window
    env = aws_env(
        tmp_path,
        AWS_ACCESS_KEY_ID="OLD",
        AWS_SECRET_ACCESS_KEY="s",
        AWS_CREDENTIAL_EXPIRATION=soon.isoformat(),
    )
    provider = default_credentials_provider(environ=env)
    assert provider.get_credentials().access_key_id == "OLD"
    env["AWS_ACCESS_KEY_ID"] = "NEW"
    env["AWS_CREDENTIAL_EXPIRATION"] = (soon + timedelta(hours=1)).isoformat()
    assert provider.get_credentials().access_key_id == "NEW"


# --- files and credential_process ---------------------------------------------------------


def test_shared_credentials_file_profile(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path,
        credentials="[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = s\n"
        "aws_session_token = t\n",
    )
    creds = default_credentials_provider("work", env).get_credentials()
    assert (creds.access_key_id, creds.session_token) == ("AKIDWORK", "t")


def test_shared_file_partial_names_the_key(tmp_path: Path) -> None:
    env = aws_env(tmp_path, credentials="[default]\naws_access_key_id = AKID\n")
    with pytest.raises(PartialCredentialsError, match="aws_secret_access_key"):
        default_credentials_provider(environ=env).get_credentials()


def test_config_file_static_keys(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path, config="[profile p]\naws_access_key_id = AKIDCFG\naws_secret_access_key = s\n"
    )
    assert default_credentials_provider("p", env).get_credentials().access_key_id == "AKIDCFG"


def _process_script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "creds.py"
    script.write_text("import json, sys\n" + body)
    return f'"{sys.executable}" "{script}"'


def test_credential_process_json_version_1(tmp_path: Path) -> None:
    command = _process_script(
        tmp_path,
        "print(json.dumps({'Version': 1, 'AccessKeyId': sys.argv[1], 'SecretAccessKey': 's',"
        " 'SessionToken': 't', 'Expiration': '2099-01-01T00:00:00Z'}))\n",
    )
    env = aws_env(tmp_path, config=f"[default]\ncredential_process = {command} '$HOME;x'\n")
    creds = default_credentials_provider(environ=env).get_credentials()
    assert creds.access_key_id == "$HOME;x"  # no shell: no expansion, no command separator
    assert creds.session_token == "t"
    assert creds.expiration == datetime(2099, 1, 1, tzinfo=timezone.utc)


def test_credential_process_without_expiration_is_static(tmp_path: Path) -> None:
    command = _process_script(
        tmp_path,
        "print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDP', 'SecretAccessKey': 's'}))\n",
    )
    env = aws_env(tmp_path, config=f"[default]\ncredential_process = {command}\n")
    creds = default_credentials_provider(environ=env).get_credentials()
    assert (creds.access_key_id, creds.expiration) == ("AKIDP", None)


def test_credential_process_expiry_is_honoured(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    counter.write_text("0")
    command = _process_script(
        tmp_path,
        "import datetime, pathlib\n"
        f"p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) + 1; p.write_text(str(n))\n"
        "exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'K{n}', 'SecretAccessKey': 's',"
        " 'Expiration': exp.isoformat()}))\n",
    )
    env = aws_env(tmp_path, config=f"[default]\ncredential_process = {command}\n")
    provider = default_credentials_provider(environ=env)
    assert provider.get_credentials().access_key_id == "K1"
    assert provider.get_credentials().access_key_id == "K2"  # 5 min left: refreshed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sys.stderr.write('denied'); sys.exit(3)\n", "exited with status 3: denied"),
        ("print('SECRETLEAK not json')\n", "output is not valid JSON"),
        (
            "print(json.dumps({'Version': 2, 'AccessKeyId': 'a', 'SecretAccessKey': 'b'}))\n",
            "Version",
        ),
        ("print(json.dumps({'Version': 1, 'AccessKeyId': 'a'}))\n", "no SecretAccessKey"),
    ],
)
def test_credential_process_failures(tmp_path: Path, body: str, message: str) -> None:
    env = aws_env(
        tmp_path, config=f"[default]\ncredential_process = {_process_script(tmp_path, body)}\n"
    )
    with pytest.raises(CredentialsRetrievalError, match="custom-process") as info:
        default_credentials_provider(environ=env).get_credentials()
    assert message in str(info.value)
    assert "SECRETLEAK" not in str(info.value)


def test_a_credential_process_that_hangs_is_stopped_after_its_timeout(tmp_path: Path) -> None:
    command = _process_script(tmp_path, "import time; time.sleep(60)\n")
    config = f"[default]\ncredential_process = {command}\ncredential_process_timeout = 0.5\n"
    started = time.monotonic()
    with pytest.raises(CredentialsRetrievalError) as info:
        default_credentials_provider(environ=aws_env(tmp_path, config=config)).get_credentials()
    assert time.monotonic() - started < 30
    assert "did not finish within 0.5 s and was stopped" in str(info.value)
    assert "credential_process_timeout" in str(info.value)


@pytest.mark.parametrize("bad", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_credential_process_timeout_is_named(tmp_path: Path, bad: str) -> None:
    config = f"[default]\ncredential_process = x\ncredential_process_timeout = {bad}\n"
    with pytest.raises(CredentialsConfigError, match="credential_process_timeout must be"):
        default_credentials_provider(environ=aws_env(tmp_path, config=config)).get_credentials()


def test_a_credential_process_stderr_is_shortened_and_its_secrets_masked(tmp_path: Path) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    body = (
        f"sys.stderr.write('refused for AKIAIOSFODNN7EXAMPLE with {secret}\\n' + 'x ' * 2000)\n"
        "sys.exit(1)\n"
    )
    config = f"[default]\ncredential_process = {_process_script(tmp_path, body)}\n"
    with pytest.raises(CredentialsRetrievalError) as info:
        default_credentials_provider(environ=aws_env(tmp_path, config=config)).get_credentials()
    message = str(info.value)
    assert "exited with status 1: refused for *** with *** x x" in message
    assert secret not in message
    assert "AKIAIOSFODNN7EXAMPLE" not in message
    assert message.endswith("...")
    assert len(message) < 500


# --- container endpoint --------------------------------------------------------------------


def test_container_full_uri_with_token(tmp_path: Path) -> None:
    app = ContainerApp(authorization="Bearer abc")
    with serve(app) as server:
        env = aws_env(
            tmp_path,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/v2/credentials",
            AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer abc",
        )
        creds = default_credentials_provider(environ=env).get_credentials()
    assert (creds.access_key_id, creds.session_token) == ("ASIAFAKE", "TOKEN-ASIAFAKE")
    assert server.requests[0].headers["authorization"] == "Bearer abc"


def test_container_token_file_is_reread_and_wins_over_the_token(tmp_path: Path) -> None:
    tokens: list[str | None] = []

    def short_lived() -> dict[str, str]:
        return creds_json(expires_in=timedelta(minutes=5))  # every call refreshes

    token_file = tmp_path / "token"
    token_file.write_text("first")
    with serve(ContainerApp(short_lived)) as server:
        env = aws_env(
            tmp_path,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/v2/credentials",
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file),
            AWS_CONTAINER_AUTHORIZATION_TOKEN="ignored",
        )
        provider = default_credentials_provider(environ=env)
        provider.get_credentials()
        token_file.write_text("second")
        provider.get_credentials()
        tokens = [r.headers.get("authorization") for r in server.requests]
    assert tokens == ["first", "second"]


@pytest.mark.parametrize("token", ["abc\r\nX-Evil: 1", "abc\n"])
def test_container_token_with_cr_or_lf_is_rejected(tmp_path: Path, token: str) -> None:
    with serve(ContainerApp()) as server:
        env = aws_env(
            tmp_path,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=server.url + "/v2/credentials",
            AWS_CONTAINER_AUTHORIZATION_TOKEN=token,
        )
        with pytest.raises(CredentialsConfigError, match="CR or LF") as info:
            default_credentials_provider(environ=env).get_credentials()
    assert "abc" not in str(info.value)
    assert server.requests == []


@pytest.mark.parametrize(
    "uri",
    [
        "https://creds.example.com/x",
        "http://127.0.0.1:80/x",
        "http://127.1.2.3/x",
        "http://localhost/x",
        "http://[::1]/x",
        "http://169.254.170.2/x",
        "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",
    ],
)
def test_container_allowed_uris(uri: str) -> None:
    assert validate_container_uri(uri) == uri


@pytest.mark.parametrize(
    "uri", ["http://creds.example.com/x", "http://10.0.0.1/x", "ftp://127.0.0.1/x"]
)
def test_container_disallowed_uris(tmp_path: Path, uri: str) -> None:
    env = aws_env(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=uri)
    with pytest.raises(CredentialsConfigError, match="AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        default_credentials_provider(environ=env).get_credentials()


def test_container_relative_uri_goes_to_the_ecs_agent(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/abc",
        AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1/ignored",
    )
    source = container_step(_ctx(env))
    assert isinstance(source, ContainerSource)
    assert source.url == "http://169.254.170.2/v2/credentials/abc"


def test_container_flow_asks_for_a_2_second_timeout() -> None:
    flow = ContainerSource("http://169.254.170.2/x").fetch()
    step = next(flow)
    assert isinstance(step, Send)
    assert step.request.timeouts == Timeouts(2.0, 2.0, 2.0)
    flow.close()


def test_container_retries_three_times(tmp_path: Path) -> None:
    answers: Iterator[dict[str, str] | None] = iter([None, None, creds_json("THIRD")])
    with serve(ContainerApp(lambda: next(answers))) as server, SyncTransport() as client:
        source = ContainerSource(server.url + "/v2/credentials", retry_delay=0)
        assert run_sync(source.fetch(), client).access_key_id == "THIRD"
        assert server.count() == 3


def test_container_gives_up_after_three_attempts(tmp_path: Path) -> None:
    with serve(ContainerApp(lambda: None)) as server, SyncTransport() as client:
        source = ContainerSource(server.url + "/v2/credentials", retry_delay=0)
        with pytest.raises(CredentialsRetrievalError, match=r"HTTP 500 .after 3 attempts"):
            run_sync(source.fetch(), client)
        assert server.count() == 3


# --- IMDS -------------------------------------------------------------------------------------


def _imds_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    env = aws_env(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=url)
    del env["AWS_EC2_METADATA_DISABLED"]
    return {**env, **extra}


def test_imds_v2_token_role_and_credentials(tmp_path: Path) -> None:
    with serve(ImdsApp(v1_allowed=False)) as server:
        creds = default_credentials_provider(
            environ=_imds_env(tmp_path, server.url)
        ).get_credentials()
    assert creds.access_key_id == "ASIAFAKE"
    put, role, cred = server.requests
    assert (put.method, put.path) == ("PUT", "/latest/api/token")
    assert put.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert role.path == "/latest/meta-data/iam/security-credentials/"
    assert cred.path == "/latest/meta-data/iam/security-credentials/test-role"
    assert role.headers["x-aws-ec2-metadata-token"] == cred.headers["x-aws-ec2-metadata-token"]


@pytest.mark.parametrize("status", [403, 404, 405])
def test_imds_falls_back_to_v1(tmp_path: Path, status: int) -> None:
    with serve(ImdsApp(token_status=status)) as server:
        creds = default_credentials_provider(
            environ=_imds_env(tmp_path, server.url)
        ).get_credentials()
    assert creds.access_key_id == "ASIAFAKE"
    assert all("x-aws-ec2-metadata-token" not in r.headers for r in server.requests[1:])


def test_imds_v1_disabled_means_no_fallback(tmp_path: Path) -> None:
    with serve(ImdsApp(token_status=403)) as server:
        env = _imds_env(tmp_path, server.url, AWS_EC2_METADATA_V1_DISABLED="true")
        with pytest.raises(NoCredentialsError, match=r"iam-role: .*IMDSv1 is disabled"):
            default_credentials_provider(environ=env).get_credentials()
    assert server.count() == 1  # only the token PUT


def test_imds_reuses_its_v2_token_until_a_minute_before_it_ends() -> None:
    now = [1000.0]
    app = ImdsApp(v1_allowed=False)
    with serve(app) as server, SyncTransport() as client:
        source = ImdsSource(endpoint=server.url, clock=lambda: now[0])
        for _ in range(3):
            assert run_sync(source.fetch(), client).access_key_id == "ASIAFAKE"
        puts = [r for r in server.requests if r.method == "PUT"]
        assert len(puts) == 1  # one token for the three fetches
        now[0] += 21600 - 60  # a minute before its end: not reused
        run_sync(source.fetch(), client)
        assert len([r for r in server.requests if r.method == "PUT"]) == 2


def test_the_default_chain_reuses_the_imds_token_across_refreshes(tmp_path: Path) -> None:
    # Credentials that expire within the refresh window: every call refreshes them.
    app = ImdsApp(lambda: creds_json(expires_in=timedelta(minutes=1)), v1_allowed=False)
    with serve(app) as server:
        provider = default_credentials_provider(environ=_imds_env(tmp_path, server.url))
        for _ in range(3):
            provider.get_credentials()
    assert [r.method for r in server.requests].count("GET") == 6  # three refreshes
    assert [r.method for r in server.requests].count("PUT") == 1  # one token


def test_a_reused_imds_token_that_was_refused_is_replaced_once() -> None:
    app = ImdsApp(v1_allowed=False)
    with serve(app) as server, SyncTransport() as client:
        source = ImdsSource(endpoint=server.url)
        run_sync(source.fetch(), client)
        app.token = "a-new-token"  # IMDS forgot the old one (an instance restart)
        assert run_sync(source.fetch(), client).access_key_id == "ASIAFAKE"
        methods = [r.method for r in server.requests]
        assert methods == ["PUT", "GET", "GET", "GET", "PUT", "GET", "GET"]
        assert server.requests[-1].headers["x-aws-ec2-metadata-token"] == "a-new-token"


def test_imds_disabled_sends_nothing(tmp_path: Path) -> None:
    with serve(ImdsApp()) as server:
        env = _imds_env(tmp_path, server.url, AWS_EC2_METADATA_DISABLED="TRUE")
        with pytest.raises(NoCredentialsError, match="disabled by AWS_EC2_METADATA_DISABLED"):
            default_credentials_provider(environ=env).get_credentials()
    assert server.count() == 0


def test_imds_without_a_role_is_skipped(tmp_path: Path) -> None:
    with (
        serve(ImdsApp(role="")) as server,
        pytest.raises(NoCredentialsError, match="no IAM role is attached"),
    ):
        default_credentials_provider(environ=_imds_env(tmp_path, server.url)).get_credentials()


def test_imds_timeout_is_honoured(tmp_path: Path) -> None:
    with serve(ImdsApp(delay=1.0)) as server:
        env = _imds_env(tmp_path, server.url, AWS_METADATA_SERVICE_TIMEOUT="0.2")
        with pytest.raises(NoCredentialsError, match=r"iam-role: .*Timeout"):
            default_credentials_provider(environ=env).get_credentials()


def test_imds_endpoint_settings(tmp_path: Path) -> None:
    env = aws_env(tmp_path, config="[default]\nec2_metadata_service_endpoint_mode = IPv6\n")
    del env["AWS_EC2_METADATA_DISABLED"]
    source = imds_step(_ctx(env))
    assert isinstance(source, ImdsSource)
    assert (source.endpoint, source.timeout, source.attempts) == ("http://[fd00:ec2::254]", 1.0, 1)
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"] = "IPv4"
    assert imds_step(_ctx(env)).endpoint == "http://169.254.169.254"  # type: ignore[union-attr]
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9"
    assert imds_step(_ctx(env)).endpoint == "http://127.0.0.1:9"  # type: ignore[union-attr]
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"] = "IPv5"
    del env["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
    with pytest.raises(CredentialsConfigError, match="IPv4 or IPv6"):
        imds_step(_ctx(env))


def test_imds_flow_asks_for_a_1_second_timeout() -> None:
    flow = ImdsSource().fetch()
    step = next(flow)
    assert isinstance(step, Send)
    assert step.request.method == "PUT"
    assert step.request.timeouts == Timeouts(1.0, 1.0, 1.0)
    flow.close()


def test_imds_unreachable_is_listed_as_tried(tmp_path: Path) -> None:
    with serve(ImdsApp()) as server:
        url = server.url
    env = _imds_env(tmp_path, url)  # the port is closed now
    with pytest.raises(NoCredentialsError, match=r"iam-role: .*ConnectError"):
        default_credentials_provider(environ=env).get_credentials()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2030-01-02T03:04:05+00:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2030-01-02T05:04:05+02:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2030-01-02T03:04:05UTC", datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2030-01-02T03:04:05.5Z", datetime(2030, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)),
        (
            "2030-01-02T03:04:05.123456789+00:00",
            datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc),
        ),
        (1893553445000, datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ],
)
def test_timestamps(text: object, expected: datetime) -> None:
    assert parse_timestamp(text, "src", "Expiration") == expected


@pytest.mark.parametrize("text", ["", "tomorrow", None, True])
def test_bad_timestamps_name_the_field(text: object) -> None:
    with pytest.raises(CredentialsRetrievalError, match="src: Expiration is not a valid timestamp"):
        parse_timestamp(text, "src", "Expiration")
