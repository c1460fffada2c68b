"""The signer's own rules, beyond the official suite: it never mutates its input, never shows a
secret, refuses bad input naming the field, hashes payloads in bounded chunks, and derives
(and caches) the signing key as documented."""

from __future__ import annotations

import hashlib
import hmac
import io
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from sigv4 import (
    EMPTY_SHA256,
    STREAMING_EVENTS_PAYLOAD,
    UNSIGNED_PAYLOAD,
    Credentials,
    PayloadHashHeader,
    SignableRequest,
    SignatureLocation,
    SigningError,
    SigningParams,
    SigningSettings,
    credential_scope,
    derive_signing_key,
    hash_payload,
    sign,
    sign_with_algorithm,
)
from tests.sigv4.helpers import (
    AKID,
    SECRET,
    T0,
    TOKEN,
    URL,
    canonical_lines,
    params,
)

# --------------------------------------------------------------------------- purity


def test_sign_does_not_mutate_its_inputs() -> None:
    headers = [("Content-Type", "application/json"), ("X-Amz-Date", "20000101T000000Z")]
    headers_before = list(headers)
    body = io.BytesIO(b"xx{}")
    body.seek(2)
    request = SignableRequest(method="POST", url=URL, headers=headers, body=body)
    request_before = repr(request)

    first = sign(request, params())
    second = sign(request, params())

    assert headers == headers_before
    assert body.tell() == 2
    assert repr(request) == request_before
    assert first == second, "signing the same input twice must give the same result"
    # The stale X-Amz-Date of the input is not signed: the result carries the new one.
    assert ("X-Amz-Date", "20261128T030405Z") in first.headers
    assert "x-amz-date:20261128T030405Z" in canonical_lines(first)
    assert first.canonical_request.payload_hash == hashlib.sha256(b"{}").hexdigest()


def test_mapping_headers_are_accepted_and_left_alone() -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    request = SignableRequest(method="POST", url=URL, headers=headers, body=b"{}")
    result = sign(request, params())
    assert headers == {"Content-Type": "application/json", "Accept": "application/json"}
    assert result.canonical_request.signed_headers == (
        "accept;content-type;host;x-amz-date;x-amz-security-token"
    )


def test_header_mode_and_query_mode_outputs() -> None:
    request = SignableRequest(method="GET", url=URL + "?a=1#frag")
    in_headers = sign(request, params())
    assert in_headers.query == ()
    assert [name for name, _ in in_headers.headers] == [
        "X-Amz-Security-Token",
        "X-Amz-Date",
        "Authorization",
    ]

    presign = SigningSettings(signature_location=SignatureLocation.QUERY_STRING, expires_in=60)
    in_query = sign(request, params(settings=presign))
    assert in_query.headers == ()
    names = [name for name, _ in in_query.query]
    assert names[-1] == "X-Amz-Signature"
    assert dict(in_query.query)["X-Amz-Expires"] == "60"
    assert dict(in_query.query)["X-Amz-Signature"] == in_query.signature
    url = in_query.signed_url(URL + "?a=1#frag")
    assert url.startswith(URL + "?a=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    assert url.endswith(f"&X-Amz-Signature={in_query.signature}#frag")


def test_time_is_converted_to_utc_and_truncated_to_seconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 11, 28, 5, 4, 5, 999999, tzinfo=plus_two)
    result = sign(SignableRequest(method="GET", url=URL), params(time=local))
    assert dict(result.headers)["X-Amz-Date"] == "20261128T030405Z"
    assert result == sign(SignableRequest(method="GET", url=URL), params(time=T0))


# --------------------------------------------------------------------------- secrets


def test_credentials_repr_and_str_hide_secret_and_token() -> None:
    creds = Credentials(AKID, SECRET, session_token=TOKEN, expiration=T0)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert AKID in text
        assert SECRET not in text
        assert TOKEN not in text


