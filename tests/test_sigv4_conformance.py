"""The official AWS SigV4 conformance suite, in header and in query (presigned) mode.

Each case folder of ``../shared/aws-signing-test-suite/v4/`` holds a raw request, its
signing context and the expected canonical request, string to sign, signature and signed
request for both modes. The steps are checked in that order so that a failure names the
first step that went wrong (the way smithy-rs's ``aws-sigv4`` tests do).
"""

from __future__ import annotations

import json
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
    SigningParams,
    SigningResult,
    SigningSettings,
    sign,
)

SUITE = Path(__file__).resolve().parents[1].parent / "shared" / "aws-signing-test-suite"
V4 = SUITE / "v4"
EXPECTED_CASE_COUNT = 38
MODES = ("header", "query")

if not V4.is_dir():
    pytest.skip(
        f"AWS signing test suite not found: looked for {V4} "
        "(place aws-c-auth's tests/aws-signing-test-suite next to the repository as "
        "../shared/aws-signing-test-suite)",
        allow_module_level=True,
    )

CASES = sorted(path.name for path in V4.iterdir() if (path / "request.txt").is_file())


@dataclass(frozen=True)
class RawRequest:
    """A request as written in ``request.txt``.

    ``target`` is the request-target as on the request line (path and optional query,
    unencoded where the file has it so); header values are kept exactly as written after
    the first ``:``, leading whitespace and folded continuation lines included.
    """

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def parse_request(raw: bytes) -> RawRequest:
    """Parse ``METHOD TARGET VERSION``, ``Name:value`` lines (with continuation lines
    that start with whitespace), a blank line and the body."""
    head_bytes, separator, body = raw.partition(b"\n\n")
    if not separator:
        head_bytes, body = raw.rstrip(b"\n"), b""
    head = head_bytes.decode("utf-8")
    assert "\r" not in head, "request.txt lines are expected to end with LF only"
    request_line, *header_lines = head.split("\n")
    method, rest = request_line.split(" ", 1)
    target, version = rest.rsplit(" ", 1)
    headers: list[tuple[str, str]] = []
    for line in header_lines:
        if line[:1] in (" ", "\t"):
            assert headers, f"continuation line with no header before it: {line!r}"
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
            continue
        name, colon, value = line.partition(":")
        assert colon, f"header line without ':': {line!r}"
        headers.append((name, value))
    return RawRequest(method, target, version, tuple(headers), body)


def load_case(case: str) -> tuple[RawRequest, dict[str, Any]]:
    folder = V4 / case
    context: dict[str, Any] = json.loads((folder / "context.json").read_text("utf-8"))
    return parse_request((folder / "request.txt").read_bytes()), context


def params_for(context: dict[str, Any], mode: str) -> SigningParams:
    creds = context["credentials"]
    credentials = Credentials(
        creds["access_key_id"], creds["secret_access_key"], session_token=creds.get("token")
    )
    time = datetime.strptime(context["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    )
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
        # Given in both modes: a presigned URL carries no headers, so in query mode the
        # signer must leave x-amz-content-sha256 out (the suite expects it there only in
        # header mode; the body hash is still the canonical request's last line).
        payload_hash_header=(
            PayloadHashHeader.INCLUDE if context.get("sign_body", False) else PayloadHashHeader.OMIT
        ),
        expires_in=int(context.get("expiration_in_seconds", 900)),
    )
    return SigningParams(
        credentials=credentials,
        region=context["region"],
        service=context["service"],
        time=time,
        settings=settings,
    )


def signed_request_text(raw: RawRequest, result: SigningResult, mode: str) -> str:
    """Rebuild the signed request the way the suite writes it: the original request line
    (plus the signing query parameters in query mode), the original headers in order,
    the signer's headers in order, a blank line and the body."""
    target = raw.target
    if mode == "query":
        added = "&".join(f"{name}={value}" for name, value in result.query)
        target = f"{target}{'&' if '?' in target else '?'}{added}"
    lines = [f"{raw.method} {target} {raw.version}"]
    lines += [f"{name}:{value}" for name, value in raw.headers]
    lines += [f"{name}:{value}" for name, value in result.headers]
    return "\n".join(lines) + "\n\n" + raw.body.decode("utf-8")


def expected(case: str, mode: str, step: str) -> str:
    text = (V4 / case / f"{mode}-{step}.txt").read_text("utf-8")
    return text[:-1] if text.endswith("\n") and step != "signed-request" else text


def test_suite_has_every_case() -> None:
    assert len(CASES) == EXPECTED_CASE_COUNT, (
        f"expected {EXPECTED_CASE_COUNT} SigV4 cases under {V4}, found {len(CASES)}: {CASES}"
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_conformance(case: str, mode: str) -> None:
    raw, context = load_case(case)
    request = SignableRequest(
        method=raw.method, url=raw.target, headers=list(raw.headers), body=raw.body
    )
    result = sign(request, params_for(context, mode))

    assert str(result.canonical_request) == expected(case, mode, "canonical-request"), (
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
