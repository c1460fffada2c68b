"""SigV4 signing, step by step, for the two places a signature can go.

Each signature location has one function that reads as the spec's steps, in order:

1. the canonical request (``_canonical``), including what the signer adds before signing;
2. the string to sign;
3. the signing key;
4. the signature;

and then what is added to the request: the ``Authorization`` header (header signing,
``sign_in_headers``) or the ``X-Amz-*`` parameters ending with ``X-Amz-Signature`` (query
signing, a presigned URL: ``sign_in_query``). SigV4 and SigV4a (``_sigv4a``) go through the
same two functions and differ only in a ``SignatureAlgorithm``: the algorithm name, the
credential scope, the region set sent with the request, and steps 3 and 4.

The string to sign::

    AWS4-HMAC-SHA256
    20150830T123600Z                                  the request time, ISO 8601 basic, UTC
    20150830/us-east-1/service/aws4_request           the credential scope
    bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
                                                      hex SHA-256 of the canonical request

The signing key is the kSecret -> kDate -> kRegion -> kService -> kSigning chain of
``_signing_key`` (written out beside it, below), and the signature is
``hex(HMAC-SHA256(kSigning, string to sign))``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache, partial
from typing import Any, BinaryIO, Generic, TypeVar, cast

from ._canonical import (
    CanonicalRequest,
    canonical_headers,
    canonical_query,
    canonical_request,
    split_url,
    uri_encode,
)
from ._credentials import Credentials
from ._errors import SigningError
from ._hashing import hash_payload
from ._record import field, record
from ._settings import (
    PayloadHashHeader,
    SessionTokenMode,
    SignatureLocation,
    SigningParams,
)

__all__ = [
    "ALGORITHM",
    "SignableRequest",
    "SignatureAlgorithm",
    "SigningResult",
    "credential_scope",
    "derive_signing_key",
    "format_amz_date",
    "hmac_signature",
    "sign",
    "sign_at",
    "sign_in_headers",
    "sign_in_query",
    "sign_with_algorithm",
    "string_to_sign",
]

ALGORITHM = "AWS4-HMAC-SHA256"
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

# Headers the signer writes itself: a stale copy in the input (from an earlier attempt)
# is never signed and is replaced by the new value.
_SIGNER_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})


@record(frozen=True)
class SignableRequest:
    """The parts of an HTTP request that a signature covers. Never modified by signing.

    ``url`` is an absolute URL or an origin-form target (``/path?query``), with the path and
    query exactly as they go on the wire. Give ``body`` (bytes or a seekable binary file,
    hashed in chunks) or ``payload_hash`` (a hex SHA-256 or one of ``UNSIGNED_PAYLOAD``,
    ``STREAMING_EVENTS_PAYLOAD``).
    """

    method: str
    url: str
    headers: Sequence[tuple[str, str]] | Mapping[str, str] = ()
    body: bytes | bytearray | memoryview | BinaryIO = b""
    payload_hash: str | None = None

    def __post_init__(self) -> None:
        if (
            not self.method
            or not isinstance(self.method, str)
            or not _TOKEN_CHARS.issuperset(self.method)
        ):
            raise SigningError("method", f"{self.method!r} is not a valid HTTP method")
        object.__setattr__(self, "method", self.method.upper())
        headers = self.headers
        pairs = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
        object.__setattr__(self, "headers", pairs)
        if self.payload_hash is not None and (
            not isinstance(self.payload_hash, str) or not self.payload_hash
        ):
            raise SigningError("payload_hash", "must be a non-empty string or None")

    @property
    def header_pairs(self) -> tuple[tuple[str, str], ...]:
        """The headers as ``(name, value)`` pairs, in order (however they were given)."""
        return cast("tuple[tuple[str, str], ...]", self.headers)


@record(frozen=True)
class SigningResult:
    """What signing adds to a request, and how it got there (for debugging).

    In header mode ``headers`` holds the headers to add (``X-Amz-Security-Token``,
    ``X-Amz-Date``, ``x-amz-content-sha256``, ``Authorization``, in that order) and ``query``
    is empty; in query mode ``query`` holds the ``X-Amz-*`` parameters (values already
    URI-encoded) to append to the URL, ending with ``X-Amz-Signature``.
    """

    headers: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    signature: str = field(repr=False)
    canonical_request: CanonicalRequest
    string_to_sign: str

    def __repr__(self) -> str:
        # Never show the signature or the session token: name what is added, not its value.
        added = [name for name, _ in self.headers] or [name for name, _ in self.query]
        return f"SigningResult(adds={added!r}, canonical_request={self.canonical_request!r})"

    def signed_url(self, url: str) -> str:
        """``url`` with the ``query`` parameters appended (a presigned URL in query mode)."""
        if not self.query:
            return url
        url, hash_mark, fragment = url.partition("#")
        extra = "&".join(f"{name}={value}" for name, value in self.query)
        joiner = "&" if "?" in url and not url.endswith(("?", "&")) else ("" if "?" in url else "?")
        return f"{url}{joiner}{extra}{hash_mark}{fragment}"


def format_amz_date(time: datetime) -> str:
    """The request time as ``YYYYMMDDTHHMMSSZ`` in UTC.

    The text of the last second asked for is kept: a busy client signs many requests in
    the same second.
    """
    global _last_amz_date
    second = time.timestamp() // 1
    kept = _last_amz_date
    if kept[0] == second:
        return kept[1]
    t = time.astimezone(timezone.utc)
    text = f"{t.year:04d}{t.month:02d}{t.day:02d}T{t.hour:02d}{t.minute:02d}{t.second:02d}Z"
    _last_amz_date = (second, text)
    return text


_last_amz_date: tuple[float, str] = (float("nan"), "")


def credential_scope(date: str, region: str, service: str) -> str:
    """``YYYYMMDD/region/service/aws4_request``."""
    return f"{date}/{region}/{service}/aws4_request"


def string_to_sign(
    amz_date: str, scope: str, canonical_request: str, algorithm: str = ALGORITHM
) -> str:
    """Step 2: the four-line string to sign (see the module docstring)."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"{algorithm}\n{amz_date}\n{scope}\n{digest}"


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """Step 3: kSigning, a chain of HMAC-SHA256 each keyed by the one before::

        kSecret  = secret access key
        kDate    = HMAC("AWS4" + kSecret, "20150830")      the date of the request, YYYYMMDD
        kRegion  = HMAC(kDate, "us-east-1")
        kService = HMAC(kRegion, "service")
        kSigning = HMAC(kService, "aws4_request")

    Cached: it changes once a day per region and service, so a hot path pays for one HMAC
    (step 4) per signature.
    """
    k_date = hmac.digest(("AWS4" + secret).encode(), date.encode(), "sha256")
    k_region = hmac.digest(k_date, region.encode(), "sha256")
    k_service = hmac.digest(k_region, service.encode(), "sha256")
    return hmac.digest(k_service, b"aws4_request", "sha256")


