"""The client side of InvokeEndpointWithBidirectionalStream as a sans-IO object on ``h2``.

:class:`BidiConnection` owns one HTTP/2 connection (``h2.connection.H2Connection``, client
side) carrying one stream. Like h2 itself it never touches a socket or a clock::

    start()                   connection preface, SETTINGS, the signed request HEADERS
    send_event(event, time)   validate, encode, sign (:class:`sigv4.EventSigner`) and queue
    close_input(time)         queue the signed empty message; END_STREAM goes with it
    flush_input()             hand queued input to h2, never beyond the flow-control window
    input_pending             bytes still queued (the sender waits for a WINDOW_UPDATE)
    data_to_send()            bytes for the socket (frames, acknowledgements, pings)
    receive_data(bytes)       frames from the socket; receive_eof(), receive_transport_error()
    receive_write_error(exc)  writing failed; the answer may still be read (input_stalled)
    next_event()              {'PayloadPart': {...}} | NEED_DATA | END, or raises the error
    initial_response()        {'InvokedProductionVariant', 'ResponseMetadata'} | None, or raises

Flow control both ways. Input is queued whole but handed to h2 only within the stream's
and the connection's send windows (and in frames no larger than the peer allows), so a
large part simply waits for WINDOW_UPDATEs. Received DATA is acknowledged (which lets the
server send more) once the decoded events waiting for the user hold less than
``low_water`` bytes: a reader that does not read holds the server back instead of
buffering without bound. A message larger than the window is never stuck: bytes that
complete no event are acknowledged at once.

Errors. A non-200 answer (rest-json: InputValidationError 400, ModelError 424,
InternalServerError 500, ServiceUnavailableError 503, ...) becomes the modeled
``ClientError`` when its body is complete, even while input is still open; from then on
``send_event``, ``flush_input``, ``next_event`` and ``initial_response`` raise it. An
exception event (ModelStreamError with its ErrorCode, InternalStreamFailure) is raised by
``next_event`` after the events before it. A reset stream, a GOAWAY, corrupt bytes or an
early EOF raise ``ResponseStreamingError``. Nothing is ever retried.

A failed write does not end the call at once: a server may send its complete answer (an
early 424 while the input is still open, say) and then close the connection, so writing
fails while that answer still waits in the socket. After ``receive_write_error`` nothing
more is sent, ``input_stalled`` tells the sender to wait for the reader, and the error is
what reading ends with: the answer's own error if it was complete, else
``ResponseStreamingError``.
"""

from __future__ import annotations

import contextlib
import enum
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "InvokeEndpointWithBidirectionalStream needs the h2 package: "
        "pip install 'sagemaker-runtime-lite[http2]'"
    ) from exc

from sigv4 import EventSigner

from .._errors import (
    ClientError,
    ResponseStreamingError,
)
from .._restjson import response_metadata
from ..eventstream import (
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamMessage,
    encode_message,
)
from ._events import (
    BidiRequest,
    encode_input_event,
    event_from_message,
    initial_error,
)

__all__ = [
    "DEFAULT_WINDOW",
    "END",
    "NEED_DATA",
    "BidiConnection",
    "Signal",
]

#: The receive window we advertise for the stream and the connection.
DEFAULT_WINDOW = 4 * 1024 * 1024
_MAX_ERROR_BODY = 64 * 1024


class Signal(enum.Enum):
    """What :meth:`BidiConnection.next_event` says when it has no event to give."""

    NEED_DATA = "NEED_DATA"
    END = "END"


NEED_DATA: Final = Signal.NEED_DATA
END: Final = Signal.END

Event = dict[str, Any]