def test_signing_outputs_never_show_secrets_in_repr() -> None:
    creds = Credentials(AKID, SECRET, session_token=TOKEN)
    result = sign(SignableRequest(method="GET", url=URL), params(creds))
    texts = {
        "repr(SigningResult)": repr(result),
        "str(SigningResult)": str(result),
        "repr(CanonicalRequest)": repr(result.canonical_request),
        "repr(SigningParams)": repr(params(creds)),
    }
    for where, text in texts.items():
        assert SECRET not in text, f"{where} shows the secret key"
        assert TOKEN not in text, f"{where} shows the session token"
        assert result.signature not in text, f"{where} shows the signature"


def test_redacted_canonical_request_hides_the_session_token() -> None:
    header_mode = sign(SignableRequest(method="GET", url=URL), params())
    assert f"x-amz-security-token:{TOKEN}" in canonical_lines(header_mode)
    redacted = header_mode.canonical_request.redacted()
    assert TOKEN not in redacted
    assert "x-amz-security-token:***" in redacted.split("\n")

    presign = SigningSettings(signature_location=SignatureLocation.QUERY_STRING)
    query_mode = sign(SignableRequest(method="GET", url=URL), params(settings=presign))
    encoded_token = dict(query_mode.query)["X-Amz-Security-Token"]
    assert f"X-Amz-Security-Token={encoded_token}" in query_mode.canonical_request.text
    redacted = query_mode.canonical_request.redacted()
    assert encoded_token not in redacted
    assert "X-Amz-Security-Token=***" in redacted


def test_errors_never_carry_the_secret() -> None:
    with pytest.raises(SigningError) as info:
        Credentials(AKID, SECRET, session_token=TOKEN, expiration=datetime(2030, 1, 1))
    assert info.value.field == "expiration"
    assert SECRET not in str(info.value)
    assert TOKEN not in str(info.value)


# --------------------------------------------------------------------------- bad input


def _naive() -> SigningParams:
    return SigningParams(Credentials(AKID, SECRET), "us-east-1", "sagemaker", datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Credentials("", SECRET), "access_key_id"),
        (lambda: Credentials(AKID, ""), "secret_access_key"),
        (lambda: SigningParams(Credentials(AKID, SECRET), "", "sagemaker", T0), "region"),
        (lambda: SigningParams(Credentials(AKID, SECRET), "us east 1", "sagemaker", T0), "region"),
        (lambda: SigningParams(Credentials(AKID, SECRET), "us-east-1", "", T0), "service"),
        (lambda: SigningParams(Credentials(AKID, SECRET), "us-east-1", "a/b", T0), "service"),
        (_naive, "time"),
        (lambda: SignableRequest(method="", url=URL), "method"),
        (lambda: SignableRequest(method="GET /", url=URL), "method"),
        (lambda: SignableRequest(method="GET", url=URL, payload_hash=""), "payload_hash"),
        (lambda: SigningSettings(expires_in=0), "expires_in"),
        (lambda: SigningSettings(expires_in=7 * 24 * 3600 + 1), "expires_in"),
        (lambda: SigningSettings(signature_location="query"), "signature_location"),  # type: ignore[arg-type]
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_parameters_name_the_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(SigningError) as info:
        make()
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ([("X-Tëst", "1")], "X-Tëst"),
        ([("X:Test", "1")], "X:Test"),
        ([("X Test", "1")], "X Test"),
        ([(" X-Test", "1")], " X-Test"),
        ([("", "1")], "''"),
        ([("X-Test", "a\r\nInjected: 1")], "X-Test"),
        ([("X-Test", "a\nb")], "X-Test"),
        ([("X-Test", "a\rb")], "X-Test"),
    ],
)
def test_bad_headers_are_rejected(headers: list[tuple[str, str]], fragment: str) -> None:
    request = SignableRequest(method="GET", url=URL, headers=headers)
    with pytest.raises(SigningError) as info:
        sign(request, params())
    assert info.value.field == "headers"
    assert fragment in str(info.value)


def test_folded_header_value_is_accepted_and_folded() -> None:
    request = SignableRequest(method="GET", url=URL, headers=[("X-Test", "a\n  b\n\tc")])
    assert "x-test:a b c" in canonical_lines(sign(request, params()))