def derive_signing_key(credentials: Credentials, date: str, region: str, service: str) -> bytes:
    """kSigning of ``credentials`` for ``date`` (``YYYYMMDD``), cached (see ``_signing_key``)."""
    return _signing_key(credentials.secret_access_key, date, region, service)


def hmac_signature(key: bytes, text: str) -> str:
    """Step 4 of SigV4: ``hex(HMAC-SHA256(kSigning, string to sign))``."""
    return hmac.digest(key, text.encode(), "sha256").hex()


_Key = TypeVar("_Key")


class SignatureAlgorithm(Generic[_Key]):
    """What SigV4 and SigV4a do differently, as data: the algorithm ``name``, the credential
    ``scope``, the ``region_set`` sent with the request (SigV4a; None for SigV4), and the
    two steps that are theirs: ``signing_key()`` (step 3) and ``signature(key, string to
    sign)`` (step 4, the hex signature)."""

    __slots__ = ("name", "region_set", "scope", "signature", "signing_key")

    def __init__(
        self,
        name: str,
        scope: str,
        region_set: str | None,
        signing_key: Callable[[], _Key],
        signature: Callable[[_Key, str], str],
    ) -> None:
        self.name = name
        self.scope = scope
        self.region_set = region_set
        self.signing_key = signing_key
        self.signature = signature


def _request_parts(
    request: SignableRequest, owned: frozenset[str]
) -> tuple[str, str, list[tuple[str, str]], str]:
    """The wire path and query, the headers to sign and the payload hash of ``request``.

    Stale copies of the headers the signer writes (``owned``, from an earlier attempt) are
    dropped; a ``host`` header is added from the URL if the request has none.
    """
    host, path, query = split_url(request.url)
    payload_hash = request.payload_hash or hash_payload(request.body)
    headers = [pair for pair in request.header_pairs if pair[0].lower() not in owned]
    if not any(name.lower() == "host" for name, _ in headers):
        if not host:
            raise SigningError("url", "needs a host: give an absolute URL or a Host header")
        headers.append(("host", host.lower()))
    return path, query, headers, payload_hash


def sign_in_headers(
    request: SignableRequest,
    params: SigningParams,
    algorithm: SignatureAlgorithm[Any],
    amz_date: str,
) -> SigningResult:
    """Header signing: the signature goes in the ``Authorization`` header::

        Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/
            aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa3...

    The headers the signer adds are signed with the request's own: ``X-Amz-Security-Token``
    (unless the token is added after signing), ``X-Amz-Date``, ``X-Amz-Region-Set``
    (SigV4a) and ``x-amz-content-sha256`` (if asked for).
    """
    settings = params.settings
    token = params.credentials.session_token
    include_hash = settings.payload_hash_header is PayloadHashHeader.INCLUDE
    owned = _SIGNER_HEADERS | {"x-amz-content-sha256"} if include_hash else _SIGNER_HEADERS
    path, query, headers, payload_hash = _request_parts(request, owned)
    added = [("X-Amz-Security-Token", token)] if token is not None else []
    added.append(("X-Amz-Date", amz_date))
    if algorithm.region_set is not None:
        added.append(("X-Amz-Region-Set", algorithm.region_set))
    if include_hash:
        added.append(("x-amz-content-sha256", payload_hash))
    unsigned_token = token is not None and settings.session_token is not SessionTokenMode.SIGNED

    # 1. The canonical request: the request's headers and the signer's, then the query.
    signed_added = added[1:] if unsigned_token else added
    lines, signed_headers = canonical_headers(headers + signed_added, settings.excluded_headers)
    canonical = canonical_request(
        request.method, path, canonical_query(query), lines, signed_headers, payload_hash, settings
    )
    # 2. The string to sign.
    text = string_to_sign(amz_date, algorithm.scope, canonical.text, algorithm.name)
    # 3. The signing key.
    key = algorithm.signing_key()
    # 4. The signature.
    signature = algorithm.signature(key, text)

    # Added to the request: the signer's headers, then Authorization.
    added.append(
        (
            "Authorization",
            f"{algorithm.name} Credential={params.credentials.access_key_id}/{algorithm.scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}",
        )
    )
    return SigningResult(tuple(added), (), signature, canonical, text)


