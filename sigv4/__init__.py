"""AWS Signature Version 4, pure and exact.

``sign(SignableRequest, SigningParams) -> SigningResult`` does no I/O and reads no clock:
the time is a parameter. ``SigV4Auth`` adapts it to httpx and is the one place that reads
the clock.

The header-signing core is imported with the package; the httpx adapter, SigV4a,
event signing and verification load on first use (PEP 562 ``__getattr__``), so that
``import sigv4`` stays cheap for a process that only signs requests.
"""

import typing as _typing

from ._canonical import (
    CanonicalRequest,
    canonical_headers,
    canonical_query,
    canonical_uri,
    normalize_path,
    uri_encode,
)
from ._credentials import Credentials, CredentialsProvider
from ._errors import SignatureCheckError, SigningError, VerificationError
from ._hashing import EMPTY_SHA256, STREAMING_EVENTS_PAYLOAD, UNSIGNED_PAYLOAD, hash_payload
from ._header_signer import HeaderSigner
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

if _typing.TYPE_CHECKING:
    from ._auth import CredentialsSource, SigV4Auth
    from ._eventsign import (
        EVENT_ALGORITHM,
        EventChainVerifier,
        EventSigner,
        SignedEvent,
        encode_date_header,
        event_signature,
        event_string_to_sign,
        sign_event,
        verify_event_chain,
    )
    from ._explain import explain_mismatch, mask_tokens
    from ._sigv4a import (
        ALGORITHM_V4A,
        derive_v4a_private_key,
        region_set_value,
        sign_v4a,
        v4a_credential_scope,
        v4a_public_key_xy,
        verify_v4a_signature,
    )
    from ._verify import VerifiedRequest, verify_claim, verify_request

#: Public names that load their module on first access: name -> private module.
_LAZY = {
    **dict.fromkeys(("CredentialsSource", "SigV4Auth"), "._auth"),
    **dict.fromkeys(
        (
            "EVENT_ALGORITHM",
            "EventChainVerifier",
            "EventSigner",
            "SignedEvent",
            "encode_date_header",
            "event_signature",
            "event_string_to_sign",
            "sign_event",
            "verify_event_chain",
        ),
        "._eventsign",
    ),
    **dict.fromkeys(
        (
            "ALGORITHM_V4A",
            "derive_v4a_private_key",
            "region_set_value",
            "sign_v4a",
            "v4a_credential_scope",
            "v4a_public_key_xy",
            "verify_v4a_signature",
        ),
        "._sigv4a",
    ),
    **dict.fromkeys(("VerifiedRequest", "verify_claim", "verify_request"), "._verify"),
    **dict.fromkeys(("explain_mismatch", "mask_tokens"), "._explain"),
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # __import__, not importlib.import_module: -X importtime lists only what it loads
    value = getattr(__import__(module[1:], globals(), None, (name,), 1), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ALGORITHM",
    "ALGORITHM_V4A",
    "EVENT_ALGORITHM",
    "EventChainVerifier",
    "EventSigner",
    "HeaderSigner",
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
    "verify_event_chain",
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
    "explain_mismatch",
    "format_amz_date",
    "hash_payload",
    "mask_tokens",
    "normalize_path",
    "sign",
    "sign_with_algorithm",
    "string_to_sign",
    "uri_encode",
    "verify_claim",
    "verify_request",
]
