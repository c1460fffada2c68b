"""HTTP/2 client connection as a state machine on ``h2``: bytes in, events out, no I/O.

:class:`H2Connection` carries any number of request streams at once (at most what the
server's ``MAX_CONCURRENT_STREAMS`` and ours allow) over one ``h2.connection.H2Connection``.
Like :class:`~._h1.H1Connection` it never touches a socket or a clock::

    initiate()                   the connection preface and our SETTINGS
    open_stream(headers, ...)    HEADERS of a new request; its stream id
    send_body(id, data, end)     queue request body bytes (END_STREAM after the last)
    flush()                      hand queued bodies to h2 within the flow-control windows
    data_to_send()               bytes for the socket (frames, acknowledgements, pings)
    receive_data(bytes)          frames from the socket (b"": the end); receive_error(exc)
    receive_write_error(exc)     writing failed: nothing more is sent, reading goes on
    next_event(id)               Response | Data | EndOfMessage | NEED_DATA, or raises
    forget(id) / reset(id)       drop a finished stream / stop one early (RST_STREAM)
    close()                      GOAWAY: no new streams

Received bodies are bounded: a stream's window (``stream_window``) is opened again only
as its events are taken (or, with ``auto_ack=False``, when its owner calls
:meth:`~H2Connection.release`), so a reader that does not read holds its server back;
the connection's window is opened as data arrives, so one slow stream never stalls the
others. Bodies are never decompressed; a response head has at most ``max_header_count``
fields and, through ``SETTINGS_MAX_HEADER_LIST_SIZE``, ``max_header_bytes`` bytes.

Errors are the transport's (see :mod:`._exceptions`), raised by :meth:`next_event` after
the events that came before them (the rules per stream are in :mod:`._h2_stream`). A
RST_STREAM fails its stream only; corrupt frames, a GOAWAY or the end of input end the
connection for every stream still waiting. h2 reads nothing after a GOAWAY, so streams
the server has not finished fail then: those above its last stream id were not
processed (:func:`~._h2_stream.retry_on_new_connection` says they may be sent again),
the others may have been.
"""

from __future__ import annotations

import contextlib
from typing import Final

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings
    from hpack import NeverIndexedHeaderTuple
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "HTTP/2 needs the h2 package: pip install 'sagemaker-runtime-lite[http2]'"
    ) from exc

from ._exceptions import LocalProtocolError, RemoteProtocolError, TransportError
from ._h1_events import DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADER_COUNT, NEED_DATA, NeedData
from ._h2_stream import H2Event, H2Stream

__all__ = [
    "DEFAULT_CONNECTION_WINDOW",
    "DEFAULT_MAX_STREAMS",
    "DEFAULT_STREAM_WINDOW",
    "H2Connection",
]

#: The receive window of each stream: what may wait unread per response.
DEFAULT_STREAM_WINDOW: Final = 1024 * 1024
#: The receive window of the connection (opened again as data arrives).
DEFAULT_CONNECTION_WINDOW: Final = 16 * 1024 * 1024
#: Streams we open at once at most, whatever the server allows.
DEFAULT_MAX_STREAMS: Final = 100
_CLOSED = (h2.exceptions.ProtocolError, KeyError)  # what h2 raises about a closed stream
#: Header fields never put in HPACK's tables and shown as SENSITIVE_REDACTED in hpack's
#: DEBUG log (h2 does this itself for authorization only).
_SECRET_FIELDS: Final = frozenset({b"authorization", b"x-amz-security-token", b"cookie"})


