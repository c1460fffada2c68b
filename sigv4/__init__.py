"""AWS Signature Version 4, pure and exact.

``sign(SignableRequest, SigningParams) -> SigningResult`` does no I/O and reads no clock:
the time is a parameter. ``SigV4Auth`` adapts it to httpx and is the one place that reads
the clock.
"""

from ._auth import CredentialsProvider, CredentialsSource, SigV4Auth
from ._canonical import (
    CanonicalRequest,
    canonical_headers,
    canonical_query,
    canonical_uri,
    normalize_path,
    uri_encode,
)
from ._credentials import Credentials
from ._errors import SigningError, VerificationError
from ._eventsign import (
    EVENT_ALGORITHM,
    EventSigner,
    SignedEvent,
    encode_date_header,
    event_signature,
    event_string_to_sign,
    sign_event,
)
from ._hashing import EMPTY_SHA256, STREAMING_EVENTS_PAYLOAD, UNSIGNED_PAYLOAD, hash_payload
from ._settings import (
    DEFAULT_EXCLUDED_HEADERS,
    PathNormalization,
    PayloadHashHeader,
    PercentEncoding,
    SessionTokenMode,
    SignatureLocation,
    SigningParams,
    SigningSettings,
)
from ._signer import (
    ALGORITHM,
    SignableRequest,
    SigningResult,
    credential_scope,
    derive_signing_key,
    format_amz_date,
    sign,
    sign_with_algorithm,
    string_to_sign,
)
from ._sigv4a import (
    ALGORITHM_V4A,
    derive_v4a_private_key,
    region_set_value,
    sign_v4a,
    v4a_credential_scope,
    v4a_public_key_xy,
    verify_v4a_signature,
)
from ._verify import SignatureCheckError, VerifiedRequest, verify_request

__all__ = [
    "ALGORITHM",
    "ALGORITHM_V4A",
    "EVENT_ALGORITHM",
    "EventSigner",
    "SignedEvent",
    "derive_v4a_private_key",
    "encode_date_header",
    "event_signature",
    "event_string_to_sign",
    "region_set_value",
    "sign_event",
    "sign_v4a",
    "v4a_credential_scope",
    "v4a_public_key_xy",
    "verify_v4a_signature",
    "DEFAULT_EXCLUDED_HEADERS",
    "EMPTY_SHA256",
    "STREAMING_EVENTS_PAYLOAD",
    "UNSIGNED_PAYLOAD",
    "CanonicalRequest",
    "Credentials",
    "CredentialsProvider",
    "CredentialsSource",
    "PathNormalization",
    "PayloadHashHeader",
    "PercentEncoding",
    "SessionTokenMode",
    "SignableRequest",
    "SignatureCheckError",
    "SignatureLocation",
    "SigningError",
    "SigningParams",
    "SigningResult",
    "SigV4Auth",
    "SigningSettings",
    "VerificationError",
    "VerifiedRequest",
    "canonical_headers",
    "canonical_query",
    "canonical_uri",
    "credential_scope",
    "derive_signing_key",
    "format_amz_date",
    "hash_payload",
    "normalize_path",
    "sign",
    "sign_with_algorithm",
    "string_to_sign",
    "uri_encode",
    "verify_request",
]
