"""Signature verification: what a service (or our local emulator) accepts and refuses.

Every refusal ``verify_request`` can give has a test below that reaches exactly that
branch and checks the AWS code, the HTTP status and the message (the table in
``sigv4/_verify.py``'s docstring lists them). SigV4a has its own section; the official
suite's signed requests are verified in ``test_sigv4_verify_conformance.py``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.auth import SigV4Auth as BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

import sigv4

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
CREDS = sigv4.Credentials("AKIDVERIFY", "verify-secret", "verify-token")
SECRETS = {"AKIDVERIFY": "verify-secret"}
URL = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/my%20ep/invocations?x=1"
HEADERS = [
    ("Host", "runtime.sagemaker.us-east-1.amazonaws.com"),
    ("Content-Type", "application/json"),
    ("User-Agent", "test/1.0"),
]
BODY = b'{"inputs": "hello"}'


def signed(
    location: sigv4.SignatureLocation = sigv4.SignatureLocation.HEADERS,
    token_mode: sigv4.SessionTokenMode = sigv4.SessionTokenMode.SIGNED,
) -> sigv4.SignableRequest:
    settings = sigv4.SigningSettings(signature_location=location, session_token=token_mode)
    params = sigv4.SigningParams(CREDS, "us-east-1", "sagemaker", T0, settings)
    result = sigv4.sign(sigv4.SignableRequest("POST", URL, HEADERS, BODY), params)
    return sigv4.SignableRequest("POST", result.signed_url(URL), [*HEADERS, *result.headers], BODY)


@pytest.mark.parametrize("location", list(sigv4.SignatureLocation))
@pytest.mark.parametrize("token_mode", list(sigv4.SessionTokenMode))
def test_accepts_our_own_signatures(
    location: sigv4.SignatureLocation, token_mode: sigv4.SessionTokenMode
) -> None:
    verified = sigv4.verify_request(
        signed(location, token_mode),
        SECRETS,
        now=T0 + timedelta(minutes=4),
        service="sagemaker",
        settings=sigv4.SigningSettings(session_token=token_mode),
    )
    assert (verified.access_key_id, verified.region, verified.service) == (
        "AKIDVERIFY",
        "us-east-1",
        "sagemaker",
    )
    assert verified.time == T0
    assert "host" in verified.signed_headers


def test_accepts_botocore_signatures() -> None:
    request = AWSRequest("POST", URL, data=BODY, headers={"Content-Type": "application/json"})
    BotocoreSigV4Auth(
        BotocoreCredentials("AKIDVERIFY", "verify-secret", "verify-token"), "sagemaker", "us-east-1"
    ).add_auth(request)
    headers = [("Host", "runtime.sagemaker.us-east-1.amazonaws.com"), *request.headers.items()]
    now = datetime.now(timezone.utc)
    verified = sigv4.verify_request(
        sigv4.SignableRequest("POST", URL, headers, BODY), SECRETS, now=now
    )
    assert verified.signed_headers == ("content-type", "host", "x-amz-date", "x-amz-security-token")


STATUS = {
    "MissingAuthenticationTokenException": 403,
    "IncompleteSignatureException": 400,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "AccessDeniedException": 403,
}


def check_error(request: sigv4.SignableRequest, code: str, text: str, **kwargs: object) -> None:
    """``verify_request`` refuses ``request`` with ``code``, its status and ``text`` in the
    message, and shows no secret."""
    options: dict[str, object] = {"now": T0, **kwargs}
    secrets = options.pop("secrets", SECRETS)
    with pytest.raises(sigv4.SignatureCheckError) as info:
        sigv4.verify_request(request, secrets, **options)  # type: ignore[arg-type]
    assert info.value.code == code
    assert info.value.status == STATUS[code]
    assert text in info.value.message
    assert str(info.value) == f"signature: {code}: {info.value.message}"
    assert "verify-secret" not in str(info.value)
    assert "verify-token" not in str(info.value)


def with_header(request: sigv4.SignableRequest, name: str, value: str | None) -> Any:
    """``request`` with header ``name`` replaced by ``value`` (removed for None)."""
    headers = [(n, v) for n, v in request.header_pairs if n.lower() != name.lower()]
    if value is not None:
        headers.append((name, value))
    return sigv4.SignableRequest(request.method, request.url, headers, request.body)


def edit_authorization(request: sigv4.SignableRequest, pattern: str, replacement: str) -> Any:
    authorization = dict(request.header_pairs)["Authorization"]
    edited, count = re.subn(pattern, replacement, authorization)
    assert count == 1, f"{pattern!r} not found in {authorization!r}"
    return with_header(request, "Authorization", edited)


def edit_query(request: sigv4.SignableRequest, name: str, value: str | None) -> Any:
    """``request`` (presigned) with query parameter ``name`` set to ``value`` (removed for
    None)."""
    path, _, query = request.url.partition("?")
    pieces = [piece for piece in query.split("&") if piece.partition("=")[0] != name]
    if value is not None:
        pieces.insert(0, f"{name}={value}")
    url = f"{path}?{'&'.join(pieces)}"
    return sigv4.SignableRequest(request.method, url, request.headers, request.body)


def test_wrong_secret_is_refused() -> None:
    check_error(
        signed(), "InvalidSignatureException", "does not match", secrets={"AKIDVERIFY": "x"}
    )


def test_unknown_access_key_is_refused() -> None:
    check_error(signed(), "UnrecognizedClientException", "invalid", secrets={})


def test_tampered_body_is_refused_and_the_message_shows_the_expected_steps() -> None:
    good = signed()
    tampered = sigv4.SignableRequest(good.method, good.url, good.headers, b'{"inputs": "HELLO"}')
    check_error(tampered, "InvalidSignatureException", "The Canonical String for this request")


def test_tampered_header_is_refused() -> None:
    good = signed()
    headers = [(n, "text/plain" if n == "Content-Type" else v) for n, v in good.header_pairs]
    tampered = sigv4.SignableRequest("POST", good.url, headers, BODY)
    check_error(tampered, "InvalidSignatureException", "does not match")


def test_expired_and_future_signatures_are_refused_with_aws_wording() -> None:
    check_error(
        signed(),
        "InvalidSignatureException",
        "Signature expired: 20260304T050607Z is now earlier than 20260304T050707Z "
        "(20260304T051207Z - 5 min.)",
        now=T0 + timedelta(minutes=6),
    )
    check_error(
        signed(),
        "InvalidSignatureException",
        "Signature not yet current: 20260304T050607Z is still later than",
        now=T0 - timedelta(minutes=6),
    )


def test_wrong_service_scope_is_refused() -> None:
    check_error(signed(), "InvalidSignatureException", "scoped to correct service", service="s3")


def test_missing_authorization_is_refused() -> None:
    request = sigv4.SignableRequest("POST", URL, HEADERS, BODY)
    check_error(request, "MissingAuthenticationTokenException", "Missing Authentication Token")


def test_expired_presigned_url_is_refused() -> None:
    request = signed(sigv4.SignatureLocation.QUERY_STRING)
    check_error(
        request,
        "AccessDeniedException",
        "expired",
        now=T0 + timedelta(seconds=901),
        tolerance=timedelta(hours=1),
    )


# --- header-signed requests: each refusal -------------------------------------------------


def test_malformed_authorization_is_incomplete() -> None:
    request = edit_authorization(signed(), r", Signature=[0-9a-f]+", "")
    check_error(
        request,
        "IncompleteSignatureException",
        "Authorization header requires Credential, SignedHeaders and Signature",
    )


def test_authorization_without_x_amz_date_is_incomplete() -> None:
    request = with_header(signed(), "X-Amz-Date", None)
    check_error(
        request, "IncompleteSignatureException", "requires existence of a 'X-Amz-Date' header"
    )


def test_malformed_x_amz_date_is_incomplete() -> None:
    request = with_header(signed(), "X-Amz-Date", "2026-03-04T05:06:07Z")
    check_error(
        request,
        "IncompleteSignatureException",
        "X-Amz-Date '2026-03-04T05:06:07Z' is not YYYYMMDDTHHMMSSZ",
    )


def test_unsupported_algorithm_is_incomplete() -> None:
    request = edit_authorization(signed(), r"^AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 ")
    check_error(request, "IncompleteSignatureException", "unsupported algorithm 'AWS4-HMAC-SHA512'")


@pytest.mark.parametrize(
    "credential",
    [
        "AKIDVERIFY/20260304/us-east-1/sagemaker",
        "AKIDVERIFY/20260304/us-east-1/sagemaker/aws5_request",
        "AKIDVERIFY/20260304//sagemaker/aws4_request",
        "AKIDVERIFY/20260304/sagemaker/aws4_request",
    ],
)
def test_malformed_credential_is_incomplete(credential: str) -> None:
    request = edit_authorization(signed(), r"Credential=[^,]+", f"Credential={credential}")
    check_error(
        request,
        "IncompleteSignatureException",
        "Credential must be key/date/region/service/aws4_request",
    )


def test_wrong_region_scope_is_refused_when_the_verifier_has_a_region() -> None:
    check_error(
        signed(),
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'us-east-1'.",
        region="eu-west-1",
    )
    verified = sigv4.verify_request(signed(), SECRETS, now=T0, region="us-east-1")
    assert verified.region == "us-east-1"


def test_credential_date_other_than_x_amz_date_is_refused() -> None:
    request = edit_authorization(signed(), r"/20260304/", "/20260303/")
    check_error(
        request,
        "InvalidSignatureException",
        "Credential should be scoped to a valid date: '20260304'.",
    )


def test_host_must_be_signed() -> None:
    request = edit_authorization(
        signed(), r"SignedHeaders=content-type;host;", "SignedHeaders=content-type;"
    )
    check_error(request, "InvalidSignatureException", "'Host' must be a signed header")


@pytest.mark.parametrize(
    "listed",
    [
        "content-type;host;x-amz-date;x-amz-missing;x-amz-security-token",  # not sent
        "host;content-type;x-amz-date;x-amz-security-token",  # not sorted
        "Content-Type;host;x-amz-date;x-amz-security-token",  # not lower-case
    ],
)
def test_signed_headers_must_list_the_headers_as_sent(listed: str) -> None:
    request = edit_authorization(signed(), r"SignedHeaders=[^,]+", f"SignedHeaders={listed}")
    check_error(
        request,
        "InvalidSignatureException",
        f"SignedHeaders {listed!r} does not list the request's headers as sent",
    )


def test_an_unlisted_header_is_not_signed_and_may_change() -> None:
    # User-Agent is excluded from signing: the signature vouches for the listed headers only.
    request = with_header(signed(), "User-Agent", "another/2.0")
    verified = sigv4.verify_request(request, SECRETS, now=T0)
    assert "user-agent" not in verified.signed_headers


def test_verified_request_carries_the_signature_as_the_event_chain_seed() -> None:
    request = signed()
    verified = sigv4.verify_request(request, SECRETS, now=T0)
    authorization = dict(request.header_pairs)["Authorization"]
    assert authorization.endswith(f"Signature={verified.signature}")
    assert verified.algorithm == sigv4.ALGORITHM
    assert verified.region_set == ()
    assert verified.signature not in repr(verified)


def test_callable_secrets_and_a_naive_clock() -> None:
    asked: list[str] = []

    def lookup(key: str) -> str | None:
        asked.append(key)
        return SECRETS.get(key)

    sigv4.verify_request(signed(), lookup, now=T0)
    assert asked == ["AKIDVERIFY"]
    with pytest.raises(sigv4.SigningError, match="timezone-aware") as info:
        sigv4.verify_request(signed(), SECRETS, now=T0.replace(tzinfo=None))
    assert info.value.field == "now"
    assert not isinstance(info.value, sigv4.SignatureCheckError)


# --- presigned URLs: each refusal ----------------------------------------------------------


def presigned() -> sigv4.SignableRequest:
    return signed(sigv4.SignatureLocation.QUERY_STRING)


@pytest.mark.parametrize(
    "name",
    ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"],
)
def test_presigned_url_missing_a_parameter_is_incomplete(name: str) -> None:
    check_error(
        edit_query(presigned(), name, None),
        "IncompleteSignatureException",
        f"A presigned URL must include X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, "
        f"X-Amz-SignedHeaders, X-Amz-Expires and X-Amz-Signature; missing: {name}",
    )


@pytest.mark.parametrize("signature", ["", "%C3%A9", "ABCDEF", "12g4"])
def test_presigned_url_with_a_non_hex_signature_is_incomplete(signature: str) -> None:
    check_error(
        edit_query(presigned(), "X-Amz-Signature", signature),
        "IncompleteSignatureException",
        "X-Amz-Signature must be lower-case hex digits",
    )


@pytest.mark.parametrize("expires", ["0", "604801", "-1", "15m", "%20900"])
def test_presigned_url_with_a_bad_expiry_is_incomplete(expires: str) -> None:
    check_error(
        edit_query(presigned(), "X-Amz-Expires", expires),
        "IncompleteSignatureException",
        "X-Amz-Expires must be a whole number of seconds from 1 to 604800 (a week)",
    )


def test_presigned_url_is_valid_for_its_expiry_not_the_clock_tolerance() -> None:
    # Ten minutes after signing: past the 5-minute tolerance, within X-Amz-Expires (900 s).
    verified = sigv4.verify_request(presigned(), SECRETS, now=T0 + timedelta(minutes=10))
    assert verified.time == T0
    check_error(
        presigned(), "AccessDeniedException", "Request has expired", now=T0 + timedelta(seconds=901)
    )


def test_presigned_url_dated_in_the_future_is_refused() -> None:
    check_error(
        presigned(),
        "InvalidSignatureException",
        "Signature not yet current: 20260304T050607Z is still later than 20260304T050507Z",
        now=T0 - timedelta(minutes=6),
    )


def test_presigned_url_with_a_tampered_query_is_refused() -> None:
    check_error(edit_query(presigned(), "x", "2"), "InvalidSignatureException", "does not match")
    check_error(
        edit_query(presigned(), "X-Amz-Expires", "901"),
        "InvalidSignatureException",
        "does not match",
    )


def test_presigned_url_refusals_shared_with_header_signing() -> None:
    request = presigned()
    check_error(
        edit_query(request, "X-Amz-Algorithm", "AWS4-HMAC-SHA1"),
        "IncompleteSignatureException",
        "unsupported algorithm 'AWS4-HMAC-SHA1'",
    )
    check_error(
        edit_query(request, "X-Amz-Date", "20260304T0506Z"),
        "IncompleteSignatureException",
        "is not YYYYMMDDTHHMMSSZ",
    )
    check_error(
        edit_query(request, "X-Amz-SignedHeaders", "content-type"),
        "InvalidSignatureException",
        "'Host' must be a signed header",
    )
    check_error(
        edit_query(request, "X-Amz-SignedHeaders", "content-type%3Bhost%3Bx-amz-missing"),
        "InvalidSignatureException",
        "SignedHeaders 'content-type;host;x-amz-missing' does not list the request's headers",
    )
    # Fewer headers listed than signed: consistent, but not what the signature covers.
    check_error(
        edit_query(request, "X-Amz-SignedHeaders", "host"),
        "InvalidSignatureException",
        "does not match",
    )
    check_error(request, "UnrecognizedClientException", "invalid", secrets={})
    check_error(request, "InvalidSignatureException", "correct service", service="s3")


@pytest.mark.parametrize("token_mode", list(sigv4.SessionTokenMode))
def test_presigned_session_token_follows_the_verifiers_rule(
    token_mode: sigv4.SessionTokenMode,
) -> None:
    request = signed(sigv4.SignatureLocation.QUERY_STRING, token_mode)
    other = next(mode for mode in sigv4.SessionTokenMode if mode is not token_mode)
    settings = sigv4.SigningSettings(session_token=other)
    check_error(request, "InvalidSignatureException", "does not match", settings=settings)


# --- SigV4a --------------------------------------------------------------------------------

needs_cryptography = pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="SigV4a needs the optional 'cryptography' package (the sigv4a extra)",
)


def signed_v4a(
    location: sigv4.SignatureLocation = sigv4.SignatureLocation.HEADERS,
    region_set: str | list[str] = "us-east-1",
) -> sigv4.SignableRequest:
    settings = sigv4.SigningSettings(signature_location=location)
    params = sigv4.SigningParams(CREDS, "us-east-1", "sagemaker", T0, settings)
    result = sigv4.sign_v4a(sigv4.SignableRequest("POST", URL, HEADERS, BODY), params, region_set)
    return sigv4.SignableRequest("POST", result.signed_url(URL), [*HEADERS, *result.headers], BODY)


@needs_cryptography
@pytest.mark.parametrize("location", list(sigv4.SignatureLocation))
@pytest.mark.parametrize(
    "region_set",
    ["us-east-1", "*", "us-*", "eu-west-1,us-east-1", "*-east-*", ["eu-*", "us-east-*"]],
)
def test_accepts_sigv4a_for_a_region_its_region_set_covers(
    location: sigv4.SignatureLocation, region_set: str | list[str]
) -> None:
    verified = sigv4.verify_request(
        signed_v4a(location, region_set), SECRETS, now=T0, service="sagemaker", region="us-east-1"
    )
    assert verified.algorithm == sigv4.ALGORITHM_V4A
    assert verified.region == "us-east-1"
    assert verified.region_set == tuple(sigv4.region_set_value(region_set).split(","))
    assert verified.time == T0
    if location is sigv4.SignatureLocation.HEADERS:
        assert "x-amz-region-set" in verified.signed_headers


@needs_cryptography
@pytest.mark.parametrize("location", list(sigv4.SignatureLocation))
@pytest.mark.parametrize("region_set", ["eu-west-1", "eu-*", "us-east-2,us-west-*", "us-east-1*x"])
def test_sigv4a_region_set_must_cover_the_verifiers_region(
    location: sigv4.SignatureLocation, region_set: str
) -> None:
    check_error(
        signed_v4a(location, region_set),
        "InvalidSignatureException",
        f"The region set '{region_set}' of this request does not include 'us-east-1'.",
        region="us-east-1",
    )


@needs_cryptography
def test_sigv4a_without_a_verifier_region_is_unsupported() -> None:
    check_error(
        signed_v4a(),
        "IncompleteSignatureException",
        "unsupported algorithm 'AWS4-ECDSA-P256-SHA256': this verifier was given no region",
    )


@needs_cryptography
def test_sigv4a_without_cryptography_is_refused_not_an_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = signed_v4a()
    monkeypatch.setitem(sys.modules, "cryptography", None)
    check_error(
        request,
        "IncompleteSignatureException",
        "unsupported algorithm 'AWS4-ECDSA-P256-SHA256': SigV4a (AWS4-ECDSA-P256-SHA256) needs "
        "the 'cryptography' package; install it with: pip install 'sagemaker-runtime-lite[sigv4a]'",
        region="us-east-1",
    )


@needs_cryptography
def test_sigv4a_credential_has_no_region() -> None:
    request = edit_authorization(signed_v4a(), r"/20260304/", "/20260304/us-east-1/")
    check_error(
        request,
        "IncompleteSignatureException",
        "Credential must be key/date/service/aws4_request",
        region="us-east-1",
    )


@needs_cryptography
def test_sigv4a_needs_a_region_set() -> None:
    check_error(
        with_header(signed_v4a(), "X-Amz-Region-Set", None),
        "IncompleteSignatureException",
        "AWS4-ECDSA-P256-SHA256 requires X-Amz-Region-Set",
        region="us-east-1",
    )
    check_error(
        edit_query(
            signed_v4a(sigv4.SignatureLocation.QUERY_STRING), "X-Amz-Region-Set", "us-east-1,"
        ),
        "IncompleteSignatureException",
        "AWS4-ECDSA-P256-SHA256 requires X-Amz-Region-Set",
        region="us-east-1",
    )


@needs_cryptography
def test_sigv4a_region_set_header_must_be_signed() -> None:
    request = edit_authorization(signed_v4a(), r";x-amz-region-set", "")
    check_error(
        request,
        "InvalidSignatureException",
        "'X-Amz-Region-Set' must be a signed header",
        region="us-east-1",
    )


@needs_cryptography
def test_sigv4a_widened_region_set_breaks_the_signature() -> None:
    check_error(
        with_header(signed_v4a(), "X-Amz-Region-Set", "*"),
        "InvalidSignatureException",
        "The request signature we calculated does not match",
        region="us-east-1",
    )
    check_error(
        edit_query(signed_v4a(sigv4.SignatureLocation.QUERY_STRING), "X-Amz-Region-Set", "%2A"),
        "InvalidSignatureException",
        "The String-to-Sign should have been\n'AWS4-ECDSA-P256-SHA256\n20260304T050607Z\n"
        "20260304/sagemaker/aws4_request\n",
        region="us-east-1",
    )


@needs_cryptography
def test_sigv4a_wrong_secret_and_tampered_body_are_refused() -> None:
    check_error(
        signed_v4a(),
        "InvalidSignatureException",
        "does not match",
        region="us-east-1",
        secrets={"AKIDVERIFY": "another-secret"},
    )
    good = signed_v4a()
    tampered = sigv4.SignableRequest(good.method, good.url, good.headers, b"{}")
    check_error(tampered, "InvalidSignatureException", "does not match", region="us-east-1")


@needs_cryptography
def test_sigv4a_scope_checks_shared_with_sigv4() -> None:
    check_error(
        signed_v4a(),
        "InvalidSignatureException",
        "correct service",
        region="us-east-1",
        service="s3",
    )
    check_error(
        signed_v4a(), "UnrecognizedClientException", "invalid", region="us-east-1", secrets={}
    )
    check_error(
        signed_v4a(),
        "InvalidSignatureException",
        "Signature expired",
        region="us-east-1",
        now=T0 + timedelta(minutes=6),
    )
