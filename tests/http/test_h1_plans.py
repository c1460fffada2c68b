"""A request head of a shape seen before goes through its plan (``_h1_request``): the same
bytes, the same framing and the same errors as the full checks, for bytes and str fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime_client.http import H1Connection, LocalProtocolError
from runtime_client.http import _h1_request as h1_request
from tests.http.test_h1_differential import SETTINGS, edged_values, targets, tokens

Fields = list[tuple[bytes, bytes]]

SPECIAL_NAMES: tuple[bytes, ...] = (b"Host", b"host", b"Content-Length", b"content-length")
SPECIAL_NAMES += (b"Transfer-Encoding", b"Connection", b"Expect", b"X-%s%", b"%%", b"%")
names = st.one_of(tokens, st.sampled_from(SPECIAL_NAMES))
# what a value may be on a later call: fit to send, or anything (controls, CR LF, digits)
values = st.one_of(
    edged_values,
    edged_values,
    st.binary(max_size=10),
    st.sampled_from([b"12", b"x\r\nEvil: 1", b"1\n", b"a\x7f"]),
)
lengths = st.sampled_from([b"0", b"5", b"1" * 20, b"1" * 21, b"-2", b"5, 5", b"x\r\n"])
methods = st.sampled_from([b"POST", b"GET", b"M%s", b"POST", b"GET", b"CONNECT", b"G T"])
any_targets = st.one_of(targets, targets, targets, st.binary(max_size=8))


@pytest.fixture(autouse=True)
def no_plans() -> Iterator[None]:
    """Each test starts with no plan and leaves none behind."""
    h1_request._PLANS.clear()
    yield
    h1_request._PLANS.clear()


def outcome(encode: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    try:
        return ("encoded", encode(*args))
    except (LocalProtocolError, TypeError) as exc:
        return (type(exc), str(exc))


def as_text(fields: Fields) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in fields]


def learnt(method: bytes, shape: list[bytes]) -> None:
    """Encode a head of this shape that passes the checks (if the shape can), as bytes and
    as str, so that its plans exist."""
    fit = [(name, b"5" if name.lower() == b"content-length" else b"v") for name in shape]
    outcome(h1_request.encode_request, method, b"/", fit)
    outcome(h1_request.encode_request, method, b"/", as_text(fit))


@SETTINGS
@given(
    methods,
    st.lists(names, max_size=4, unique_by=bytes.lower),
    st.data(),
    any_targets,
)
def test_a_planned_head_is_what_the_full_checks_give(
    method: bytes, shape: list[bytes], data: st.DataObject, target: bytes
) -> None:
    h1_request._PLANS.clear()
    if b"host" not in (name.lower() for name in shape) and data.draw(st.integers(0, 9)):
        shape.insert(data.draw(st.integers(0, len(shape))), b"Host")  # mostly a valid shape
    if b"content-length" not in (name.lower() for name in shape) and data.draw(st.booleans()):
        shape.insert(data.draw(st.integers(0, len(shape))), b"Content-Length")
    learnt(method, shape)
    headers = [
        (name, data.draw(lengths if name.lower() == b"content-length" else values))
        for name in shape
    ]
    expected = outcome(h1_request._encode_checked, method, target, headers)
    assert outcome(h1_request.encode_request, method, target, headers) == expected
    text = as_text(headers)
    assert outcome(h1_request.encode_request, method, target, text) == expected
    assert outcome(h1_request._encode_checked, method, target, text) == expected


def test_a_head_of_a_shape_seen_before_has_its_plan() -> None:
    """The test above would pass with no plan at all: here the plan is there and used."""
    shape = [(b"Host", b"h"), (b"Content-Length", b"2"), (b"X-A", b"v")]
    first = H1Connection().send_request(b"POST", b"/a", shape)
    assert len(h1_request._PLANS) == 1
    again = H1Connection().send_request(b"POST", b"/b", [*shape[:2], (b"X-A", b"w")])
    assert again == first.replace(b"/a", b"/b").replace(b"X-A: v", b"X-A: w")
    assert len(h1_request._PLANS) == 1
    H1Connection().send_request(b"POST", b"/", as_text(shape))
    assert len(h1_request._PLANS) == 2  # str fields have their own plan


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"x\r\nEvil: 1", "the value holds the control byte b'\\r' at offset 1"),
        (b"x\x00", "the value holds the control byte b'\\x00'"),
    ],
)
def test_a_planned_shape_still_refuses_a_bad_value(value: bytes, message: str) -> None:
    H1Connection().send_request(b"GET", b"/", [(b"Host", b"h"), (b"X-A", b"v")])
    for fields in ([(b"Host", b"h"), (b"X-A", value)], as_text([(b"Host", b"h"), (b"X-A", value)])):
        with pytest.raises(LocalProtocolError, match="header b'X-A'") as caught:
            H1Connection().send_request(b"GET", b"/", fields)
        assert message in str(caught.value)


def test_a_planned_shape_still_refuses_a_bad_length_or_target() -> None:
    shape = [(b"Host", b"h"), (b"Content-Length", b"2")]
    H1Connection().send_request(b"POST", b"/", shape)
    with pytest.raises(LocalProtocolError, match="Content-Length: b'-2' is not a decimal"):
        H1Connection().send_request(b"POST", b"/", [shape[0], (b"Content-Length", b"-2")])
    with pytest.raises(LocalProtocolError, match=r"Content-Length: b'1{21}' is not a decimal"):
        H1Connection().send_request(b"POST", b"/", [shape[0], (b"Content-Length", b"1" * 21)])
    with pytest.raises(LocalProtocolError, match="request target b'/a b' must be"):
        H1Connection().send_request(b"POST", b"/a b", shape)


def test_str_fields_beyond_latin_1_are_refused_by_name_planned_or_not() -> None:
    fields = [("Host", "h"), ("X-A", "caf\u00e9")]
    H1Connection().send_request(b"GET", b"/", fields)
    for _ in range(2):
        with pytest.raises(LocalProtocolError, match="header 'X-A': 'caf\u2603' has '\u2603'"):
            H1Connection().send_request(b"GET", b"/", [("Host", "h"), ("X-A", "caf\u2603")])


def test_str_and_bytes_fields_give_the_same_head() -> None:
    fields = [(b"Host", b"h"), (b"X-Obs", b"\xe9t\xe9"), (b"Content-Length", b"0")]
    for _ in range(2):  # the full checks, then the plans
        assert H1Connection().send_request(b"PUT", b"/", fields) == H1Connection().send_request(
            b"PUT", b"/", as_text(fields)
        )


@pytest.mark.parametrize(
    "fields", [[(b"Host", "x")], [("Host", b"x")], [("Host", "h"), (b"A", b"")]]
)
def test_a_mix_of_str_and_bytes_is_a_type_error(fields: Any) -> None:
    for _ in range(2):
        conn = H1Connection()
        with pytest.raises(TypeError):
            conn.send_request(b"GET", b"/", fields)
        assert conn.our_state.name == "ERROR"


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_bytes_like_fields_are_sent_as_bytes_are(kind: Callable[[bytes], Any]) -> None:
    """Names that cannot key a plan (a bytearray) or fill one take the full checks."""
    expected = b"GET / HTTP/1.1\r\nHost: h\r\nX-A: v\r\n\r\n"
    for fields in (
        [(kind(b"Host"), b"h"), (kind(b"X-A"), b"v")],
        [(b"Host", kind(b"h")), (b"X-A", kind(b"v"))],
    ):
        h1_request._PLANS.clear()
        for _ in range(2):  # the first time, then with whatever it left learnt
            assert H1Connection().send_request(b"GET", b"/", fields) == expected


def test_the_plans_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h1_request, "_PLANS_MAX", 3)
    for n in range(10):
        head = H1Connection().send_request(b"GET", b"/", [(b"Host", b"h"), (b"X-%d" % n, b"v")])
        assert head == b"GET / HTTP/1.1\r\nHost: h\r\nX-%d: v\r\n\r\n" % n
    assert len(h1_request._PLANS) == 3


def test_heads_that_frame_by_their_values_have_no_plan() -> None:
    for name in (b"Transfer-Encoding", b"Connection", b"Expect"):
        value = {b"Transfer-Encoding": b"chunked", b"Connection": b"close"}.get(name, b"x")
        H1Connection().send_request(b"POST", b"/", [(b"Host", b"h"), (name, value)])
    assert h1_request._PLANS == {}
