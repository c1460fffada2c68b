"""The compute platform's credential endpoints: EC2 instance metadata (IMDS) and the
container endpoint (ECS, EKS Pod Identity), each written once as a sans-IO flow.

Each request
carries its own timeout (``request.extensions["timeout"]``), so one client of any kind
can drive every flow: IMDS asks for 1 s, the container endpoint for 2 s.

Wire formats:

* IMDSv2: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds: 21600``,
  then ``GET /latest/meta-data/iam/security-credentials/`` (the role name) and
  ``GET .../security-credentials/ROLE`` (JSON: Code, AccessKeyId, SecretAccessKey, Token,
  Expiration), both with ``X-aws-ec2-metadata-token``. Without a token (403/404/405 or a
  timeout on the PUT) the GETs go out without it (IMDSv1) unless v1 is disabled. The
  token is kept and reused by the next fetches until a minute before its 6 hours end (or
  until IMDS answers 401 to it: then one new token, once).
* Container: ``GET`` the full URI, ``Authorization: TOKEN`` when a token is configured;
  JSON: AccessKeyId, SecretAccessKey, Token, Expiration.

STS and SSO, which call AWS APIs, live in :mod:`._sts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from sigv4 import Credentials
from sigv4._record import field, record

from .._flow import Call, Flow
from ..http._models import HTTPResponse, Request
from ._context import TRUE, ChainContext, number_setting
from ._errors import CredentialsConfigError, CredentialsRetrievalError
from ._source import (
    Source,
    credentials_from,
    http_request,
    json_body,
    read_text,
    send_with_retries,
)

__all__ = [
    "ContainerSource",
    "ImdsSource",
    "container_source",
    "container_step",
    "imds_source",
    "imds_step",
    "validate_container_uri",
]

IMDS_TOKEN_TTL = "21600"
#: A token is reused until this many seconds before IMDS would let it expire.
_TOKEN_MARGIN = 60.0
IMDS_ROLE_PATH = "/latest/meta-data/iam/security-credentials/"


# --- EC2 instance metadata (IMDS) -------------------------------------------------------


@record
class ImdsSource:
    """The instance profile's role credentials from IMDS (botocore ``iam-role``)."""

    endpoint: str = "http://169.254.169.254"
    v1_disabled: bool = False
    timeout: float = 1.0
    attempts: int = 1
    name: str = "iam-role"
    #: Seconds, for the token's lifetime (monotonic: a wall clock step does not matter).
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _token_value: str | None = field(default=None, init=False, repr=False)
    _token_until: float = field(default=0.0, init=False, repr=False)

    def _url(self, path: str) -> str:
        return self.endpoint.rstrip("/") + path

    def fetch(self) -> Flow[Credentials]:
        reused = self._token_value if self.clock() < self._token_until else None
        token = reused if reused is not None else (yield from self._token())
        role_response = yield from self._get(IMDS_ROLE_PATH, token)
        if role_response.status_code == 401 and reused is not None:  # it ended early
            self._token_value = None
            token = yield from self._token()
            role_response = yield from self._get(IMDS_ROLE_PATH, token)
        if role_response.status_code == 404:
            raise CredentialsRetrievalError(self.name, "no IAM role is attached to this instance")
        self._check(role_response, "the role name")
        lines = role_response.text.strip().splitlines()
        if not lines:
            raise CredentialsRetrievalError(self.name, "IMDS returned an empty role name")
        response = yield from self._get(IMDS_ROLE_PATH + lines[0].strip(), token)
        self._check(response, "the role credentials")
        data = json_body(self.name, response)
        if isinstance(data, Mapping) and data.get("Code", "Success") != "Success":
            raise CredentialsRetrievalError(self.name, f"IMDS answered Code={data['Code']!r}")
        return credentials_from(
            self.name, data, ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
        )

    def _token(self) -> Flow[str | None]:
        def build() -> Request:
            return http_request(
                "PUT",
                self._url("/latest/api/token"),
                {"x-aws-ec2-metadata-token-ttl-seconds": IMDS_TOKEN_TTL},
                timeout=self.timeout,
            )

        try:
            response = yield from send_with_retries(
                build,
                self.name,
                attempts=self.attempts,
                delay=0.0,
                retry=lambda r: r.status_code >= 500,
            )
        except CredentialsRetrievalError as exc:
            if self.v1_disabled:
                raise CredentialsRetrievalError(
                    self.name, f"cannot get an IMDSv2 token and IMDSv1 is disabled: {exc.problem}"
                ) from None
            return None
        if response.status_code == 200 and response.text.strip():
            self._token_value = response.text.strip()
            self._token_until = self.clock() + float(IMDS_TOKEN_TTL) - _TOKEN_MARGIN
            return self._token_value
        if response.status_code == 400:
            raise CredentialsRetrievalError(self.name, "IMDS rejected the token request (HTTP 400)")
        if self.v1_disabled:
            raise CredentialsRetrievalError(
                self.name,
                f"IMDS token request answered HTTP {response.status_code} and IMDSv1 is disabled",
            )
        return None  # 403/404/405 and friends: fall back to IMDSv1

    def _get(self, path: str, token: str | None) -> Flow[HTTPResponse]:
        headers = {"x-aws-ec2-metadata-token": token} if token else {}

        def build() -> Request:
            return http_request("GET", self._url(path), headers, timeout=self.timeout)

        return (
            yield from send_with_retries(
                build,
                self.name,
                attempts=self.attempts,
                delay=0.0,
                retry=lambda r: r.status_code >= 500,
            )
        )

    def _check(self, response: HTTPResponse, what: str) -> None:
        if response.status_code != 200:
            raise CredentialsRetrievalError(
                self.name, f"IMDS answered HTTP {response.status_code} for {what}"
            )


