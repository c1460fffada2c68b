"""The blocking form of InvokeEndpointWithBidirectionalStream: a thin driver.

Each call performs the steps :mod:`._steps` decides for it on the blocking HTTP/2
connection of ``runtime_client.http`` (:class:`~runtime_client.http._sync_h2.
SyncH2Connection`), opened like every connection of the client's transport: the same TLS
settings (ALPN ``h2`` required), timeouts, proxy (a CONNECT tunnel) and socket options.
There is no reader thread: the caller's own calls drive the socket, and reading and
writing interleave (``select``), so that while a large message goes out the answers
coming in are taken in as well (and acknowledged within the window rules).

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
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from .._closing import ClosesOnExit
from ..http._exceptions import TransportError
from ..http._h2_exchange import Steps
from ..http._models import Timeouts
from ..http._sync import open_socket
from ..http._sync_h2 import SyncH2Connection
from . import _steps
from ._call import BidiCall, opening_error, refused_alpn
from ._connection import BidiConnection

__all__ = [
    "BidirectionalInputStream",
    "BidirectionalStream",
    "SyncBidirectionalInputStream",
    "open_bidirectional_stream",
]

T = TypeVar("T")


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
        channel: SyncH2Connection,
        *,
        clock: Callable[[], datetime],
        timeouts: Timeouts,
        body: Iterable[Any] | None = None,
    ) -> None:
        self._conn = connection
        self._channel = channel
        self._clock = clock
        self._timeouts = timeouts
        if body is not None:
            connection.set_body(iter(body), clock)
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
        self._channel.close()

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("the bidirectional stream is closed")

    def _run(self, steps: Steps[T]) -> T:
        self._check_usable()
        try:
            return self._channel.run(steps, None, self._timeouts)
        except TransportError as exc:
            raise self._conn.transport_error(exc) from exc

    def _send(self, event: Any) -> None:
        self._check_usable()
        self._conn.send_event(event, self._clock())
        self._run(_steps.deliver(self._conn, time.monotonic, self._timeouts.read))

    def _close_input(self) -> None:
        self._check_usable()
        if not self._conn.input_closed:
            self._conn.close_input(self._clock())
            self._run(_steps.deliver(self._conn, time.monotonic, self._timeouts.read))

    def receive(self) -> dict[str, Any] | None:
        """The next event, or None once the service's answer has ended."""
        return self._run(_steps.receive(self._conn, time.monotonic, self._timeouts.read))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            event = self.receive()
            if event is None:
                return
            yield event

    def output(self) -> dict[str, Any]:
        """``{'InvokedProductionVariant': ..., 'ResponseMetadata': {...}}`` once the
        service's headers are in; raises the initial error."""
        return self._run(_steps.output(self._conn, time.monotonic, self._timeouts.read))

    await_output = output


def open_bidirectional_stream(call: BidiCall) -> BidirectionalStream:
    """Connect and send the request of a prepared call; returns the stream (see
    ``SageMakerRuntime.invoke_endpoint_with_bidirectional_stream``)."""
    url = call.endpoint_url
    try:
        sock = open_socket(call.origin, call.route, call.tls, call.timeouts, call.socket_options)
    except TransportError as exc:
        raise opening_error(exc, url) from exc
    if isinstance(sock, ssl.SSLSocket) and sock.selected_alpn_protocol() != "h2":
        alpn = sock.selected_alpn_protocol()
        with contextlib.suppress(OSError):
            sock.close()  # not a word of HTTP/2 to a server that did not agree to it
        raise refused_alpn(url, alpn)
    channel = SyncH2Connection(sock, call.origin, call.connection.core)
    stream = BidirectionalStream(
        call.connection, channel, clock=call.clock, timeouts=call.timeouts, body=call.body
    )
    try:
        channel.run(_steps.opening(call.connection), None, call.opening_timeouts)
    except TransportError as exc:
        stream.close()
        raise opening_error(exc, url) from exc
    except BaseException:
        stream.close()
        raise
    return stream