def sign_in_query(
    request: SignableRequest,
    params: SigningParams,
    algorithm: SignatureAlgorithm[Any],
    amz_date: str,
) -> SigningResult:
    """Query signing (a presigned URL): the signature goes in the query, after the other
    ``X-Amz-*`` parameters, which are signed as part of the canonical query::

        ?X-Amz-Algorithm=AWS4-HMAC-SHA256
        &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request
        &X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=900
        &X-Amz-Security-Token=...    (signed unless the token is added after signing)
        &X-Amz-Region-Set=...        (SigV4a)
        &X-Amz-Signature=...
    """
    settings = params.settings
    credentials = params.credentials
    token = credentials.session_token
    path, query, headers, payload_hash = _request_parts(request, _SIGNER_HEADERS)

    # 1. The canonical request: the headers, then the query with the X-Amz-* parameters.
    lines, signed_headers = canonical_headers(headers, settings.excluded_headers)
    added = [
        ("X-Amz-Algorithm", algorithm.name),
        ("X-Amz-Credential", uri_encode(f"{credentials.access_key_id}/{algorithm.scope}")),
        ("X-Amz-Date", amz_date),
        ("X-Amz-SignedHeaders", uri_encode(signed_headers)),
        ("X-Amz-Expires", str(settings.expires_in)),
    ]
    token_param = [("X-Amz-Security-Token", uri_encode(token))] if token is not None else []
    region_set = algorithm.region_set
    region_param = [("X-Amz-Region-Set", uri_encode(region_set))] if region_set else []
    sign_token = settings.session_token is SessionTokenMode.SIGNED
    signed_params = added + (token_param if sign_token else []) + region_param
    query_line = canonical_query(query, signed_params)
    canonical = canonical_request(
        request.method, path, query_line, lines, signed_headers, payload_hash, settings
    )
    # 2. The string to sign.
    text = string_to_sign(amz_date, algorithm.scope, canonical.text, algorithm.name)
    # 3. The signing key.
    key = algorithm.signing_key()
    # 4. The signature.
    signature = algorithm.signature(key, text)

    # Added to the request: the X-Amz-* parameters, X-Amz-Signature last.
    added += [*token_param, *region_param, ("X-Amz-Signature", signature)]
    return SigningResult((), tuple(added), signature, canonical, text)


def sign_at(
    request: SignableRequest,
    params: SigningParams,
    algorithm: SignatureAlgorithm[Any],
    amz_date: str,
) -> SigningResult:
    """Sign ``request`` with ``algorithm`` where ``params.settings`` puts the signature."""
    if params.settings.signature_location is SignatureLocation.HEADERS:
        return sign_in_headers(request, params, algorithm, amz_date)
    return sign_in_query(request, params, algorithm, amz_date)


def sign(request: SignableRequest, params: SigningParams) -> SigningResult:
    """Sign ``request`` with SigV4 (HMAC-SHA256): return what to add to it, the signature
    and the texts of each step."""
    amz_date = format_amz_date(params.time)
    date = amz_date[:8]
    region, service = params.region, params.service
    algorithm = SignatureAlgorithm(
        ALGORITHM,
        credential_scope(date, region, service),
        None,
        partial(_signing_key, params.credentials.secret_access_key, date, region, service),
        hmac_signature,
    )
    return sign_at(request, params, algorithm, amz_date)


def _no_key() -> None:
    return None


def sign_with_algorithm(
    request: SignableRequest,
    params: SigningParams,
    *,
    algorithm: str,
    scope: str,
    region_set: str | None,
    compute: Callable[[str], str],
    amz_date: str | None = None,
) -> SigningResult:
    """Sign with any algorithm that shares SigV4's canonicalization: ``algorithm`` names it,
    ``scope`` is its credential scope, ``region_set`` its ``X-Amz-Region-Set`` (None for
    none) and ``compute`` turns the string to sign into the hex signature (steps 3 and 4
    together). ``amz_date`` defaults to ``params.time`` formatted."""
    return sign_at(
        request,
        params,
        SignatureAlgorithm(algorithm, scope, region_set, _no_key, lambda _, text: compute(text)),
        format_amz_date(params.time) if amz_date is None else amz_date,
    )
