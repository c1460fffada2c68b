"""Verify a received request's SigV4 signature, as a service does.

The verifier parses the ``Authorization`` header (or the ``X-Amz-*`` query parameters of a
presigned URL), looks up the secret for the access key id, checks the request time against
the verifier's clock, rebuilds the canonical request from exactly the headers the sender
listed in ``SignedHeaders``, and compares signatures in constant time. Failures raise
``VerificationError`` with the AWS error code a service would answer with.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from ._canonical import split_url
from ._credentials import Credentials
from ._errors import VerificationError
from ._settings import (
    SessionTokenMode,
    SignatureLocation,
    SigningParams,
    SigningSettings,
)
from ._signer import ALGORITHM, SignableRequest, format_amz_date, sign

__all__ = ["SignatureCheckError", "VerifiedRequest", "verify_request"]

_AUTH = re.compile(
    r"(?P<algorithm>\S+)\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)\s*\Z"
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z\Z")


class SignatureCheckError(VerificationError):
    """A signature check failed. ``code`` and ``status`` are what AWS would answer with."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        self.code = code
        self.status = status
        self.message = message
        super().__init__("signature", f"{code}: {message}")


@dataclass(frozen=True)
class VerifiedRequest:
    """What a valid signature vouches for."""

    access_key_id: str
    region: str
    service: str
    time: datetime
    signed_headers: tuple[str, ...]


def _parse_amz_date(value: str) -> datetime:
    if not _AMZ_DATE.match(value):
        raise SignatureCheckError(
            "IncompleteSignatureException", f"X-Amz-Date {value!r} is not YYYYMMDDTHHMMSSZ", 400
        )
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def verify_request(
    request: SignableRequest,
    secrets: Mapping[str, str] | Callable[[str], str | None],
    *,
    now: datetime,
    service: str | None = None,
    tolerance: timedelta = timedelta(minutes=5),
    settings: SigningSettings | None = None,
) -> VerifiedRequest:
    """Check the signature of ``request`` (its url origin-form or absolute, its headers as
    received, its body or ``payload_hash``); return what it vouches for or raise
    ``SignatureCheckError``.

    ``secrets`` maps an access key id to its secret access key. ``now`` is the verifier's
    clock; a request time more than ``tolerance`` away from it is refused.
    """
    base = settings if settings is not None else SigningSettings()
    lookup = secrets.get if isinstance(secrets, Mapping) else secrets
    pairs = request.header_pairs
    lowered: dict[str, str] = {}
    for name, value in pairs:
        lowered.setdefault(name.lower(), value)

    _, _, query = split_url(request.url)
    query_params = {
        unquote(key): unquote(value)
        for key, _, value in (piece.partition("=") for piece in query.split("&") if piece)
    }
    presigned = "X-Amz-Signature" in query_params
    if presigned:
        algorithm = query_params.get("X-Amz-Algorithm", "")
        credential = query_params.get("X-Amz-Credential", "")
        signed = query_params.get("X-Amz-SignedHeaders", "")
        signature = query_params["X-Amz-Signature"]
        amz_date = query_params.get("X-Amz-Date", "")
        token = query_params.get("X-Amz-Security-Token")
    else:
        authorization = lowered.get("authorization")
        if authorization is None:
            raise SignatureCheckError(
                "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        match = _AUTH.match(authorization.strip())
        if match is None:
            raise SignatureCheckError(
                "IncompleteSignatureException",
                "Authorization header requires Credential, SignedHeaders and Signature",
                400,
            )
        algorithm, credential, signed, signature = match.group(
            "algorithm", "credential", "signed", "signature"
        )
        amz_date = lowered.get("x-amz-date", "")
        token = lowered.get("x-amz-security-token")
    if algorithm != ALGORITHM:
        raise SignatureCheckError(
            "IncompleteSignatureException", f"unsupported algorithm {algorithm!r}", 400
        )

    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureCheckError(
            "IncompleteSignatureException",
            "Credential must be key/date/region/service/aws4_request",
            400,
        )
    access_key_id, scope_date, region, scope_service, _ = parts
    if service is not None and scope_service != service:
        raise SignatureCheckError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'.",
        )
    secret = lookup(access_key_id)
    if not secret:
        raise SignatureCheckError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    time = _parse_amz_date(amz_date)
    if scope_date != amz_date[:8]:
        raise SignatureCheckError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid date: '{amz_date[:8]}'.",
        )
    if time < now - tolerance:
        raise SignatureCheckError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {format_amz_date(now - tolerance)} "
            f"({format_amz_date(now)} - {_minutes(tolerance)} min.)",
        )
    if time > now + tolerance:
        raise SignatureCheckError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than "
            f"{format_amz_date(now + tolerance)} "
            f"({format_amz_date(now)} + {_minutes(tolerance)} min.)",
        )
    if presigned:
        expires = query_params.get("X-Amz-Expires", "")
        if not expires.isdigit() or now > time + timedelta(seconds=int(expires)):
            raise SignatureCheckError("AccessDeniedException", "Request has expired")

    signed_names = tuple(signed.split(";"))
    if "host" not in signed_names:
        raise SignatureCheckError("InvalidSignatureException", "'Host' must be a signed header")
    if presigned:  # the query has no list of what was signed: the service's rule decides
        token_signed = base.session_token is SessionTokenMode.SIGNED
    else:
        token_signed = "x-amz-security-token" in signed_names
    # Rebuild the request the sender signed: only its signed headers, its query without the
    # signature (and without what the sender added after signing).
    kept = [(name, value) for name, value in pairs if name.lower() in signed_names]
    url = request.url
    if presigned:
        drop = {
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-SignedHeaders",
            "X-Amz-Expires",
            "X-Amz-Signature",
            "X-Amz-Security-Token",
        }
        path, _, _ = url.partition("?")
        rest = [
            piece
            for piece in query.split("&")
            if piece and unquote(piece.partition("=")[0]) not in drop
        ]
        url = path + ("?" + "&".join(rest) if rest else "")
    verify_settings = replace(
        base,
        signature_location=SignatureLocation.QUERY_STRING
        if presigned
        else SignatureLocation.HEADERS,
        session_token=SessionTokenMode.SIGNED if token_signed else SessionTokenMode.AFTER_SIGNING,
        excluded_headers=frozenset(),
        expires_in=int(query_params["X-Amz-Expires"]) if presigned else base.expires_in,
    )
    params = SigningParams(
        Credentials(access_key_id, secret, token),
        region,
        scope_service,
        time,
        verify_settings,
    )
    expected = sign(
        SignableRequest(request.method, url, kept, request.body, request.payload_hash), params
    )
    if expected.canonical_request.signed_headers != signed:
        raise SignatureCheckError(
            "InvalidSignatureException",
            f"SignedHeaders {signed!r} does not list the request's headers as sent",
        )
    if not hmac.compare_digest(expected.signature, signature):
        raise SignatureCheckError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.\n\n"
            "The Canonical String for this request should have been\n"
            f"'{expected.canonical_request.redacted()}'\n\n"
            f"The String-to-Sign should have been\n'{expected.string_to_sign}'\n",
        )
    return VerifiedRequest(access_key_id, region, scope_service, time, signed_names)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
