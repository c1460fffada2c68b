"""The receiving end of the event-stream signature chain: ``sigv4.EventChainVerifier``.

The verifier takes the outer message's parts (``:date`` as received, ``:chunk-signature``,
payload) and must hash the ``:date`` header exactly as it came: AWS's own signers send it
with real milliseconds while the string to sign names whole seconds. The reference
signer below is written from the protocol description with ``hmac`` (independently of
``sigv4``) and signs the way those SDKs do.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from datetime import datetime, timedelta, timezone

import pytest

from sigv4 import (
    Credentials,
    EventChainVerifier,
    EventSigner,
    SignatureCheckError,
    SigningError,
    SigningParams,
    encode_date_header,
    sign_event,
    verify_event_chain,
)

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
REGION, SERVICE = "us-west-2", "sagemaker"
SEED = hashlib.sha256(b"the request's signature").hexdigest()
T0 = datetime(2025, 10, 1, 23, 59, 58, 250_000, tzinfo=timezone.utc)
PAYLOADS = [b"inner message 0", b"inner message 1", b""]


def reference_signature(prior: str, date_header: bytes, payload: bytes) -> bytes:
    """An event signature as AWS's SDKs compute it: ``date_header`` hashed as sent (with
    its milliseconds), the string to sign in whole seconds."""
    millis = struct.unpack(">q", date_header[7:])[0]
    t = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=millis)
    amz_date, date = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
    key = ("AWS4" + CREDS.secret_access_key).encode()
    for part in (date, REGION, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            amz_date,
            f"{date}/{REGION}/{SERVICE}/aws4_request",
            prior,
            hashlib.sha256(date_header).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def date_header_ms(time: datetime) -> bytes:
    millis = (time - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)
    return b"\x05:date\x08" + struct.pack(">q", millis)


def sdk_chain(times: list[datetime]) -> list[tuple[bytes, bytes, bytes]]:
    """``(:date bytes, :chunk-signature, payload)`` of each message, as an AWS SDK sends."""
    messages, prior = [], SEED
    for payload, time in zip(PAYLOADS, times, strict=True):
        header = date_header_ms(time)
        signature = reference_signature(prior, header, payload)
        messages.append((header, signature, payload))
        prior = signature.hex()
    return messages


TIMES = [T0, T0 + timedelta(milliseconds=999), T0 + timedelta(seconds=2, milliseconds=7)]


def verifier() -> EventChainVerifier:
    return EventChainVerifier(SEED, CREDS, REGION, SERVICE)


def check_refused(
    verify: EventChainVerifier,
    parts: tuple[object, object, bytes],
    code: str,
    status: int,
    text: str,
    **kw: object,
) -> None:
    count, prior = verify.count, verify.prior_signature
    with pytest.raises(SignatureCheckError) as info:
        verify.verify(*parts, **kw)  # type: ignore[arg-type]
    assert (info.value.code, info.value.status) == (code, status)
    assert text in info.value.message
    assert CREDS.secret_access_key not in str(info.value)
    # A refused message does not advance the chain.
    assert (verify.count, verify.prior_signature, verify.ended) == (count, prior, False)


# --- good chains ---------------------------------------------------------------------------


def test_a_chain_from_our_signer_verifies_with_dates_as_bytes_or_datetimes() -> None:
    signer = EventSigner(SEED, CREDS, REGION, SERVICE)
    signed = [signer.sign(payload, time) for payload, time in zip(PAYLOADS, TIMES, strict=True)]
    for as_bytes in (True, False):
        check = verifier()
        results = [
            check.verify(event.date_header if as_bytes else event.time, event.signature, payload)
            for event, payload in zip(signed, PAYLOADS, strict=True)
        ]
        assert results == [PAYLOADS[0], PAYLOADS[1], None]
        assert check.ended
        assert check.count == 3
        assert check.prior_signature == signer.prior_signature


def test_an_aws_sdk_chain_with_milliseconds_verifies() -> None:
    check = verifier()
    messages = sdk_chain(TIMES)
    assert [check.verify(*message) for message in messages] == [PAYLOADS[0], PAYLOADS[1], None]
    assert check.ended
    # The same, given the decoded timestamps (what an event-stream decoder hands out).
    decoded = verifier()
    for (_, signature, payload), time in zip(messages, TIMES, strict=True):
        decoded.verify(time, signature, payload)
    assert decoded.ended


def test_the_old_truncating_verification_would_refuse_an_aws_sdk_event() -> None:
    # What the verifier of runtime_client._bidi_events did: decode :date, re-sign at that
    # time with sign_event, which truncates to whole seconds before encoding :date.
    header, signature, payload = sdk_chain(TIMES)[0]
    old = sign_event(payload, SEED, SigningParams(CREDS, REGION, SERVICE, TIMES[0]))
    assert old.string_to_sign.split("\n")[1] == "20251001T235958Z"  # same whole seconds
    assert old.date_header != header  # ... but :date hashed without its 250 ms
    assert old.signature != signature
    assert verifier().verify(header, signature, payload) == payload


def test_our_signer_with_milliseconds_signs_as_aws_sdks_do() -> None:
    signer = EventSigner(SEED, CREDS, REGION, SERVICE, milliseconds=True)
    reference = sdk_chain(TIMES)
    for (header, signature, payload), time in zip(reference, TIMES, strict=True):
        event = signer.sign(payload, time)
        assert event.time == time
        assert event.date_header == header == encode_date_header(time, milliseconds=True)
        assert event.signature == signature
        assert event.headers == ((":chunk-signature", signature), (":date", time))
    once = sign_event(
        PAYLOADS[0], SEED, SigningParams(CREDS, REGION, SERVICE, TIMES[0]), milliseconds=True
    )
    assert once.signature == reference[0][1]


def test_sub_millisecond_digits_are_dropped_as_the_wire_drops_them() -> None:
    precise = T0 + timedelta(microseconds=999)
    assert encode_date_header(precise, milliseconds=True) == date_header_ms(T0)
    _, signature, payload = sdk_chain(TIMES)[0]
    assert verifier().verify(precise, signature, payload) == payload
    # Before the epoch the milliseconds round down too (a negative int64).
    early = datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=timezone.utc)
    assert encode_date_header(early, milliseconds=True)[7:] == struct.pack(">q", -1)
    assert encode_date_header(early)[7:] == struct.pack(">q", -1000)


def test_verify_event_chain_helper() -> None:
    payloads, ended = verify_event_chain(SEED, sdk_chain(TIMES), CREDS, REGION, SERVICE)
    assert (payloads, ended) == (PAYLOADS[:2], True)
    payloads, ended = verify_event_chain(SEED, sdk_chain(TIMES)[:2], CREDS, REGION, SERVICE)
    assert (payloads, ended) == (PAYLOADS[:2], False)
    swapped = sdk_chain(TIMES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(SignatureCheckError, match="message 0 does not match"):
        verify_event_chain(SEED, swapped, CREDS, REGION, SERVICE)


# --- refusals ------------------------------------------------------------------------------


def test_swapped_messages_are_refused() -> None:
    first, second, _ = sdk_chain(TIMES)
    check = verifier()
    check_refused(
        check, second, "InvalidSignatureException", 403, "the :chunk-signature of message 0"
    )
    assert check.verify(*first) == PAYLOADS[0]
    check_refused(check, first, "InvalidSignatureException", 403, "message 1 does not match")


def test_tampered_payload_is_refused_and_the_message_shows_the_expected_string() -> None:
    header, signature, _ = sdk_chain(TIMES)[0]
    check_refused(
        verifier(),
        (header, signature, b"inner message X"),
        "InvalidSignatureException",
        403,
        "The String-to-Sign should have been\n'AWS4-HMAC-SHA256-PAYLOAD\n20251001T235958Z\n"
        f"20251001/{REGION}/{SERVICE}/aws4_request\n{SEED}\n",
    )


@pytest.mark.parametrize("shift", [timedelta(milliseconds=1), timedelta(seconds=1)])
def test_tampered_date_is_refused(shift: timedelta) -> None:
    _, signature, payload = sdk_chain(TIMES)[0]
    for date in (date_header_ms(TIMES[0] + shift), TIMES[0] - shift):
        check_refused(
            verifier(),
            (date, signature, payload),
            "InvalidSignatureException",
            403,
            "does not match",
        )


def test_wrong_seed_credentials_region_or_service_are_refused() -> None:
    message = sdk_chain(TIMES)[0]
    for check in (
        EventChainVerifier("0" * 64, CREDS, REGION, SERVICE),
        EventChainVerifier(SEED, Credentials(CREDS.access_key_id, "another"), REGION, SERVICE),
        EventChainVerifier(SEED, CREDS, "us-east-1", SERVICE),
        EventChainVerifier(SEED, CREDS, REGION, "transcribe"),
    ):
        check_refused(check, message, "InvalidSignatureException", 403, "message 0 does not match")


def test_a_message_after_the_end_is_refused() -> None:
    check = verifier()
    for message in sdk_chain(TIMES):
        check.verify(*message)
    assert check.ended
    header, _, _ = sdk_chain(TIMES)[2]
    after = (header, reference_signature(check.prior_signature, header, b""), b"")
    with pytest.raises(SignatureCheckError) as info:
        check.verify(*after)
    assert (info.value.code, info.value.status) == ("InvalidSignatureException", 400)
    assert "message 3 followed the end of the stream" in info.value.message
    assert check.count == 3


@pytest.mark.parametrize(
    ("date", "text"),
    [
        (None, "lacks a timestamp :date header (it is missing)"),
        ("20251001T235958Z", "(it is of type str)"),
        (1_759_363_198_250, "(it is of type int)"),
        (datetime(2025, 10, 1, 23, 59, 58), "(it is a datetime without a time zone)"),
        (b"\x05:date\x08" + b"\x00" * 7, "must be encoded as 15 bytes"),
        (b"\x05:date\x07" + b"\x00" * 8, "must be encoded as 15 bytes"),  # a string header
        (b"\x05:data\x08" + b"\x00" * 8, "must be encoded as 15 bytes"),
        (b"\x05:date\x08" + struct.pack(">q", 2**62), "out of range"),
    ],
    ids=repr,
)
def test_missing_or_mistyped_date_is_incomplete(date: object, text: str) -> None:
    _, signature, payload = sdk_chain(TIMES)[0]
    check_refused(verifier(), (date, signature, payload), "IncompleteSignatureException", 400, text)


@pytest.mark.parametrize(
    ("signature", "text"),
    [
        (None, "lacks a :chunk-signature of 32 bytes (it is missing)"),
        (b"\x00" * 31, "(it is 31 bytes)"),
        ("00" * 32, "(it is of type str)"),
    ],
    ids=repr,
)
def test_missing_or_mistyped_signature_is_incomplete(signature: object, text: str) -> None:
    header, _, payload = sdk_chain(TIMES)[0]
    check_refused(
        verifier(), (header, signature, payload), "IncompleteSignatureException", 400, text
    )


def test_clock_tolerance() -> None:
    message = sdk_chain(TIMES)[0]
    five = timedelta(minutes=5)
    assert verifier().verify(*message, now=TIMES[0] + five) == PAYLOADS[0]
    assert verifier().verify(*message, now=TIMES[0] - five) == PAYLOADS[0]
    check_refused(
        verifier(),
        message,
        "InvalidSignatureException",
        403,
        "Signature expired: message 0 is dated 20251001T235958Z, the server's time is "
        "20251002T000458Z (tolerance 300 s)",
        now=TIMES[0] + five + timedelta(milliseconds=1),
    )
    check_refused(
        verifier(),
        message,
        "InvalidSignatureException",
        403,
        "Signature not yet current: message 0",
        now=TIMES[0] - timedelta(seconds=11),
        tolerance=timedelta(seconds=10),
    )
    with pytest.raises(SigningError, match="timezone-aware") as info:
        verifier().verify(*message, now=datetime(2025, 10, 1))
    assert info.value.field == "now"


def test_bad_local_input_is_a_signing_error() -> None:
    header, signature, _ = sdk_chain(TIMES)[0]
    with pytest.raises(SigningError, match="must be bytes") as info:
        verifier().verify(header, signature, "text")  # type: ignore[arg-type]
    assert info.value.field == "payload"
    for args, field in (
        (("A" * 64, CREDS, REGION, SERVICE), "prior_signature"),
        ((SEED, "creds", REGION, SERVICE), "credentials"),
        ((SEED, CREDS, "", SERVICE), "region"),
        ((SEED, CREDS, REGION, None), "service"),
    ):
        with pytest.raises(SigningError) as info:
            EventChainVerifier(*args)
        assert info.value.field == field


def test_repr_hides_the_chain() -> None:
    check = verifier()
    check.verify(*sdk_chain(TIMES)[0])
    text = repr(check)
    assert (
        text == f"EventChainVerifier(region={REGION!r}, service={SERVICE!r}, count=1, ended=False)"
    )
    assert SEED not in text
    assert check.prior_signature not in text
