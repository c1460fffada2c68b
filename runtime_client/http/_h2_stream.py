"""One stream of an HTTP/2 client connection: what it has to send, what it has received,
and how it ended. Values and rules only; :class:`~._h2.H2Connection` drives ``h2``.

Also here: the request head as HTTP/2 fields (:func:`request_headers`) and the line for
sending a request again on a new connection (:func:`retry_on_new_connection`).
"""

from __future__ import annotations

from collections import deque
from typing import TypeAlias

import h2.errors

from ._exceptions import RemoteProtocolError, ServerDisconnectedError, TransportError
from ._h1_events import Data, EndOfMessage, Response

__all__ = ["H2Event", "H2Stream", "code_name", "request_headers", "retry_on_new_connection"]

#: What a stream hands its reader, in order.
H2Event: TypeAlias = Response | Data | EndOfMessage
#: Fields of HTTP/1.1 that HTTP/2 forbids (RFC 9113 §8.2.2); ``Host`` becomes ``:authority``.
_CONNECTION_FIELDS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}
)
_REFUSED = h2.errors.ErrorCodes.REFUSED_STREAM


def request_headers(
    method: str, scheme: str, authority: str, target: str, headers: list[tuple[str, str]]
) -> list[tuple[bytes, bytes]]:
    """An HTTP/1.1-style request head as HTTP/2 fields: the pseudo-fields first (the
    ``Host`` field, when given, is the ``:authority``: it is what was signed), names
    lower-cased, and the fields HTTP/2 forbids left out (``TE`` is kept only as
    ``trailers``)."""
    regular: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        key = name.lower()
        if key in _CONNECTION_FIELDS:
            if key == "host":
                authority = value
            continue
        if key == "te" and value.strip().lower() != "trailers":
            continue
        regular.append((key.encode("latin-1"), value.encode("latin-1")))
    return [
        (b":method", method.encode("ascii")),
        (b":scheme", scheme.encode("ascii")),
        (b":authority", authority.encode("latin-1")),
        (b":path", target.encode("ascii")),
        *regular,
    ]


def retry_on_new_connection(error: TransportError) -> bool:
    """HTTP/2's line for sending a request again on a new connection: only when the
    server said it did not process it, which it does with a GOAWAY whose last stream id
    is below the request's stream, or with a RST_STREAM of REFUSED_STREAM (RFC 9113
    §8.7). Anything else may have been processed, however early it broke: the caller's
    retry policy decides, as for any request that may have reached the service."""
    return error.unprocessed


def code_name(code: int) -> str:
    """An HTTP/2 error code by its name (``CANCEL``), or its number if unknown."""
    try:
        return h2.errors.ErrorCodes(code).name
    except (ValueError, TypeError):
        return f"error code {code}"


