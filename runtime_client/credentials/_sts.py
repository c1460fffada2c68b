"""Credential sources that call AWS APIs: STS (assume role, web identity) and SSO.

* STS (query protocol, version 2011-06-15): a form-encoded ``POST /`` with
  ``Action=AssumeRole`` (SigV4-signed, service ``sts``) or ``Action=AssumeRoleWithWebIdentity``
  (unsigned); the XML answer holds ``Credentials/{AccessKeyId, SecretAccessKey,
  SessionToken, Expiration}``, an error holds ``Error/{Code, Message}``.
* SSO portal: ``GET /federation/credentials?role_name=R&account_id=A`` with
  ``x-amz-sso_bearer_token`` (the token ``aws sso login`` cached); JSON
  ``roleCredentials`` with the expiry in epoch milliseconds.
* SSO-OIDC (restJson): ``POST /token`` with JSON ``grantType``, ``clientId``,
  ``clientSecret``, ``refreshToken`` (unsigned); JSON ``accessToken``, ``expiresIn``
  (seconds), ``refreshToken``.

Like the sources in :mod:`._metadata`, each is a flow with a ``fetch()``.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sigv4 import Credentials
from sigv4._record import field, record

from .._flow import Call, Flow
from ..http._models import HTTPResponse, Request
from ._errors import CredentialsRetrievalError
from ._source import (
    Clock,
    Source,
    credentials_from,
    http_request,
    json_body,
    parse_timestamp,
    read_text,
    send_with_retries,
    utcnow,
    write_private_text,
)

logger = logging.getLogger("runtime_client.credentials")

__all__ = ["AssumeRoleSource", "SsoSource", "WebIdentitySource", "sts_endpoint"]

STS_VERSION = "2011-06-15"
_FORM = "application/x-www-form-urlencoded; charset=utf-8"
_STS_RETRY_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "IDPCommunicationError",
        "InvalidIdentityToken",
        "ServiceUnavailable",
        "InternalFailure",
    }
)

# --- STS ------------------------------------------------------------------------------------

_DNS_SUFFIXES = (
    ("cn-", "amazonaws.com.cn"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
    ("eusc-", "amazonaws.eu"),
)


def sts_endpoint(region: str | None) -> str:
    """The regional STS endpoint (the global one when no region is known)."""
    if not region:
        return "https://sts.amazonaws.com"
    suffix = next((s for prefix, s in _DNS_SUFFIXES if region.startswith(prefix)), "amazonaws.com")
    return f"https://sts.{region}.{suffix}"


def _sts_error(body: bytes) -> tuple[str, str]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "", ""
    code = message = ""
    for element in root.iter():
        tag = element.tag.rpartition("}")[2]
        if tag == "Code" and not code:
            code = (element.text or "").strip()
        elif tag == "Message" and not message:
            message = (element.text or "").strip()
    return code, message


def _stscredentials_from(source: str, body: bytes) -> Credentials:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CredentialsRetrievalError(source, "STS response is not valid XML") from None
    values: dict[str, str] = {}
    for element in root.iter():
        if element.tag.rpartition("}")[2] == "Credentials":
            for child in element:
                values[child.tag.rpartition("}")[2]] = (child.text or "").strip()
            break
    else:
        raise CredentialsRetrievalError(source, "STS response has no Credentials element")
    return credentials_from(
        source, values, ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    )


def _sts_call(
    source: str,
    endpoint: str,
    params: Mapping[str, str],
    sign: Callable[[Request], Request] | None,
    *,
    timeout: float,
    attempts: int,
    retry_delay: float,
) -> Flow[Credentials]:
    body = urlencode({**params, "Version": STS_VERSION}).encode("ascii")
    url = endpoint.rstrip("/") + "/"

    def build() -> Request:
        request = http_request("POST", url, {"Content-Type": _FORM}, body, timeout=timeout)
        return sign(request) if sign is not None else request

    def retry(response: HTTPResponse) -> bool:
        if response.status_code >= 500:
            return True
        return response.status_code >= 400 and _sts_error(response.content)[0] in _STS_RETRY_CODES

    response = yield from send_with_retries(
        build, source, attempts=attempts, delay=retry_delay, retry=retry
    )
    if response.status_code != 200:
        code, message = _sts_error(response.content)
        detail = f"{code}: {message}" if code else "no error code"
        raise CredentialsRetrievalError(
            source, f"STS {params['Action']} failed with HTTP {response.status_code} ({detail})"
        )
    return _stscredentials_from(source, response.content)


def _sign_request(
    request: Request, credentials: Credentials, region: str, now: datetime
) -> Request:
    import sigv4

    signed = [(k, v) for k, v in request.headers if k in ("Host", "Content-Type")]
    body = request.body
    assert isinstance(body, bytes)
    result = sigv4.sign(
        sigv4.SignableRequest(
            method=request.method,
            url=f"{request.origin}{request.target}",
            headers=signed,
            body=body,
        ),
        sigv4.SigningParams(credentials=credentials, region=region, service="sts", time=now),
    )
    request.headers.extend(result.headers)
    return request


@record
class AssumeRoleSource:
    """``sts:AssumeRole`` signed with the credentials of ``source`` (botocore ``assume-role``).

    The source's credentials are kept and fetched again only when they are within
    ``source_refresh`` of expiring, so each refresh costs one STS call.
    """

    role_arn: str
    session_name: str
    source: Source
    endpoint: str
    region: str
    external_id: str | None = None
    duration_seconds: int | None = None
    clock: Clock = utcnow
    timeout: float = 30.0
    attempts: int = 3
    retry_delay: float = 0.2
    source_refresh: timedelta = timedelta(minutes=10)
    name: str = "assume-role"
    _source_credentials: Credentials | None = field(default=None, repr=False)

    def fetch(self) -> Flow[Credentials]:
        creds = self._source_credentials
        if creds is None or (
            creds.expiration is not None and creds.expiration - self.clock() <= self.source_refresh
        ):
            creds = yield from self.source.fetch()
            self._source_credentials = creds
        params = {
            "Action": "AssumeRole",
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name,
        }
        if self.external_id:
            params["ExternalId"] = self.external_id
        if self.duration_seconds is not None:
            params["DurationSeconds"] = str(self.duration_seconds)
        signing_creds = creds
        return (
            yield from _sts_call(
                self.name,
                self.endpoint,
                params,
                lambda r: _sign_request(r, signing_creds, self.region, self.clock()),
                timeout=self.timeout,
                attempts=self.attempts,
                retry_delay=self.retry_delay,
            )
        )


@record
class WebIdentitySource:
    """``sts:AssumeRoleWithWebIdentity`` (unsigned); the token file is read on every fetch."""

    role_arn: str
    session_name: str
    token_file: str
    endpoint: str
    timeout: float = 30.0
    attempts: int = 3
    retry_delay: float = 0.2
    name: str = "assume-role-with-web-identity"

    def fetch(self) -> Flow[Credentials]:
        try:
            token = yield Call(read_text, (self.token_file,))
        except OSError as exc:
            raise CredentialsRetrievalError(
                self.name,
                f"cannot read the web identity token file {self.token_file!r}: "
                f"{type(exc).__name__}",
            ) from None
        params = {
            "Action": "AssumeRoleWithWebIdentity",
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name,
            "WebIdentityToken": token.strip(),
        }
        return (
            yield from _sts_call(
                self.name,
                self.endpoint,
                params,
                None,
                timeout=self.timeout,
                attempts=self.attempts,
                retry_delay=self.retry_delay,
            )
        )


# --- IAM Identity Center (SSO) -----------------------------------------------------------


#: An SSO token this close to its end is refreshed first (botocore's window).
SSO_REFRESH_WINDOW = timedelta(minutes=15)


@record
class SsoSource:
    """Role credentials from the SSO portal with the cached ``aws sso login`` token.

    For an ``sso-session`` profile (``oidc_endpoint`` set), a cached token within
    :data:`SSO_REFRESH_WINDOW` of its end is refreshed first, as botocore does: SSO-OIDC
    ``CreateToken`` (``POST /token``, JSON ``grantType=refresh_token`` with the cached
    ``clientId``, ``clientSecret`` and ``refreshToken``), and the cache file rewritten
    with the new ``accessToken``, ``expiresAt`` and ``refreshToken``. A refresh that
    fails while the old token is still valid uses the old token; an expired token that
    cannot be refreshed asks for ``aws sso login``. Tokens never appear in messages.
    """

    cache_file: str
    login_hint: str  # "--profile NAME" / "--sso-session NAME", for messages
    account_id: str
    role_name: str
    endpoint: str
    clock: Clock = utcnow
    timeout: float = 30.0
    attempts: int = 3
    retry_delay: float = 0.2
    name: str = "sso"
    oidc_endpoint: str | None = None

    @property
    def _login(self) -> str:
        return f"run `aws sso login {self.login_hint}`"

    def fetch(self) -> Flow[Credentials]:
        token = yield from self._bearer()
        query = urlencode({"role_name": self.role_name, "account_id": self.account_id})
        url = f"{self.endpoint.rstrip('/')}/federation/credentials?{query}"

        def build() -> Request:
            return http_request("GET", url, {"x-amz-sso_bearer_token": token}, timeout=self.timeout)

        response = yield from self._send(build)
        if response.status_code in (401, 403):
            raise CredentialsRetrievalError(
                self.name,
                f"the SSO portal rejected the cached token (HTTP {response.status_code}); "
                f"{self._login}",
            )
        if response.status_code != 200:
            raise CredentialsRetrievalError(
                self.name, f"the SSO portal answered HTTP {response.status_code}"
            )
        data = json_body(self.name, response)
        role = data.get("roleCredentials") if isinstance(data, dict) else None
        return credentials_from(
            self.name, role, ("accessKeyId", "secretAccessKey", "sessionToken", "expiration")
        )

    def _send(self, build: Callable[[], Request]) -> Flow[HTTPResponse]:
        """A portal or SSO-OIDC request, retried on 5xx and 429."""
        return send_with_retries(
            build,
            self.name,
            attempts=self.attempts,
            delay=self.retry_delay,
            retry=lambda r: r.status_code >= 500 or r.status_code == 429,
        )

    def _bearer(self) -> Flow[str]:
        """The cached access token, refreshed first where it is about to end."""
        try:
            text = yield Call(read_text, (self.cache_file,))
        except OSError:
            raise CredentialsRetrievalError(
                self.name, f"no cached SSO token at {self.cache_file}; {self._login}"
            ) from None
        try:
            cached = json.loads(text)
        except ValueError:
            cached = None
        if not isinstance(cached, dict) or not isinstance(cached.get("accessToken"), str):
            raise CredentialsRetrievalError(
                self.name, f"the SSO token cache {self.cache_file} is not valid; {self._login}"
            )
        expires = parse_timestamp(cached.get("expiresAt"), self.name, "expiresAt")
        now = self.clock()
        why_not = "the token is not refreshable"
        if expires - now <= SSO_REFRESH_WINDOW and self._refreshable(cached, now):
            try:
                return (yield from self._refresh(cached, now))
            except CredentialsRetrievalError as exc:
                why_not = exc.problem
        if expires <= now:
            raise CredentialsRetrievalError(
                self.name,
                f"the cached SSO token has expired ({why_not}); {self._login}"
                if self.oidc_endpoint
                else f"the cached SSO token has expired; {self._login}",
            )
        token: str = cached["accessToken"]
        return token

    def _refreshable(self, cached: dict[str, object], now: datetime) -> bool:
        if self.oidc_endpoint is None:
            return False  # a legacy sso_start_url profile: botocore does not refresh either
        if not all(isinstance(cached.get(k), str) for k in _REFRESH_KEYS):
            return False
        registration = cached.get("registrationExpiresAt")
        if registration is None:
            return True
        return parse_timestamp(registration, self.name, "registrationExpiresAt") > now

    def _refresh(self, cached: dict[str, object], now: datetime) -> Flow[str]:
        """CreateToken with the refresh token; rewrite the cache; the new access token."""
        assert self.oidc_endpoint is not None
        body = json.dumps(
            {
                "grantType": "refresh_token",
                "clientId": cached["clientId"],
                "clientSecret": cached["clientSecret"],
                "refreshToken": cached["refreshToken"],
            }
        ).encode()
        url = f"{self.oidc_endpoint.rstrip('/')}/token"

        def build() -> Request:
            headers = {"Content-Type": "application/json"}
            return http_request("POST", url, headers, body, timeout=self.timeout)

        response = yield from self._send(build)
        if response.status_code != 200:
            raise CredentialsRetrievalError(
                self.name, f"SSO-OIDC CreateToken answered HTTP {response.status_code}"
            )
        data = json_body(self.name, response)
        token = data.get("accessToken") if isinstance(data, dict) else None
        lifetime = data.get("expiresIn") if isinstance(data, dict) else None
        if (
            not isinstance(token, str)
            or not token
            or isinstance(lifetime, bool)
            or not isinstance(lifetime, int)
            or lifetime <= 0
        ):
            raise CredentialsRetrievalError(
                self.name, "SSO-OIDC CreateToken answered without accessToken and expiresIn"
            )
        assert isinstance(data, dict)
        updated = dict(cached)
        updated["accessToken"] = token
        updated["expiresAt"] = (now + timedelta(seconds=lifetime)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(data.get("refreshToken"), str):
            updated["refreshToken"] = data["refreshToken"]
        try:
            yield Call(write_private_text, (self.cache_file, json.dumps(updated, indent=2)))
        except OSError as exc:  # the new token still works for this process
            logger.warning("could not rewrite the SSO token cache %s: %s", self.cache_file, exc)
        logger.debug("SSO token refreshed through SSO-OIDC (expires %s)", updated["expiresAt"])
        return token


_REFRESH_KEYS = ("clientId", "clientSecret", "refreshToken")
