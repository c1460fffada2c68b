"""Signature verification: what a service (or our local emulator) accepts and refuses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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


def check_error(request: sigv4.SignableRequest, code: str, text: str, **kwargs: object) -> None:
    options: dict[str, object] = {"now": T0, **kwargs}
    secrets = options.pop("secrets", SECRETS)
    with pytest.raises(sigv4.SignatureCheckError) as info:
        sigv4.verify_request(request, secrets, **options)  # type: ignore[arg-type]
    assert info.value.code == code
    assert text in info.value.message
    assert "verify-secret" not in str(info.value)
    assert "verify-token" not in str(info.value)


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
