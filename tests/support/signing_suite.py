"""Reading the AWS signing test suite (aws-c-auth's ``tests/aws-signing-test-suite``),
shared by the SigV4 and SigV4a conformance tests.

Each case folder holds a raw request (``request.txt``), its signing context
(``context.json``) and, per mode (``header`` or ``query``), the expected texts of each
signing step (``{mode}-{step}.txt``).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
)

__all__ = [
    "MODES",
    "SUITE",
    "RawRequest",
    "load_case",
    "params_for",
    "parse_request",
    "read_expected",
    "signable_request",
    "signed_request_text",
]


def _find_suite() -> Path:
    """``../shared/aws-signing-test-suite`` beside the repository; ``AWS_SIGNING_TEST_SUITE``
    names another place. A clone made elsewhere (CI clones main into a fresh directory)
    finds it beside the repository it was cloned from."""
    named = os.environ.get("AWS_SIGNING_TEST_SUITE")
    if named:
        return Path(named)
    repo = Path(__file__).resolve().parents[2]
    beside = repo.parent / "shared" / "aws-signing-test-suite"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(repo), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        cloned_from = Path(origin).resolve().parent / "shared" / "aws-signing-test-suite"
        if cloned_from.is_dir():
            return cloned_from
    return beside  # absent: the conformance tests skip, naming this place


SUITE = _find_suite()
MODES = ("header", "query")


@dataclass(frozen=True)
class RawRequest:
    """A request as written in ``request.txt``.

    ``target`` is the request-target as on the request line (path and optional query,
    unencoded where the file has it so); header values are kept exactly as written after
    the first ``:``, leading whitespace and folded continuation lines (joined with
    ``\\n``) included.
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
        if line[:1] in (" ", "\t"):  # a folded continuation of the header before
            assert headers, f"continuation line with no header before it: {line!r}"
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
            continue
        name, colon, value = line.partition(":")
        assert colon, f"header line without ':': {line!r}"
        headers.append((name, value))
    return RawRequest(method, target, version, tuple(headers), body)


def signable_request(raw: RawRequest) -> SignableRequest:
    """The request of ``request.txt`` as the signer takes it."""
    return SignableRequest(
        method=raw.method, url=raw.target, headers=list(raw.headers), body=raw.body
    )


def load_case(root: Path, case: str) -> tuple[RawRequest, dict[str, Any]]:
    """The parsed ``request.txt`` and the ``context.json`` of ``root / case``."""
    folder = root / case
    context: dict[str, Any] = json.loads((folder / "context.json").read_text("utf-8"))
    return parse_request((folder / "request.txt").read_bytes()), context


def params_for(context: dict[str, Any], mode: str) -> SigningParams:
    """The signing parameters a case's ``context.json`` describes, for ``mode``."""
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


def read_expected(root: Path, case: str, mode: str, step: str) -> str:
    """The suite's ``{mode}-{step}.txt`` of ``root / case``, without the final newline
    (kept for ``signed-request``, whose body it may end)."""
    text = (root / case / f"{mode}-{step}.txt").read_text("utf-8")
    return text[:-1] if text.endswith("\n") and step != "signed-request" else text
