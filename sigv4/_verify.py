"""Verify a received request's signature, as a service does: SigV4 and SigV4a, signed in the
``Authorization`` header or presigned in the query.

Each kind of request has one function that reads as the spec's steps, run from what the
sender claims back to the signature:

0. the claim (algorithm, credential scope, ``SignedHeaders``, date, signature) is read and
   checked: the algorithm, the scope (date, region or region set, service), the access key,
   the request time against the verifier's clock;
1. the canonical request is rebuilt from exactly the headers the sender listed in
   ``SignedHeaders``, as received, and from the query (without ``X-Amz-Signature``);
2. the string to sign;
3. the signing key, from the secret the verifier holds for the access key id (SigV4), or
   the public key of the P-256 key pair derived from it (SigV4a);
4. the signature: recomputed and compared in constant time (SigV4), or checked under the
   public key (SigV4a, whose ECDSA signatures are randomized).

Every refusal raises ``SignatureCheckError`` with the code and status a service answers::

    MissingAuthenticationTokenException  403  neither an Authorization header nor a
                                              presigned query
    IncompleteSignatureException         400  the claim cannot be read (Authorization,
                                              X-Amz-* parameters, X-Amz-Date, X-Amz-Expires,
                                              Credential, X-Amz-Region-Set) or names an
                                              algorithm this verifier does not check
    UnrecognizedClientException          403  the access key id is unknown
    InvalidSignatureException            403  the scope is not the verifier's (service,
                                              region, region set, date); the time is outside
                                              the tolerance; Host (or, SigV4a, the region
                                              set) is not signed; SignedHeaders does not
                                              list the headers as sent; the signature does
                                              not match
    AccessDeniedException                403  a presigned URL has expired

SigV4a (``AWS4-ECDSA-P256-SHA256``) is checked only by a verifier that knows its own region
(``region=``), which the signed ``X-Amz-Region-Set`` must cover, and that has the optional
``cryptography`` package; otherwise the algorithm is refused as unsupported (400), never
with an ``ImportError``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from ._canonical import canonical_headers, canonical_query, canonical_request, split_url
from ._claim import (
    Claim,
    authorization_claim,
    expires_in,
    incomplete,
    invalid,
    query_claim,
)
from ._credentials import Credentials
from ._errors import SignatureCheckError, SigningError
from ._hashing import hash_payload
from ._record import field, record
from ._settings import SessionTokenMode, SigningSettings
from ._signer import (
    ALGORITHM,
    SignableRequest,
    credential_scope,
    derive_signing_key,
    format_amz_date,
    hmac_signature,
    string_to_sign,
)
from ._sigv4a import (
    ALGORITHM_V4A,
    require_cryptography,
    v4a_credential_scope,
    v4a_public_key_xy,
    verify_v4a_signature,
)

__all__ = ["SignatureCheckError", "VerifiedRequest", "verify_claim", "verify_request"]

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z\Z")


@record(frozen=True)
class VerifiedRequest:
    """What a valid signature vouches for.

    ``region`` is the region of the credential scope (SigV4) or the verifier's own region,
    which the signed region set covers (SigV4a, whose set is ``region_set``).
    ``signature`` is the request's signature: the seed of an event stream's chain
    (``EventChainVerifier``).
    """

    access_key_id: str
    region: str
    service: str
    time: datetime
    signed_headers: tuple[str, ...]
    algorithm: str = ALGORITHM
    region_set: tuple[str, ...] = ()
    signature: str = field(default="", repr=False)


@record(frozen=True)
class _Policy:
    """The verifier's side: its secrets, clock, service, region and rules."""

    lookup: Callable[[str], str | None]
    now: datetime
    service: str | None
    region: str | None
    tolerance: timedelta
    settings: SigningSettings


@record(frozen=True)
class _Scope:
    """A checked credential scope, with the credentials of its access key."""

    credentials: Credentials
    date: str
    region: str
    service: str
    text: str
    region_set: tuple[str, ...]


