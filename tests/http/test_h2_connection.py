"""The sans-IO HTTP/2 client connection, with h2's server side as the peer in memory: the
request head, several streams at once, flow control both ways, resets, GOAWAY and the
retry line, the end of input, limits; and the exchange steps driven by hand with a
clock that the test moves."""

from __future__ import annotations

import gzip
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import pytest

from runtime_client.http import (
    NEED_DATA,
    Data,
    EndOfMessage,
    H2Connection,
    LocalProtocolError,
    NetworkError,
    Origin,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    ServerDisconnectedError,
    Timeouts,
    WriteTimeout,
)
from runtime_client.http._h2_exchange import NEXT_CHUNK, WRITE, Wait, exchange, read_data
from runtime_client.http._h2_stream import request_headers, retry_on_new_connection

HEAD = request_headers("POST", "https", "example.com", "/p", [("Content-Type", "text/plain")])


class Peer:
    """h2's server side, fed and read by hand."""

    def __init__(self, **settings: int) -> None:
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        if settings:
            codes = {getattr(h2.settings.SettingCodes, k.upper()): v for k, v in settings.items()}
            self.h2.local_settings = h2.settings.Settings(client=False, initial_values=codes)
        self.h2.initiate_connection()
        self.events: list[Any] = []

    def take(self, client: H2Connection) -> list[Any]:
        events = self.h2.receive_data(client.data_to_send())
        self.events.extend(events)
        return events

    def give(self, client: H2Connection) -> None:
        client.receive_data(self.h2.data_to_send())

    def answer(self, sid: int, body: bytes = b"", status: str = "200", **kw: Any) -> None:
        self.h2.send_headers(sid, [(":status", status), *kw.get("headers", [])])
        self.h2.send_data(sid, body, end_stream=True)

    def body_of(self, sid: int) -> bytes:
        return b"".join(
            e.data
            for e in self.events
            if isinstance(e, h2.events.DataReceived) and e.stream_id == sid
        )


def connected(**settings: int) -> tuple[H2Connection, Peer]:
    client = H2Connection("https://example.com")
    client.initiate()
    peer = Peer(**settings)
    peer.take(client)
    peer.give(client)  # the server's SETTINGS, and its ACK of ours
    peer.take(client)  # our ACK of its SETTINGS
    return client, peer


def events_of(client: H2Connection, sid: int) -> list[Any]:
    found = []
    while (event := client.next_event(sid)) is not NEED_DATA:
        found.append(event)
    return found


# --------------------------------------------------------------------- the request head


