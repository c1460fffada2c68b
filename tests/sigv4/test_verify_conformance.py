"""``verify_request`` accepts the signed requests of the official AWS signing suite.

Every case of ``../shared/aws-signing-test-suite/v4/`` and ``v4a/`` ships the request as
signed, in header mode and in query (presigned) mode (``{mode}-signed-request.txt``). The
verifier, given the case's secret and clock, must accept each one, and refuse it once the
signature is altered. The SigV4a signatures are the suite's own (ECDSA, randomized): they
are checked under the public key derived from the secret, which must be the suite's
``public-key.json``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from sigv4 import (
    ALGORITHM,
    ALGORITHM_V4A,
    SignableRequest,
    SignatureCheckError,
    SigningParams,
    VerifiedRequest,
    v4a_public_key_xy,
    verify_request,
)
from tests.support.signing_suite import MODES, SUITE, load_case, params_for, parse_request

V4, V4A = SUITE / "v4", SUITE / "v4a"


def cases(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(
        path.name for path in root.iterdir() if (path / "header-signed-request.txt").is_file()
    )


needs_suite = pytest.mark.skipif(
    not V4.is_dir() or not V4A.is_dir(),
    reason=f"AWS signing test suite not found under {SUITE}",
)
needs_cryptography = pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="SigV4a needs the optional 'cryptography' package (the sigv4a extra)",
)


def signed_case(root: Path, case: str, mode: str) -> tuple[SignableRequest, SigningParams]:
    """The suite's signed request of ``case`` in ``mode`` and the case's parameters."""
    _, context = load_case(root, case)
    raw = parse_request((root / case / f"{mode}-signed-request.txt").read_bytes())
    request = SignableRequest(raw.method, raw.target, list(raw.headers), raw.body)
    return request, params_for(context, mode)


def verify(request: SignableRequest, params: SigningParams) -> VerifiedRequest:
    return verify_request(
        request,
        {params.credentials.access_key_id: params.credentials.secret_access_key},
        now=params.time,
        service=params.service,
        region=params.region,
        settings=params.settings,
    )


def altered(request: SignableRequest) -> SignableRequest:
    """``request`` with the last hex digit of its signature changed."""

    def flip(match: re.Match[str]) -> str:
        digits = match.group(2)
        return match.group(1) + digits[:-1] + ("0" if digits[-1] != "0" else "1")

    pattern = re.compile(r"(Signature=)([0-9a-f]+)")
    url = pattern.sub(flip, request.url)
    headers = [(name, pattern.sub(flip, value)) for name, value in request.header_pairs]
    assert (url, headers) != (request.url, list(request.header_pairs))
    return SignableRequest(request.method, url, headers, request.body)


@needs_suite
def test_every_case_has_signed_requests() -> None:
    assert len(cases(V4)) == 38
    # Two v4a cases ship only request.txt and context.json (see test_sigv4a_conformance).
    assert len(cases(V4A)) == 38


@needs_suite
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", cases(V4))
def test_sigv4_suite_signed_requests_verify(case: str, mode: str) -> None:
    request, params = signed_case(V4, case, mode)
    verified = verify(request, params)
    assert verified.algorithm == ALGORITHM
    assert (verified.access_key_id, verified.region, verified.service, verified.time) == (
        params.credentials.access_key_id,
        params.region,
        params.service,
        params.time,
    )
    with pytest.raises(SignatureCheckError) as info:
        verify(altered(request), params)
    assert (info.value.code, info.value.status) == ("InvalidSignatureException", 403)
    expected = (V4 / case / f"{mode}-string-to-sign.txt").read_text("utf-8").rstrip("\n")
    assert f"The String-to-Sign should have been\n'{expected}'" in info.value.message


def suite_public_key(case: str) -> tuple[str, str]:
    key: dict[str, Any] = json.loads((V4A / case / "public-key.json").read_text("utf-8"))
    return key["X"], key["Y"]


@needs_suite
@needs_cryptography
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", cases(V4A))
def test_sigv4a_suite_signed_requests_verify_under_the_suites_public_key(
    case: str, mode: str
) -> None:
    request, params = signed_case(V4A, case, mode)
    # The verifier checks under the public key of the pair derived from the secret: it is
    # the suite's public-key.json, so the suite's signature is checked under that key.
    assert v4a_public_key_xy(params.credentials) == suite_public_key(case)
    verified = verify(request, params)
    assert verified.algorithm == ALGORITHM_V4A
    assert verified.region == params.region
    assert verified.region_set == (params.region,)
    assert verified.time == params.time
    with pytest.raises(SignatureCheckError) as info:
        verify(altered(request), params)
    assert (info.value.code, info.value.status) == ("InvalidSignatureException", 403)
    expected = (V4A / case / f"{mode}-string-to-sign.txt").read_text("utf-8").rstrip("\n")
    assert f"The String-to-Sign should have been\n'{expected}'" in info.value.message


@needs_suite
@needs_cryptography
@pytest.mark.parametrize("mode", MODES)
def test_sigv4a_suite_request_for_another_region_is_refused(mode: str) -> None:
    request, params = signed_case(V4A, "get-vanilla", mode)
    with pytest.raises(SignatureCheckError) as info:
        verify_request(
            request,
            {params.credentials.access_key_id: params.credentials.secret_access_key},
            now=params.time,
            region="eu-west-1",
        )
    assert (info.value.code, info.value.status) == ("InvalidSignatureException", 403)
    assert "does not include 'eu-west-1'" in info.value.message
