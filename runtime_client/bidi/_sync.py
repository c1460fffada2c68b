"""The blocking shell of InvokeEndpointWithBidirectionalStream: one thread, no helpers.

There is no reader thread: the caller's own calls drive the socket. ``send`` writes its
message within the flow-control window and, while the window is shut, reads (and
processes) what the service sends, WINDOW_UPDATEs included; ``receive`` reads until an
event is complete. Reading and writing are interleaved with ``select`` on a non-blocking
socket, so that neither side can block the other: while a large message goes out, the
answers coming in are taken in as well (and acknowledged within the window rules).

The shape mirrors the async form::

    with client.invoke_endpoint_with_bidirectional_stream(EndpointName="ep") as stream:
        stream.input_stream.send({"PayloadPart": {"Bytes": b"hi"}})
        print(stream.receive())              # {'PayloadPart': {'Bytes': b'hi', ...}}
        stream.input_stream.close()
        for event in stream:
            ...

With ``Body`` (an iterable of events), the next event is taken from it whenever the
previous one is out and the caller is waiting in ``receive``, so a ``Body`` that blocks
holds up the answers too; use ``input_stream.send`` for input that depends on the
answers. The object is not thread-safe: use it from one thread. Between calls nothing
reads the socket; data waits in the kernel and the flow-control window.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .._closing import ClosesOnExit
from .._errors import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from ._call import BidiCall
from ._connection import END, NEED_DATA, BidiConnection

__all__ = [
    "BidirectionalInputStream",
    "BidirectionalStream",
    "SyncBidirectionalInputStream",
    "connect_bidi_socket",
    "open_bidirectional_stream",
]

_READ_SIZE = 65536
_WRITE_SIZE = 65536
#: After a failed write, how long a sender reads on for the answer (a server that answered
#: early and closed the connection) before the write error stands.
_ANSWER_GRACE = 5.0
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class BidirectionalInputStream:
    """``send(event)`` and ``close()`` of :class:`BidirectionalStream`; ``with`` closes."""

    def __init__(self, owner: BidirectionalStream) -> None:
        self._owner = owner

    def send(self, event: Any) -> None:
        self._owner._send(event)

    def close(self) -> None:
        self._owner._close_input()

    def __enter__(self) -> BidirectionalInputStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()


#: Its name in 0.1 (kept, so that old imports keep working).
SyncBidirectionalInputStream = BidirectionalInputStream


class BidirectionalStream(ClosesOnExit):
    """The blocking twin of :class:`~runtime_client.bidi._async.AsyncBidirectionalStream`:
    ``input_stream.send/close``, ``receive()`` / iteration, ``await_output()`` (here
    ``output()``), ``close()`` and ``with``. Same errors, same timeouts."""

    def __init__(
        self,
        connection: BidiConnection,
        sock: socket.socket,
        *,
        clock: Callable[[], datetime],
        read_timeout: float | None,
        body: Iterable[Any] | None = None,
    ) -> None:
        self._conn = connection
        self._sock = sock
        self._clock = clock
        self._timeout = read_timeout
        self._body: Iterator[Any] | None = iter(body) if body is not None else None
        self._out = bytearray()
        self._closed = False
        self.input_stream = BidirectionalInputStream(self)

    def __repr__(self) -> str:
        return f"BidirectionalStream({self._conn!r})"

    def close(self) -> None:
        """Say goodbye (RST_STREAM, GOAWAY; best effort) and close the socket."""
        if self._closed:
            return
        self._closed = True
        self._conn.abort()
        with contextlib.suppress(OSError):
            self._sock.send(bytes(self._out) + self._conn.data_to_send())
        with contextlib.suppress(OSError):
            self._sock.close()

    # ------------------------------------------------------------------ I/O

    def _deadline(self) -> float | None:
        return None if self._timeout is None else time.monotonic() + self._timeout

    def _remaining(self, deadline: float | None, what: str) -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise ReadTimeoutError(self._conn.endpoint_url, what)
        return left

    def _read_available(self) -> bool:
        """Read what the socket has; False if nothing was there."""
        try:
            data = self._sock.recv(_READ_SIZE)
        except _WOULD_BLOCK:
            return False
        except OSError as exc:
            self._conn.receive_transport_error(exc)
            return True
        if data:
            self._conn.receive_data(data)
        else:
            self._conn.receive_eof()
        return True

    def _pump(self, deadline: float | None, *, read: bool, what: str) -> None:
        """Write everything queued; with ``read``, also wait until something was read.
        Whatever arrives meanwhile is read too, so neither direction blocks the other."""
        got = False
        while True:
            self._out += self._conn.data_to_send()
            if not self._out and (got or not read):
                return
            if self._conn.transport_closed:  # nothing more can be written or read
                self._out.clear()
                return
            pending = isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0
            if pending:
                readable, writable = True, False
            else:
                r, w, _ = select.select(
                    [self._sock],
                    [self._sock] if self._out else [],
                    [],
                    self._remaining(deadline, what),
                )
                readable, writable = bool(r), bool(w)
                if not readable and not writable:
                    self._remaining(deadline, what)  # raises once the deadline passed
                    continue
            if readable:
                got = self._read_available() or got
            if writable and self._out:
                try:
                    sent = self._sock.send(self._out[:_WRITE_SIZE])
                except _WOULD_BLOCK:
                    continue
                except OSError as exc:
                    self._conn.receive_write_error(exc)  # the answer may still be read
                    self._out.clear()
                    continue
                del self._out[:sent]

    # ------------------------------------------------------------------ sending

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("the bidirectional stream is closed")

    def _send(self, event: Any) -> None:
        self._check_usable()
        self._conn.send_event(event, self._clock())
        self._drain()

    def _close_input(self) -> None:
        self._check_usable()
        if self._conn.input_closed:
            return
        self._conn.close_input(self._clock())
        self._drain()

    def _drain(self) -> None:
        deadline = self._deadline()
        what = "no flow-control window from the service in time"
        written = False
        while True:
            self._conn.flush_input()  # raises the stream's error while input waits
            if self._conn.input_stalled:  # the write failed: read on for the answer
                self._await_reader(deadline, what)  # then flush_input raises the error
            elif self._conn.input_pending:
                self._pump(deadline, read=True, what=what)
            elif written:
                return
            else:
                self._pump(deadline, read=False, what=what)
                written = True

    def _await_reader(self, deadline: float | None, what: str) -> None:
        """After a write error, read until the answer ends (a bounded grace): the service
        may have answered before it closed the connection. Then the call fails with the
        answer's error, or with the write error. ``ReadTimeoutError`` at the deadline."""
        grace = time.monotonic() + _ANSWER_GRACE
        limit = grace if deadline is None else min(grace, deadline)
        try:
            while self._conn.input_stalled:  # bounded by the limit
                self._pump(limit, read=True, what=what)
        except ReadTimeoutError:
            if limit != grace:
                raise
            self._conn.give_up_reading()

    def _feed_body(self) -> None:
        """Send the next ``Body`` event if the previous one is out (never blocks on the
        window: what does not fit goes out as the window opens)."""
        if self._body is None or self._conn.input_pending or self._conn.finished:
            return
        try:
            event = next(self._body)
        except StopIteration:
            self._body = None
            self._conn.close_input(self._clock())
            return
        except Exception as exc:
            self._body = None
            self._conn.fail(exc)
            return
        try:
            self._conn.send_event(event, self._clock())
        except Exception as exc:  # a bad event: the stream is over, reported in order
            self._body = None
            self._conn.fail(exc)

    # ------------------------------------------------------------------ receiving

    def receive(self) -> dict[str, Any] | None:
        """The next event, or None once the service's answer has ended."""
        self._check_usable()
        deadline = self._deadline()
        while True:
            item = self._conn.next_event()  # raises the stream's error
            if item is END:
                return None
            if item is not NEED_DATA:
                self._pump(deadline, read=False, what="writing")
                assert isinstance(item, dict)
                return item
            if self._conn.finished:
                return None
            self._feed_body()
            with contextlib.suppress(Exception):  # errors come out of next_event, in order
                self._conn.flush_input()
            self._pump(deadline, read=True, what="no event from the service in time")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            event = self.receive()
            if event is None:
                return
            yield event

    def output(self) -> dict[str, Any]:
        """``{'InvokedProductionVariant': ..., 'ResponseMetadata': {...}}`` once the
        service's headers are in; raises the initial error."""
        self._check_usable()
        deadline = self._deadline()
        while True:
            output = self._conn.initial_response()
            if output is not None:
                return output
            if self._conn.finished:
                self._conn.next_event()  # raises the error that finished it
                raise ReadTimeoutError(self._conn.endpoint_url, "the stream ended unanswered")
            self._feed_body()
            with contextlib.suppress(Exception):
                self._conn.flush_input()
            self._pump(deadline, read=True, what="no answer from the service in time")

    await_output = output