# --- container credentials (ECS, EKS Pod Identity) ---------------------------------------


@record
class ContainerSource:
    """Credentials from the container endpoint (botocore ``container-role``).

    The token file, when set, is read again on every fetch (EKS rotates it).
    """

    url: str
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    timeout: float = 2.0
    attempts: int = 3
    retry_delay: float = 1.0
    name: str = "container-role"

    def fetch(self) -> Flow[Credentials]:
        token = self.token
        if self.token_file is not None:
            try:
                token = yield Call(read_text, (self.token_file,))
            except OSError as exc:
                raise CredentialsRetrievalError(
                    self.name,
                    f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {self.token_file!r}: "
                    f"{type(exc).__name__}",
                ) from None
        headers = {"Accept": "application/json"}
        if token is not None:
            if "\r" in token or "\n" in token:
                raise CredentialsConfigError(
                    "the container authorization token contains CR or LF, "
                    "which is not allowed in a header value"
                )
            headers["Authorization"] = token

        def build() -> Request:
            return http_request("GET", self.url, headers, timeout=self.timeout)

        response = yield from send_with_retries(
            build,
            self.name,
            attempts=self.attempts,
            delay=self.retry_delay,
            retry=lambda r: r.status_code != 200,
        )
        if response.status_code != 200:
            raise CredentialsRetrievalError(
                self.name,
                f"container endpoint answered HTTP {response.status_code} "
                f"(after {self.attempts} attempts)",
            )
        return credentials_from(
            self.name,
            json_body(self.name, response),
            ("AccessKeyId", "SecretAccessKey", "Token", "Expiration"),
        )


def validate_container_uri(uri: str) -> str:
    """Allow https anywhere, http only to loopback or the ECS/EKS link-local hosts."""
    import ipaddress

    try:
        url = urlsplit(uri)
        url.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise CredentialsConfigError(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid URL"
        ) from None
    if url.scheme == "https":
        return uri
    if url.scheme != "http":
        raise CredentialsConfigError(
            f"AWS_CONTAINER_CREDENTIALS_FULL_URI must use http or https, not {url.scheme!r}"
        )
    host = (url.hostname or "").lower()
    allowed = {"localhost", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"}
    if host in allowed:
        return uri
    try:
        if ipaddress.ip_address(host).is_loopback:
            return uri
    except ValueError:
        pass
    raise CredentialsConfigError(
        f"AWS_CONTAINER_CREDENTIALS_FULL_URI host {host!r} is not allowed over http: use https, "
        "a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23"
    )


def container_source(ctx: ChainContext) -> ContainerSource | None:
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


def imds_source(ctx: ChainContext) -> ImdsSource:
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
        v1_disabled=(v1_disabled or "").lower() == TRUE,
        timeout=number_setting(
            ctx, "metadata_service_timeout", "AWS_METADATA_SERVICE_TIMEOUT", 1.0
        ),
        attempts=int(
            number_setting(
                ctx, "metadata_service_num_attempts", "AWS_METADATA_SERVICE_NUM_ATTEMPTS", 1
            )
        ),
    )


def container_step(ctx: ChainContext) -> Source | str:
    found = container_source(ctx)
    return found or "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set"


def imds_step(ctx: ChainContext) -> Source | str:
    if ctx.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == TRUE:
        return "disabled by AWS_EC2_METADATA_DISABLED"
    return imds_source(ctx)
