"""Steps 2 to 4 of SigV4: the string to sign, the signing key and the signature.

The string to sign::

    AWS4-HMAC-SHA256
    20150830T123600Z                                  the request time, ISO 8601 basic, UTC
    20150830/us-east-1/service/aws4_request           the credential scope
    bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
                                                      hex SHA-256 of the canonical request

The signing key is a chain of HMAC-SHA256, each keyed by the one before::

    kSecret  = secret access key
    kDate    = HMAC("AWS4" + kSecret, "20150830")
    kRegion  = HMAC(kDate, "us-east-1")
    kService = HMAC(kRegion, "service")
    kSigning = HMAC(kService, "aws4_request")

and the signature is ``hex(HMAC(kSigning, string to sign))``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import BinaryIO, cast

from ._canonical import (
    CanonicalRequest,
    canonical_headers,
    canonical_query,
    canonical_uri,
    split_url,
    uri_encode,
)
from ._credentials import Credentials
from ._errors import SigningError
from ._hashing import hash_payload
from ._settings import (
    PayloadHashHeader,
    SessionTokenMode,
    SignatureLocation,
    SigningParams,
)

__all__ = [
    "ALGORITHM",
    "SignableRequest",
    "SigningResult",
    "credential_scope",
    "derive_signing_key",
    "format_amz_date",
    "sign",
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    """The request time as ``YYYYMMDDTHHMMSSZ`` in UTC."""
    t = time.astimezone(timezone.utc)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}T{t.hour:02d}{t.minute:02d}{t.second:02d}Z"


def credential_scope(date: str, region: str, service: str) -> str:
    """``YYYYMMDD/region/service/aws4_request``."""
    return f"{date}/{region}/{service}/aws4_request"


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k_date = hmac.digest(("AWS4" + secret).encode(), date.encode(), "sha256")
    k_region = hmac.digest(k_date, region.encode(), "sha256")
    k_service = hmac.digest(k_region, service.encode(), "sha256")
    return hmac.digest(k_service, b"aws4_request", "sha256")


def derive_signing_key(credentials: Credentials, date: str, region: str, service: str) -> bytes:
    """kSigning for ``date`` (``YYYYMMDD``), cached: a hot path pays one HMAC per signature."""
    return _signing_key(credentials.secret_access_key, date, region, service)


def string_to_sign(
    amz_date: str, scope: str, canonical_request: str, algorithm: str = ALGORITHM
) -> str:
    """The four-line string to sign (see the module docstring)."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"{algorithm}\n{amz_date}\n{scope}\n{digest}"


def sign(request: SignableRequest, params: SigningParams) -> SigningResult:
    """Sign ``request`` with SigV4 (HMAC-SHA256): return what to add to it, the signature
    and the texts of each step."""
    amz_date = format_amz_date(params.time)
    date = amz_date[:8]
    key = _signing_key(params.credentials.secret_access_key, date, params.region, params.service)

    def compute(text: str) -> str:
        return hmac.digest(key, text.encode(), "sha256").hex()

    return sign_with_algorithm(
        request,
        params,
        amz_date=amz_date,
        algorithm=ALGORITHM,
        scope=credential_scope(date, params.region, params.service),
        region_set=None,
        compute=compute,
    )


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
    """The signing steps shared by SigV4 and SigV4a, which differ only in the algorithm name,
    the scope, the ``X-Amz-Region-Set`` header (SigV4a) and ``compute``, the function from the
    string to sign to the hex signature."""
    settings = params.settings
    credentials = params.credentials
    if amz_date is None:
        amz_date = format_amz_date(params.time)
    host, path, query = split_url(request.url)
    payload_hash = request.payload_hash or hash_payload(request.body)
    token = credentials.session_token
    sign_token = token is not None and settings.session_token is SessionTokenMode.SIGNED

    header_mode = settings.signature_location is SignatureLocation.HEADERS
    include_hash = header_mode and settings.payload_hash_header is PayloadHashHeader.INCLUDE
    owned = _SIGNER_HEADERS | {"x-amz-content-sha256"} if include_hash else _SIGNER_HEADERS
    # Stale copies of the headers the signer writes (from an earlier attempt) are dropped.
    headers = [pair for pair in request.header_pairs if pair[0].lower() not in owned]
    if not any(name.lower() == "host" for name, _ in headers):
        if not host:
            raise SigningError("url", "needs a host: give an absolute URL or a Host header")
        headers.append(("host", host.lower()))
    excluded = settings.excluded_headers

    added: list[tuple[str, str]] = []
    query_params: list[tuple[str, str]] = []
    if header_mode:
        if token is not None:
            added.append(("X-Amz-Security-Token", token))
        added.append(("X-Amz-Date", amz_date))
        if region_set is not None:
            added.append(("X-Amz-Region-Set", region_set))
        if include_hash:
            added.append(("x-amz-content-sha256", payload_hash))
        to_sign = [pair for pair in added if sign_token or pair[0] != "X-Amz-Security-Token"]
        lines, signed_headers = canonical_headers(headers + to_sign, excluded)
        query_line = canonical_query(query)
    else:
        lines, signed_headers = canonical_headers(headers, excluded)
        query_params = [
            ("X-Amz-Algorithm", algorithm),
            ("X-Amz-Credential", uri_encode(f"{credentials.access_key_id}/{scope}")),
            ("X-Amz-Date", amz_date),
            ("X-Amz-SignedHeaders", uri_encode(signed_headers)),
            ("X-Amz-Expires", str(settings.expires_in)),
        ]
        token_param = [("X-Amz-Security-Token", uri_encode(token))] if token is not None else []
        region_param = [("X-Amz-Region-Set", uri_encode(region_set))] if region_set else []
        signed_params = query_params + (token_param if sign_token else []) + region_param
        query_line = canonical_query(query, signed_params)
        query_params += token_param + region_param

    canonical = CanonicalRequest(
        method=request.method,
        uri=canonical_uri(path, settings.path_normalization, settings.percent_encoding),
        query=query_line,
        headers=lines,
        signed_headers=signed_headers,
        payload_hash=payload_hash,
    )
    to_sign_text = string_to_sign(amz_date, scope, str(canonical), algorithm)
    signature = compute(to_sign_text)

    if header_mode:
        authorization = (
            f"{algorithm} Credential={credentials.access_key_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        added.append(("Authorization", authorization))
    else:
        query_params.append(("X-Amz-Signature", signature))
    return SigningResult(
        headers=tuple(added),
        query=tuple(query_params),
        signature=signature,
        canonical_request=canonical,
        string_to_sign=to_sign_text,
    )