def connect_bidi_socket(
    endpoint_url: str, *, ssl_context: ssl.SSLContext | None, connect_timeout: float | None
) -> socket.socket:
    """A connected, non-blocking socket: TLS with ALPN ``h2`` for https, plain for http."""
    parts = urlsplit(endpoint_url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except TimeoutError:
        raise ConnectTimeoutError(endpoint_url, "connect timed out") from None
    except OSError as exc:
        raise EndpointConnectionError(endpoint_url, exc) from exc
    # Small frames (WINDOW_UPDATE, SETTINGS ACK) must not wait for Nagle's algorithm.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        context = ssl_context if ssl_context is not None else ssl.create_default_context()
        context.set_alpn_protocols(["h2"])
        try:
            sock = context.wrap_socket(sock, server_hostname=host)
        except TimeoutError:
            sock.close()
            raise ConnectTimeoutError(endpoint_url, "TLS handshake timed out") from None
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise EndpointConnectionError(endpoint_url, exc) from exc
        alpn = sock.selected_alpn_protocol()
        if alpn != "h2":
            sock.close()
            raise EndpointConnectionError(
                endpoint_url, f"the server did not agree to HTTP/2 over TLS (ALPN gave {alpn!r})"
            )
    sock.setblocking(False)
    return sock


def open_bidirectional_stream(call: BidiCall) -> BidirectionalStream:
    """Connect and send the request of a prepared call; returns the stream (see
    ``SageMakerRuntime.invoke_endpoint_with_bidirectional_stream``)."""
    sock = connect_bidi_socket(
        call.endpoint_url, ssl_context=call.ssl_context, connect_timeout=call.connect_timeout
    )
    stream = BidirectionalStream(
        call.connection, sock, clock=call.clock, read_timeout=call.read_timeout, body=call.body
    )
    try:
        deadline = None if call.connect_timeout is None else time.monotonic() + call.connect_timeout
        stream._pump(deadline, read=False, what="sending the request timed out")
    except BaseException:
        stream.close()
        raise
    return stream
