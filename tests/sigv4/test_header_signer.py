"""``HeaderSigner`` (the hot path) gives exactly what ``sign`` (the reference) gives."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sigv4 import (
    Credentials,
    HeaderSigner,
    SignableRequest,
    SigningParams,
    SigningSettings,
    canonical_uri,
    format_amz_date,
    sign,
)

HOST = "runtime.sagemaker.eu-west-1.amazonaws.com"
_NAMES = st.sampled_from(
    ["Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes", "x-custom", "User-Agent"]
)
_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
_SEGMENTS = st.text("abcXYZ019-_.~ %/", min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
    segment=_SEGMENTS,
    token=st.none() | st.text("abc+/=", min_size=1, max_size=20),
    seconds=st.integers(0, 2_000_000_000),
    payload=st.sampled_from(["UNSIGNED-PAYLOAD", "e3b0c442" * 8]),
)
def test_the_same_headers_as_sign(
    headers: list[tuple[str, str]], segment: str, token: str | None, seconds: int, payload: str
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret/key", session_token=token)
    when = datetime.fromtimestamp(seconds, timezone.utc)
    path = "/endpoints/" + segment.replace("%", "%25") + "/invocations"
    pairs = [("Host", HOST), *headers]
    reference = sign(
        SignableRequest("POST", f"https://{HOST}{path}", pairs, payload_hash=payload),
        SigningParams(credentials, "eu-west-1", "sagemaker", when),
    )
    defaults = SigningSettings()
    uri = canonical_uri(path, defaults.path_normalization, defaults.percent_encoding)
    fast = HeaderSigner(credentials, "eu-west-1", "sagemaker")
    assert fast.sign("POST", uri, pairs, payload, format_amz_date(when)) == list(reference.headers)


def test_the_repr_shows_no_secret() -> None:
    credentials = Credentials("AKIDEXAMPLE", "very-secret", session_token="tok-secret")
    text = repr(HeaderSigner(credentials, "us-east-1", "sagemaker"))
    assert "very-secret" not in text
    assert "tok-secret" not in text


_SHARED = HeaderSigner(Credentials("AKIDEXAMPLE", "secret/key"), "eu-west-1", "sagemaker")


@settings(max_examples=200, deadline=None)
@given(seconds=st.lists(st.integers(0, 2_000_000_000), min_size=1, max_size=5))
def test_one_signer_across_days_signs_as_sign(seconds: list[int]) -> None:
    """The signer keeps its day's key: a new day (or an older one) gets its own key."""
    pairs = [("Host", HOST), ("Content-Type", "application/json")]
    for second in [*seconds, *seconds[::-1]]:
        when = datetime.fromtimestamp(second, timezone.utc)
        reference = sign(
            SignableRequest("POST", f"https://{HOST}/", pairs, payload_hash="UNSIGNED-PAYLOAD"),
            SigningParams(_SHARED.credentials, "eu-west-1", "sagemaker", when),
        )
        signed = _SHARED.sign("POST", "/", pairs, "UNSIGNED-PAYLOAD", format_amz_date(when))
        assert signed == list(reference.headers)


@settings(max_examples=300, deadline=None)
@given(
    calls=st.lists(
        st.lists(st.tuples(st.sampled_from(["Accept", "X-A", "x-a", "User-Agent"]), _VALUES)),
        min_size=1,
        max_size=4,
    )
)
def test_one_signer_with_changing_values_and_names(calls: list[list[tuple[str, str]]]) -> None:
    """The layout kept per set of names gives what sign() gives, call after call, for
    repeated names, excluded ones (User-Agent) and values with runs of blanks."""
    when = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    for headers in [*calls, *calls]:
        pairs = [("Host", HOST), *headers]
        reference = sign(
            SignableRequest("POST", f"https://{HOST}/", pairs, payload_hash="UNSIGNED-PAYLOAD"),
            SigningParams(_SHARED.credentials, "eu-west-1", "sagemaker", when),
        )
        signed = _SHARED.sign("POST", "/", pairs, "UNSIGNED-PAYLOAD", format_amz_date(when))
        assert signed == list(reference.headers)


@settings(max_examples=300, deadline=None)
@given(
    times=st.lists(
        st.tuples(
            st.integers(-2_000_000_000, 4_000_000_000),
            st.integers(0, 999_999),
            st.integers(-14 * 60, 14 * 60),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_format_amz_date_is_the_utc_second_whatever_came_before(
    times: list[tuple[int, int, int]],
) -> None:
    """``format_amz_date`` keeps the text of the last second: any sequence of times (the
    same second in other zones, the moments either side of a second) gives each its own."""
    from datetime import timedelta

    for seconds, micro, offset in [*times, *times[::-1]]:
        zone = timezone(timedelta(minutes=offset))
        when = datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=micro)
        expected = when.strftime("%Y%m%dT%H%M%SZ")
        assert format_amz_date(when.astimezone(zone)) == expected
        assert format_amz_date(when) == expected
