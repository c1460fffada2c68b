"""Differential tests of the HTTP/1.1 connection against h11, the oracle.

Hypothesis builds responses (status, reason, headers, framing, chunks, trailers, line
endings, obs-fold, the reads they are cut into) and mutations of them; each is parsed by
our ``H1Connection`` and by an ``h11.Connection`` in the client role, and the two must
agree: the same events (status, reason, headers, body, trailers), the same end states,
and an error from us whenever h11 refuses the bytes. Requests go the other way: we
serialize them and h11's server role must read back what we were given.

Where we knowingly differ, the difference is listed here and recognised by a predicate,
never by loosening the comparison:

We refuse, h11 accepts (``WE_REFUSE``):
- HTTP versions other than 1.0 and 1.1 in the status line (h11 takes any ``HTTP/d.d``);
  RFC 9112 has only these two, and an HTTP/2 preface means a protocol mix-up.
- Heads, chunk-size lines and trailer sections over our limits (``max_header_bytes``
  64 KiB for the head whole or cut; h11 bounds only an incomplete event, at 16 KiB). The
  generated responses stay below both limits, so this one never shows up here.

We accept, h11 refuses (``WE_ACCEPT``):
- Bytes after a complete response when h11 already knew the connection must close
  (HTTP/1.0, ``Connection: close``): h11 raises on them (on a reusable connection it
  pauses instead); we hand out the complete response, drop the bytes and never reuse the
  connection, as we do in every case of bytes after a response.
- A ``Transfer-Encoding`` other than exactly ``chunked`` (several codings, several fields,
  empty list elements): RFC 9112 §6.3 frames such a body as chunked when chunked is the
  final coding and as read-until-close otherwise; h11 supports only ``chunked`` alone.

What we report differently, and how the comparison maps it (``h11_view``):
- Headers are what the server sent. h11 rewrites ``Content-Length`` (a repeated field is
  dropped, ``5, 5`` becomes ``5``) and lower-cases ``Transfer-Encoding`` values.
- Data events: h11 cuts at chunk boundaries and we at read boundaries, so bodies are
  compared joined.
- Bytes after a complete response: h11 keeps them (``PAUSED``, ``trailing_data``) and
  stays reusable until it reads them; we drop them and the connection becomes MUST_CLOSE.
  The mutation test compares the keep-alive decision only when h11 has no trailing data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h11
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runtime_client.http import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    H1Connection,
    InformationalResponse,
    LocalProtocolError,
    RemoteProtocolError,
    Response,
)
from tests.http.h1_cases import joined

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HOST = (b"Host", b"example.com")
TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FRAMING = {b"content-length", b"transfer-encoding", b"connection"}
Headers = list[tuple[bytes, bytes]]


# --- running both parsers --------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    events: list[Event]  # adjacent Data joined, our event types
    error: str | None  # the exception's class name
    our_state: str
    their_state: str
    reusable: bool  # a new request could be sent after start_next_cycle()
    trailing: bool  # (h11 only) bytes after the response are kept unread


def run_ours(method: bytes, reads: Sequence[bytes], eof: bool) -> Result:
    conn = H1Connection()
    conn.send_request(method, b"/", [HOST])
    conn.send_end()
    events: list[Event] = []
    error = None
    try:
        for data in [*reads, b""] if eof else reads:
            conn.receive_data(data)
            while (event := conn.next_event()) is not NEED_DATA:
                events.append(event)
                if type(event) is ConnectionClosed:
                    break
    except RemoteProtocolError as exc:  # a response never gives another error
        error = type(exc).__name__
    reusable = conn.keep_alive and conn.our_state.name == conn.their_state.name == "DONE"
    return Result(
        joined(events), error, conn.our_state.name, conn.their_state.name, reusable, False
    )


def _from_h11(event: Any) -> Event:
    kind = type(event)
    if kind is h11.InformationalResponse:
        return InformationalResponse(
            event.status_code, event.reason, list(event.headers), event.http_version
        )
    if kind is h11.Response:
        return Response(event.status_code, event.reason, list(event.headers), event.http_version)
    if kind is h11.Data:
        return Data(bytes(event.data))
    if kind is h11.EndOfMessage:
        return EndOfMessage(list(event.headers))
    assert kind is h11.ConnectionClosed, event
    return ConnectionClosed()


def run_h11(method: bytes, reads: Sequence[bytes], eof: bool) -> Result:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target=b"/", headers=[HOST]))
    conn.send(h11.EndOfMessage())
    events: list[Event] = []
    error = None
    try:
        for data in [*reads, b""] if eof else reads:
            conn.receive_data(data)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                events.append(_from_h11(event))
                if type(event) is h11.ConnectionClosed:
                    break
    except h11.RemoteProtocolError:
        error = "RemoteProtocolError"
    trailing = bool(conn.trailing_data[0])
    our, their = conn.our_state.__name__, conn.their_state.__name__
    reusable = our == their == "DONE" and not eof and not trailing
    return Result(joined(events), error, our, their, reusable, trailing)


def h11_view(headers: Headers) -> Headers:
    """Our headers as h11 reports them: Content-Length collapsed, Transfer-Encoding lowered."""
    out: Headers = []
    seen_length = False
    for name, value in headers:
        if name == b"content-length":
            if seen_length:
                continue
            seen_length = True
            value = value.split(b",")[0].strip()
        elif name == b"transfer-encoding":
            value = value.lower()
        out.append((name, value))
    return out


def h11_view_events(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for event in events:
        if type(event) is Response or type(event) is InformationalResponse:
            event = type(event)(
                event.status_code, event.reason, h11_view(event.headers), event.http_version
            )
        elif type(event) is EndOfMessage:
            event = EndOfMessage(h11_view(event.trailers))
        out.append(event)
    return out


def we_accept_what_h11_refuses(ours: Result) -> bool:
    """WE_ACCEPT: a Transfer-Encoding that is not exactly one ``chunked``."""
    for event in ours.events:
        fields = []
        if type(event) is Response or type(event) is InformationalResponse:
            fields = event.headers
        elif type(event) is EndOfMessage:
            fields = event.trailers
        codings = [value for name, value in fields if name == b"transfer-encoding"]
        if codings and (len(codings) > 1 or codings[0].lower() != b"chunked"):
            return True
    return False


def we_refuse_what_h11_accepts(theirs: Result) -> bool:
    """WE_REFUSE: a status line with an HTTP version other than 1.0 or 1.1."""
    return first_other_version(theirs) is not None


def first_other_version(theirs: Result) -> int | None:
    """Where the first head with an HTTP version other than 1.0 or 1.1 is in h11's events."""
    for index, event in enumerate(theirs.events):
        version = getattr(event, "http_version", None)  # a Response or InformationalResponse
        if version is not None and version not in (b"1.0", b"1.1"):
            return index
    return None