class H2Stream:
    """The state of one request stream (the connection holds one per open stream)."""

    __slots__ = (
        "auto_ack",
        "body_bytes",
        "end_queued",
        "end_sent",
        "error",
        "events",
        "head",
        "offset",
        "outbox",
        "pending",
        "remote_ended",
        "sid",
        "taken",
        "trailers",
    )

    def __init__(self, sid: int, auto_ack: bool, end_stream: bool) -> None:
        self.sid = sid
        #: Its window opens again as events are taken (else by the owner's ``release``).
        self.auto_ack = auto_ack
        # Sending: whole chunks of the body; the first is sent up to ``offset``.
        self.outbox: deque[bytes] = deque()
        self.offset = 0
        self.pending = 0
        self.end_queued = end_stream
        self.end_sent = end_stream
        # Receiving: events with their flow-controlled lengths.
        self.events: deque[tuple[H2Event, int]] = deque()
        self.head: Response | None = None
        self.trailers: list[tuple[bytes, bytes]] = []
        self.remote_ended = False
        self.error: TransportError | None = None
        #: Flow-controlled bytes the reader has taken and that were not handed back yet.
        self.taken = 0
        self.body_bytes = 0

    @property
    def sending(self) -> bool:
        """Body bytes or the END_STREAM still wait to go out."""
        return bool(self.pending) or (self.end_queued and not self.end_sent)

    @property
    def over(self) -> bool:
        """Both sides are done: nothing more goes out or comes in."""
        return self.remote_ended and self.end_sent

    def queue(self, data: bytes, end: bool) -> None:
        if data:
            self.outbox.append(data)
            self.pending += len(data)
        self.end_queued = end

    def drop_body(self) -> None:
        """Send nothing more (the stream was answered, reset, or writing failed)."""
        self.outbox.clear()
        self.pending = 0
        self.end_sent = self.end_queued = True

    def next_chunk(self, window: int) -> tuple[bytes, bool]:
        """Take at most ``window`` bytes of the body: ``(chunk, last)``."""
        head = self.outbox[0]
        size = min(window, len(head) - self.offset)
        chunk = head[self.offset : self.offset + size] if size < len(head) else head
        self.offset += size
        self.pending -= size
        if self.offset == len(head):
            self.outbox.popleft()
            self.offset = 0
        last = self.end_queued and not self.outbox
        self.end_sent = last
        return chunk, last

    # ------------------------------------------------------------------ receiving

    def on_head(self, raw: list[tuple[bytes, bytes]], max_count: int) -> TransportError | None:
        """The response head arrived; an error if it breaks a rule (the caller resets)."""
        status = b""
        fields: list[tuple[bytes, bytes]] = []
        for name, value in raw:
            if name == b":status":
                status = value
            elif not name.startswith(b":"):
                fields.append((name, value))
        if len(fields) > max_count:
            return RemoteProtocolError(
                f"the response head has {len(fields)} fields (limit {max_count})"
            )
        if not (len(status) == 3 and status.isdigit()):
            return RemoteProtocolError(f"invalid :status {status[:20]!r}")
        self.head = Response(int(status), b"", fields, b"2")
        self.events.append((self.head, 0))
        return None

    def on_data(self, data: bytes, flow: int) -> None:
        if self.error is not None:
            return  # failed: the connection's window counted it, the stream's is moot
        if data:
            self.body_bytes += len(data)
            self.events.append((Data(data), flow))
        else:
            self.taken += flow  # padding alone: nothing to read

    def on_trailers(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.trailers = [(name, value) for name, value in raw if not name.startswith(b":")]

    def on_end(self) -> None:
        if self.error is None:
            self.remote_ended = True
            self.events.append((EndOfMessage(self.trailers), 0))

    def on_reset(self, code: int, origin: str) -> None:
        """RST_STREAM: an error, except NO_ERROR after a complete answer (the server
        only stops our body); REFUSED_STREAM was not processed."""
        self.drop_body()
        if self.remote_ended or self.error is not None:
            return
        error = RemoteProtocolError(f"{origin} reset the stream ({code_name(code)})")
        error.unprocessed = code == _REFUSED
        self.error = error

    def on_goaway(self, code: int, last: int | None, origin: str) -> None:
        """GOAWAY: h2 reads nothing more, so a stream still waiting fails; above the last
        stream id the server names, it was not processed."""
        if self.error is not None or self.remote_ended:
            return
        name = code_name(code)
        if last is not None and self.sid > last:
            error: TransportError = ServerDisconnectedError(
                f"{origin} will not process this request (GOAWAY {name}, last stream {last})"
            )
            error.unprocessed = True
        else:
            error = RemoteProtocolError(
                f"{origin} closed the connection (GOAWAY {name}) before the answer was complete"
            )
        self.error = error

    def on_cut(self, cause: TransportError | None, origin: str) -> None:
        """The input ended (EOF, a read or write error): a stream still waiting fails,
        with a new error of its own (each is raised in its own reader)."""
        if self.error is None and not self.remote_ended:
            if cause is not None:
                self.error = type(cause)(str(cause))
            elif self.head is None:
                self.error = ServerDisconnectedError(
                    f"{origin} closed the connection before answering"
                )
            else:
                self.error = RemoteProtocolError(
                    f"{origin} closed the connection after {self.body_bytes} bytes of the body"
                )
        self.drop_body()
