"""verify_claim: the checks of verify_request that need no body, for a server to make
before reading one. It accepts what verify_request accepts whatever the body, and
refuses what verify_request refuses for reasons other than the signature."""

from __future__ import annotations

from datetime import timedelta

import pytest

import sigv4
from tests.sigv4.test_verify import CREDS, SECRETS, T0, signed

NOW = T0 + timedelta(minutes=1)


def _with(
    request: sigv4.SignableRequest, headers: list[tuple[str, str]] | None = None
) -> sigv4.SignableRequest:
    """``request`` with another body (and ``headers``, if given)."""
    pairs = headers if headers is not None else list(request.header_pairs)
    return sigv4.SignableRequest(request.method, request.url, pairs, b"another body")


@pytest.mark.parametrize("location", list(sigv4.SignatureLocation))
def test_accepts_a_signed_request_whatever_its_body(location: sigv4.SignatureLocation) -> None:
    request = signed(location)
    other_body = _with(request)
    sigv4.verify_claim(other_body, SECRETS, now=NOW, service="sagemaker")  # no error
    with pytest.raises(sigv4.SignatureCheckError) as info:  # the signature needs the body
        sigv4.verify_request(other_body, SECRETS, now=NOW, service="sagemaker")
    assert info.value.code == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown key", "UnrecognizedClientException"),
        ("too late", "InvalidSignatureException"),
        ("other service", "InvalidSignatureException"),
        ("no authorization", "MissingAuthenticationTokenException"),
        ("signed header missing", "InvalidSignatureException"),
    ],
)
def test_refuses_what_needs_no_body(case: str, code: str) -> None:
    request = signed()
    secrets, now, service = SECRETS, NOW, "sagemaker"
    if case == "unknown key":
        secrets = {"AKIDOTHER": "x"}
    elif case == "too late":
        now = T0 + timedelta(minutes=6)
    elif case == "other service":
        service = "s3"
    elif case == "no authorization":
        request = _with(
            request,
            headers=[(k, v) for k, v in request.header_pairs if k.lower() != "authorization"],
        )
    else:
        request = _with(
            request,
            headers=[(k, v) for k, v in request.header_pairs if k.lower() != "content-type"],
        )
    with pytest.raises(sigv4.SignatureCheckError) as claim:
        sigv4.verify_claim(request, secrets, now=now, service=service)
    with pytest.raises(sigv4.SignatureCheckError) as whole:
        sigv4.verify_request(request, secrets, now=now, service=service)
    assert claim.value.code == whole.value.code, case
    assert claim.value.code == code, claim.value.code
    assert CREDS.secret_access_key not in str(claim.value)
