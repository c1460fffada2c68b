"""The client side of InvokeEndpointWithBidirectionalStream as a sans-IO object: one stream
of the HTTP/2 connection core (:class:`runtime_client.http._h2.H2Connection`) with the
event layer on top. Like the core it never touches a socket or a clock::

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

The drivers feed the core (``core``) directly; this object takes the stream's events from
it when asked. Flow control both ways: input is handed to h2 only within the stream's and
the connection's send windows (the core's ``flush``); received DATA is acknowledged once
the decoded events waiting for the user hold less than ``low_water`` bytes, so a reader
that does not read holds the server back. A message larger than the window is never
stuck: bytes that complete no event are acknowledged at once.

Errors. A non-200 answer (rest-json: InputValidationError 400, ModelError 424,
InternalServerError 500, ServiceUnavailableError 503, ...) becomes the modeled
``ClientError`` when its body is complete (or cut), even while input is still open; from
then on ``send_event``, ``flush_input``, ``next_event`` and ``initial_response`` raise it.
An exception event (ModelStreamError with its ErrorCode, InternalStreamFailure) is raised
by ``next_event`` after the events before it. Everything that ends the answer at the
transport level (a reset stream, a GOAWAY, corrupt bytes, the connection closed or broken,
before or after the service answered) raises ``ResponseStreamingError``: the call returns
before the answer, so the answer is always read as a stream. Nothing is ever retried.

A failed write does not end the call at once: a server may send its complete answer (an
early 424 while the input is still open, say) and then close the connection, so writing
fails while that answer still waits in the socket. After ``receive_write_error`` nothing
more is sent, ``input_stalled`` tells the sender to wait for the reader, and the error is
what reading ends with: the answer's own error if it was complete, else
``ResponseStreamingError``.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final

from sigv4 import EventSigner

from .._errors import ClientError, HTTPClientError, ResponseStreamingError
from .._restjson import response_metadata
from ..eventstream import (
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamMessage,
    encode_message,
)
from ..http._exceptions import NetworkError, TransportError
from ..http._h1_events import NEED_DATA as _CORE_NEED_DATA
from ..http._h1_events import Data, Response
from ..http._h2 import H2Connection
from ._events import BidiRequest, encode_input_event, event_from_message, initial_error

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
        #: The HTTP/2 connection (the drivers read and write it); one stream is ours.
        self.core = H2Connection(endpoint_url, stream_window=window, connection_window=window)
        self._low_water = window // 2 if low_water is None else low_water
        self._signer = EventSigner.from_request(request.params, request.signature)
        self._sid = 0
        self._decoder = EventStreamDecoder()
        self._input_closed = False
        self._status: int | None = None
        self._headers: dict[str, str] = {}
        self._metadata: dict[str, Any] = {}
        self._error_body = bytearray()
        self._events: deque[Event] = deque()
        self._queued_bytes = 0
        self._ended = False
        self._error: Exception | None = None
        self._aborted = False
        # The blocking form's Body: the next event is taken when the last one is out.
        self._body: Iterator[Any] | None = None
        self._clock: Callable[[], datetime] | None = None

    def __repr__(self) -> str:
        return (
            f"BidiConnection(endpoint_url={self.endpoint_url!r}, status={self._status!r}, "
            f"ended={self._ended!r})"
        )

    # ------------------------------------------------------------------ opening

    def start(self) -> None:
        """Queue the connection preface, our SETTINGS and the request HEADERS."""
        self.core.initiate()
        headers = [(k.encode(), v.encode()) for k, v in self.request.h2_headers]
        self._sid = self.core.open_stream(headers, end_stream=False, auto_ack=False)

    def data_to_send(self) -> bytes:
        """Bytes for the socket, in order; send them before asking again. Nothing once
        writing has failed."""
        return self.core.data_to_send()

    def transport_error(self, exc: TransportError) -> HTTPClientError:
        """What a transport failure (raised while the drivers wrote or read) is to the
        user, by the client's one rule (``_operation.classify_transport_error``)."""
        from .._operation import classify_transport_error

        return classify_transport_error(exc, self.endpoint_url)[1]

    # ------------------------------------------------------------------ input

    def _check(self) -> None:
        self._take_in()
        if self._error is not None:
            raise self._error

    @property
    def input_closed(self) -> bool:
        return self._input_closed

    @property
    def input_pending(self) -> int:
        """Queued input bytes not yet handed to h2 (0 once everything is out)."""
        if self._aborted:
            return 0
        return self.core.body_pending(self._sid)

    @property
    def input_stalled(self) -> bool:
        """Writing failed and the answer is still being read: a sender waits for the
        reader (``finished``), then :meth:`flush_input` raises what the call ended with."""
        return self.core.write_failed and not self.finished

    def send_event(self, event: object, time: datetime) -> None:
        """Validate, encode and sign one ``{'PayloadPart': {...}}`` event and queue it.

        Raises ``ParamValidationError`` for a bad event (nothing is queued, the chain does
        not advance), the stream's error if it has failed, and ``RuntimeError`` after
        :meth:`close_input`."""
        self._check()
        if self._input_closed:
            raise RuntimeError("the input stream is closed; no more events can be sent")
        inner = encode_input_event(event)
        self._queue(inner, time, last=False)

    def close_input(self, time: datetime) -> None:
        """Queue the signed empty message that ends the input; END_STREAM follows it.
        Idempotent; a no-op once the stream has failed."""
        if self._input_closed or self._error is not None:
            self._input_closed = True
            return
        self._input_closed = True
        self._queue(b"", time, last=True)

    def _queue(self, payload: bytes, time: datetime, *, last: bool) -> None:
        if self.core.write_failed or self._aborted:  # nothing more can be sent
            return
        signed = self._signer.sign(payload, time)
        self.core.send_body(self._sid, encode_message(signed.headers, payload), end=last)

    def flush_input(self) -> None:
        """Hand queued input to h2 within the flow-control windows (frames of at most the
        peer's maximum frame size); END_STREAM goes with the last byte after close. Raises
        the stream's error only while there is input left to send, or once writing
        failed and the answer is over (``ResponseStreamingError`` if it ended well: the
        input was not delivered); nothing while ``input_stalled``."""
        if self.core.write_failed:
            if self.finished:
                self._check()
                raise ResponseStreamingError(self.endpoint_url, self.core.write_error)
            return
        if not self.input_pending:
            return
        self._check()
        self.core.flush()

    def set_body(self, body: Iterator[Any], clock: Callable[[], datetime]) -> None:
        """The blocking form's ``Body``: :meth:`feed_body` sends from it."""
        self._body = body
        self._clock = clock

    def feed_body(self) -> None:
        """Send the next ``Body`` event if the previous one is out (the blocking form
        calls this while its caller waits for the answer); at its end, close the input.
        A failing ``Body`` or a bad event ends the stream, reported in order."""
        body = self._body
        if body is None or self._clock is None or self.input_pending or self.finished:
            return
        try:
            event = next(body)
        except StopIteration:
            self._body = None
            self.close_input(self._clock())
            return
        except Exception as exc:
            self._body = None
            self.fail(exc)
            return
        try:
            self.send_event(event, self._clock())
        except Exception as exc:
            self._body = None
            self.fail(exc)

    # ------------------------------------------------------------------ output

    @property
    def response_ready(self) -> bool:
        self._take_in()
        return self._status == 200 or self._error is not None

    @property
    def transport_closed(self) -> bool:
        """The connection is over: nothing more will be read or written."""
        return self.core.ended

    @property
    def finished(self) -> bool:
        """The answer is over: ended, failed or the transport is gone."""
        self._take_in()
        return self._ended or self._error is not None or self.core.ended

    def initial_response(self) -> dict[str, Any] | None:
        """boto3's output of the call once the 200 headers are in (None before), or the
        initial error."""
        self._take_in()
        if self._status == 200:
            output: dict[str, Any] = {}
            variant = self._headers.get("x-amzn-invoked-production-variant")
            if variant is not None:
                output["InvokedProductionVariant"] = variant
            output["ResponseMetadata"] = self._metadata
            return output
        self._check()
        return None

    def unanswered(self) -> ResponseStreamingError:
        """The error of a stream that ended before the service answered."""
        return ResponseStreamingError(
            self.endpoint_url, "the stream ended before the service answered"
        )

    def next_event(self) -> Event | Signal:
        """The next event, NEED_DATA, or END; raises the stream's error after the events
        that came before it. Taking an event may acknowledge data (see ``data_to_send``)."""
        self._take_in()
        if self._events:
            event = self._events.popleft()
            self._queued_bytes -= len(event["PayloadPart"]["Bytes"])
            self._maybe_release()
            return event
        self._check()
        if self._ended:
            return END
        return NEED_DATA

    def _maybe_release(self) -> None:
        if self._queued_bytes <= self._low_water and not self._aborted:
            self.core.release(self._sid)

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the socket (the drivers feed ``core`` directly)."""
        self.core.receive_data(data)
        self._take_in()

    def receive_eof(self) -> None:
        """The server closed the connection."""
        self.core.receive_data(b"")
        self._take_in()

    def receive_transport_error(self, exc: BaseException) -> None:
        """Reading the socket failed."""
        self.core.receive_error(_transport(exc, "reading"))
        self._take_in()

    def receive_write_error(self, exc: BaseException) -> None:
        """Writing the socket failed: nothing more is sent (queued input is dropped). The
        stream does not fail yet: the server may have answered before it closed the
        connection, and the reader may still find that answer in the socket. The error is
        what reading ends with (see ``input_stalled``)."""
        self.core.receive_write_error(_transport(exc, "writing"))

    def give_up_reading(self) -> None:
        """After a write error, the answer did not end in time: fail with the write
        error."""
        if self.core.write_failed:
            self.core.receive_data(b"")  # the end: what is still waiting fails with it
            self._take_in()

    def fail(self, error: Exception) -> None:
        """Record an error found outside the protocol (a bad input event from ``Body``);
        the first error wins."""
        if self._error is None:
            self._error = error
        if not self._aborted:
            self.core.drop_body(self._sid)

    def abort(self) -> None:
        """Queue a RST_STREAM (CANCEL) if the stream is still open, and a GOAWAY."""
        if not self._aborted:
            self._aborted = True
            self.core.reset(self._sid)
            self.core.close()

    def take_in(self) -> None:
        """Take in what the drivers fed the core (every query does this first)."""
        self._take_in()

    def _take_in(self) -> None:
        """Take the stream's events from the core, in order, up to its error."""
        if self._aborted or self._sid == 0:
            return
        core = self.core
        while self._error is None and not self._ended:
            try:
                event = core.next_event(self._sid)
            except TransportError as exc:
                self._on_cut(exc)
                return
            if event is _CORE_NEED_DATA:
                return
            if type(event) is Response:
                self._on_headers(event)
            elif type(event) is Data:
                self._on_data(event.data)
            else:  # EndOfMessage
                self._on_end()

    def _on_cut(self, exc: TransportError) -> None:
        """The answer ended at the transport level (see the module docstring)."""
        self._ended = self._status not in (None, 200)
        if self._ended:
            self._fail(self._initial_error())  # what the error body had so far
        elif self._status is None:
            unanswered = f"the stream ended before the service answered ({exc})"
            self._fail(ResponseStreamingError(self.endpoint_url, unanswered))
        else:
            self._fail(ResponseStreamingError(self.endpoint_url, exc))

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self.core.drop_body(self._sid)

    def _on_headers(self, head: Response) -> None:
        fields: dict[str, str] = {}
        for raw_name, raw_value in head.headers:
            key = raw_name.decode("latin-1")
            value = raw_value.decode("utf-8", "replace")
            fields[key] = f"{fields[key]}, {value}" if key in fields else value
        self._status = head.status_code
        self._headers = fields
        self._metadata = response_metadata(self._status, fields, 0)

    def _on_data(self, data: bytes) -> None:
        if self._status != 200:
            if len(self._error_body) < _MAX_ERROR_BODY:
                self._error_body += data[: _MAX_ERROR_BODY - len(self._error_body)]
            self.core.release(self._sid)
            return
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
        self._maybe_release()

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
        self._ended = True
        if self._status == 200:
            try:
                self._decoder.end()
            except CorruptMessageError as exc:
                self._fail(ResponseStreamingError(self.endpoint_url, exc))
            return
        self._fail(self._initial_error())

    def _initial_error(self) -> ClientError:
        status = self._status or 0
        return initial_error(status, self._headers, bytes(self._error_body), self._metadata)


def _transport(exc: BaseException, doing: str) -> TransportError:
    if isinstance(exc, TransportError):
        return exc
    return NetworkError(f"{doing} failed: {exc}")
