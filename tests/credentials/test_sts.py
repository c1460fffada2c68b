"""Assume role (signed, checked by botocore), web identity (unsigned) and SSO, on loopback."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from runtime_client._config_files import load_aws_config
from runtime_client.credentials._context import ChainContext, service_endpoint
from runtime_client.credentials._errors import CredentialsConfigError, CredentialsRetrievalError
from runtime_client.credentials._provider import default_credentials_provider
from runtime_client.credentials._roles import web_identity_step
from runtime_client.credentials._source import parse_timestamp
from runtime_client.credentials._sts import WebIdentitySource, sts_endpoint
from tests.support.credential_servers import (
    LoopbackServer,
    Recorded,
    SsoApp,
    StsApp,
    aws_env,
    iso,
    serve,
)


@pytest.fixture
def sts() -> Iterator[tuple[LoopbackServer, StsApp]]:
    app = StsApp(keys={"AKIDBASE": ("secret-base", None)})
    with serve(app) as server:
        app.host = server.url.removeprefix("http://")
        yield server, app


BASE = "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = secret-base\n"


# --- AssumeRole ---------------------------------------------------------------------------


def test_assume_role_with_source_profile_is_signed_correctly(
    tmp_path: Path, sts: tuple[LoopbackServer, StsApp]
) -> None:
    server, app = sts
    config = (
        "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/Dev\nsource_profile = base\n"
        "role_session_name = me\nexternal_id = ext-1\nduration_seconds = 1800\n"
        "region = eu-west-1\n"
    )
    env = aws_env(tmp_path, config=config, credentials=BASE, AWS_ENDPOINT_URL_STS=server.url)
    creds = default_credentials_provider("dev", env).get_credentials()
    assert app.errors == []
    assert (creds.access_key_id, creds.session_token) == ("ASIASTS1", "TOKEN-ASIASTS1")
    (request,) = server.requests
    assert request.form == {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": "arn:aws:iam::123456789012:role/Dev",
        "RoleSessionName": "me",
        "ExternalId": "ext-1",
        "DurationSeconds": "1800",
    }
    assert "/eu-west-1/sts/aws4_request" in request.headers["authorization"]


def test_a_wrong_signature_is_caught_by_the_botocore_oracle(
    tmp_path: Path, sts: tuple[LoopbackServer, StsApp]
) -> None:
    server, app = sts
    config = "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = base\n"
    wrong = BASE.replace("secret-base", "secret-wrong")
    env = aws_env(tmp_path, config=config, credentials=wrong, AWS_ENDPOINT_URL_STS=server.url)
    with pytest.raises(CredentialsRetrievalError, match="SignatureDoesNotMatch"):
        default_credentials_provider("a", env).get_credentials()
    assert app.errors == ['AssertionError("signature does not match botocore\'s")']


def test_assume_role_chain_signs_with_the_previous_role(
    tmp_path: Path, sts: tuple[LoopbackServer, StsApp]
) -> None:
    server, app = sts
    config = (
        "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = base\n"
    )
    env = aws_env(tmp_path, config=config, credentials=BASE, AWS_ENDPOINT_URL=server.url)
    creds = default_credentials_provider("a", env).get_credentials()
    assert app.errors == []
    assert creds.access_key_id == "ASIASTS2"
    first, second = server.requests
    assert first.form["RoleArn"].endswith("role/B")
    assert "Credential=AKIDBASE/" in first.headers["authorization"]
    assert second.form["RoleArn"].endswith("role/A")
    assert "Credential=ASIASTS1/" in second.headers["authorization"]
    assert second.headers["x-amz-security-token"] == "TOKEN-ASIASTS1"


def test_assume_role_with_credential_source_environment(
    tmp_path: Path, sts: tuple[LoopbackServer, StsApp]
) -> None:
    server, app = sts
    app.keys["AKIDENV"] = ("secret-env", "tok-env")
    config = (
        "[profile r]\nrole_arn = arn:aws:iam::1:role/R\ncredential_source = Environment\n"
        f"endpoint_url = {server.url}\n"
    )
    env = aws_env(
        tmp_path,
        config=config,
        AWS_ACCESS_KEY_ID="AKIDENV",
        AWS_SECRET_ACCESS_KEY="secret-env",
        AWS_SESSION_TOKEN="tok-env",
    )
    # A profile named as an argument skips the env step, but the role still uses the env keys.
    assert default_credentials_provider("r", env).get_credentials().access_key_id == "ASIASTS1"
    assert app.errors == []


def test_self_referencing_source_profile_uses_its_static_keys(
    tmp_path: Path, sts: tuple[LoopbackServer, StsApp]
) -> None:
    server, _ = sts
    credentials = (
        "[me]\naws_access_key_id = AKIDBASE\naws_secret_access_key = secret-base\n"
        "role_arn = arn:aws:iam::1:role/Me\nsource_profile = me\n"
    )
    env = aws_env(tmp_path, credentials=credentials, AWS_ENDPOINT_URL_STS=server.url)
    assert default_credentials_provider("me", env).get_credentials().access_key_id == "ASIASTS1"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "[profile a]\nrole_arn = x\nsource_profile = b\n[profile b]\nrole_arn = y\n"
            "source_profile = a\n",
            "source_profile loop: a -> b -> a",
        ),
        (
            "[profile a]\nrole_arn = x\nsource_profile = base\ncredential_source = Environment\n",
            "both source_profile and credential_source",
        ),
        ("[profile a]\nrole_arn = x\n", "neither source_profile nor credential_source"),
        ("[profile a]\nrole_arn = x\nsource_profile = ghost\n", "'ghost' does not exist"),
        ("[profile a]\nrole_arn = x\ncredential_source = Moon\n", "'Moon' is not one of"),
    ],
)
def test_assume_role_configuration_errors(tmp_path: Path, config: str, message: str) -> None:
    env = aws_env(tmp_path, config=config, credentials=BASE)
    with pytest.raises(CredentialsConfigError, match=message):
        default_credentials_provider("a", env).get_credentials()


def test_sts_error_is_reported_without_secrets(
    tmp_path: Path, sts: tuple[LoopbackServer, StsApp]
) -> None:
    server, app = sts
    app.error = (403, "AccessDenied", "User is not authorized to perform sts:AssumeRole")
    config = "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = base\n"
    env = aws_env(tmp_path, config=config, credentials=BASE, AWS_ENDPOINT_URL_STS=server.url)
    with pytest.raises(CredentialsRetrievalError, match=r"HTTP 403 .AccessDenied") as info:
        default_credentials_provider("a", env).get_credentials()
    assert "secret-base" not in str(info.value)
    assert server.count() == 1  # AccessDenied is not retried


def test_sts_endpoint_precedence(tmp_path: Path) -> None:
    config = (
        "[default]\nendpoint_url = http://profile\nservices = svc\nregion = eu-north-1\n"
        "[services svc]\nsts =\n  endpoint_url = http://services\n"
    )
    env = aws_env(tmp_path, config=config)

    def endpoint(**extra: str) -> str | None:
        e = {**env, **extra}
        return service_endpoint(ChainContext(e, load_aws_config(e), "default"), "STS", "sts")

    assert endpoint() == "http://services"
    assert endpoint(AWS_ENDPOINT_URL="http://global") == "http://services"
    assert endpoint(AWS_ENDPOINT_URL_STS="http://env-sts") == "http://env-sts"
    assert endpoint(AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true") is None
    (tmp_path / "plain").mkdir()
    plain = aws_env(tmp_path / "plain", AWS_ENDPOINT_URL="http://global")
    ctx = ChainContext(plain, load_aws_config(plain), "default")
    assert service_endpoint(ctx, "STS", "sts") == "http://global"


def test_regional_sts_endpoints() -> None:
    assert sts_endpoint("eu-west-1") == "https://sts.eu-west-1.amazonaws.com"
    assert sts_endpoint("cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn"
    assert sts_endpoint(None) == "https://sts.amazonaws.com"


# --- AssumeRoleWithWebIdentity ---------------------------------------------------------------


def test_web_identity_from_environment(tmp_path: Path, sts: tuple[LoopbackServer, StsApp]) -> None:
    server, _ = sts
    token = tmp_path / "token"
    token.write_text("jwt-token\n")
    env = aws_env(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
        AWS_ROLE_ARN="arn:aws:iam::1:role/Pod",
        AWS_ROLE_SESSION_NAME="pod-session",
        AWS_ENDPOINT_URL_STS=server.url,
    )
    creds = default_credentials_provider(environ=env).get_credentials()
    assert creds.access_key_id == "ASIAWEB1"
    (request,) = server.requests
    assert "authorization" not in request.headers
    assert request.form == {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "RoleArn": "arn:aws:iam::1:role/Pod",
        "RoleSessionName": "pod-session",
        "WebIdentityToken": "jwt-token",
    }


def test_web_identity_from_profile_with_services_endpoint(
    tmp_path: Path, sts: tuple[LoopbackServer, StsApp]
) -> None:
    server, app = sts
    app.expires_in = timedelta(minutes=5)  # every call refreshes: the token is read again
    token = tmp_path / "token"
    token.write_text("jwt-token")
    config = (
        f"[default]\nweb_identity_token_file = {token}\nrole_arn = arn:aws:iam::1:role/P\n"
        f"services = local\n[services local]\nsts =\n  endpoint_url = {server.url}\n"
    )
    env = aws_env(tmp_path, config=config)
    provider = default_credentials_provider(environ=env)
    assert provider.get_credentials().access_key_id == "ASIAWEB1"
    token.write_text("rotated")
    with pytest.raises(CredentialsRetrievalError, match="InvalidIdentityToken") as info:
        provider.get_credentials()
    assert "rotated" not in str(info.value)
    assert server.requests[-1].form["WebIdentityToken"] == "rotated"
    assert server.requests[0].form["RoleSessionName"].startswith("botocore-session-")


def test_web_identity_uses_regional_sts(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE="/t",
        AWS_ROLE_ARN="arn:aws:iam::1:role/P",
        AWS_REGION="ap-southeast-2",
    )
    source = web_identity_step(ChainContext(env, load_aws_config(env), "default"))
    assert isinstance(source, WebIdentitySource)
    assert source.endpoint == "https://sts.ap-southeast-2.amazonaws.com"


def test_web_identity_without_role_arn_is_a_config_error(tmp_path: Path) -> None:
    env = aws_env(tmp_path, AWS_WEB_IDENTITY_TOKEN_FILE="/t")
    with pytest.raises(CredentialsConfigError, match="AWS_ROLE_ARN"):
        default_credentials_provider(environ=env).get_credentials()


def test_web_identity_missing_token_file(tmp_path: Path) -> None:
    env = aws_env(
        tmp_path,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "absent"),
        AWS_ROLE_ARN="arn:aws:iam::1:role/P",
        AWS_ENDPOINT_URL_STS="http://127.0.0.1:9",
    )
    with pytest.raises(CredentialsRetrievalError, match="cannot read the web identity token"):
        default_credentials_provider(environ=env).get_credentials()


# --- SSO ----------------------------------------------------------------------------------


def _sso_cache(env: dict[str, str], key: str, token: str, expires: datetime) -> None:
    cache = Path(env["HOME"]) / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(key.encode()).hexdigest() + ".json"
    (cache / name).write_text(json.dumps({"accessToken": token, "expiresAt": iso(expires)}))


LATER = datetime.now(timezone.utc) + timedelta(hours=8)


def test_sso_session_profile(tmp_path: Path) -> None:
    with serve(SsoApp()) as server:
        config = (
            "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n"
            "sso_role_name = Dev\n[sso-session corp]\nsso_region = us-east-1\n"
            "sso_start_url = https://corp.awsapps.com/start\n"
        )
        env = aws_env(tmp_path, config=config, AWS_ENDPOINT_URL_SSO=server.url)
        _sso_cache(env, "corp", "sso-access-token", LATER)
        creds = default_credentials_provider("dev", env).get_credentials()
    assert (creds.access_key_id, creds.session_token) == ("ASIASSO", "TOKEN-SSO")
    assert creds.expiration is not None
    assert creds.expiration > datetime.now(timezone.utc)
    assert server.requests[0].headers["x-amz-sso_bearer_token"] == "sso-access-token"


def test_sso_legacy_profile(tmp_path: Path) -> None:
    with serve(SsoApp()) as server:
        config = (
            "[profile old]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-west-2\n"
            "sso_account_id = 123456789012\nsso_role_name = Dev\n"
        )
        env = aws_env(tmp_path, config=config, AWS_ENDPOINT_URL_SSO=server.url)
        _sso_cache(env, "https://old.awsapps.com/start", "sso-access-token", LATER)
        assert default_credentials_provider("old", env).get_credentials().access_key_id == "ASIASSO"


def test_sso_expired_token_asks_for_login(tmp_path: Path) -> None:
    config = (
        "[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Dev\n"
        "[sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://x\n"
    )
    env = aws_env(tmp_path, config=config, AWS_ENDPOINT_URL_SSO="http://127.0.0.1:9")
    _sso_cache(env, "corp", "stale-bearer", datetime.now(timezone.utc) - timedelta(minutes=1))
    with pytest.raises(CredentialsRetrievalError, match="aws sso login --sso-session corp") as info:
        default_credentials_provider("dev", env).get_credentials()
    assert "stale-bearer" not in str(info.value)


def test_sso_rejected_token_and_missing_settings(tmp_path: Path) -> None:
    with serve(SsoApp(bearer="other")) as server:
        config = (
            "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n"
            "sso_role_name = Dev\n[sso-session corp]\nsso_region = us-east-1\n"
            "sso_start_url = https://x\n[profile bad]\nsso_session = corp\n"
        )
        env = aws_env(tmp_path, config=config, AWS_ENDPOINT_URL_SSO=server.url)
        _sso_cache(env, "corp", "sso-access-token", LATER)
        with pytest.raises(CredentialsRetrievalError, match="rejected the cached token"):
            default_credentials_provider("dev", env).get_credentials()
        with pytest.raises(CredentialsConfigError, match="sso_account_id, sso_role_name"):
            default_credentials_provider("bad", env).get_credentials()


# --- SSO token refresh (SSO-OIDC CreateToken) ----------------------------------------------

SESSION_CONFIG = (
    "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n"
    "sso_role_name = Dev\n[sso-session corp]\nsso_region = us-east-1\n"
    "sso_start_url = https://corp.awsapps.com/start\n"
)


@dataclass
class OidcApp:
    """SSO-OIDC CreateToken: a refresh token traded for a new access token."""

    status: int = 200
    new_token: str = "sso-access-token"

    def __call__(self, r: Recorded) -> tuple[int, dict[str, str], bytes]:
        if (r.method, urlsplit(r.path).path) != ("POST", "/token"):
            return 404, {}, b""
        if self.status != 200:
            return self.status, {}, json.dumps({"error": "invalid_grant"}).encode()
        answer = {"accessToken": self.new_token, "expiresIn": 28800, "tokenType": "Bearer"}
        answer["refreshToken"] = "refresh-2"
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


def _refreshable_cache(env: dict[str, str], expires: datetime) -> Path:
    cache = Path(env["HOME"]) / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / (hashlib.sha1(b"corp").hexdigest() + ".json")
    entry = {
        "startUrl": "https://corp.awsapps.com/start",
        "region": "us-east-1",
        "accessToken": "old-access-token",
        "expiresAt": iso(expires),
        "clientId": "client-id-1",
        "clientSecret": "client-secret-1",
        "registrationExpiresAt": iso(LATER + timedelta(days=60)),
        "refreshToken": "refresh-1",
    }
    path.write_text(json.dumps(entry))
    return path


@contextlib.contextmanager
def _sso_and_oidc(
    tmp_path: Path, oidc: OidcApp, expires: datetime, bearer: str = "sso-access-token"
) -> Iterator[tuple[LoopbackServer, LoopbackServer, dict[str, str], Path]]:
    with serve(SsoApp(bearer=bearer)) as portal, serve(oidc) as issuer:
        env = aws_env(
            tmp_path,
            config=SESSION_CONFIG,
            AWS_ENDPOINT_URL_SSO=portal.url,
            AWS_ENDPOINT_URL_SSO_OIDC=issuer.url,
        )
        yield portal, issuer, env, _refreshable_cache(env, expires)


@pytest.mark.parametrize("left", [timedelta(minutes=-30), timedelta(minutes=5)])
def test_an_sso_token_near_or_past_its_end_is_refreshed_and_the_cache_rewritten(
    tmp_path: Path, left: timedelta
) -> None:
    expires = datetime.now(timezone.utc) + left
    with _sso_and_oidc(tmp_path, OidcApp(), expires) as (portal, issuer, env, cache):
        creds = default_credentials_provider("dev", env).get_credentials()
    assert creds.access_key_id == "ASIASSO"
    (create,) = issuer.requests
    assert json.loads(create.body) == {
        "grantType": "refresh_token",
        "clientId": "client-id-1",
        "clientSecret": "client-secret-1",
        "refreshToken": "refresh-1",
    }
    assert "authorization" not in create.headers  # CreateToken is not signed
    assert portal.requests[0].headers["x-amz-sso_bearer_token"] == "sso-access-token"
    rewritten = json.loads(cache.read_text())
    assert rewritten["accessToken"] == "sso-access-token"
    assert rewritten["refreshToken"] == "refresh-2"
    assert rewritten["clientSecret"] == "client-secret-1"  # the rest kept
    assert parse_timestamp(rewritten["expiresAt"], "t", "t") > LATER - timedelta(minutes=5)
    assert cache.stat().st_mode & 0o077 == 0


def test_an_expired_sso_token_that_cannot_be_refreshed_asks_for_login(tmp_path: Path) -> None:
    expires = datetime.now(timezone.utc) - timedelta(minutes=1)
    with (
        _sso_and_oidc(tmp_path, OidcApp(status=400), expires) as (portal, _, env, cache),
        pytest.raises(CredentialsRetrievalError) as info,
    ):
        default_credentials_provider("dev", env).get_credentials()
    message = str(info.value)
    assert "expired (SSO-OIDC CreateToken answered HTTP 400)" in message
    assert "aws sso login --sso-session corp" in message
    for secret in ("client-secret-1", "refresh-1", "old-access-token"):
        assert secret not in message
    assert portal.requests == []
    assert json.loads(cache.read_text())["accessToken"] == "old-access-token"


def test_a_failed_refresh_keeps_using_a_token_that_is_still_valid(tmp_path: Path) -> None:
    expires = datetime.now(timezone.utc) + timedelta(minutes=5)
    failing = OidcApp(status=500)
    with _sso_and_oidc(tmp_path, failing, expires, "old-access-token") as (portal, issuer, env, _):
        creds = default_credentials_provider("dev", env).get_credentials()
    assert creds.access_key_id == "ASIASSO"
    assert len(issuer.requests) == 3  # CreateToken tried (5xx retried), then given up
    assert portal.requests[0].headers["x-amz-sso_bearer_token"] == "old-access-token"


def test_a_legacy_sso_profile_is_not_refreshed(tmp_path: Path) -> None:
    config = (
        "[profile old]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-west-2\n"
        "sso_account_id = 123456789012\nsso_role_name = Dev\n"
    )
    with serve(OidcApp()) as issuer:
        env = aws_env(tmp_path, config=config, AWS_ENDPOINT_URL_SSO_OIDC=issuer.url)
        _sso_cache(env, "https://old.awsapps.com/start", "x", datetime.now(timezone.utc))
        with pytest.raises(CredentialsRetrievalError, match="has expired; run `aws sso login"):
            default_credentials_provider("old", env).get_credentials()
    assert issuer.requests == []
