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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sigv4 import (
    Credentials,
    PathNormalization,
    PayloadHashHeader,
    SessionTokenMode,
    SignableRequest,
    SignatureLocation,
    SigningError,
    SigningParams,
    SigningResult,
    SigningSettings,
)
from sigv4._sigv4a import (
    derive_v4a_private_key,
    region_set_value,
    sign_v4a,
    v4a_public_key_xy,
    verify_v4a_signature,
)

pytest.importorskip(
    "cryptography",
    reason="SigV4a needs the optional 'cryptography' package "
    "(pip install 'sagemaker-runtime-lite[sigv4a]')",
)

SUITE = Path(__file__).resolve().parents[1].parent / "shared" / "aws-signing-test-suite"
V4A = SUITE / "v4a"
EXPECTED_CASE_COUNT = 40
MODES = ("header", "query")
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


@dataclass(frozen=True)
class RawRequest:
    """A request as written in ``request.txt``: the request line's parts, the header
    lines as written after the first ``:`` (continuation lines joined with ``\\n``) and the
    body."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def parse_request(raw: bytes) -> RawRequest:
    head_bytes, separator, body = raw.partition(b"\n\n")
    if not separator:
        head_bytes, body = raw.rstrip(b"\n"), b""
    request_line, *header_lines = head_bytes.decode("utf-8").split("\n")
    method, rest = request_line.split(" ", 1)
    target, version = rest.rsplit(" ", 1)
    headers: list[tuple[str, str]] = []
    for line in header_lines:
        if line[:1] in (" ", "\t"):  # a folded continuation of the header before
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
        else:
            name, colon, value = line.partition(":")
            assert colon, f"header line without ':': {line!r}"
            headers.append((name, value))
    return RawRequest(method, target, version, tuple(headers), body)


def load_case(case: str) -> tuple[RawRequest, dict[str, Any]]:
    folder = V4A / case
    context: dict[str, Any] = json.loads((folder / "context.json").read_text("utf-8"))
    return parse_request((folder / "request.txt").read_bytes()), context


def params_for(context: dict[str, Any], mode: str) -> SigningParams:
    creds = context["credentials"]
    settings = SigningSettings(
        signature_location=(
            SignatureLocation.HEADERS if mode == "header" else SignatureLocation.QUERY_STRING
        ),
        path_normalization=(
            PathNormalization.NORMALIZE if context["normalize"] else PathNormalization.KEEP
        ),
        session_token=(
            SessionTokenMode.AFTER_SIGNING
            if context.get("omit_session_token", False)
            else SessionTokenMode.SIGNED
        ),
        payload_hash_header=(
            PayloadHashHeader.INCLUDE if context.get("sign_body", False) else PayloadHashHeader.OMIT
        ),
        expires_in=int(context.get("expiration_in_seconds", 900)),
    )
    return SigningParams(
        credentials=Credentials(
            creds["access_key_id"], creds["secret_access_key"], session_token=creds.get("token")
        ),
        region=context["region"],
        service=context["service"],
        time=datetime.strptime(context["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc
        ),
        settings=settings,
    )


def signed_request_text(raw: RawRequest, result: SigningResult, mode: str) -> str:
    """The signed request as the suite writes it: the request line (plus the signing query
    parameters in query mode), the original headers, the signer's headers, a blank line
    and the body."""
    target = raw.target
    if mode == "query":
        added = "&".join(f"{name}={value}" for name, value in result.query)
        target = f"{target}{'&' if '?' in target else '?'}{added}"
    lines = [f"{raw.method} {target} {raw.version}"]
    lines += [f"{name}:{value}" for name, value in raw.headers]
    lines += [f"{name}:{value}" for name, value in result.headers]
    return "\n".join(lines) + "\n\n" + raw.body.decode("utf-8")


def read_expected(case: str, mode: str, step: str) -> str:
    text = (V4A / case / f"{mode}-{step}.txt").read_text("utf-8")
    return text[:-1] if text.endswith("\n") and step != "signed-request" else text


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
        raw, _ = load_case(case)
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
    vanilla_context = load_case("get-vanilla")[1]
    for case in HAND_DERIVED:
        assert load_case(case)[1] == vanilla_context, f"{case} no longer matches get-vanilla"


@needs_suite
@pytest.mark.parametrize("case", CASES)
def test_derived_public_key_matches_the_suite(case: str) -> None:
    _, context = load_case(case)
    credentials = params_for(context, "header").credentials
    assert v4a_public_key_xy(credentials) == suite_public_key(case)


@needs_suite
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_conformance(case: str, mode: str) -> None:
    raw, context = load_case(case)
    params = params_for(context, mode)
    request = SignableRequest(
        method=raw.method, url=raw.target, headers=list(raw.headers), body=raw.body
    )
    result = sign_v4a(request, params)

    assert str(result.canonical_request) == expected(case, mode, "canonical-request"), (
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
    assert "x-amz-region-set:us-east-1,us-west-2\n" in str(result.canonical_request)
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
    assert "x-amz-region-set:us-west-2\n" in str(result.canonical_request)
    assert "eu-west-1" not in str(result.canonical_request)


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
    assert "SECRET-TOKEN" in str(result.canonical_request)
    assert "SECRET-TOKEN" not in repr(result.canonical_request) + repr(params)


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