# --- valid responses ------------------------------------------------------------------------

tokens = st.binary(min_size=1, max_size=12).map(
    lambda raw: bytes(TCHARS[byte % len(TCHARS)] for byte in raw)
)
# what h11 accepts inside a value: anything but NUL, CR, LF, VT, FF and SP/HTAB runs
VALUE_BYTES = bytes(b for b in range(1, 256) if b not in b"\x00\r\n\x0b\x0c \t")
value_runs = st.lists(
    st.binary(min_size=1, max_size=8).map(
        lambda raw: bytes(VALUE_BYTES[b % len(VALUE_BYTES)] for b in raw)
    ),
    max_size=3,
)
ows = st.sampled_from([b"", b" ", b"\t", b"  ", b" \t "])
REASON_BYTES = bytes(b for b in range(1, 256) if b not in b"\r\n\x0b\x0c")


@st.composite
def field_lines(draw: st.DrawFn, names: st.SearchStrategy[bytes]) -> bytes:
    """One field line without its ending, perhaps with obs-fold continuation lines."""
    name = draw(names)
    runs = draw(value_runs)
    separators = [
        draw(st.sampled_from([b" ", b"\t", b"  ", b"\r\n ", b"\r\n\t", b"\n "])) for _ in runs[1:]
    ]
    value = runs[0] if runs else b""
    for sep, run in zip(separators, runs[1:], strict=True):
        value += sep + run
    return name + b":" + draw(ows) + value + draw(ows)


other_names = tokens.filter(lambda name: name.lower() not in FRAMING)


@dataclass(frozen=True)
class Generated:
    method: bytes
    response: bytes
    reads: list[bytes]
    eof: bool


def _ending(draw: st.DrawFn) -> bytes:
    return draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"]))


def _status_line(draw: st.DrawFn, version: bytes, status: int) -> bytes:
    reason = draw(
        st.binary(max_size=12).map(
            lambda raw: bytes(REASON_BYTES[b % len(REASON_BYTES)] for b in raw)
        )
    )
    tail = draw(st.sampled_from([b" " + reason, b" " + reason, b""]))
    return b"HTTP/%s %03d%s" % (version, status, tail)


