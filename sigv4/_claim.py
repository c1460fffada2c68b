"""Reading what a received request claims about its signature, before any check: the
``Authorization`` header (and ``X-Amz-Date``, ``X-Amz-Region-Set``) or a presigned URL's
``X-Amz-*`` query parameters, as one :class:`Claim`; and the two refusals every check
uses (``IncompleteSignatureException`` for what cannot be read, ``InvalidSignatureException``
for what does not hold). The checks themselves are in ``_verify``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ._errors import SignatureCheckError
from ._record import record

__all__ = ["Claim", "authorization_claim", "expires_in", "incomplete", "invalid", "query_claim"]


_AUTH = re.compile(
    r"(?P<algorithm>\S+)\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)\s*\Z"
)


_HEX = re.compile(r"[0-9a-f]+\Z")


_MAX_EXPIRES = 7 * 24 * 3600


#: The parameters a presigned URL must carry besides X-Amz-Signature.
_PRESIGNED = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders")


@record(frozen=True)
class Claim:
    """What a received request says about its own signature, unchecked."""

    algorithm: str
    credential: str
    signed_headers: str
    signature: str
    amz_date: str
    region_set: str | None


def incomplete(message: str) -> SignatureCheckError:
    return SignatureCheckError("IncompleteSignatureException", message, 400)


def invalid(message: str) -> SignatureCheckError:
    return SignatureCheckError("InvalidSignatureException", message)


def authorization_claim(pairs: Sequence[tuple[str, str]]) -> Claim:
    """The claim of the ``Authorization`` header and its companions (first values)."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        headers.setdefault(name.lower(), value)
    authorization = headers.get("authorization")
    if authorization is None:
        raise SignatureCheckError(
            "MissingAuthenticationTokenException", "Missing Authentication Token"
        )
    match = _AUTH.match(authorization.strip())
    if match is None:
        raise incomplete("Authorization header requires Credential, SignedHeaders and Signature")
    if "x-amz-date" not in headers:
        raise incomplete("Authorization header requires existence of a 'X-Amz-Date' header.")
    algorithm, credential, signed, signature = match.group(
        "algorithm", "credential", "signed", "signature"
    )
    amz_date, region_set = headers["x-amz-date"], headers.get("x-amz-region-set")
    return Claim(algorithm, credential, signed, signature, amz_date, region_set)


def query_claim(params: Mapping[str, str]) -> Claim:
    """The claim of a presigned URL's ``X-Amz-*`` parameters."""
    missing = [name for name in (*_PRESIGNED, "X-Amz-Expires") if not params.get(name)]
    if missing:
        raise incomplete(
            "A presigned URL must include X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, "
            f"X-Amz-SignedHeaders, X-Amz-Expires and X-Amz-Signature; missing: {', '.join(missing)}"
        )
    algorithm, credential, amz_date, signed = (params[name] for name in _PRESIGNED)
    if not _HEX.match(params["X-Amz-Signature"]):
        raise incomplete("X-Amz-Signature must be lower-case hex digits")
    return Claim(
        algorithm,
        credential,
        signed,
        params["X-Amz-Signature"],
        amz_date,
        params.get("X-Amz-Region-Set"),
    )


def expires_in(params: Mapping[str, str]) -> int:
    value = params["X-Amz-Expires"]
    if not value.isdigit() or not 1 <= int(value) <= _MAX_EXPIRES:
        raise incomplete(
            f"X-Amz-Expires must be a whole number of seconds from 1 to {_MAX_EXPIRES} "
            f"(a week), not {value!r}"
        )
    return int(value)