def verify_request(
    request: SignableRequest,
    secrets: Mapping[str, str] | Callable[[str], str | None],
    *,
    now: datetime,
    service: str | None = None,
    region: str | None = None,
    tolerance: timedelta = timedelta(minutes=5),
    settings: SigningSettings | None = None,
) -> VerifiedRequest:
    """Check the signature of ``request`` (its url origin-form or absolute, its headers as
    received, its body or ``payload_hash``); return what it vouches for or raise
    ``SignatureCheckError``.

    ``secrets`` maps an access key id to its secret access key. ``now`` is the verifier's
    clock; a request time more than ``tolerance`` away from it is refused (a presigned URL
    is valid from its time, less ``tolerance``, for its ``X-Amz-Expires`` seconds).
    ``service`` and ``region``, when given, are the only scope accepted; ``region`` is
    needed to check SigV4a. ``settings`` gives the path rules and, for presigned URLs,
    whether the session token is signed.

    A request that cannot be canonicalized at all (a URL, a signed header or a body that
    ``sign`` would refuse) raises ``SigningError``, as does a naive ``now``.
    """
    policy = _policy(secrets, now, service, region, tolerance, settings)
    _, path, query = split_url(request.url)
    params = _query_params(query)
    if "X-Amz-Signature" in params:
        return _verify_presigned(request, policy, path, query, params)
    return _verify_header_signed(request, policy, path, query)


def verify_claim(
    request: SignableRequest,
    secrets: Mapping[str, str] | Callable[[str], str | None],
    *,
    now: datetime,
    service: str | None = None,
    region: str | None = None,
    tolerance: timedelta = timedelta(minutes=5),
    settings: SigningSettings | None = None,
) -> None:
    """Every check of :func:`verify_request` that needs no body, for a server to make
    before it reads one: the algorithm, the credential scope and the access key, the
    request time, and that the signed headers are listed and present. ``request.body``
    is not looked at. What is left is the signature itself (:func:`verify_request`, with
    the body or its ``payload_hash``). Raises ``SignatureCheckError`` as it does."""
    policy = _policy(secrets, now, service, region, tolerance, settings)
    _, _, query = split_url(request.url)
    params = _query_params(query)
    if "X-Amz-Signature" in params:
        claim = query_claim(params)
        expires: int | None = expires_in(params)
        region_set_header = False
    else:
        claim = authorization_claim(request.header_pairs)
        expires = None
        region_set_header = claim.algorithm == ALGORITHM_V4A
    scope = _check_scope(claim, policy)
    _check_clock(_check_date(claim.amz_date, scope.date), policy, expires=expires)
    names = _check_signed_names(claim, region_set_header=region_set_header)
    _listed_headers(request, names, claim.signed_headers)


def _policy(
    secrets: Mapping[str, str] | Callable[[str], str | None],
    now: datetime,
    service: str | None,
    region: str | None,
    tolerance: timedelta,
    settings: SigningSettings | None,
) -> _Policy:
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise SigningError("now", "must be a timezone-aware datetime")
    return _Policy(
        lookup=secrets.get if isinstance(secrets, Mapping) else secrets,
        now=now,
        service=service,
        region=region,
        tolerance=tolerance,
        settings=settings if settings is not None else SigningSettings(),
    )


def _query_params(query: str) -> dict[str, str]:
    return {
        unquote(key): unquote(value)
        for key, _, value in (piece.partition("=") for piece in query.split("&") if piece)
    }


def _verify_header_signed(
    request: SignableRequest, policy: _Policy, path: str, query: str
) -> VerifiedRequest:
    """A request signed in its ``Authorization`` header::

        Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/
            aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa3...
        X-Amz-Date: 20150830T123600Z
        X-Amz-Region-Set: us-east-1,us-west-2          (SigV4a; a signed header)

    The session token, if any, is signed when ``x-amz-security-token`` is listed.
    """
    claim = authorization_claim(request.header_pairs)
    scope = _check_scope(claim, policy)
    time = _check_date(claim.amz_date, scope.date)
    _check_clock(time, policy)
    names = _check_signed_names(claim, region_set_header=claim.algorithm == ALGORITHM_V4A)

    # 1. The canonical request: the listed headers as received, the query as sent.
    lines, signed = _listed_headers(request, names, claim.signed_headers)
    canonical = canonical_request(
        request.method,
        path,
        canonical_query(query),
        lines,
        signed,
        _payload(request),
        policy.settings,
    )
    # 2. The string to sign.
    text = string_to_sign(claim.amz_date, scope.text, canonical.text, claim.algorithm)
    # 3 and 4. The signing key and the signature (see _check_signature).
    _check_signature(claim, scope, text, canonical.redacted())
    return _verified(claim, scope, time, names)


