"""Differential tests: our signer against botocore's ``SigV4Auth`` (a test-only oracle).

Both signers get the same wire URL, the same headers, body, credentials and time, and
must produce the same ``Authorization``, ``X-Amz-Date`` and ``X-Amz-Security-Token``.
The inputs aim at the corners of canonicalization: dot segments and empty segments in
the path, characters that are encoded once on the wire and again in the canonical URI,
repeated and empty query keys and values, repeated headers and odd whitespace.

The URL is built the way an HTTP client puts it on the wire: each path segment
percent-encoded (httpx leaves the RFC 3986 sub-delimiters, ``:`` and ``@`` as they are),
and the query already in SigV4's canonical encoding, so that the two signers, which
take the wire form in different ways, see the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from unittest import mock
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth as BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigv4 import Credentials, SignableRequest, SigningParams, SigningResult, sign

HOST = "runtime.sagemaker.us-east-1.amazonaws.com"
SERVICE = "sagemaker"

# Characters httpx keeps unencoded in a path segment (its PATH_SAFE without '/' and '%',
# so that a generated '/' or '%' inside a segment is sent as %2F or %25).
_WIRE_SEGMENT_SAFE = "".join(chr(i) for i in range(0x21, 0x7F) if chr(i) not in '"#<>?`{}/%')


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    credentials: Credentials
    region: str
    time: datetime


def botocore_sign(case: Case) -> dict[str, str]:
    """Sign with botocore, its clock frozen at ``case.time``; return the headers it added."""
    request = AWSRequest(method=case.method, url=case.url, data=case.body)
    for name, value in case.headers:
        request.headers[name] = value  # HTTPHeaders appends: repeated names are kept
    creds = case.credentials
    signer = BotocoreSigV4Auth(
        BotocoreCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        SERVICE,
        case.region,
    )
    naive_utc = case.time.astimezone(timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive_utc):
        signer.add_auth(request)
    wanted = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
    return {name: request.headers[name] for name in wanted if name in request.headers}


def our_sign(case: Case) -> tuple[dict[str, str], SigningResult]:
    request = SignableRequest(
        method=case.method, url=case.url, headers=list(case.headers), body=case.body
    )
    params = SigningParams(
        credentials=case.credentials, region=case.region, service=SERVICE, time=case.time
    )
    result = sign(request, params)
    canonical_names = {"authorization": "Authorization", "x-amz-date": "X-Amz-Date"}
    canonical_names["x-amz-security-token"] = "X-Amz-Security-Token"
    added = {
        canonical_names[name.lower()]: value
        for name, value in result.headers
        if name.lower() in canonical_names
    }
    return added, result


def assert_same_signature(case: Case) -> SigningResult:
    theirs = botocore_sign(case)
    ours, result = our_sign(case)
    assert ours == theirs, (
        f"signers disagree for {case.method} {case.url!r} headers={case.headers!r}\n"
        f"our canonical request:\n{result.canonical_request.redacted()}"
    )
    return result


# --------------------------------------------------------------------------- strategies

_unicode = st.characters(min_codepoint=0xA0, max_codepoint=0x10FFFF, codec="utf-8")
_path_char = st.one_of(
    st.sampled_from(list("abcXYZ019-_.~ +%/!$&'()*,;=:@[]|^\\")),
    _unicode,
)
_segment = st.one_of(
    st.sampled_from(["", ".", "..", "a", "%2F", "x y"]),
    st.text(_path_char, min_size=1, max_size=8),
)


@st.composite
def wire_paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(_segment, max_size=6))
    wire = "/" + "/".join(quote(segment, safe=_WIRE_SEGMENT_SAFE) for segment in segments)
    if draw(st.booleans()):
        wire += "/"
    return wire


_query_text = st.text(
    st.one_of(st.sampled_from(list("aZ09-_.~ +%&=/?")), _unicode), min_size=0, max_size=6
)


@st.composite
def wire_queries(draw: st.DrawFn) -> str:
    keys = draw(st.lists(_query_text.filter(bool), min_size=1, max_size=3, unique=True))
    pieces = []
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from(keys))  # few keys, so repeats are common
        value = draw(_query_text)
        encoded = quote(key, safe="-_.~")
        if value or draw(st.booleans()):  # sometimes "k=" and sometimes a bare "k"
            encoded += "=" + quote(value, safe="-_.~")
        pieces.append(encoded)
    return "&".join(pieces)


_header_name = st.text(
    st.sampled_from(list("abcdefghijklmnopqrstuvwxyz0123456789-")), min_size=1, max_size=10
).map(lambda suffix: "x-test-" + suffix)
_header_value = st.lists(
    st.one_of(
        st.sampled_from([" ", "   ", "\t", " \t "]),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=4),
    ),
    max_size=6,
).map("".join)


def _recase(name: str, flips: Sequence[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=False))


@st.composite
def header_lists(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    names = draw(st.lists(_header_name, min_size=1, max_size=3, unique=True))
    headers = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(names))
        flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
        headers.append((_recase(name, flips), draw(_header_value)))
    return tuple(headers)


_times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(timezone.utc),
)
_credentials = st.builds(
    Credentials,
    access_key_id=st.text(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), min_size=16, max_size=20
    ),
    secret_access_key=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
    ),
    session_token=st.one_of(
        st.none(),
        st.text(
            st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
            min_size=1,
            max_size=64,
        ),
    ),
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    path = draw(wire_paths())
    query = draw(wire_queries())
    url = f"https://{HOST}{path}" + (f"?{query}" if query else "")
    headers = draw(header_lists())
    if draw(st.booleans()):  # an explicit Host header, else both derive it from the URL
        headers = (("Host", HOST), *headers)
    return Case(
        method=draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])),
        url=url,
        headers=headers,
        body=draw(st.binary(max_size=2048)),
        credentials=draw(_credentials),
        region=draw(
            st.sampled_from(
                ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
            )
        ),
        time=draw(_times),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_same_signature_as_botocore(case: Case) -> None:
    assert_same_signature(case)


# --------------------------------------------------------------------------- examples

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
T0 = datetime(2026, 11, 28, 3, 4, 5, 678901, tzinfo=timezone.utc)


def example(
    path: str,
    *,
    query: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    token: str | None = "session-token",
) -> Case:
    return Case(
        method="POST",
        url=f"https://{HOST}{path}" + (f"?{query}" if query else ""),
        headers=headers,
        body=b'{"inputs": "hello"}',
        credentials=Credentials(AKID, SECRET, session_token=token),
        region="us-east-1",
        time=T0,
    )


def canonical_line(result: SigningResult, index: int) -> str:
    return result.canonical_request.text.split("\n")[index]


@pytest.mark.parametrize(
    ("path", "canonical_uri"),
    [
        ("/a/./b/../c//d", "/a/c/d"),
        ("/a/./b/../c//d/", "/a/c/d/"),
        ("/../..", "/"),
        ("", "/"),
        ("/endpoints/a%2Fb/invocations", "/endpoints/a%252Fb/invocations"),
        ("/a+b/%25/c%20d", "/a%2Bb/%2525/c%2520d"),
        ("/%E1%88%B4", "/%25E1%2588%25B4"),
        ("/a:b@c!$&'()*,;=", "/a%3Ab%40c%21%24%26%27%28%29%2A%2C%3B%3D"),
    ],
)
def test_tricky_paths(path: str, canonical_uri: str) -> None:
    result = assert_same_signature(example(path))
    assert canonical_line(result, 1) == canonical_uri


@pytest.mark.parametrize(
    ("query", "canonical_query"),
    [
        ("b=2&a=1&a=0", "a=0&a=1&b=2"),
        ("empty=&bare", "bare=&empty="),
        ("%E1%88%B4=%F0%9F%98%80&Z=%20%2B", "%E1%88%B4=%F0%9F%98%80&Z=%20%2B"),
    ],
)
def test_tricky_queries(query: str, canonical_query: str) -> None:
    result = assert_same_signature(example("/", query=query))
    assert canonical_line(result, 2) == canonical_query


def test_header_whitespace_and_repeats() -> None:
    headers = (
        ("X-Test-Spaces", "  a   b  "),
        ("x-test-repeat", "one"),
        ("X-TEST-REPEAT", " two  words "),
        ("X-Test-Tab", "\tx\t\ty\t"),
        ("X-Test-Empty", ""),
    )
    result = assert_same_signature(example("/", headers=headers))
    lines = result.canonical_request.text.split("\n")
    assert "x-test-spaces:a b" in lines
    assert "x-test-repeat:one,two words" in lines
    assert "x-test-tab:x y" in lines
    assert "x-test-empty:" in lines


def test_without_session_token() -> None:
    ours, _ = our_sign(example("/", token=None))
    assert "X-Amz-Security-Token" not in ours
    assert_same_signature(example("/", token=None))


@pytest.mark.parametrize("name", ["User-Agent", "X-Amzn-Trace-Id", "Expect", "Transfer-Encoding"])
def test_both_leave_volatile_headers_unsigned(name: str) -> None:
    plain = example("/endpoints/e/invocations")
    with_header = example("/endpoints/e/invocations", headers=((name, "some value"),))
    ours_plain, _ = our_sign(plain)
    ours_with, result = our_sign(with_header)
    assert ours_with == ours_plain, f"{name} changed our signature"
    assert botocore_sign(with_header) == botocore_sign(plain), f"{name} changed botocore's"
    assert name.lower() not in result.canonical_request.signed_headers.split(";")
    assert ours_with == botocore_sign(with_header)


def test_lower_case_method_is_signed_upper_case() -> None:
    # httpx and botocore both send the method upper-cased, so that is what must be signed.
    result = assert_same_signature(replace(example("/"), method="post"))
    assert canonical_line(result, 0) == "POST"


def test_host_taken_from_url_is_lower_cased() -> None:
    # Host names are case-insensitive and httpx sends the Host header lower-cased.
    case = replace(example("/"), url="https://Runtime.SageMaker.us-east-1.amazonaws.com/")
    result = assert_same_signature(case)
    assert f"host:{HOST}" in result.canonical_request.text.split("\n")