@pytest.mark.parametrize("url", ["", "example.com/path", "/path-without-a-host-header"])
def test_bad_url_is_rejected(url: str) -> None:
    with pytest.raises(SigningError) as info:
        sign(SignableRequest(method="GET", url=url), params())
    assert info.value.field == "url"


def test_any_token_method_is_accepted() -> None:
    result = sign(SignableRequest(method="PROPFIND", url=URL), params())
    assert canonical_lines(result)[0] == "PROPFIND"


def test_excluded_headers_setting_is_case_insensitive() -> None:
    settings = SigningSettings(excluded_headers=frozenset({"X-Volatile"}))
    request = SignableRequest(method="GET", url=URL, headers=[("x-volatile", "1"), ("X-Kept", "2")])
    result = sign(request, params(settings=settings))
    assert result.canonical_request.signed_headers.split(";") == [
        "host",
        "x-amz-date",
        "x-amz-security-token",
        "x-kept",
    ]


# --------------------------------------------------------------------------- payload hashing

DATA = bytes(range(256)) * 40


def test_hash_payload_of_bytes_like() -> None:
    expected = hashlib.sha256(DATA).hexdigest()
    assert hash_payload(DATA) == expected
    assert hash_payload(bytearray(DATA)) == expected
    assert hash_payload(memoryview(DATA)) == expected
    assert hash_payload(b"") == EMPTY_SHA256 == hashlib.sha256(b"").hexdigest()


def test_hash_payload_of_seekable_file_from_its_position() -> None:
    stream = io.BytesIO(DATA)
    stream.seek(1000)
    assert hash_payload(stream) == hashlib.sha256(DATA[1000:]).hexdigest()
    assert stream.tell() == 1000, "the file position must be restored"


def test_hash_payload_of_chunks() -> None:
    def chunks() -> Iterator[bytes]:
        yield DATA[:7]
        yield b""
        yield DATA[7:]

    assert hash_payload(chunks()) == hashlib.sha256(DATA).hexdigest()
    assert hash_payload([DATA[:3], DATA[3:]]) == hashlib.sha256(DATA).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [pytest.param("text", id="str"), pytest.param(["a", "b"], id="str-chunks")],
)
def test_hash_payload_rejects_text(bad: Any) -> None:
    with pytest.raises(SigningError) as info:
        hash_payload(bad)
    assert info.value.field == "body"