def test_request_head_as_http2_fields() -> None:
    fields = request_headers(
        "POST",
        "https",
        "origin:443",
        "/a?b=1",
        [
            ("Host", "signed.example:8443"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("TE", "gzip"),
            ("X-Amz-Date", "20260101T000000Z"),
            ("Content-Length", "3"),
        ],
    )
    assert fields == [
        (b":method", b"POST"),
        (b":scheme", b"https"),
        (b":authority", b"signed.example:8443"),  # the signed Host, not the origin
        (b":path", b"/a?b=1"),
        (b"x-amz-date", b"20260101T000000Z"),
        (b"content-length", b"3"),
    ]
    assert (b"te", b"trailers") in request_headers("GET", "https", "h", "/", [("TE", "trailers")])
    client, peer = connected()
    sid = client.open_stream(fields, end_stream=True)
    (received,) = [e for e in peer.take(client) if isinstance(e, h2.events.RequestReceived)]
    assert received.stream_id == sid == 1
    assert received.headers == fields


# --------------------------------------------------------------------- streams at once


def test_concurrent_streams_keep_their_own_events() -> None:
    client, peer = connected()
    sids = [client.open_stream(HEAD, end_stream=True) for _ in range(3)]
    assert sids == [1, 3, 5]
    peer.take(client)
    peer.h2.send_headers(5, [(":status", "201"), ("x-n", "5")])
    peer.h2.send_headers(1, [(":status", "200")])
    peer.h2.send_data(1, b"one-a")
    peer.h2.send_data(5, b"five", end_stream=True)
    peer.h2.send_data(1, b"one-b", end_stream=True)
    peer.answer(3, b"three", status="404")
    peer.give(client)
    assert events_of(client, 1) == [
        Response(200, b"", [], b"2"),
        Data(b"one-a"),
        Data(b"one-b"),
        EndOfMessage(),
    ]
    assert events_of(client, 5) == [
        Response(201, b"", [(b"x-n", b"5")], b"2"),
        Data(b"five"),
        EndOfMessage(),
    ]
    assert [type(e) for e in events_of(client, 3)] == [Response, Data, EndOfMessage]
    for sid in sids:
        client.forget(sid)
    assert client.stream_count == 0


def test_the_servers_max_concurrent_streams_is_honoured() -> None:
    client, peer = connected(max_concurrent_streams=2)
    assert client.capacity == 2
    first = client.open_stream(HEAD, end_stream=True)
    client.open_stream(HEAD, end_stream=True)
    assert client.capacity == 0
    with pytest.raises(LocalProtocolError, match="no stream may be opened"):
        client.open_stream(HEAD, end_stream=True)
    peer.take(client)
    peer.answer(first, b"done")
    peer.give(client)
    events_of(client, first)
    client.forget(first)
    assert client.capacity == 1


# --------------------------------------------------------------------- flow control


def test_a_large_request_body_goes_out_within_the_windows() -> None:
    client, peer = connected()  # the peer's windows: 65535 for the stream and connection
    body = bytes(range(256)) * 4096  # 1 MiB
    sid = client.open_stream(HEAD, end_stream=False)
    client.send_body(sid, body, end=True)
    client.flush()
    peer.take(client)
    assert len(peer.body_of(sid)) == 65535  # no more than the window
    assert client.body_pending(sid) == len(body) - 65535 + 1  # +1: END_STREAM still waits
    acked = 0
    for _ in range(100):  # bounded: each round moves one window
        if not client.body_pending(sid):
            break
        received = len(peer.body_of(sid))
        peer.h2.acknowledge_received_data(received - acked, sid)
        acked = received
        peer.give(client)
        client.flush()
        peer.take(client)
    assert peer.body_of(sid) == body
    assert any(isinstance(e, h2.events.StreamEnded) for e in peer.events)


def test_received_data_waits_within_the_stream_window_until_taken() -> None:
    client = H2Connection("https://example.com", stream_window=100_000)
    client.initiate()
    peer = Peer()
    peer.take(client)
    peer.give(client)
    peer.take(client)
    sid = client.open_stream(HEAD, end_stream=True)
    peer.take(client)
    peer.h2.send_headers(sid, [(":status", "200")])
    assert peer.h2.local_flow_control_window(sid) == 100_000
    peer.h2.send_data(sid, b"z" * 16_000)
    peer.h2.send_data(sid, b"z" * 16_000)
    peer.h2.send_data(sid, b"z" * 16_000)
    peer.h2.send_data(sid, b"z" * 16_000)
    peer.h2.send_data(sid, b"z" * 16_000)
    peer.h2.send_data(sid, b"z" * 16_000)
    peer.give(client)
    peer.take(client)
    assert peer.h2.local_flow_control_window(sid) == 4_000  # nothing handed back yet
    taken = events_of(client, sid)  # reading opens the window again (at half of it)
    assert sum(len(e.data) for e in taken if type(e) is Data) == 96_000
    peer.take(client)
    # handed back in steps of at least half the window: 64 000 so far, 32 000 still held
    assert peer.h2.local_flow_control_window(sid) == 4_000 + 64_000


def test_an_unread_stream_does_not_stall_the_others() -> None:
    client = H2Connection("https://example.com", stream_window=60_000, connection_window=65535)
    client.initiate()
    peer = Peer()
    peer.take(client)
    peer.give(client)
    peer.take(client)
    slow, fast = (client.open_stream(HEAD, end_stream=True) for _ in range(2))
    peer.take(client)
    peer.h2.send_headers(slow, [(":status", "200")])
    for _ in range(4):
        peer.h2.send_data(slow, b"s" * 15_000)  # the slow stream's window is full
    peer.give(client)
    peer.take(client)  # the connection's window came back as the data arrived
    peer.h2.send_headers(fast, [(":status", "200")])
    peer.h2.send_data(fast, b"f" * 15_000)
    peer.h2.send_data(fast, b"f" * 15_000, end_stream=True)
    peer.give(client)
    assert [type(e) for e in events_of(client, fast)] == [Response, Data, Data, EndOfMessage]


# --------------------------------------------------------------------- how streams end


def test_a_reset_fails_its_stream_only() -> None:
    client, peer = connected()
    reset, other = (client.open_stream(HEAD, end_stream=True) for _ in range(2))
    peer.take(client)
    peer.h2.send_headers(reset, [(":status", "200")])
    peer.h2.send_data(reset, b"part")
    peer.h2.reset_stream(reset, h2.errors.ErrorCodes.INTERNAL_ERROR)
    peer.answer(other, b"fine")
    peer.give(client)
    assert [type(e) for e in (client.next_event(reset), client.next_event(reset))] == [
        Response,
        Data,
    ]
    with pytest.raises(RemoteProtocolError, match="reset the stream \\(INTERNAL_ERROR\\)") as info:
        client.next_event(reset)
    assert not retry_on_new_connection(info.value)
    assert [type(e) for e in events_of(client, other)] == [Response, Data, EndOfMessage]
    assert client.accepting


def test_refused_stream_may_be_sent_again() -> None:
    client, peer = connected()
    sid = client.open_stream(HEAD, end_stream=True)
    peer.take(client)
    peer.h2.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
    peer.give(client)
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event(sid)
    assert retry_on_new_connection(info.value)


def test_reset_no_error_after_a_complete_answer_only_stops_the_body() -> None:
    client, peer = connected()
    sid = client.open_stream(HEAD, end_stream=False)
    client.send_body(sid, b"x" * 200_000, end=True)
    client.flush()
    peer.take(client)
    peer.answer(sid, b"too large", status="413")
    peer.h2.reset_stream(sid, h2.errors.ErrorCodes.NO_ERROR)
    peer.give(client)
    assert client.body_pending(sid) == 0
    assert [type(e) for e in events_of(client, sid)] == [Response, Data, EndOfMessage]


def test_goaway_retries_only_the_streams_above_its_last_id() -> None:
    client, peer = connected()
    done, processed, unprocessed = (client.open_stream(HEAD, end_stream=True) for _ in range(3))
    peer.take(client)
    peer.answer(done, b"ok")
    peer.h2.close_connection(last_stream_id=processed)
    peer.give(client)
    assert client.capacity == 0
    assert not client.accepting
    assert [type(e) for e in events_of(client, done)] == [Response, Data, EndOfMessage]
    with pytest.raises(RemoteProtocolError, match="GOAWAY") as maybe:
        client.next_event(processed)
    assert not retry_on_new_connection(maybe.value)
    with pytest.raises(ServerDisconnectedError, match="will not process") as never:
        client.next_event(unprocessed)
    assert retry_on_new_connection(never.value)


def test_the_end_of_input_before_and_after_the_head() -> None:
    client, peer = connected()
    unanswered, cut = (client.open_stream(HEAD, end_stream=True) for _ in range(2))
    peer.take(client)
    peer.h2.send_headers(cut, [(":status", "200"), ("content-length", "10")])
    peer.h2.send_data(cut, b"12345")
    peer.give(client)
    client.receive_data(b"")
    with pytest.raises(ServerDisconnectedError, match="before answering"):
        client.next_event(unanswered)
    assert [type(e) for e in events_of_until_error(client, cut)] == [Response, Data]
    with pytest.raises(RemoteProtocolError, match="after 5 bytes of the body"):
        client.next_event(cut)
    assert client.ended
    assert not client.accepting


def events_of_until_error(client: H2Connection, sid: int) -> list[Any]:
    """The events before the stream's error (which stays for the next call)."""
    found = []
    while client._streams[sid].events:
        found.append(client.next_event(sid))
    return found


def test_corrupt_frames_end_the_connection_with_a_goaway() -> None:
    client, peer = connected()
    sid = client.open_stream(HEAD, end_stream=True)
    peer.take(client)
    client.receive_data(b"\x00\x00\x08\x07\x00\x00\x00\x00\x01" + b"garbage!" * 4)
    with pytest.raises(RemoteProtocolError, match="broke the HTTP/2 protocol"):
        client.next_event(sid)
    (goaway,) = [e for e in peer.take(client) if isinstance(e, h2.events.ConnectionTerminated)]
    assert goaway.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    assert client.ended
    assert client.capacity == 0


def test_too_many_header_fields_fail_the_stream() -> None:
    client = H2Connection("https://example.com", max_header_count=3)
    client.initiate()
    peer = Peer()
    peer.take(client)
    peer.give(client)
    sid = client.open_stream(HEAD, end_stream=True)
    peer.take(client)
    peer.h2.send_headers(sid, [(":status", "200"), *[(f"x-{i}", "v") for i in range(4)]])
    peer.give(client)
    with pytest.raises(RemoteProtocolError, match="4 fields \\(limit 3\\)"):
        client.next_event(sid)
    assert any(
        isinstance(e, h2.events.StreamReset) and e.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
        for e in peer.take(client)
    )


def test_trailers_and_never_decompressed() -> None:
    client, peer = connected()
    sid = client.open_stream(HEAD, end_stream=True)
    peer.take(client)
    packed = gzip.compress(b"plain text")
    peer.h2.send_headers(sid, [(":status", "200"), ("content-encoding", "gzip")])
    peer.h2.send_data(sid, packed)
    peer.h2.send_headers(sid, [("x-checksum", "abc")], end_stream=True)
    peer.give(client)
    head, data, end = events_of(client, sid)
    assert (b"content-encoding", b"gzip") in head.headers
    assert data == Data(packed)
    assert end == EndOfMessage([(b"x-checksum", b"abc")])


def test_after_a_write_error_an_answer_is_still_read() -> None:
    client, peer = connected()
    answered, waiting = (client.open_stream(HEAD, end_stream=False) for _ in range(2))
    peer.take(client)
    peer.answer(answered, b"early")
    client.receive_write_error(NetworkError("writing to example.com failed: broken pipe"))
    assert client.data_to_send() == b""
    assert not client.accepting
    assert client.body_pending(answered) == 0
    peer.give(client)
    client.receive_data(b"")
    assert [type(e) for e in events_of(client, answered)] == [Response, Data, EndOfMessage]
    with pytest.raises(NetworkError, match="broken pipe"):
        client.next_event(waiting)


# --------------------------------------------------------------------- the exchange steps


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _request(body: Any = b"", timeouts: Timeouts | None = None) -> Request:
    origin = Origin("https", "example.com", 443)
    return Request("POST", origin, "/p", [("Host", "example.com")], body, timeouts)


def drive(steps: Any, client: H2Connection, peer: Peer | None = None, value: Any = None) -> Any:
    """Send ``value``, perform the WRITE steps (the bytes go to ``peer``), and return the
    next other step (StopIteration when the steps are done)."""
    step = steps.send(value)
    while step is WRITE:
        if peer is not None:
            peer.take(client)
        else:
            client.data_to_send()
        step = steps.send(None)
    return step


def test_exchange_steps_a_body_and_read_its_head() -> None:
    client, peer = connected()
    sid = client.open_stream(HEAD, end_stream=False)
    client.send_body(sid, b"payload", end=True)
    steps = exchange(client, sid, _request(b"payload"), Clock())
    step = drive(steps, client, peer)
    assert peer.body_of(sid) == b"payload"
    assert step == Wait(60.0)  # the read timeout, for the head
    peer.answer(sid, b"answer")
    peer.give(client)
    with pytest.raises(StopIteration) as done:
        drive(steps, client, peer)
    assert done.value.value.status_code == 200
    with pytest.raises(StopIteration) as chunk:
        drive(read_data(client, sid, 5.0, Clock()), client, peer)
    assert chunk.value.value == b"answer"


def test_exchange_times_out_per_stream_with_the_clock() -> None:
    client, _peer = connected()
    clock = Clock()
    sid = client.open_stream(HEAD, end_stream=True)
    steps = exchange(client, sid, _request(timeouts=Timeouts(1, 2.5, 1)), clock)
    assert drive(steps, client) == Wait(2.5)
    clock.now += 2.0
    step = drive(steps, client)
    assert isinstance(step, Wait)
    assert step.timeout == pytest.approx(0.5)
    clock.now += 0.6
    with pytest.raises(ReadTimeout, match=r"sent nothing for 2\.5 s"):
        drive(steps, client)


def test_exchange_write_timeout_when_no_credit_comes() -> None:
    client, _peer = connected()
    clock = Clock()
    sid = client.open_stream(HEAD, end_stream=False)
    client.send_body(sid, b"x" * 100_000, end=True)
    steps = exchange(client, sid, _request(b"x" * 100_000, Timeouts(1, 5, 0.5)), clock)
    assert drive(steps, client) == Wait(0.5)  # one window went out; the write timeout
    clock.now += 0.6
    with pytest.raises(WriteTimeout, match="no flow-control credit"):
        drive(steps, client)


def test_exchange_file_body_in_chunks() -> None:
    import io

    from runtime_client.http import FileBody

    client, peer = connected()
    body = FileBody(io.BytesIO(b"abcdefgh"), 2, 6, chunk_size=4)
    body.rewind()  # the drivers rewind it for every attempt
    sid = client.open_stream(HEAD, end_stream=False)
    steps = exchange(client, sid, _request(body), Clock())
    chunks = []
    value: Any = None
    for _ in range(20):  # bounded
        step = drive(steps, client, peer, value)
        value = None
        if step is not NEXT_CHUNK:
            break
        value = body.next_chunk()
        chunks.append(value)
    assert isinstance(step, Wait)
    assert peer.body_of(sid) == b"cdefgh"
    assert chunks == [b"cdef", b"gh", b""]
    assert any(isinstance(e, h2.events.StreamEnded) for e in peer.events)
