"""The official AWS SigV4 conformance suite, in header and in query (presigned) mode.

Each case folder of ``../shared/aws-signing-test-suite/v4/`` holds a raw request, its
signing context and the expected canonical request, string to sign, signature and signed
request for both modes. The steps are checked in that order so that a failure names the
first step that went wrong (the way smithy-rs's ``aws-sigv4`` tests do).
"""

from __future__ import annotations

import pytest

from sigv4 import sign
from tests.support.signing_suite import (
    MODES,
    SUITE,
    load_case,
    params_for,
    read_expected,
    signable_request,
    signed_request_text,
)

V4 = SUITE / "v4"
EXPECTED_CASE_COUNT = 38

if not V4.is_dir():
    pytest.skip(
        f"AWS signing test suite not found: looked for {V4} "
        "(place aws-c-auth's tests/aws-signing-test-suite next to the repository as "
        "../shared/aws-signing-test-suite)",
        allow_module_level=True,
    )

CASES = sorted(path.name for path in V4.iterdir() if (path / "request.txt").is_file())


def expected(case: str, mode: str, step: str) -> str:
    return read_expected(V4, case, mode, step)


def test_suite_has_every_case() -> None:
    assert len(CASES) == EXPECTED_CASE_COUNT, (
        f"expected {EXPECTED_CASE_COUNT} SigV4 cases under {V4}, found {len(CASES)}: {CASES}"
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_conformance(case: str, mode: str) -> None:
    raw, context = load_case(V4, case)
    request = signable_request(raw)
    result = sign(request, params_for(context, mode))

    assert result.canonical_request.text == expected(case, mode, "canonical-request"), (
        f"step 1 (canonical request) differs for {case} in {mode} mode"
    )
    assert result.string_to_sign == expected(case, mode, "string-to-sign"), (
        f"step 2 (string to sign) differs for {case} in {mode} mode"
    )
    assert result.signature == expected(case, mode, "signature"), (
        f"step 3 (signature) differs for {case} in {mode} mode"
    )
    assert signed_request_text(raw, result, mode) == expected(case, mode, "signed-request"), (
        f"step 4 (signed request) differs for {case} in {mode} mode"
    )