def test_hash_payload_rejects_unseekable_file() -> None:
    class Unseekable(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    with pytest.raises(SigningError) as info:
        hash_payload(Unseekable())
    assert info.value.field == "body"


MAX_READ = 1024 * 1024


class BoundedReader(io.BufferedReader):
    """A file that fails the test if it is asked for everything at once."""

    reads: list[int]

    def read(self, size: int | None = -1, /) -> bytes:
        assert size is not None, "read() with no size reads everything at once"
        assert 0 < size <= MAX_READ, f"read({size}) is not a bounded chunk"
        self.reads.append(size)
        return super().read(size)


def test_hashing_a_large_file_reads_bounded_chunks(tmp_path: Path) -> None:
    path = tmp_path / "body.bin"
    data = bytes(range(256)) * (6 * 1024 * 1024 // 256)  # 6 MiB, the InvokeEndpoint maximum
    path.write_bytes(data)
    with BoundedReader(io.FileIO(path, "rb")) as stream:
        stream.reads = []
        assert hash_payload(stream) == hashlib.sha256(data).hexdigest()
        assert len(stream.reads) >= 6
        assert stream.tell() == 0


@pytest.mark.parametrize("line", [UNSIGNED_PAYLOAD, STREAMING_EVENTS_PAYLOAD])
def test_special_payload_hash_lines(line: str) -> None:
    assert line in ("UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-EVENTS")
    settings = SigningSettings(payload_hash_header=PayloadHashHeader.INCLUDE)
    request = SignableRequest(method="POST", url=URL, body=b"not hashed", payload_hash=line)
    result = sign(request, params(settings=settings))
    lines = canonical_lines(result)
    assert lines[-1] == line
    assert f"x-amz-content-sha256:{line}" in lines
    assert ("x-amz-content-sha256", line) in result.headers
    assert "x-amz-content-sha256" in result.canonical_request.signed_headers.split(";")


def test_payload_hash_header_is_omitted_by_default() -> None:
    result = sign(SignableRequest(method="POST", url=URL, body=b"{}"), params())
    assert all(name.lower() != "x-amz-content-sha256" for name, _ in result.headers)
    assert canonical_lines(result)[-1] == hashlib.sha256(b"{}").hexdigest()


# --------------------------------------------------------------------------- signing key


def test_signing_key_matches_the_documented_example() -> None:
    # The worked example of AWS's "deriving a signing key" documentation (IAM, 2015-08-30).
    key = derive_signing_key(Credentials(AKID, SECRET), "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_signing_key_is_cached_per_secret_date_region_and_service() -> None:
    creds = Credentials(AKID, "secret-" + uuid.uuid4().hex)  # fresh: not in the cache yet
    with mock.patch.object(hmac, "digest", wraps=hmac.digest) as spy:
        key = derive_signing_key(creds, "20261128", "us-east-1", "sagemaker")
        derivations = spy.call_count
        again = derive_signing_key(creds, "20261128", "us-east-1", "sagemaker")
        assert spy.call_count == derivations, "the second derivation must come from the cache"
    assert derivations == 4, "kDate, kRegion, kService, kSigning"
    assert again == key
    others = {
        derive_signing_key(creds, "20261129", "us-east-1", "sagemaker"),
        derive_signing_key(creds, "20261128", "eu-west-1", "sagemaker"),
        derive_signing_key(creds, "20261128", "us-east-1", "s3"),
        derive_signing_key(Credentials(AKID, "other-secret"), "20261128", "us-east-1", "sagemaker"),
    }
    assert key not in others
    assert len(others) == 4


@pytest.mark.parametrize("location", list(SignatureLocation))
def test_sign_with_algorithm_is_sign_given_sigv4s_steps(location: SignatureLocation) -> None:
    # The public hook for algorithms that share SigV4's canonicalization: given SigV4's
    # own name, scope and HMAC it must give exactly what sign gives.
    settings = SigningSettings(signature_location=location)
    request = SignableRequest("POST", URL, [("Content-Type", "application/json")], b"{}")
    key = derive_signing_key(Credentials(AKID, SECRET), "20261128", "us-east-1", "sagemaker")
    result = sign_with_algorithm(
        request,
        params(settings=settings),
        algorithm="AWS4-HMAC-SHA256",
        scope=credential_scope("20261128", "us-east-1", "sagemaker"),
        region_set=None,
        compute=lambda text: hmac.new(key, text.encode(), hashlib.sha256).hexdigest(),
    )
    expected = sign(request, params(settings=settings))
    assert (result.headers, result.query, result.signature) == (
        expected.headers,
        expected.query,
        expected.signature,
    )
    assert result.string_to_sign == expected.string_to_sign


def test_sign_with_algorithm_sends_the_region_set_and_takes_an_explicit_date() -> None:
    result = sign_with_algorithm(
        SignableRequest("GET", URL),
        params(),
        algorithm="TEST-ALGORITHM",
        scope="20200101/sagemaker/aws4_request",
        region_set="us-*",
        compute=lambda text: hashlib.sha256(text.encode()).hexdigest(),
        amz_date="20200101T000000Z",
    )
    headers = dict(result.headers)
    assert headers["X-Amz-Date"] == "20200101T000000Z"
    assert headers["X-Amz-Region-Set"] == "us-*"
    assert result.string_to_sign.split("\n")[:3] == [
        "TEST-ALGORITHM",
        "20200101T000000Z",
        "20200101/sagemaker/aws4_request",
    ]
    assert result.signature == hashlib.sha256(result.string_to_sign.encode()).hexdigest()
    assert headers["Authorization"].startswith(
        f"TEST-ALGORITHM Credential={AKID}/20200101/sagemaker/aws4_request, "
    )
