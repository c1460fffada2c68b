"""SigV4a (``AWS4-ECDSA-P256-SHA256``): one signature valid in a set of regions.

SigV4a shares every canonicalization step with SigV4 (it signs through the same
``sign_in_headers`` and ``sign_in_query`` of ``_signer``) and differs in four places only,
which its ``SignatureAlgorithm`` carries:

* the algorithm name, ``AWS4-ECDSA-P256-SHA256``;
* the credential scope has no region: ``YYYYMMDD/service/aws4_request``;
* the regions the signature is valid in go in ``X-Amz-Region-Set`` (a signed header, or a
  query parameter when presigning), comma-joined: ``us-east-1,us-west-2`` or ``*``;
* the key: an ECDSA P-256 key derived from the secret access key (below), and the signature
  is the hex of a DER-encoded ECDSA signature (P-256, SHA-256) of the string to sign. ECDSA
  signatures are randomized, so two signatures of the same request differ; both verify.

The string to sign::

    AWS4-ECDSA-P256-SHA256
    20150830T123600Z                       the request time, ISO 8601 basic, UTC
    20150830/service/aws4_request          the credential scope (no region)
    cf59db42...                            hex SHA-256 of the canonical request

Key derivation: NIST SP 800-108 KDF in counter mode with HMAC-SHA256, one 256-bit block::

    input key   = "AWS4A" + secret access key
    fixed input = "AWS4-ECDSA-P256-SHA256" || 0x00 || access key id || counter (1 byte)
                  || 0x00000100                      (L = 256 bits, 32-bit big-endian)
    candidate   = HMAC-SHA256(input key, 0x00000001 || fixed input)   (as a big-endian int)

starting with ``counter = 1`` and trying ``counter + 1`` while ``candidate > n - 2``
(``n`` the order of P-256); the private key is ``d = candidate + 1``, so ``1 <= d <= n - 1``.

The ECDSA arithmetic comes from the optional ``cryptography`` package (the
``sagemaker-runtime-lite[sigv4a]`` extra). It is imported on first use, so ``import sigv4``
works without it.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from functools import lru_cache, partial
from typing import TYPE_CHECKING, cast

from ._credentials import Credentials
from ._errors import SigningError
from ._record import replace
from ._settings import SigningParams
from ._signer import (
    SignableRequest,
    SignatureAlgorithm,
    SigningResult,
    format_amz_date,
    sign_at,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey

__all__ = [
    "ALGORITHM_V4A",
    "derive_v4a_private_key",
    "ecdsa_signature",
    "region_set_value",
    "require_cryptography",
    "sign_v4a",
    "v4a_credential_scope",
    "v4a_public_key_xy",
    "verify_v4a_signature",
]

ALGORITHM_V4A = "AWS4-ECDSA-P256-SHA256"

# The order of the NIST P-256 group (FIPS 186-4, D.1.2.3).
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_REGION = re.compile(r"[A-Za-z0-9*][A-Za-z0-9.*_-]*\Z")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+\Z")
_EXTRA_HINT = "install it with: pip install 'sagemaker-runtime-lite[sigv4a]'"


def require_cryptography() -> None:
    """Fail early, naming the extra to install, if ``cryptography`` is missing."""
    try:
        import cryptography  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"SigV4a ({ALGORITHM_V4A}) needs the 'cryptography' package; {_EXTRA_HINT}"
        ) from exc


def v4a_credential_scope(date: str, service: str) -> str:
    """``YYYYMMDD/service/aws4_request``: the SigV4 scope without the region."""
    return f"{date}/{service}/aws4_request"


def region_set_value(region_set: Sequence[str] | str) -> str:
    """The ``X-Amz-Region-Set`` value: the regions comma-joined, in the order given.

    ``region_set`` is one region (``"us-east-1"``), ``"*"`` (every region), a comma-separated
    string, or a sequence of regions. A region may contain ``*`` as a wildcard
    (``"us-*"``). Raises ``SigningError`` for an empty set, an empty or repeated region, or
    characters other than letters, digits, ``.``, ``_``, ``-`` and ``*``.
    """
    if isinstance(region_set, str):
        regions = [part.strip() for part in region_set.split(",")]
    elif isinstance(region_set, Sequence):
        regions = list(region_set)
    else:
        raise SigningError("region_set", "must be a region, '*' or a sequence of regions")
    if not regions:
        raise SigningError("region_set", "must hold at least one region (or '*')")
    seen: set[str] = set()
    for region in regions:
        if not isinstance(region, str) or not region:
            raise SigningError("region_set", "every region must be a non-empty string")
        if not _REGION.match(region):
            raise SigningError(
                "region_set",
                f"{region!r} must be letters, digits, '.', '_', '-' or the wildcard '*'",
            )
        if region in seen:
            raise SigningError("region_set", f"{region!r} is given more than once")
        seen.add(region)
    return ",".join(regions)


@lru_cache(maxsize=64)
def _private_key(access_key_id: str, secret_access_key: str) -> EllipticCurvePrivateKey:
    require_cryptography()
    from cryptography.hazmat.primitives.asymmetric import ec

    input_key = ("AWS4A" + secret_access_key).encode()
    label = ALGORITHM_V4A.encode()
    access_key = access_key_id.encode()
    # The counter is one byte; the chance that a candidate exceeds n - 2 is about 2**-32,
    # so the loop ends at the first or second try in practice.
    for counter in range(1, 256):
        fixed_input = label + b"\x00" + access_key + bytes([counter]) + (256).to_bytes(4, "big")
        block = hmac.digest(input_key, (1).to_bytes(4, "big") + fixed_input, "sha256")
        candidate = int.from_bytes(block, "big")
        if candidate <= _P256_ORDER - 2:
            return ec.derive_private_key(candidate + 1, ec.SECP256R1())
    raise SigningError(  # pragma: no cover - probability about 2**-8000
        "credentials", "no SigV4a key could be derived from these credentials"
    )


def derive_v4a_private_key(credentials: Credentials) -> EllipticCurvePrivateKey:
    """The P-256 private key SigV4a signs with, derived from ``credentials`` as in the module
    docstring. Cached per access key pair, so signing pays for the derivation once."""
    if not isinstance(credentials, Credentials):
        raise SigningError("credentials", "must be a sigv4.Credentials")
    return _private_key(credentials.access_key_id, credentials.secret_access_key)


def v4a_public_key_xy(credentials: Credentials) -> tuple[str, str]:
    """The public key of ``derive_v4a_private_key(credentials)`` as its affine coordinates
    ``(x, y)``, each 64 lower-case hex digits: what a verifier needs."""
    numbers = derive_v4a_private_key(credentials).public_key().public_numbers()
    return f"{numbers.x:064x}", f"{numbers.y:064x}"


def verify_v4a_signature(
    public_key_xy: tuple[str, str], string_to_sign: str, signature_hex: str
) -> bool:
    """Whether ``signature_hex`` (hex of a DER ECDSA signature) is a valid P-256/SHA-256
    signature of ``string_to_sign`` under the public key ``(x, y)`` (hex coordinates).

    A malformed signature is simply not valid (``False``); a public key that is not a point
    of P-256 raises ``SigningError``.
    """
    require_cryptography()
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        x_hex, y_hex = public_key_xy
        x, y = int(x_hex, 16), int(y_hex, 16)
        public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except (TypeError, ValueError) as exc:
        raise SigningError(
            "public_key_xy", "must be the hex (x, y) coordinates of a point on P-256"
        ) from exc
    if not isinstance(signature_hex, str) or not _HEX.match(signature_hex):
        return False
    try:
        public_key.verify(
            bytes.fromhex(signature_hex),
            string_to_sign.encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


@lru_cache(maxsize=1)
def _ecdsa_sha256() -> ECDSA:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.ECDSA(hashes.SHA256())


def ecdsa_signature(key: EllipticCurvePrivateKey, text: str) -> str:
    """Step 4 of SigV4a: the hex of the DER-encoded ECDSA P-256 signature (SHA-256) of the
    string to sign ``text`` with the derived ``key``."""
    return key.sign(text.encode(), _ecdsa_sha256()).hex()


def sign_v4a(
    request: SignableRequest,
    params: SigningParams,
    region_set: Sequence[str] | str | None = None,
) -> SigningResult:
    """Sign ``request`` with SigV4a for the regions in ``region_set`` (default:
    ``[params.region]``; ``"*"`` for every region).

    Returns what to add to the request, as ``sigv4.sign`` does: in header mode
    ``X-Amz-Security-Token`` (if any), ``X-Amz-Date``, ``X-Amz-Region-Set``,
    ``x-amz-content-sha256`` (if asked for) and ``Authorization``; in query mode the
    ``X-Amz-*`` parameters including ``X-Amz-Region-Set``. Needs ``cryptography``.
    """
    if not isinstance(request, SignableRequest):
        raise SigningError("request", "must be a sigv4.SignableRequest")
    if not isinstance(params, SigningParams):
        raise SigningError("params", "must be a sigv4.SigningParams")
    region_value = region_set_value([params.region] if region_set is None else region_set)
    require_cryptography()
    # A stale X-Amz-Region-Set from an earlier attempt is replaced, never signed twice.
    pairs = cast("tuple[tuple[str, str], ...]", request.headers)
    if any(name.lower() == "x-amz-region-set" for name, _ in pairs):
        kept = [pair for pair in pairs if pair[0].lower() != "x-amz-region-set"]
        request = replace(request, headers=kept)

    amz_date = format_amz_date(params.time)
    algorithm = SignatureAlgorithm(
        ALGORITHM_V4A,
        v4a_credential_scope(amz_date[:8], params.service),
        region_value,
        partial(derive_v4a_private_key, params.credentials),
        ecdsa_signature,
    )
    return sign_at(request, params, algorithm, amz_date)