def _verify_presigned(
    request: SignableRequest,
    policy: _Policy,
    path: str,
    query: str,
    params: Mapping[str, str],
) -> VerifiedRequest:
    """A presigned URL: the claim is in the query, which is signed but for the signature::

        ?X-Amz-Algorithm=AWS4-HMAC-SHA256
        &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request
        &X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=900
        &X-Amz-Security-Token=...    (signed unless the settings say after signing)
        &X-Amz-Region-Set=...        (SigV4a)
        &X-Amz-Signature=...

    The query lists nothing about the session token, so the verifier's settings decide
    whether it was signed.
    """
    claim = query_claim(params)
    expires = expires_in(params)
    scope = _check_scope(claim, policy)
    time = _check_date(claim.amz_date, scope.date)
    _check_clock(time, policy, expires=expires)
    names = _check_signed_names(claim, region_set_header=False)

    # 1. The canonical request: the listed headers as received, the query without the
    #    signature (nor the session token when it is added after signing).
    lines, signed = _listed_headers(request, names, claim.signed_headers)
    unsigned = {"X-Amz-Signature"}
    if policy.settings.session_token is SessionTokenMode.AFTER_SIGNING:
        unsigned.add("X-Amz-Security-Token")
    signed_query = "&".join(
        piece
        for piece in query.split("&")
        if piece and unquote(piece.partition("=")[0]) not in unsigned
    )
    canonical = canonical_request(
        request.method,
        path,
        canonical_query(signed_query),
        lines,
        signed,
        _payload(request),
        policy.settings,
    )
    # 2. The string to sign.
    text = string_to_sign(claim.amz_date, scope.text, canonical.text, claim.algorithm)
    # 3 and 4. The signing key and the signature (see _check_signature).
    _check_signature(claim, scope, text, canonical.redacted())
    return _verified(claim, scope, time, names)


# ----------------------------------------------------------------------------- the checks


def _check_scope(claim: Claim, policy: _Policy) -> _Scope:
    """The algorithm, the credential scope and the access key of ``claim``."""
    v4a = claim.algorithm == ALGORITHM_V4A
    if v4a:
        _check_v4a_supported(policy)
    elif claim.algorithm != ALGORITHM:
        raise incomplete(f"unsupported algorithm {claim.algorithm!r}")
    parts = claim.credential.split("/")
    if len(parts) != (4 if v4a else 5) or parts[-1] != "aws4_request" or not all(parts):
        layout = "key/date/service" if v4a else "key/date/region/service"
        raise incomplete(f"Credential must be {layout}/aws4_request")
    access_key_id, date, service = parts[0], parts[1], parts[-2]
    if policy.service is not None and service != policy.service:
        raise invalid(f"Credential should be scoped to correct service: '{policy.service}'.")
    if v4a:
        assert policy.region is not None  # checked by _check_v4a_supported
        region, region_set = policy.region, _check_region_set(claim.region_set, policy.region)
        text = v4a_credential_scope(date, service)
    else:
        region, region_set = parts[2], ()
        if policy.region is not None and region != policy.region:
            raise invalid(f"Credential should be scoped to a valid region, not '{region}'.")
        text = credential_scope(date, region, service)
    secret = policy.lookup(access_key_id)
    if not secret:
        raise SignatureCheckError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    credentials = Credentials(access_key_id, secret)
    return _Scope(credentials, date, region, service, text, region_set)


def _check_v4a_supported(policy: _Policy) -> None:
    unsupported = f"unsupported algorithm {ALGORITHM_V4A!r}"
    if policy.region is None:
        raise incomplete(
            f"{unsupported}: this verifier was given no region to check a region set against"
        )
    try:
        require_cryptography()
    except ImportError as exc:
        raise incomplete(f"{unsupported}: {exc}") from exc