def _head(draw: st.DrawFn, version: bytes, status: int, framing: list[bytes]) -> bytes:
    """A head: the status line, other fields with the framing fields among them, and the
    blank line; each line ends in CRLF or LF."""
    lines = [draw(field_lines(other_names)) for _ in range(draw(st.integers(0, 4)))]
    for line in framing:
        lines.insert(draw(st.integers(0, len(lines))), line)
    block = _status_line(draw, version, status) + _ending(draw)
    for line in lines:
        block += line + _ending(draw)
    return block + _ending(draw)


def _framing_lines(draw: st.DrawFn, kind: str, body: bytes) -> list[bytes]:
    """The Connection field, if any, and the fields that frame ``body`` as ``kind``."""
    connection = draw(
        st.sampled_from([None, b"keep-alive", b"close", b"Keep-Alive, CLOSE", b"upgrade"])
    )
    framing: list[bytes] = []
    if connection is not None:
        framing.append(b"Connection:" + draw(ows) + connection)
    if kind == "length":
        length = b"%d" % len(body)
        spelled = draw(st.sampled_from([length, length, b"0" + length, length + b", " + length]))
        framing.append(b"Content-Length: " + spelled)
        if draw(st.booleans()):
            framing.append(b"content-length:" + spelled + b" ")
    elif kind == "chunked":
        framing.append(
            b"Transfer-Encoding: " + draw(st.sampled_from([b"chunked", b"Chunked", b"CHUNKED"]))
        )
        if draw(st.booleans()):
            framing.append(b"Content-Length: 12345")  # Transfer-Encoding wins, as in h11
    return framing


