"""An HTTP/1.1 client connection as a state machine, without I/O (RFC 9110, RFC 9112).

Bytes in, events out: :meth:`H1Connection.receive_data` takes what the socket read
(``b""`` is end of file), :meth:`H1Connection.next_event` hands out one event at a time,
and the ``send_*`` methods return the bytes to write. No socket, clock or thread: a
blocking driver and an async driver run the same object. One request and its response
at a time (no pipelining)::

    conn = H1Connection()
    sock.sendall(conn.send_request(b"POST", b"/endpoints/ep/invocations", headers))
    sock.sendall(conn.send_data(body))
    sock.sendall(conn.send_end())
    while type(event := conn.next_event()) is not EndOfMessage:
        if event is NEED_DATA:
            conn.receive_data(sock.recv(65536))
        ...                                   # Response, then Data events
    if conn.keep_alive and conn.our_state is conn.their_state is H1State.DONE:
        conn.start_next_cycle()               # the connection may carry the next request

States (``our_state`` for the request we send, ``their_state`` for the response)::

    our:   IDLE -send_request-> SEND_BODY -send_end-> DONE | MUST_CLOSE
    their: IDLE -send_request-> SEND_RESPONSE -Response-> SEND_BODY -EndOfMessage-> DONE
           | MUST_CLOSE; EOF seen by next_event -> CLOSED; any error -> ERROR (both sides)

The response is read as h11 reads it, with the differences listed in
``tests/http/test_h1_differential.py``. The head is found with one search for the blank
line (resumed where the last search stopped) and parsed in a few C-level calls; an
unusual head (bare LF line endings, obs-fold, an invalid line) takes a careful path that
gives the same result as h11, or a precise error. Limits, each named in its error:

- ``max_header_bytes`` (64 KiB): the status line and header lines with their line
  endings and the blank line, whether they arrive in one piece or many;
- ``max_header_count`` (128): header fields in one head, and trailer fields;
- ``max_line_bytes`` (8 KiB): a chunk-size line, extensions included;
- ``max_trailer_bytes`` (16 KiB): the trailer section with its blank line.

Bytes objects given to :meth:`~H1Connection.receive_data` are kept by reference (a body
that arrives in one piece reaches its :class:`Data` event without another copy); other
bytes-like objects are copied first, since drivers reuse their read buffers.

This module is the state machine. Its parts: ``_h1_events`` (the events, the states, the
default limits), ``_h1_grammar`` (fields, the status line and body framing, parsed and
encoded), ``_h1_request`` (the request head and its framing) and ``_h1_reader`` (the
receive buffer: the head, the chunks, the trailers, where an early end of file cut).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._exceptions import LocalProtocolError, ProtocolError
from ._h1_events import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_TRAILER_BYTES,
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    H1State,
    Headers,
    InformationalResponse,
    NeedData,
    Response,
)
from ._h1_grammar import (
    HTTP_10,
    NO_BODY_STATUS,
    framing,
    remote,
)
from ._h1_reader import (
    CHUNK_SIZE,
    END,
    FAILED,
    FIXED,
    HEAD,
    NOTHING,
    TRAILERS,
    UNTIL_CLOSE,
    ResponseReader,
)
from ._h1_request import SEND_CHUNKED, SEND_LENGTH, Fields, encode_request, encode_trailers

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_HEADER_COUNT",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_MAX_TRAILER_BYTES",
    "NEED_DATA",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "H1Connection",
    "H1State",
    "InformationalResponse",
    "NeedData",
    "Response",
]

_CLOSED_EVENT: Final = ConnectionClosed()
_IDLE, _SEND_RESPONSE, _SEND_BODY = H1State.IDLE, H1State.SEND_RESPONSE, H1State.SEND_BODY
_DONE, _MUST_CLOSE, _CLOSED = H1State.DONE, H1State.MUST_CLOSE, H1State.CLOSED
_ERROR = H1State.ERROR


# The connection is its response reader (a subclass, not an owner of one): next_event()
# and receive_data() use the buffer's slots on self, with no attribute lookup between.
class H1Connection(ResponseReader):
    """The client side of one HTTP/1.1 connection: one request, then its response.

    The limits bound what a server can make us buffer; each defaults to the module's
    ``DEFAULT_MAX_*`` constant and each error that enforces one names it. Not thread-safe:
    one driver uses a connection at a time (the pool hands it out).
    """

    __slots__ = (
        "_awaiting_continue",
        "_close_reason",
        "_deferred",
        "_error",
        "_head_request",
        "_keep_alive",
        "_our",
        "_send_left",
        "_send_mode",
        "_their",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_trailer_bytes: int = DEFAULT_MAX_TRAILER_BYTES,
    ) -> None:
        super().__init__(max_header_bytes, max_header_count, max_line_bytes, max_trailer_bytes)
        self._our = self._their = _IDLE
        self._keep_alive = True
        self._close_reason = ""
        self._error = ""
        self._deferred: ProtocolError | None = None
        self._reset_exchange()

    def _reset_exchange(self) -> None:
        self._send_mode = self._send_left = 0
        self._head_request = self._awaiting_continue = self._started = False
        self._length = self._remaining = self._received = self._chunk = 0

    def __repr__(self) -> str:
        return f"<H1Connection our_state={self._our.name} their_state={self._their.name}>"

    # --- state ------------------------------------------------------------------------
    @property
    def our_state(self) -> H1State:
        return self._our

    @property
    def their_state(self) -> H1State:
        return self._their

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request once both sides are DONE.

        False after ``Connection: close`` from either side, an HTTP/1.0 response, a body
        read until close, bytes the server sent outside a response, end of file or an
        error; and while a complete response has arrived but our request body is not
        finished (finishing it with :meth:`send_end` makes the connection reusable).
        """
        return self._keep_alive and not (self._their is _DONE and self._our is _SEND_BODY)

    @property
    def body_complete(self) -> bool:
        """The whole body of the response has been handed out (a ``Content-Length`` body
        read to its last byte): the next event is :class:`EndOfMessage`, without a read."""
        return self._read == END

    @property
    def awaiting_continue(self) -> bool:
        """We sent ``Expect: 100-continue`` and neither a 100 nor a final head arrived."""
        return self._awaiting_continue

    @property
    def response_started(self) -> bool:
        """At least one byte of the response to the current request was received."""
        return self._started

    def start_next_cycle(self) -> None:
        """Make a connection whose exchange is complete (both sides DONE) IDLE again.

        Raises :class:`LocalProtocolError` otherwise, without changing any state.
        """
        if self._our is not _DONE or self._their is not _DONE:
            if self._read == FAILED:
                raise self._unusable()
            why = f" ({self._close_reason})" if self._close_reason else ""
            raise LocalProtocolError(
                "start_next_cycle() needs both sides DONE on a reusable connection, not "
                f"our_state={self._our.name}, their_state={self._their.name}{why}"
            )
        self._our = self._their = _IDLE
        self._reset_exchange()

    def _disable_keep_alive(self, reason: str) -> None:
        if self._keep_alive:
            self._keep_alive = False
            self._close_reason = reason
        if self._our is _DONE or self._our is _IDLE:
            self._our = _MUST_CLOSE
        if self._their is _DONE or self._their is _IDLE:
            self._their = _MUST_CLOSE

    def _fail(self, exc: ProtocolError) -> ProtocolError:
        if self._read != FAILED:
            self._our = self._their = _ERROR
            self._keep_alive = False
            self._read = FAILED
            self._error = f"{type(exc).__name__}: {exc}"
            self._buf = b""
            self._pos = self._scan = 0
        return exc

    def _unusable(self) -> LocalProtocolError:
        return LocalProtocolError(f"the connection is unusable after an error ({self._error})")

    # --- sending ----------------------------------------------------------------------
    def send_request(self, method: bytes, target: bytes, headers: Fields) -> bytes:
        """The request head to write, exactly as given (no case change, no reordering).
        ``headers``: ``(name, value)`` pairs of bytes, or of str (sent as latin-1; a
        character outside it is refused, naming the field).

        The framing of the body comes from the headers: ``Content-Length`` (a fixed
        length), ``Transfer-Encoding: chunked``, or neither (no body). Call
        :meth:`send_end` after the body, even when there is none.
        """
        if self._our is not _IDLE or self._their is not _IDLE:
            if self._read == FAILED:
                raise self._unusable()
            why = f" ({self._close_reason})" if self._close_reason else ""
            raise self._fail(
                LocalProtocolError(
                    "send_request() needs an idle connection, not "
                    f"our_state={self._our.name}, their_state={self._their.name}{why}"
                )
            )
        try:
            head, mode, length, expect, close = encode_request(method, target, headers)
        except Exception as exc:
            if not isinstance(exc, ProtocolError):
                self._fail(LocalProtocolError(str(exc)))
                raise
            raise self._fail(exc) from None
        self._send_mode, self._send_left = mode, length
        self._head_request = method == b"HEAD"
        self._awaiting_continue = expect
        if close:
            self._disable_keep_alive("we sent Connection: close")
        self._our = _SEND_BODY
        self._their = _SEND_RESPONSE
        self._read = HEAD
        return head

    def send_data(self, data: bytes) -> bytes:
        """The bytes to write for a piece of the request body, framed."""
        if self._our is not _SEND_BODY:
            raise self._out_of_turn("send_data()")
        mode = self._send_mode
        if mode == SEND_LENGTH:
            left = self._send_left - len(data)
            if left < 0:
                raise self._fail(
                    LocalProtocolError(
                        f"request body: {len(data)} more bytes would exceed the Content-Length "
                        f"by {-left} ({self._send_left} were left to send)"
                    )
                )
            self._send_left = left
            return data
        if mode == SEND_CHUNKED:
            if not data:
                return b""  # an empty chunk would end the body
            return b"".join((b"%x\r\n" % len(data), data, b"\r\n"))
        if data:
            raise self._fail(
                LocalProtocolError(
                    f"request body: {len(data)} bytes, but the request has no body framing "
                    "(send Content-Length or Transfer-Encoding: chunked)"
                )
            )
        return b""

    def send_end(self, trailers: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
        """The bytes that end the request body (the last chunk and trailers, if chunked)."""
        if self._our is not _SEND_BODY:
            raise self._out_of_turn("send_end()")
        out = b""
        if self._send_mode == SEND_CHUNKED:
            try:
                out = encode_trailers(trailers)
            except ProtocolError as exc:
                raise self._fail(exc) from None
        elif trailers:
            raise self._fail(
                LocalProtocolError("trailers need Transfer-Encoding: chunked in the request")
            )
        elif self._send_left:
            raise self._fail(
                LocalProtocolError(
                    f"request body: ended {self._send_left} bytes short of its Content-Length"
                )
            )
        self._our = _DONE if self._keep_alive else _MUST_CLOSE
        return out

    def _out_of_turn(self, call: str) -> ProtocolError:
        if self._read == FAILED:
            return self._unusable()
        return self._fail(
            LocalProtocolError(f"{call} needs our_state SEND_BODY, not {self._our.name}")
        )

    # --- receiving --------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the socket; ``b""`` means the server closed it (EOF)."""
        if self._read >= NOTHING or self._eof:
            self._receive_unexpected(data)
            return
        if not data:
            self._eof = True
            self._disable_keep_alive("the server closed the connection")
            return
        if type(data) is not bytes:
            data = bytes(data)
        self._started = True
        if self._pos == len(self._buf):  # nothing left unread (inline: the common case)
            self._buf = data
            self._pos = self._scan = 0
        else:
            self._append(data)

    def _receive_unexpected(self, data: bytes) -> None:
        if self._read == FAILED:
            raise self._unusable()
        if not data:
            self._eof = True
            self._disable_keep_alive("the server closed the connection")
        elif self._eof:
            raise self._fail(LocalProtocolError("receive_data() got bytes after end of file"))
        else:  # no response is expected: the bytes are dropped, the connection is spent
            self._disable_keep_alive("the server sent bytes outside a response")

    def next_event(self) -> Event | NeedData:
        """The next event of the response, or :data:`NEED_DATA`.

        After :class:`EndOfMessage`, :data:`NEED_DATA` until end of file, then
        :class:`ConnectionClosed` (also while idle).
        """
        read = self._read
        try:
            if read == FIXED:
                # A Content-Length body, inline: the hot path makes no call but Data().
                buf = self._buf
                pos = self._pos
                if pos < len(buf):
                    remaining = self._remaining
                    end = pos + remaining
                    if end >= len(buf):
                        data = buf if not pos and type(buf) is bytes else bytes(buf[pos:])
                        self._buf = b""
                        self._pos = 0
                    else:
                        data = bytes(buf[pos:end])
                        self._pos = end
                    remaining -= len(data)
                    self._remaining = remaining
                    if not remaining:
                        self._read = END
                    return Data(data)
                if self._eof:
                    raise self._eof_error()
                return NEED_DATA
            if read == HEAD:
                head = self._read_head()
                return head if head is NEED_DATA else self._start_response(*head)
            if read == END:
                return self._end_of_message([])
            if read <= TRAILERS:
                return self._read_chunked()
            if read == UNTIL_CLOSE:
                return self._read_until_close()
            if read == NOTHING:
                return self._read_after_the_response()
            raise self._unusable()
        except ProtocolError as exc:
            raise self._fail(exc) from None

    def _start_response(
        self, version: bytes, status: int, reason: bytes, headers: Headers, end: int
    ) -> Event:
        """The event for a head that ends at ``end``; for a final one, what body follows:
        none (HEAD, 204, 304), chunked, Content-Length, or until the server closes."""
        length, chunked, close = framing(headers, "response head")
        if status < 200:
            if status == 101:
                raise remote("101 Switching Protocols, but this client never asks to upgrade")
            if status < 100:
                raise remote(f"status code {status:03d} is not between 100 and 999")
            if status == 100:
                self._awaiting_continue = False
            self._consume_to(end)
            return InformationalResponse(status, reason, headers, version)
        self._consume_to(end)
        self._awaiting_continue = False
        self._their = _SEND_BODY
        if self._head_request or status in NO_BODY_STATUS:
            self._read = END
        elif chunked:
            self._read = CHUNK_SIZE
        elif chunked is None and length is not None:
            self._length = self._remaining = length
            self._read = FIXED if length else END
        else:
            self._read = UNTIL_CLOSE
            self._disable_keep_alive("the response body runs until the connection closes")
        if close:
            self._disable_keep_alive("the server sent Connection: close")
        elif version == HTTP_10:
            self._disable_keep_alive("the server answered with HTTP/1.0")
        return Response(status, reason, headers, version)

    def _read_chunked(self) -> Event | NeedData:
        """The chunks complete in the buffer, de-chunked into one Data event; after the
        last chunk, the trailers and the end of the message.

        An error found after some body was gathered is raised by the next call, so that
        the body before it is handed out however the bytes were cut into reads.
        """
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        pieces: list[bytes] = []
        try:
            self._read_chunks(pieces)
        except ProtocolError as exc:
            if not pieces:
                raise
            self._deferred = exc
        if pieces:  # the body first; the trailers, if they are next, at the next call
            return Data(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        if self._read == TRAILERS:
            trailers = self._read_trailer_section()
            return NEED_DATA if trailers is None else self._end_of_message(trailers)
        if self._eof:
            raise self._eof_error()
        return NEED_DATA

    def _read_until_close(self) -> Event | NeedData:
        """What arrived of a body that ends when the server closes, or its end."""
        if self._pos < len(self._buf):
            data = self._take_all()
            self._received += len(data)
            return Data(data)
        if self._eof:
            return self._end_of_message([])
        return NEED_DATA

    def _read_after_the_response(self) -> Event | NeedData:
        """ConnectionClosed once the server closed (while idle, too), else NEED_DATA."""
        if self._eof:
            self._their = _CLOSED
            return _CLOSED_EVENT
        return NEED_DATA

    def _end_of_message(self, trailers: Headers) -> EndOfMessage:
        self._read = NOTHING
        if self._pos < len(self._buf):
            self._disable_keep_alive("the server sent bytes after the end of the response")
            self._buf = b""
            self._pos = self._scan = 0
        self._their = _DONE if self._keep_alive else _MUST_CLOSE
        return EndOfMessage(trailers)