def _marked(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [
        NeverIndexedHeaderTuple(name, value) if name in _SECRET_FIELDS else (name, value)
        for name, value in headers
    ]


class H2Connection:
    """The client side of one HTTP/2 connection, without I/O (see the module docstring).

    ``origin`` names the server in messages. ``stream_window`` and ``connection_window``
    are the receive windows we advertise; ``max_streams`` caps our concurrent streams.
    """

    def __init__(
        self,
        origin: str,
        *,
        stream_window: int = DEFAULT_STREAM_WINDOW,
        connection_window: int = DEFAULT_CONNECTION_WINDOW,
        max_streams: int = DEFAULT_MAX_STREAMS,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
    ) -> None:
        self.origin = origin
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self._stream_window = stream_window
        self._connection_window = max(connection_window, 65535)
        self._max_streams = max_streams
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._streams: dict[int, H2Stream] = {}
        self._received = 0  # connection-level bytes not yet handed back
        self._accepting = True  # new streams may be opened
        self._ended = False  # no more input: EOF, a read error, a GOAWAY, corrupt frames
        self._write_error: TransportError | None = None
        self._dirty = False  # h2 may have frames queued

    def __repr__(self) -> str:
        return (
            f"<H2Connection {self.origin} streams={len(self._streams)} accepting={self._accepting}>"
        )

    # ------------------------------------------------------------------ the connection

    def initiate(self) -> None:
        """Queue the connection preface and our SETTINGS (push off, our windows)."""
        conn = self._h2
        self._dirty = True
        conn.initiate_connection()
        conn.update_settings(
            {
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self._stream_window,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: self._max_header_bytes,
            }
        )
        if self._connection_window > 65535:
            conn.increment_flow_control_window(self._connection_window - 65535)

    def data_to_send(self) -> bytes:
        """Bytes for the socket, in order; nothing once writing has failed."""
        self._dirty = False
        data: bytes = self._h2.data_to_send()
        return b"" if self._write_error is not None else data

    @property
    def wants_write(self) -> bool:
        """Frames may be waiting for :meth:`data_to_send` (cheap; never False when some
        are, and False again after it, until something queues frames: the steps rely on
        that to never loop without waiting)."""
        return self._dirty and self._write_error is None

    @property
    def capacity(self) -> int:
        """How many more streams may be opened now (0 once the connection is ending)."""
        if not self._accepting:
            return 0
        allowed = min(self._max_streams, self._h2.remote_settings.max_concurrent_streams)
        return max(0, allowed - len(self._streams))

    @property
    def accepting(self) -> bool:
        """New streams may be opened: nothing has ended the connection."""
        return self._accepting

    @property
    def ended(self) -> bool:
        """Nothing more will be read: the connection is over for every stream."""
        return self._ended

    @property
    def write_failed(self) -> bool:
        return self._write_error is not None

    @property
    def write_error(self) -> TransportError | None:
        """Why writing failed, if it did."""
        return self._write_error

    @property
    def stream_count(self) -> int:
        """Streams opened and not yet forgotten."""
        return len(self._streams)

    def close(self) -> None:
        """Queue a GOAWAY; no new streams."""
        self._accepting = False
        self._dirty = True
        with contextlib.suppress(h2.exceptions.ProtocolError):  # closed already
            self._h2.close_connection()

    # ------------------------------------------------------------------ sending

    def open_stream(
        self, headers: list[tuple[bytes, bytes]], *, end_stream: bool, auto_ack: bool = True
    ) -> int:
        """Queue the HEADERS of a new request (see :func:`~._h2_stream.request_headers`);
        its stream id. ``end_stream``: the request has no body. ``LocalProtocolError``
        when no stream may be opened, or for a head h2 refuses (the connection then takes
        no more streams: its header compression may be out of step)."""
        if not self.capacity:
            raise LocalProtocolError(f"no stream may be opened on the connection to {self.origin}")
        self._dirty = True
        try:
            sid = self._h2.get_next_available_stream_id()
            self._h2.send_headers(sid, _marked(headers), end_stream=end_stream)
        except h2.exceptions.NoAvailableStreamIDError:
            self._accepting = False
            raise LocalProtocolError(
                f"the connection to {self.origin} ran out of stream ids"
            ) from None
        except (h2.exceptions.ProtocolError, ValueError, TypeError) as exc:
            self._accepting = False
            raise LocalProtocolError(f"the request head was refused: {exc}") from None
        self._streams[sid] = H2Stream(sid, auto_ack, end_stream)
        return sid

    def send_body(self, sid: int, data: bytes, end: bool = False) -> None:
        """Queue body bytes of stream ``sid`` (``end``: they are the last); they go out
        with :meth:`flush`. Nothing is queued once the stream is answered or failed, or
        writing failed."""
        stream = self._streams[sid]
        if stream.end_queued:
            raise LocalProtocolError(f"the body of stream {sid} has ended")
        if self._write_error is None and stream.error is None and not stream.remote_ended:
            stream.queue(data, end)

    def body_pending(self, sid: int) -> int:
        """Body bytes of ``sid`` not yet handed to h2, plus one while END_STREAM waits."""
        stream = self._streams[sid]
        return stream.pending + (stream.end_queued and not stream.end_sent)

    def window_open(self, sid: int) -> bool:
        """Stream ``sid`` may send body bytes now (True too when it cannot send at all:
        :meth:`flush` then drops its body)."""
        try:
            return self._h2.local_flow_control_window(sid) > 0
        except _CLOSED:
            return True

    def flush(self) -> None:
        """Hand queued body bytes to h2 within each stream's and the connection's send
        windows, in frames no larger than the server allows; END_STREAM with the last."""
        if self._write_error is not None or self._ended:
            return
        conn = self._h2
        for stream in list(self._streams.values()):
            try:
                while stream.outbox:
                    window = min(
                        conn.local_flow_control_window(stream.sid), conn.max_outbound_frame_size
                    )
                    if window <= 0:
                        break
                    chunk, last = stream.next_chunk(window)
                    conn.send_data(stream.sid, chunk, end_stream=last)
                    self._dirty = True
                if not stream.outbox and stream.end_queued and not stream.end_sent:
                    conn.end_stream(stream.sid)
                    stream.end_sent = True
                    self._dirty = True
            except _CLOSED:
                stream.drop_body()  # reset or answered: the events say which

    def drop_body(self, sid: int) -> None:
        """Send nothing more of stream ``sid``'s body (queued bytes are dropped)."""
        stream = self._streams.get(sid)
        if stream is not None:
            stream.drop_body()

    def stop_body(self, sid: int) -> None:
        """Send no more of stream ``sid``'s body (its answer is complete): RST_STREAM
        (CANCEL), the answer kept for its reader."""
        self._streams[sid].drop_body()
        self._reset_h2(sid, h2.errors.ErrorCodes.CANCEL)

    def reset(self, sid: int, code: int = h2.errors.ErrorCodes.CANCEL) -> None:
        """Stop stream ``sid`` early (its reader gave up): RST_STREAM unless it is over,
        and forgotten (data still in flight for it is handed back by h2)."""
        stream = self._streams.pop(sid, None)
        if stream is not None and not stream.over and not self._ended:
            self._reset_h2(sid, code)

    def forget(self, sid: int) -> None:
        """Drop stream ``sid`` once its owner is done with it (a RST_STREAM first if it
        is not over both ways)."""
        stream = self._streams.get(sid)
        if stream is not None and stream.over:
            del self._streams[sid]
        elif stream is not None:
            self.reset(sid)

    def _reset_h2(self, sid: int, code: int) -> None:
        self._dirty = True
        with contextlib.suppress(*_CLOSED):  # closed already
            self._h2.reset_stream(sid, code)

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the socket (``b""``: the server closed the connection)."""
        if self._ended:
            return
        if not data:
            self._end(None)
            return
        self._dirty = True  # acknowledgements, SETTINGS and PING answers
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:  # h2 queued a GOAWAY
            self._end(RemoteProtocolError(f"{self.origin} broke the HTTP/2 protocol: {exc}"))
            return
        for event in events:
            self._handle(event)

    def receive_error(self, error: TransportError) -> None:
        """Reading failed (or the connection must be given up: a write timed out)."""
        self._end(error)

    def receive_write_error(self, error: TransportError) -> None:
        """Writing failed: nothing more is sent (queued bodies are dropped) and no new
        stream is opened. Reading goes on: the server may have answered before it closed
        the connection; streams still waiting at the end of input fail with ``error``."""
        if self._write_error is None:
            self._write_error = error
        self._accepting = False
        for stream in self._streams.values():
            stream.drop_body()

    def _end(self, cause: TransportError | None) -> None:
        if not self._ended:
            self._ended = True
            self._accepting = False
            for stream in self._streams.values():
                stream.on_cut(cause or self._write_error, self.origin)

    def next_event(self, sid: int) -> H2Event | NeedData:
        """The next event of stream ``sid``: its ``Response`` head, ``Data``,
        ``EndOfMessage``, or ``NEED_DATA``; raises the stream's error after the events
        before it. Taking data opens the stream's window again (``auto_ack``)."""
        stream = self._streams[sid]
        if stream.events:
            event, flow = stream.events.popleft()
            if flow:
                stream.taken += flow
                if stream.auto_ack and stream.taken >= self._stream_window // 2:
                    self.release(sid)
            return event
        if stream.error is not None:
            raise stream.error
        return NEED_DATA

    def has_event(self, sid: int) -> bool:
        """:meth:`next_event` would not say NEED_DATA."""
        stream = self._streams[sid]
        return bool(stream.events) or stream.error is not None

    def release(self, sid: int) -> None:
        """Open stream ``sid``'s window by what its reader has taken so far."""
        stream = self._streams.get(sid)
        if stream is None or not stream.taken:
            return
        amount, stream.taken = stream.taken, 0
        if not stream.remote_ended and not self._ended:
            self._dirty = True
            with contextlib.suppress(*_CLOSED, ValueError):  # closed meanwhile
                self._h2.increment_flow_control_window(amount, stream_id=sid)

    def stream_failed(self, sid: int) -> bool:
        """Stream ``sid`` has an error waiting (behind its events, if any)."""
        return self._streams[sid].error is not None

    def response_complete(self, sid: int) -> bool:
        """The server has ended stream ``sid``: its whole answer is in."""
        return self._streams[sid].remote_ended

    def head_received(self, sid: int) -> bool:
        return self._streams[sid].head is not None

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ConnectionTerminated):
            self._accepting = False
            for each in self._streams.values():
                each.on_goaway(event.error_code or 0, event.last_stream_id, self.origin)
            self._end(None)
            return
        stream = self._streams.get(getattr(event, "stream_id", 0))
        if isinstance(event, h2.events.DataReceived):
            self._received += event.flow_controlled_length
            if self._received >= self._connection_window // 2:
                self._open_connection_window()
            if stream is not None:
                stream.on_data(event.data, event.flow_controlled_length)
        elif stream is None:
            return  # a stream we forgot, or the connection's own (SETTINGS, PING, ...)
        elif isinstance(event, h2.events.ResponseReceived):
            error = stream.on_head(event.headers, self._max_header_count)
            if error is not None:
                stream.error = error
                stream.drop_body()
                self._reset_h2(stream.sid, h2.errors.ErrorCodes.PROTOCOL_ERROR)
        elif isinstance(event, h2.events.TrailersReceived):
            stream.on_trailers(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            stream.on_end()
        elif isinstance(event, h2.events.StreamReset):
            stream.on_reset(event.error_code, self.origin)

    def _open_connection_window(self) -> None:
        amount, self._received = self._received, 0
        self._dirty = True
        with contextlib.suppress(h2.exceptions.ProtocolError):  # the connection is closing
            self._h2.increment_flow_control_window(amount)
