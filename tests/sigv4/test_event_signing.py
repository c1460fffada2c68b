"""Event-stream message signing (``AWS4-HMAC-SHA256-PAYLOAD``), against published vectors
and an independent computation.

Where the vectors come from (inputs and expected outputs reproduced here, test code ours):

* smithy-rs, ``aws/rust-runtime/aws-sigv4/src/event_stream.rs``, tests ``string_to_sign``
  and ``sign`` (repository smithy-lang/smithy-rs, Apache-2.0): an inner message with one
  string header ``some-header: value`` and payload ``test payload``, signed at
  ``UNIX_EPOCH + 123456789 s + 1234 ns`` in ``us-east-1`` for ``testservice``, after the
  prior signature ``hex(sha256("last message sts"))``. It publishes the exact string to
  sign, which pins the ``:date`` header encoding (its hash is the fifth line), the scope
  and the whole-seconds truncation. Its ``sign`` test checks the outer headers, not a
  signature value.
* aws-sdk-go (v1), ``aws/signer/v4/stream_test.go``, ``TestStreamingChunkSigner``
  (repository aws/aws-sdk-go, Apache-2.0): two chunks with literal header bytes
  ``headers`` / ``more headers`` and payloads ``payload`` / ``more payload``, chained from
  the seed ``9d9ab996...8de2`` at 2019-01-27T22:37:54Z in ``us-east-1`` for ``transcribe``
  with the ``AKIDEXAMPLE`` key pair; it publishes both signatures, which pins the HMAC chain.

Together they cover every line of the string to sign and the signature; a third test
recomputes a whole chain with ``hmac`` written out here, independently of ``sigv4``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from datetime import datetime, timedelta, timezone

import pytest

from sigv4 import (
    STREAMING_EVENTS_PAYLOAD,
    Credentials,
    SignableRequest,
    SigningError,
    SigningParams,
    derive_signing_key,
    sign,
)
from sigv4._eventsign import (
    EventSigner,
    SignedEvent,
    encode_date_header,
    event_signature,
    event_string_to_sign,
    sign_event,
)

EXAMPLE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def encode_message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """A minimal event-stream encoder (string headers only), enough to build the inner
    message of the smithy-rs vector without depending on the project's codec."""
    block = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers
    )
    prelude = struct.pack(">II", 12 + len(block) + len(payload) + 4, len(block))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + block + payload
    return body + struct.pack(">I", zlib.crc32(body))


# --- smithy-rs vector ---------------------------------------------------------------------

SMITHY_TIME = EPOCH + timedelta(seconds=123_456_789, microseconds=1)  # + 1234 ns, truncated
SMITHY_PRIOR = hashlib.sha256(b"last message sts").hexdigest()
SMITHY_STRING_TO_SIGN = (
    "AWS4-HMAC-SHA256-PAYLOAD\n"
    "19731129T213309Z\n"
    "19731129/us-east-1/testservice/aws4_request\n"
    "be1f8c7d79ef8e1abc5254a2c70e4da3bfaf4f07328f527444e1fc6ea67273e2\n"
    "0c0e3b3bf66b59b976181bd7d401927bbd624107303c713fd1e5f3d3c8dd1b1e\n"
    "f2eba0f2e95967ee9fbc6db5e678d2fd599229c0d04b11e4fc8e0f2a02a806c6"
)


def smithy_signed() -> SignedEvent:
    inner = encode_message([("some-header", "value")], b"test payload")
    params = SigningParams(
        Credentials("ANOTREAL", "notrealrnrELgWzOk3IfjzDKtFBhDby"),
        "us-east-1",
        "testservice",
        SMITHY_TIME,
    )
    return sign_event(inner, SMITHY_PRIOR, params)


def test_smithy_rs_string_to_sign() -> None:
    assert smithy_signed().string_to_sign == SMITHY_STRING_TO_SIGN


def test_smithy_rs_outer_headers() -> None:
    signed = smithy_signed()
    (sig_name, sig_value), (date_name, date_value) = signed.headers
    assert sig_name == ":chunk-signature"
    assert sig_value == signed.signature
    assert isinstance(sig_value, bytes)
    assert len(sig_value) == 32
    assert sig_value.hex() == signed.signature_hex
    assert date_name == ":date"
    assert date_value == EPOCH + timedelta(seconds=123_456_789)  # sub-seconds dropped
    assert signed.time == date_value


# --- aws-sdk-go vector ----------------------------------------------------------------------


def test_aws_sdk_go_chunk_signatures() -> None:
    key = derive_signing_key(EXAMPLE, "20190127", "us-east-1", "transcribe")
    scope = "20190127/us-east-1/transcribe/aws4_request"
    prior = "9d9ab996c81f32c9d4e6fc166c92584f3741d1cb5ce325cd11a77d1f962c8de2"
    expected = [
        (
            b"headers",
            b"payload",
            "681a7eaa82891536f24af7ec7e9219ee251ccd9bac2f1b981eab7c5ec8579115",
        ),
        (
            b"more headers",
            b"more payload",
            "07633d9d4ab4d81634a2164934d1f648c7cbc6839a8cf0773d818127a267e4d6",
        ),
    ]
    for headers, payload, signature in expected:
        text = event_string_to_sign("20190127T223754Z", scope, prior, headers, payload)
        prior = event_signature(key, text).hex()
        assert prior == signature


# --- independent recomputation ----------------------------------------------------------------