class BidiConnection:
    """One bidirectional-stream call over one HTTP/2 connection, without I/O."""

    def __init__(
        self,
        request: BidiRequest,
        *,
        endpoint_url: str,
        window: int = DEFAULT_WINDOW,
        low_water: int | None = None,
    ) -> None:
        self.request = request
        self.endpoint_url = endpoint_url
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self._window = window
        self._low_water = window // 2 if low_water is None else low_water
        self._signer = EventSigner.from_request(request.params, request.signature)
        self._stream_id = 0
        self._decoder = EventStreamDecoder()
        # Input: whole encoded outer messages; the first is partly sent up to _offset.
        self._outbox: deque[bytes] = deque()
        self._offset = 0
        self._pending = 0
        self._input_closed = False
        self._end_sent = False
        # Output.
        self._status: int | None = None
        self._headers: dict[str, str] = {}
        self._metadata: dict[str, Any] = {}
        self._error_body = bytearray()
        self._events: deque[Event] = deque()
        self._queued_bytes = 0
        self._unacked = 0
        self._ended = False
        self._error: Exception | None = None
        self._eof = False
        self._write_error: BaseException | None = None

    def __repr__(self) -> str:
        return (
            f"BidiConnection(endpoint_url={self.endpoint_url!r}, status={self._status!r}, "
            f"ended={self._ended!r})"
        )

    # ------------------------------------------------------------------ opening

    def start(self) -> None:
        """Queue the connection preface, our SETTINGS and the request HEADERS."""
        conn = self._h2
        conn.initiate_connection()
        conn.update_settings(
            {
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self._window,
            }
        )
        if self._window > 65535:
            conn.increment_flow_control_window(self._window - 65535)
        self._stream_id = conn.get_next_available_stream_id()
        conn.send_headers(self._stream_id, self.request.h2_headers, end_stream=False)

    def data_to_send(self) -> bytes:
        """Bytes for the socket, in order; send them before asking again. Nothing once
        writing has failed."""
        data = self._h2.data_to_send()
        return b"" if self._write_error is not None else data

    # ------------------------------------------------------------------ input

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    @property
    def input_closed(self) -> bool:
        return self._input_closed

    @property
    def input_pending(self) -> int:
        """Queued input bytes not yet handed to h2 (0 once everything is out)."""
        return self._pending

    @property
    def input_stalled(self) -> bool:
        """Writing failed and the answer is still being read: a sender waits for the
        reader (``finished``), then :meth:`flush_input` raises what the call ended with."""
        return self._write_error is not None and not self.finished

    def send_event(self, event: object, time: datetime) -> None:
        """Validate, encode and sign one ``{'PayloadPart': {...}}`` event and queue it.

        Raises ``ParamValidationError`` for a bad event (nothing is queued, the chain does
        not advance), the stream's error if it has failed, and ``RuntimeError`` after
        :meth:`close_input`."""
        self._check()
        if self._input_closed:
            raise RuntimeError("the input stream is closed; no more events can be sent")
        inner = encode_input_event(event)
        self._queue(inner, time)

    def close_input(self, time: datetime) -> None:
        """Queue the signed empty message that ends the input; END_STREAM follows it.
        Idempotent; a no-op once the stream has failed."""
        if self._input_closed or self._error is not None:
            self._input_closed = True
            return
        self._queue(b"", time)
        self._input_closed = True

    def _queue(self, payload: bytes, time: datetime) -> None:
        if self._write_error is not None:  # nothing more can be sent
            return
        signed = self._signer.sign(payload, time)
        outer = encode_message(signed.headers, payload)
        self._outbox.append(outer)
        self._pending += len(outer)

    def flush_input(self) -> None:
        """Hand queued input to h2 within the flow-control windows (frames of at most the
        peer's maximum frame size); END_STREAM goes with the last byte after close. Raises
        the stream's error only while there is input left to send, or once writing
        failed and the answer is over (``ResponseStreamingError`` if it ended well: the
        input was not delivered); nothing while ``input_stalled``."""
        if self._write_error is not None:
            if self.finished:
                self._check()
                raise ResponseStreamingError(self.endpoint_url, self._write_error)
            return
        if not self._outbox and (self._end_sent or not self._input_closed):
            return
        self._check()
        conn = self._h2
        sid = self._stream_id
        try:
            while self._outbox:
                window = conn.local_flow_control_window(sid)
                if window <= 0:
                    return
                head = self._outbox[0]
                size = min(window, conn.max_outbound_frame_size, len(head) - self._offset)
                chunk = head[self._offset : self._offset + size]
                self._offset += size
                self._pending -= size
                if self._offset == len(head):
                    self._outbox.popleft()
                    self._offset = 0
                last = self._input_closed and not self._outbox
                conn.send_data(sid, chunk, end_stream=last)
                if last:
                    self._end_sent = True
            if self._input_closed and not self._end_sent:
                conn.end_stream(sid)
                self._end_sent = True
        except h2.exceptions.StreamClosedError:
            self._outbox.clear()
            self._pending = 0
            self._fail(ResponseStreamingError(self.endpoint_url, "the service closed the stream"))
            self._check()

    # ------------------------------------------------------------------ output

    @property
    def response_ready(self) -> bool:
        return self._status == 200 or self._error is not None

    @property
    def transport_closed(self) -> bool:
        """The socket reached EOF or failed: nothing more will be read or written."""
        return self._eof

    @property
    def finished(self) -> bool:
        """The answer is over: ended, failed or the transport is gone."""
        return self._ended or self._error is not None or self._eof

    def initial_response(self) -> dict[str, Any] | None:
        """boto3's output of the call once the 200 headers are in (None before), or the
        initial error."""
        if self._status == 200:
            output: dict[str, Any] = {}
            variant = self._headers.get("x-amzn-invoked-production-variant")
            if variant is not None:
                output["InvokedProductionVariant"] = variant
            output["ResponseMetadata"] = self._metadata
            return output
        self._check()
        return None

    def next_event(self) -> Event | Signal:
        """The next event, NEED_DATA, or END; raises the stream's error after the events
        that came before it. Taking an event may acknowledge data (see ``data_to_send``)."""
        if self._events:
            event = self._events.popleft()
            self._queued_bytes -= len(event["PayloadPart"]["Bytes"])
            self._maybe_ack()
            return event
        self._check()
        if self._ended:
            return END
        return NEED_DATA

    def _maybe_ack(self) -> None:
        if self._unacked and self._queued_bytes <= self._low_water:
            amount, self._unacked = self._unacked, 0
            # A closed stream still acknowledges at the connection level.
            with contextlib.suppress(h2.exceptions.H2Error):
                self._h2.acknowledge_received_data(amount, self._stream_id)

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the socket."""
        if self._eof:
            return
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(ResponseStreamingError(self.endpoint_url, f"HTTP/2 protocol error: {exc}"))
            return
        for event in events:
            self._handle(event)

    def receive_eof(self) -> None:
        """The server closed the connection."""
        if self._eof:
            return
        self._eof = True
        if not self._ended:
            self._fail(
                ResponseStreamingError(
                    self.endpoint_url, "the connection closed before the answer was complete"
                )
            )

    def receive_transport_error(self, exc: BaseException) -> None:
        """Reading the socket failed (or a shell stops waiting after a write error)."""
        self._eof = True
        if not self._ended:
            self._fail(ResponseStreamingError(self.endpoint_url, exc))

    def receive_write_error(self, exc: BaseException) -> None:
        """Writing the socket failed: nothing more is sent (queued input is dropped). The
        stream does not fail yet: the server may have answered before it closed the
        connection, and the reader may still find that answer in the socket. The error is
        what reading ends with (see ``input_stalled``)."""
        if self._write_error is None:
            self._write_error = exc
        self._outbox.clear()
        self._pending = 0

    def give_up_reading(self) -> None:
        """After a write error, the answer did not end in time: fail with the write
        error."""
        if self._write_error is not None:
            self.receive_transport_error(self._write_error)

    def fail(self, error: Exception) -> None:
        """Record an error found outside the protocol (a bad input event from ``Body``);
        the first error wins."""
        self._fail(error)

    def abort(self) -> None:
        """Queue a RST_STREAM (CANCEL) if the stream is still open, and a GOAWAY."""
        with contextlib.suppress(h2.exceptions.H2Error):
            if not (self._ended and self._end_sent):
                self._h2.reset_stream(self._stream_id, h2.errors.ErrorCodes.CANCEL)
        with contextlib.suppress(h2.exceptions.H2Error):
            self._h2.close_connection()

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self._outbox.clear()
        self._pending = 0

    def _handle(self, event: h2.events.Event) -> None:
        sid = self._stream_id
        if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
            self._on_headers(event.headers)
        elif isinstance(event, h2.events.DataReceived) and event.stream_id == sid:
            self._on_data(event.data, event.flow_controlled_length)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id == sid:
            self._on_end()
        elif isinstance(event, h2.events.StreamReset) and event.stream_id == sid:
            if not self._ended and self._status not in (None, 200):
                self._ended = True
                self._fail(self._initial_error())  # what the error body had so far
            elif not self._ended:
                self._fail(
                    ResponseStreamingError(
                        self.endpoint_url,
                        f"the service reset the stream ({_code_name(event.error_code)})",
                    )
                )
            self._outbox.clear()
            self._pending = 0
        elif isinstance(event, h2.events.ConnectionTerminated):
            last = event.last_stream_id
            if not self._ended and (
                event.error_code != h2.errors.ErrorCodes.NO_ERROR or last is None or last < sid
            ):
                self._fail(
                    ResponseStreamingError(
                        self.endpoint_url,
                        f"the service closed the connection ({_code_name(event.error_code)})",
                    )
                )

    def _on_headers(self, headers: Iterable[tuple[str | bytes, str | bytes]]) -> None:
        fields: dict[str, str] = {}
        for raw_name, raw_value in headers:
            key = _text(raw_name).lower()
            value = _text(raw_value)
            fields[key] = f"{fields[key]}, {value}" if key in fields else value
        status_text = fields.pop(":status", "0")
        self._status = int(status_text) if status_text.isdigit() else 0
        self._headers = fields
        self._metadata = response_metadata(self._status, fields, 0)

    def _on_data(self, data: bytes, flow_length: int) -> None:
        if self._error is not None:  # failed already: only keep the window open
            self._unacked += flow_length
            self._maybe_ack()
            return
        if self._status != 200:
            if len(self._error_body) < _MAX_ERROR_BODY:
                self._error_body += data[: _MAX_ERROR_BODY - len(self._error_body)]
            self._unacked += flow_length
            self._maybe_ack()
            return
        self._unacked += flow_length
        try:
            messages = self._decoder.feed(data)
            if messages:
                self._decoder.feed(b"")  # an error right after good messages: raise it now
        except CorruptMessageError as exc:
            self._fail(ResponseStreamingError(self.endpoint_url, exc))
            return
        for message in messages:
            if not self._take(message):
                break
        self._maybe_ack()

    def _take(self, message: EventStreamMessage) -> bool:
        item = event_from_message(message, self._metadata)
        if item is None:
            return True
        if isinstance(item, ClientError):
            self._fail(item)
            return False
        self._events.append(item)
        self._queued_bytes += len(item["PayloadPart"]["Bytes"])
        return True

    def _on_end(self) -> None:
        if self._status == 200:
            try:
                self._decoder.end()
            except CorruptMessageError as exc:
                self._fail(ResponseStreamingError(self.endpoint_url, exc))
            self._ended = True
            return
        self._ended = True
        self._fail(self._initial_error())

    def _initial_error(self) -> ClientError:
        status = self._status or 0
        return initial_error(status, self._headers, bytes(self._error_body), self._metadata)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _code_name(code: object) -> str:
    if isinstance(code, h2.errors.ErrorCodes):
        return code.name
    return f"error code {code}"