def _chunked(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` in chunks (sizes in either case, extensions, spaces), the last chunk and
    trailers."""
    out = b""
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
    for start, stop in zip([0, *cuts], [*cuts, len(body)], strict=True):
        if stop > start:
            size = draw(st.sampled_from([b"%x", b"%X", b"0%x"])) % (stop - start)
            extension = draw(st.sampled_from([b"", b";a=b", b';x;y="q z"', b";\x01\xff"]))
            out += size + extension + draw(st.sampled_from([b"", b" ", b"\t"])) + b"\r\n"
            out += body[start:stop] + b"\r\n"
    out += b"0" + draw(st.sampled_from([b"", b";end"])) + b"\r\n"
    for _ in range(draw(st.integers(0, 2))):
        out += draw(field_lines(other_names)) + _ending(draw)
    return out + _ending(draw)


def _reads(draw: st.DrawFn, data: bytes, max_cuts: int) -> list[bytes]:
    """``data`` cut into up to ``max_cuts + 1`` reads."""
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=max_cuts))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True) if b > a]


@st.composite
def responses(draw: st.DrawFn) -> Generated:
    """Informational heads, then a final one with its body framed by Content-Length,
    chunked or until close (none for HEAD, 204 and 304), cut into reads."""
    method = draw(st.sampled_from([b"GET", b"GET", b"POST", b"HEAD"]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.1", b"1.0"]))
    out = b""
    for status in draw(st.lists(st.sampled_from([100, 102, 103, 150, 199]), max_size=2)):
        out += _head(draw, version, status, [])
    status = draw(st.one_of(st.sampled_from([200, 204, 304, 404, 413, 500]), st.integers(200, 999)))
    body = draw(st.binary(max_size=120))
    framing_kind = draw(st.sampled_from(["length", "chunked", "close"]))
    framing = _framing_lines(draw, framing_kind, body)
    out += _head(draw, version, status, framing)
    no_body = method == b"HEAD" or status in (204, 304)
    eof = framing_kind == "close" and not no_body
    if not no_body:
        out += _chunked(draw, body) if framing_kind == "chunked" else body
    return Generated(method, out, _reads(draw, out, 8), eof)


def assert_same(ours: Result, theirs: Result) -> None:
    assert ours.error is None
    assert theirs.error is None
    assert h11_view_events(ours.events) == theirs.events
    assert (ours.our_state, ours.their_state) == (theirs.our_state, theirs.their_state)
    assert ours.reusable is theirs.reusable


@SETTINGS
@given(responses())
@example(
    Generated(
        b"GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        False,
    )
)
def test_valid_responses_parse_as_h11_parses_them(case: Generated) -> None:
    ours = run_ours(case.method, case.reads, case.eof)
    theirs = run_h11(case.method, case.reads, case.eof)
    assert_same(ours, theirs)
    # the body is never short: h11 and we saw an end of message
    assert any(type(event) is EndOfMessage for event in ours.events)


# --- mutated and random responses ---------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> Generated:
    case = draw(responses())
    data = bytearray(case.response)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "truncate"]))
        byte = draw(
            st.sampled_from(
                [0, 9, 10, 13, 32, 58, 59, 44, 48, 65, 0x0B, 0x7F, 0xFF, draw(st.integers(0, 255))]
            )
        )
        if action == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        elif action == "insert":
            data[at:at] = bytes([byte])
        elif action == "replace" and at < len(data):
            data[at] = byte
        elif action == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 20))]
        elif action == "truncate":
            del data[at:]
    response = bytes(data)
    return Generated(case.method, response, _reads(draw, response, 6), True)


random_responses = st.builds(
    lambda method, prefix, tail: Generated(method, prefix + tail, [prefix + tail], True),
    st.sampled_from([b"GET", b"HEAD"]),
    st.sampled_from([b"", b"HTTP/1.1 ", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 204 X\r\n\r\n"]),
    st.binary(max_size=80),
)


_OTHER_VERSION = b"HTTP/0.1 204 \r\nContent-Length: 12345\r\nTransfer-Encoding: chunked\n\r\n\r\n"


def check_against_h11(case: Generated) -> None:
    ours = run_ours(case.method, case.reads, case.eof)
    theirs = run_h11(case.method, case.reads, case.eof)
    if theirs.error is not None and ours.error is None:
        if any(type(event) is EndOfMessage for event in theirs.events):
            # WE_ACCEPT: h11 refused bytes after a complete response; we drop them
            end = len(theirs.events)
            assert h11_view_events(ours.events[:end]) == theirs.events
            assert ours.reusable is False
            return
        assert we_accept_what_h11_refuses(ours), (ours, theirs)
        return
    if ours.error is not None and theirs.error is None:
        assert we_refuse_what_h11_accepts(theirs), (ours, theirs)
        return
    other = first_other_version(theirs)
    if ours.error is not None and other is not None:
        # WE_REFUSE at that head, h11 only at bytes after it: the same events before it
        assert h11_view_events(ours.events) == theirs.events[:other], (ours, theirs)
        return
    if theirs.trailing and theirs.error is None:  # h11 keeps those bytes unread, and so
        assert ours.events[-1:] == [ConnectionClosed()]  # reports no ConnectionClosed
        assert h11_view_events(ours.events[:-1]) == theirs.events
    else:
        assert h11_view_events(ours.events) == theirs.events
    if ours.error is None and not theirs.trailing:
        assert (ours.our_state, ours.their_state) == (theirs.our_state, theirs.their_state)
        assert ours.reusable is theirs.reusable
    if theirs.trailing:  # we drop bytes after the response and never reuse the connection
        assert ours.reusable is False


@SETTINGS
@given(mutated())
@example(  # found in CI: both refuse it, we at the version, h11 at the bytes after the head
    Generated(
        b"GET",
        _OTHER_VERSION,
        [_OTHER_VERSION],
        eof=True,
    )
)
def test_mutated_responses_are_refused_when_h11_refuses_them(case: Generated) -> None:
    check_against_h11(case)


@SETTINGS
@given(random_responses)
def test_random_bytes_are_refused_when_h11_refuses_them(case: Generated) -> None:
    check_against_h11(case)


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nbody",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: x\r\n\r\n",
    ],
)
def test_the_documented_acceptances_are_recognised(response: bytes) -> None:
    ours = run_ours(b"GET", [response], True)
    theirs = run_h11(b"GET", [response], True)
    assert ours.error is None
    assert theirs.error == "RemoteProtocolError"
    assert we_accept_what_h11_refuses(ours)


@pytest.mark.parametrize("version", [b"2.0", b"1.2", b"0.9", b"3.1"])
def test_the_documented_refusals_are_recognised(version: bytes) -> None:
    response = b"HTTP/%s 200 OK\r\nContent-Length: 0\r\n\r\n" % version
    ours = run_ours(b"GET", [response], True)
    theirs = run_h11(b"GET", [response], True)
    assert ours.error == "RemoteProtocolError"
    assert theirs.error is None
    assert we_refuse_what_h11_accepts(theirs)
    # and nothing else is excused: a valid response is not "refused by version"
    assert not we_refuse_what_h11_accepts(run_h11(b"GET", [b"HTTP/1.1 200 OK\r\n\r\n"], True))


# --- requests: ours serialized, h11's server role reads them ------------------------------------

SEND_VALUE_BYTES = bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))
send_values = st.lists(
    st.binary(min_size=1, max_size=8).map(
        lambda raw: bytes(SEND_VALUE_BYTES[b % len(SEND_VALUE_BYTES)] for b in raw)
    ),
    max_size=3,
).map(b" ".join)
# blanks at the edges too: the optional whitespace a reader strips (RFC 9112 §5)
edged_values = st.tuples(
    st.sampled_from([b"", b" ", b"\t", b" \t"]), send_values, st.sampled_from([b"", b" ", b"\t"])
).map(b"".join)
targets = st.binary(min_size=1, max_size=30).map(lambda raw: bytes(0x21 + b % 94 for b in raw))
request_names = tokens.filter(
    lambda name: name.lower() not in FRAMING | {b"host", b"upgrade", b"expect"}
)


@dataclass(frozen=True)
class Request:
    method: bytes
    target: bytes
    headers: Headers
    chunks: list[bytes]
    trailers: Headers


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(tokens.filter(lambda m: m != b"CONNECT"))
    headers = [(draw(request_names), draw(edged_values)) for _ in range(draw(st.integers(0, 5)))]
    headers.insert(
        draw(st.integers(0, len(headers))),
        (draw(st.sampled_from([b"Host", b"host", b"HOST"])), draw(send_values)),
    )
    chunks = draw(st.lists(st.binary(max_size=40), max_size=4))
    trailers: Headers = []
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    if framing == "none":
        chunks = []
    elif framing == "length":
        headers.append((b"Content-Length", b"%d" % sum(map(len, chunks))))
    else:
        headers.append((b"Transfer-Encoding", b"chunked"))
        trailers = [
            (draw(request_names), draw(send_values)) for _ in range(draw(st.integers(0, 2)))
        ]
    if draw(st.booleans()):
        headers.append((b"Connection", draw(st.sampled_from([b"close", b"keep-alive"]))))
    if draw(st.booleans()):
        headers.append((b"Expect", b"100-continue"))
    return Request(method, draw(targets), headers, chunks, trailers)


def lowered(headers: Headers) -> Headers:
    """The fields as a reader sees them: names lower-cased, values without edge blanks."""
    return [(name.lower(), value.strip(b" \t")) for name, value in headers]


@SETTINGS
@given(requests())
def test_requests_read_back_by_h11(request: Request) -> None:
    conn = H1Connection()
    wire = conn.send_request(request.method, request.target, request.headers)
    wire += b"".join(conn.send_data(chunk) for chunk in request.chunks)
    wire += conn.send_end(request.trailers)
    server = h11.Connection(h11.SERVER)
    server.receive_data(wire)
    head = server.next_event()
    assert type(head) is h11.Request
    assert (head.method, head.target, head.http_version) == (request.method, request.target, b"1.1")
    assert list(head.headers) == h11_view(lowered(request.headers))
    body = b""
    while type(event := server.next_event()) is h11.Data:
        body += event.data
    assert type(event) is h11.EndOfMessage
    assert body == b"".join(request.chunks)
    assert list(event.headers) == lowered(request.trailers)
    assert server.next_event() is h11.NEED_DATA  # nothing after the request
    closes = (b"Connection", b"close") in request.headers
    assert server.their_state is (h11.MUST_CLOSE if closes else h11.DONE)
    assert conn.keep_alive is not closes


any_bytes = st.binary(max_size=12)


@SETTINGS
@given(
    st.one_of(tokens, any_bytes),
    st.one_of(targets, any_bytes),
    st.lists(
        st.tuples(st.one_of(tokens, any_bytes), st.one_of(edged_values, any_bytes)), max_size=3
    ),
)
def test_we_never_send_what_h11_refuses_to_send(
    method: bytes, target: bytes, fields: Headers
) -> None:
    """What we send, h11 accepts (with the edge blanks it would strip on reading taken off:
    h11 refuses them when sending, though RFC 9112 §5 allows them on the wire)."""
    headers = [HOST, *fields]
    try:
        H1Connection().send_request(method, target, headers)
    except LocalProtocolError:
        return
    stripped = [(name, value.strip(b" \t")) for name, value in headers]
    h11.Request(method=method, target=target, headers=stripped)  # must not raise
