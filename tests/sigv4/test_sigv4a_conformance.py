"""The official AWS SigV4a conformance suite, in header and in query (presigned) mode,
plus the SigV4a behaviour the suite does not cover (region sets, errors, the extra).

Each case folder of ``../shared/aws-signing-test-suite/v4a/`` holds a raw request, its
signing context, the expected canonical request, string to sign, a signature and a signed
request for both modes, and the public key derived from the credentials. ECDSA signatures
are randomized, so signatures are checked by verification: ours under the suite's public
key, the suite's under our derived key. The steps are checked in order so that a failure
names the first step that went wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from datetime import datetime, timezone
from typing import Any

import pytest

from sigv4 import (
    Credentials,
    SignableRequest,
    SignatureLocation,
    SigningError,
    SigningParams,
    SigningSettings,
)
from sigv4._sigv4a import (
    derive_v4a_private_key,
    region_set_value,
    sign_v4a,
    v4a_public_key_xy,
    verify_v4a_signature,
)
from tests.support.signing_suite import (
    MODES,
    SUITE,
    load_case,
    params_for,
    signable_request,
    signed_request_text,
)
from tests.support.signing_suite import read_expected as read_suite_expected

pytest.importorskip(
    "cryptography",
    reason="SigV4a needs the optional 'cryptography' package "
    "(pip install 'sagemaker-runtime-lite[sigv4a]')",
)

V4A = SUITE / "v4a"
EXPECTED_CASE_COUNT = 40
TIME = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

# The signature inside a signed request: `Signature=` in the Authorization header,
# `X-Amz-Signature=` in a presigned URL.
SIGNATURE_VALUE = re.compile(r"(Signature=)([0-9a-f]+)")

CASES = (
    sorted(path.name for path in V4A.iterdir() if (path / "request.txt").is_file())
    if V4A.is_dir()
    else []
)
# Two cases ship with request.txt and context.json only in this copy of the suite. Their expected
# texts are get-vanilla's (same credentials, time and host) with the canonical query line
# written by hand from the spec: pairs sorted by key, then by value, byte-wise.
HAND_DERIVED = {
    "get-vanilla-query-order-key": "Param1=Value1&Param1=value2",
    "get-vanilla-query-order-value": "Param1=value1&Param1=value2",
}

needs_suite = pytest.mark.skipif(
    not V4A.is_dir(),
    reason=(
        f"AWS signing test suite not found: looked for {V4A} (place aws-c-auth's "
        "tests/aws-signing-test-suite next to the repository as ../shared/aws-signing-test-suite)"
    ),
)


def read_expected(case: str, mode: str, step: str) -> str:
    return read_suite_expected(V4A, case, mode, step)


def expected(case: str, mode: str, step: str) -> str:
    """The suite's expected text for ``step``; for the two cases the suite ships without
    expected files, the ``get-vanilla`` text with the query put in by hand (see
    ``HAND_DERIVED``)."""
    if case not in HAND_DERIVED:
        return read_expected(case, mode, step)
    query = HAND_DERIVED[case]
    text = read_expected("get-vanilla", mode, step)
    if step == "canonical-request":
        method, uri, query_line, rest = text.split("\n", 3)
        query_line = f"{query}&{query_line}" if query_line else query
        return "\n".join((method, uri, query_line, rest))
    if step == "string-to-sign":
        canonical = expected(case, mode, "canonical-request")
        head = text.rsplit("\n", 1)[0]
        return f"{head}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    if step == "signed-request":
        raw, _ = load_case(V4A, case)
        request_line, rest = text.split("\n", 1)
        method, target, version = request_line.split(" ")
        target = raw.target + (target[1:].replace("?", "&", 1) if mode == "query" else "")
        return f"{method} {target} {version}\n{rest}"
    raise AssertionError(f"{case} has no {mode}-{step}.txt to derive from")


def suite_public_key(case: str) -> tuple[str, str]:
    folder = V4A / ("get-vanilla" if case in HAND_DERIVED else case)
    key = json.loads((folder / "public-key.json").read_text("utf-8"))
    return key["X"], key["Y"]


def without_signature(text: str) -> str:
    return SIGNATURE_VALUE.sub(r"\1<signature>", text)


@needs_suite
def test_suite_has_every_case() -> None:
    assert len(CASES) == EXPECTED_CASE_COUNT, (
        f"expected {EXPECTED_CASE_COUNT} SigV4a cases under {V4A}, found {len(CASES)}: {CASES}"
    )
    complete = [case for case in CASES if (V4A / case / "public-key.json").is_file()]
    assert sorted(set(CASES) - set(complete)) == sorted(HAND_DERIVED)
    vanilla_context = load_case(V4A, "get-vanilla")[1]
    for case in HAND_DERIVED:
        assert load_case(V4A, case)[1] == vanilla_context, f"{case} no longer matches get-vanilla"


@needs_suite
@pytest.mark.parametrize("case", CASES)
def test_derived_public_key_matches_the_suite(case: str) -> None:
    _, context = load_case(V4A, case)
    credentials = params_for(context, "header").credentials
    assert v4a_public_key_xy(credentials) == suite_public_key(case)


@needs_suite
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_conformance(case: str, mode: str) -> None:
    raw, context = load_case(V4A, case)
    params = params_for(context, mode)
    request = signable_request(raw)
    result = sign_v4a(request, params)

    assert result.canonical_request.text == expected(case, mode, "canonical-request"), (
        f"step 1 (canonical request) differs for {case} in {mode} mode"
    )
    assert result.string_to_sign == expected(case, mode, "string-to-sign"), (
        f"step 2 (string to sign) differs for {case} in {mode} mode"
    )
    suite_key = suite_public_key(case)
    assert verify_v4a_signature(suite_key, result.string_to_sign, result.signature), (
        f"step 3 (signature) for {case} in {mode} mode does not verify under public-key.json"
    )
    our_key = v4a_public_key_xy(params.credentials)
    if case not in HAND_DERIVED:
        suite_signature = read_expected(case, mode, "signature")
        assert verify_v4a_signature(our_key, result.string_to_sign, suite_signature), (
            f"step 3 (signature): the suite's {mode}-signature.txt for {case} does not "
            "verify under our derived key"
        )
    ours = signed_request_text(raw, result, mode)
    theirs = expected(case, mode, "signed-request")
    assert without_signature(ours) == without_signature(theirs), (
        f"step 4 (signed request) differs for {case} in {mode} mode (signature aside)"
    )
    assert SIGNATURE_VALUE.search(ours) is not None
    if case not in HAND_DERIVED:
        # The signature in the suite's signed request is yet another valid one.
        found = SIGNATURE_VALUE.search(theirs)
        assert found is not None
        assert verify_v4a_signature(our_key, result.string_to_sign, found.group(2))


# --- Behaviour the suite does not cover ---------------------------------------------------


def vanilla(region_set: Any = None, mode: SignatureLocation = SignatureLocation.HEADERS) -> Any:
    params = SigningParams(
        CREDENTIALS, "us-east-1", "service", TIME, SigningSettings(signature_location=mode)
    )
    request = SignableRequest("GET", "https://example.amazonaws.com/")
    return sign_v4a(request, params, region_set)


def test_region_set_of_several_regions_is_comma_joined_and_signed() -> None:
    result = vanilla(["us-east-1", "us-west-2"])
    assert ("X-Amz-Region-Set", "us-east-1,us-west-2") in result.headers
    assert "x-amz-region-set:us-east-1,us-west-2\n" in result.canonical_request.text
    assert (
        "SignedHeaders=host;x-amz-date;x-amz-region-set," in dict(result.headers)["Authorization"]
    )
    assert verify_v4a_signature(
        v4a_public_key_xy(CREDENTIALS), result.string_to_sign, result.signature
    )


def test_wildcard_region_set_in_a_presigned_url() -> None:
    result = vanilla("*", SignatureLocation.QUERY_STRING)
    assert ("X-Amz-Region-Set", "%2A") in result.query
    assert result.query[-1][0] == "X-Amz-Signature"
    assert "&X-Amz-Region-Set=%2A&" in result.canonical_request.query + "&"
    assert result.headers == ()


def test_default_region_set_is_the_params_region_and_scope_has_no_region() -> None:
    result = vanilla()
    assert ("X-Amz-Region-Set", "us-east-1") in result.headers
    assert result.string_to_sign.split("\n")[2] == "20150830/service/aws4_request"


def test_stale_region_set_header_is_replaced() -> None:
    params = SigningParams(CREDENTIALS, "us-east-1", "service", TIME)
    request = SignableRequest(
        "GET", "https://example.amazonaws.com/", headers=[("X-Amz-Region-Set", "eu-west-1")]
    )
    result = sign_v4a(request, params, "us-west-2")
    assert "x-amz-region-set:us-west-2\n" in result.canonical_request.text
    assert "eu-west-1" not in result.canonical_request.text


@pytest.mark.parametrize(
    ("region_set", "problem"),
    [
        ([], "at least one region"),
        ("", "non-empty"),
        (["us-east-1", ""], "non-empty"),
        ("us-east-1,us-east-1", "more than once"),
        (["us east 1"], "letters, digits"),
        (["us-east-1\n"], "letters, digits"),
        (42, "sequence of regions"),
    ],
)
def test_bad_region_set_is_refused(region_set: Any, problem: str) -> None:
    with pytest.raises(SigningError, match=problem) as info:
        region_set_value(region_set)
    assert info.value.field == "region_set"


def test_region_set_value_forms() -> None:
    assert region_set_value("us-east-1") == "us-east-1"
    assert region_set_value("us-east-1, us-west-2") == "us-east-1,us-west-2"
    assert region_set_value(("us-*", "eu-west-1")) == "us-*,eu-west-1"
    assert region_set_value("*") == "*"


def test_signature_is_randomized_but_always_verifies() -> None:
    first, second = vanilla(), vanilla()
    assert first.string_to_sign == second.string_to_sign
    assert first.signature != second.signature
    key = v4a_public_key_xy(CREDENTIALS)
    assert verify_v4a_signature(key, first.string_to_sign, second.signature)


def test_verify_refuses_wrong_text_malformed_signature_and_bad_key() -> None:
    result = vanilla()
    key = v4a_public_key_xy(CREDENTIALS)
    assert not verify_v4a_signature(key, result.string_to_sign + "x", result.signature)
    assert not verify_v4a_signature(key, result.string_to_sign, "zz")
    assert not verify_v4a_signature(key, result.string_to_sign, "3000")
    other = v4a_public_key_xy(Credentials("AKIDOTHER", "another-secret"))
    assert not verify_v4a_signature(other, result.string_to_sign, result.signature)
    with pytest.raises(SigningError, match="point on P-256"):
        verify_v4a_signature(("01", "02"), result.string_to_sign, result.signature)


def test_private_key_is_cached_per_credentials() -> None:
    same = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token")
    assert derive_v4a_private_key(same) is derive_v4a_private_key(CREDENTIALS)
    assert derive_v4a_private_key(Credentials("AKIDOTHER", "x")) is not derive_v4a_private_key(
        CREDENTIALS
    )


def test_canonical_request_repr_hides_the_token() -> None:
    params = SigningParams(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SECRET-TOKEN"),
        "us-east-1",
        "service",
        TIME,
    )
    result = sign_v4a(SignableRequest("GET", "https://example.amazonaws.com/"), params)
    assert "SECRET-TOKEN" in result.canonical_request.text
    assert "SECRET-TOKEN" not in repr(result.canonical_request) + repr(params)
    assert "SECRET-TOKEN" not in str(result.canonical_request)  # str() masks it too
    assert "x-amz-security-token:***" in str(result.canonical_request)


def test_missing_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fresh credentials, so the derivation is not served from the cache.
    monkeypatch.setitem(sys.modules, "cryptography", None)
    params = SigningParams(Credentials("AKIDNOCRYPTO", "secret"), "us-east-1", "service", TIME)
    with pytest.raises(ImportError, match=r"sagemaker-runtime-lite\[sigv4a\]"):
        sign_v4a(SignableRequest("GET", "https://example.amazonaws.com/"), params)


def test_import_sigv4_does_not_import_cryptography() -> None:
    import subprocess

    code = (
        "import sys; sys.modules['cryptography'] = None\nimport sigv4, sigv4._sigv4a\nprint('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