def reference_chain(seed: str, payloads: list[bytes], times: list[datetime]) -> list[str]:
    """The chain computed from the protocol description alone."""
    signatures = []
    prior = seed
    for payload, time in zip(payloads, times, strict=True):
        t = time.astimezone(timezone.utc)
        amz_date, date = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
        key = ("AWS4" + EXAMPLE.secret_access_key).encode()
        for part in (date, "us-west-2", "sagemaker", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        millis = int(t.replace(microsecond=0).timestamp()) * 1000
        date_header = bytes([5]) + b":date" + bytes([8]) + struct.pack(">q", millis)
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date,
                f"{date}/us-west-2/sagemaker/aws4_request",
                prior,
                hashlib.sha256(date_header).hexdigest(),
                hashlib.sha256(payload).hexdigest(),
            ]
        )
        prior = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        signatures.append(prior)
    return signatures


def test_event_signer_chain_matches_an_independent_computation() -> None:
    request_time = datetime(2025, 10, 1, 23, 59, 58, 750_000, tzinfo=timezone.utc)
    params = SigningParams(EXAMPLE, "us-west-2", "sagemaker", request_time)
    request = SignableRequest(
        "POST",
        "https://runtime.sagemaker.us-west-2.amazonaws.com:8443/endpoints/e/invocations-bidirectional-stream",
        headers=[("content-type", "application/vnd.amazon.eventstream")],
        payload_hash=STREAMING_EVENTS_PAYLOAD,
    )
    seed = sign(request, params).signature
    payloads = [encode_message([(":event-type", "PayloadPart")], b"x" * n) for n in (0, 1, 300)]
    payloads.append(b"")  # the end-of-input message
    # The last two cross midnight: their scope takes the event's date, not the request's.
    times = [request_time + timedelta(milliseconds=ms) for ms in (0, 999, 1_250, 2_000)]

    signer = EventSigner.from_request(params, seed)
    assert signer.prior_signature == seed
    signed = [signer.sign(payload, time) for payload, time in zip(payloads, times, strict=True)]

    assert [event.signature_hex for event in signed] == reference_chain(seed, payloads, times)
    assert signer.prior_signature == signed[-1].signature_hex
    assert signed[2].string_to_sign.split("\n")[1:3] == [
        "20251002T000000Z",
        "20251002/us-west-2/sagemaker/aws4_request",
    ]
    # sign_event is the same step without the chain holder.
    later = SigningParams(EXAMPLE, "us-west-2", "sagemaker", times[1])
    again = sign_event(payloads[1], signed[0].signature_hex, later)
    assert again == signed[1]


def test_messages_signed_at_the_same_second_still_differ_by_chain() -> None:
    signer = EventSigner("0" * 64, EXAMPLE, "us-east-1", "sagemaker")
    time = datetime(2025, 1, 1, tzinfo=timezone.utc)
    first, second = signer.sign(b"same", time), signer.sign(b"same", time)
    assert first.signature != second.signature
    assert second.string_to_sign.split("\n")[3] == first.signature_hex


# --- the :date header -------------------------------------------------------------------------


def test_date_header_encoding_whole_seconds_any_timezone() -> None:
    utc = datetime(2015, 8, 30, 12, 36, 0, 999_999, tzinfo=timezone.utc)
    expected = b"\x05:date\x08" + (1_440_938_160_000).to_bytes(8, "big")
    assert encode_date_header(utc) == expected
    plus_two = utc.astimezone(timezone(timedelta(hours=2)))
    assert encode_date_header(plus_two) == expected
    assert len(expected) == 15


def test_date_before_the_epoch_is_a_negative_timestamp() -> None:
    assert encode_date_header(EPOCH - timedelta(seconds=1))[7:] == (-1000).to_bytes(
        8, "big", signed=True
    )


# --- input errors and secrets -----------------------------------------------------------------


@pytest.mark.parametrize("prior", ["", "A" * 64, "0" * 63, "0" * 65, "g" * 64, b"0" * 64], ids=repr)
def test_bad_prior_signature_is_refused_without_echoing_it(prior: object) -> None:
    signer_params = SigningParams(EXAMPLE, "us-east-1", "sagemaker", EPOCH)
    with pytest.raises(SigningError, match="64 lower-case hex digits") as info:
        sign_event(b"payload", prior, signer_params)  # type: ignore[arg-type]
    assert info.value.field == "prior_signature"
    if prior:
        assert str(prior) not in str(info.value)
    with pytest.raises(SigningError):
        EventSigner(prior, EXAMPLE, "us-east-1", "sagemaker")  # type: ignore[arg-type]


def test_bad_time_and_payload_are_refused() -> None:
    signer = EventSigner("0" * 64, EXAMPLE, "us-east-1", "sagemaker")
    with pytest.raises(SigningError, match="timezone-aware") as info:
        signer.sign(b"", datetime(2025, 1, 1))
    assert info.value.field == "time"
    with pytest.raises(SigningError, match="must be bytes") as info:
        signer.sign("text", datetime(2025, 1, 1, tzinfo=timezone.utc))  # type: ignore[arg-type]
    assert info.value.field == "payload"
    assert signer.prior_signature == "0" * 64  # a refused message does not advance the chain


def test_reprs_hide_signatures_and_secrets() -> None:
    signer = EventSigner("1" * 64, EXAMPLE, "us-east-1", "sagemaker")
    signed = signer.sign(b"payload", datetime(2025, 1, 1, tzinfo=timezone.utc))
    text = repr(signer) + repr(signed) + str(signed)
    for secret in ("1" * 64, signed.signature_hex, EXAMPLE.secret_access_key):
        assert secret not in text
    assert repr(signed.signature) not in text
