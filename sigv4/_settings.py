"""Signing inputs as data: one frozen settings object of small enums, and the parameters.

Every decision the spec leaves to the caller is a field here, named after the decision,
with the default that is right for every AWS service but S3.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

from ._credentials import Credentials
from ._errors import SigningError
from ._record import field, record

__all__ = [
    "DEFAULT_EXCLUDED_HEADERS",
    "PathNormalization",
    "PayloadHashHeader",
    "PercentEncoding",
    "SessionTokenMode",
    "SignatureLocation",
    "SigningParams",
    "SigningSettings",
]

# Headers a proxy or the HTTP stack may add, drop or rewrite between signing and the wire,
# plus the ones the signer writes itself. Signing them would make a valid request fail.
DEFAULT_EXCLUDED_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "baggage",
        "traceparent",
        "tracestate",
    }
)


class SignatureLocation(enum.Enum):
    """Where the signature goes: the ``Authorization`` header, or the query (presigned URL)."""

    HEADERS = "headers"
    QUERY_STRING = "query"


class PathNormalization(enum.Enum):
    """Whether to remove dot segments (RFC 3986 section 5.2.4) and empty segments from the path.

    ``NORMALIZE`` is what every service but S3 expects; S3 signs the path as sent (``KEEP``).
    """

    NORMALIZE = "normalize"
    KEEP = "keep"


class PercentEncoding(enum.Enum):
    """How the canonical URI is encoded from the path as it is on the wire.

    ``DOUBLE`` encodes the (already percent-encoded) wire path once more, so ``%20`` becomes
    ``%2520``: the rule for every service but S3. ``SINGLE`` keeps existing ``%XX`` escapes
    and only encodes what is not yet encoded.
    """

    DOUBLE = "double"
    SINGLE = "single"


class SessionTokenMode(enum.Enum):
    """``SIGNED``: the session token is part of the signature. ``AFTER_SIGNING``: it is added
    to the request after signing (services that want it unsigned)."""

    SIGNED = "signed"
    AFTER_SIGNING = "after-signing"


class PayloadHashHeader(enum.Enum):
    """Whether the payload hash is also sent (and signed) as ``x-amz-content-sha256``."""

    OMIT = "omit"
    INCLUDE = "include"


_MAX_EXPIRES = 7 * 24 * 3600


@record(frozen=True)
class SigningSettings:
    """How to sign. The defaults suit every AWS service except S3."""

    signature_location: SignatureLocation = SignatureLocation.HEADERS
    path_normalization: PathNormalization = PathNormalization.NORMALIZE
    percent_encoding: PercentEncoding = PercentEncoding.DOUBLE
    session_token: SessionTokenMode = SessionTokenMode.SIGNED
    payload_hash_header: PayloadHashHeader = PayloadHashHeader.OMIT
    expires_in: int = 900
    """Seconds a presigned URL stays valid (query signing only); 1 to 604800."""
    excluded_headers: frozenset[str] = field(default=DEFAULT_EXCLUDED_HEADERS)
    """Lower-case names of headers never signed."""

    def __post_init__(self) -> None:
        checks = (
            ("signature_location", SignatureLocation),
            ("path_normalization", PathNormalization),
            ("percent_encoding", PercentEncoding),
            ("session_token", SessionTokenMode),
            ("payload_hash_header", PayloadHashHeader),
        )
        for name, kind in checks:
            if not isinstance(getattr(self, name), kind):
                raise SigningError(name, f"must be a {kind.__name__}")
        if isinstance(self.expires_in, bool) or not isinstance(self.expires_in, int):
            raise SigningError("expires_in", "must be an int number of seconds")
        if not 1 <= self.expires_in <= _MAX_EXPIRES:
            raise SigningError("expires_in", f"must be between 1 and {_MAX_EXPIRES} seconds")
        excluded = frozenset(name.lower() for name in self.excluded_headers)
        object.__setattr__(self, "excluded_headers", excluded)


_DEFAULT_SETTINGS = SigningSettings()

# Region and service become part of the credential scope "date/region/service/aws4_request".
_SCOPE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@record(frozen=True)
class SigningParams:
    """Everything a signature depends on besides the request, time included."""

    credentials: Credentials
    region: str
    service: str
    time: datetime
    settings: SigningSettings = field(default_factory=lambda: _DEFAULT_SETTINGS)

    def __post_init__(self) -> None:
        if not isinstance(self.credentials, Credentials):
            raise SigningError("credentials", "must be a sigv4.Credentials")
        for name in ("region", "service"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise SigningError(name, "must be a non-empty string")
            if not _SCOPE_PART.match(value):
                raise SigningError(
                    name,
                    f"{value!r} must be letters, digits, '.', '_' or '-' (it goes in the scope)",
                )
        if not isinstance(self.time, datetime):
            raise SigningError("time", "must be a datetime")
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise SigningError(
                "time", "must be timezone-aware (for example datetime.now(timezone.utc))"
            )
        if not isinstance(self.settings, SigningSettings):
            raise SigningError("settings", "must be a SigningSettings")