def _check_region_set(value: str | None, region: str) -> tuple[str, ...]:
    """The regions of ``X-Amz-Region-Set``, which must cover ``region``: each entry is a
    region or a pattern in which ``*`` stands for any run of characters (``*``, ``us-*``)."""
    entries = tuple(part.strip() for part in (value or "").split(","))
    if not all(entries):
        raise incomplete(
            f"{ALGORITHM_V4A} requires X-Amz-Region-Set: regions (or '*' patterns), comma-separated"
        )
    for entry in entries:
        pattern = ".*".join(re.escape(piece) for piece in entry.split("*"))
        if re.fullmatch(pattern, region):
            return entries
    raise invalid(
        f"The region set '{','.join(entries)}' of this request does not include '{region}'."
    )


def _check_date(amz_date: str, scope_date: str) -> datetime:
    if not _AMZ_DATE.match(amz_date):
        raise incomplete(f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ")
    if scope_date != amz_date[:8]:
        raise invalid(f"Credential should be scoped to a valid date: '{amz_date[:8]}'.")
    return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def _check_clock(time: datetime, policy: _Policy, *, expires: int | None = None) -> None:
    """``time`` within ``tolerance`` of the verifier's clock; for a presigned URL
    (``expires`` seconds), not yet expired instead of not too old."""
    now, tolerance = policy.now, policy.tolerance
    amz_date, minutes = format_amz_date(time), int(tolerance.total_seconds() // 60)
    if expires is None and time < now - tolerance:
        raise invalid(
            f"Signature expired: {amz_date} is now earlier than {format_amz_date(now - tolerance)} "
            f"({format_amz_date(now)} - {minutes} min.)"
        )
    if time > now + tolerance:
        raise invalid(
            f"Signature not yet current: {amz_date} is still later than "
            f"{format_amz_date(now + tolerance)} ({format_amz_date(now)} + {minutes} min.)"
        )
    if expires is not None and now > time + timedelta(seconds=expires):
        raise SignatureCheckError("AccessDeniedException", "Request has expired")


def _check_signed_names(claim: Claim, *, region_set_header: bool) -> tuple[str, ...]:
    names = tuple(claim.signed_headers.split(";"))
    if "host" not in names:
        raise invalid("'Host' must be a signed header")
    if region_set_header and "x-amz-region-set" not in names:
        raise invalid("'X-Amz-Region-Set' must be a signed header")
    return names


def _listed_headers(
    request: SignableRequest, names: tuple[str, ...], listed: str
) -> tuple[tuple[tuple[str, str], ...], str]:
    """Step 1's CanonicalHeaders and SignedHeaders, from exactly the headers the sender
    listed, as received: the lines they make must be the list the sender sent."""
    kept = [pair for pair in request.header_pairs if pair[0].lower() in names]
    lines, signed = canonical_headers(kept, frozenset())
    if signed != listed:
        raise invalid(f"SignedHeaders {listed!r} does not list the request's headers as sent")
    return lines, signed


def _payload(request: SignableRequest) -> str:
    return request.payload_hash or hash_payload(request.body)


def _check_signature(claim: Claim, scope: _Scope, text: str, redacted: str) -> None:
    """Steps 3 and 4 for ``claim``'s algorithm, on the string to sign ``text``."""
    if claim.algorithm == ALGORITHM:
        # 3. The signing key: the kSecret -> kSigning chain of the verifier's secret.
        key = derive_signing_key(scope.credentials, scope.date, scope.region, scope.service)
        # 4. The signature it gives, against the one sent.
        valid = hmac.compare_digest(hmac_signature(key, text), claim.signature)
    else:
        # 3. The public key of the P-256 key pair derived from the verifier's secret.
        public_key = v4a_public_key_xy(scope.credentials)
        # 4. The ECDSA signature sent, checked under it.
        valid = verify_v4a_signature(public_key, text, claim.signature)
    if not valid:
        raise invalid(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.\n\n"
            f"The Canonical String for this request should have been\n'{redacted}'\n\n"
            f"The String-to-Sign should have been\n'{text}'\n"
        )


def _verified(
    claim: Claim, scope: _Scope, time: datetime, names: tuple[str, ...]
) -> VerifiedRequest:
    return VerifiedRequest(
        access_key_id=scope.credentials.access_key_id,
        region=scope.region,
        service=scope.service,
        time=time,
        signed_headers=names,
        algorithm=claim.algorithm,
        region_set=scope.region_set,
        signature=claim.signature,
    )
