"""The async shell of InvokeEndpointWithBidirectionalStream (asyncio or trio, via anyio).

It only moves bytes between a socket and :class:`~._connection.BidiConnection` and wakes up
whoever waits: a *reader task* reads the socket, feeds the connection and sends what the
protocol owes (acknowledgements, SETTINGS and PING answers); ``send`` queues a
signed event and waits while the flow-control window is shut; ``receive`` waits for the
next event. Every state change wakes every waiter, who then looks again.

Shape (after the smithy-based SDKs' duplex streams, with boto3's dicts inside)::

    stream = await client.invoke_endpoint_with_bidirectional_stream(EndpointName="ep")
    async with stream:                                   # runs the reader; always tears down
        await stream.input_stream.send(
            {"PayloadPart": {"Bytes": b"hello", "DataType": "UTF8",
                             "CompletionState": "COMPLETE"}})
        event = await stream.receive()                   # {'PayloadPart': {'Bytes': ...}}
        await stream.input_stream.close()                # signed empty message + END_STREAM
        async for event in stream:                       # the rest, until the service ends
            ...
        output = await stream.await_output()             # InvokedProductionVariant, metadata

The call returns once the request is on the wire: the service may wait for input before it
answers, so waiting for its headers first could deadlock. Connection and TLS failures are
raised by the call; the service's errors by ``send``, ``receive``/iteration and
``await_output``, whichever the caller is in when they arrive.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import anyio.streams.tls

from .._errors import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    SageMakerRuntimeError,
)
from ._call import BidiCall
from ._connection import END, NEED_DATA, BidiConnection

__all__ = [
    "AsyncBidirectionalStream",
    "AsyncBidirectionalInputStream",
    "open_bidirectional_stream",
    "open_bidi_connection",
]

_READ_SIZE = 65536
_CLOSE_GRACE = 1.0
#: After a failed write, how long a sender waits for the reader to find the answer (a
#: server that answered early and closed the connection) before the write error stands.
_ANSWER_GRACE = 5.0


class AsyncBidirectionalInputStream:
    """The sending side: ``await send(event)`` and ``await close()``.

    ``send`` takes ``{'PayloadPart': {'Bytes': b'...', 'DataType': 'UTF8' | 'BINARY',
    'CompletionState': 'PARTIAL' | 'COMPLETE'}}`` (all members optional) and returns once
    the signed message is handed to the socket, waiting while the service's flow-control
    window is shut. ``close`` ends the input (signed empty message, END_STREAM). Both
    raise the stream's error once it has failed (an early ModelError, for instance).
    ``async with stream.input_stream:`` closes the input on exit.
    """

    def __init__(self, owner: AsyncBidirectionalStream) -> None:
        self._owner = owner

    async def send(self, event: Any) -> None:
        await self._owner._send(event)

    async def close(self) -> None:
        await self._owner._close_input()

    aclose = close

    async def __aenter__(self) -> AsyncBidirectionalInputStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close()


class AsyncBidirectionalStream:
    """One InvokeEndpointWithBidirectionalStream call: input and output at once.

    Use it with ``async with`` (which starts the reader task and, when the call got a
    ``Body``, a task that sends it and then closes the input); leaving the block tears the
    connection down, whatever happened. Inside:

    * ``input_stream`` (:class:`AsyncBidirectionalInputStream`): ``send(event)``, ``close()``;
    * ``receive()`` / ``async for event in stream``: ``{'PayloadPart': {'Bytes': b'...',
      'DataType': ..., 'CompletionState': ...}}`` events in order; the end of the
      service's answer ends the iteration (``receive()`` then returns None). A modeled
      exception event (``ModelStreamError`` with ``e.response['ErrorCode']``,
      ``InternalStreamFailure``) is raised after the events before it;
    * ``await_output()``: ``{'InvokedProductionVariant': ..., 'ResponseMetadata': {...}}``
      once the service's headers are in, or the initial error (``ModelError`` 424,
      ``InputValidationError`` 400, ``InternalServerError`` 500,
      ``ServiceUnavailableError`` 503, ...), which ``send`` and ``receive`` raise too.

    ``receive`` and ``await_output`` wait at most ``read_timeout`` seconds for the service
    (``ReadTimeoutError``), and ``send`` as long for flow-control credit; an idle stream
    between calls is never timed out. Nothing is retried.
    """

    def __init__(
        self,
        connection: BidiConnection,
        socket: anyio.abc.ByteStream,
        *,
        clock: Callable[[], datetime],
        read_timeout: float | None,
        body: AsyncIterable[Any] | Iterable[Any] | None = None,
    ) -> None:
        self._conn = connection
        self._socket = socket
        self._clock = clock
        self._timeout = read_timeout
        self._body = body
        self._changed = anyio.Event()
        self._send_lock = anyio.Lock()
        self._writing = False
        self._task_group: anyio.abc.TaskGroup | None = None
        self._entered = False
        self._closed = False
        self.input_stream = AsyncBidirectionalInputStream(self)

    def __repr__(self) -> str:
        return f"AsyncBidirectionalStream({self._conn!r})"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> AsyncBidirectionalStream:
        if self._entered or self._closed:
            raise RuntimeError("a bidirectional stream can be entered only once")
        self._entered = True
        group = anyio.create_task_group()
        await group.__aenter__()
        self._task_group = group
        group.start_soon(self._reader)
        if self._body is not None:
            group.start_soon(self._feed, self._body)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the tasks, say goodbye (RST_STREAM, GOAWAY) and close the socket.
        Idempotent; safe after any error."""
        if self._closed:
            return
        self._closed = True
        group, self._task_group = self._task_group, None
        try:
            if group is not None:
                group.cancel_scope.cancel()
                await group.__aexit__(None, None, None)  # may raise an outer cancellation
        finally:
            # Shielded: in a cancelled scope (trio) every await would raise at once, and
            # the socket would stay open.
            with anyio.CancelScope(shield=True):
                self._conn.abort()
                with anyio.move_on_after(_CLOSE_GRACE):
                    data = self._conn.data_to_send()
                    if data and not self._writing:
                        with contextlib.suppress(Exception):  # best effort: the peer may be gone
                            await self._socket.send(data)
                with anyio.move_on_after(_CLOSE_GRACE):
                    await self._socket.aclose()
        self._notify()

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("the bidirectional stream is closed")
        if self._task_group is None:
            raise RuntimeError("enter the stream first: `async with stream:` runs its reader task")

    # ------------------------------------------------------------------ plumbing

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _wait(self) -> None:
        """Wait for the next change; callers look at the state right before, with no
        await in between, so no change can slip past."""
        await self._changed.wait()

    async def _flush(self) -> None:
        """Write what the protocol has queued. One writer at a time: a second caller
        returns at once, since the writer loops until nothing is left."""
        if self._writing:
            return
        self._writing = True
        try:
            while True:
                data = self._conn.data_to_send()
                if not data:
                    return
                await self._socket.send(data)
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError) as e:
            self._conn.receive_write_error(e)  # the reader may still find the answer
            self._notify()
        finally:
            self._writing = False

    async def _reader(self) -> None:
        try:
            while True:
                try:
                    data = await self._socket.receive(_READ_SIZE)
                except anyio.EndOfStream:
                    self._conn.receive_eof()
                    return
                self._conn.receive_data(data)
                self._notify()
                await self._flush()
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError) as e:
            self._conn.receive_transport_error(e)
        finally:
            self._notify()

    async def _feed(self, body: AsyncIterable[Any] | Iterable[Any]) -> None:
        try:
            if isinstance(body, AsyncIterable):
                async for event in body:
                    await self._send(event)
            else:
                for event in body:
                    await self._send(event)
            await self._close_input()
        except Exception as exc:  # recorded; receive() and await_output() raise it
            self._conn.fail(exc)
            self._notify()

    def _now(self) -> datetime:
        return self._clock()

    def _timeout_error(self, what: str) -> ReadTimeoutError:
        return ReadTimeoutError(self._conn.endpoint_url, what)

    # ------------------------------------------------------------------ sending

    async def _send(self, event: Any) -> None:
        self._check_usable()
        async with self._send_lock:
            self._conn.send_event(event, self._now())
            await self._drain()

    async def _close_input(self) -> None:
        self._check_usable()
        async with self._send_lock:
            if self._conn.input_closed:
                return
            self._conn.close_input(self._now())
            await self._drain()

    async def _drain(self) -> None:
        with anyio.move_on_after(self._timeout):
            while True:
                # Taken before the work: a WINDOW_UPDATE read while we write wakes us.
                changed = self._changed
                self._conn.flush_input()  # raises the stream's error while input waits
                await self._flush()
                if self._conn.input_stalled:  # the write failed: wait for the reader
                    await self._await_reader()
                    continue  # flush_input raises what the call ended with
                if not self._conn.input_pending:
                    return  # handed over (END_STREAM too, after close): a later error
                    # belongs to the next call, not to this one
                await changed.wait()
        raise self._timeout_error("no flow-control window from the service in time")

    async def _await_reader(self) -> None:
        """After a write error, wait (a bounded grace) until reading ends: the service
        may have answered before it closed the connection. Then the call fails with the
        answer's error, or with the write error."""
        with anyio.move_on_after(_ANSWER_GRACE):
            while self._conn.input_stalled:  # each wait ends at the reader's next change
                await self._wait()
        if self._conn.input_stalled:
            self._conn.give_up_reading()
            self._notify()

    # ------------------------------------------------------------------ receiving

    async def receive(self) -> dict[str, Any] | None:
        """The next event, or None once the service's answer has ended."""
        self._check_usable()
        with anyio.move_on_after(self._timeout):
            while True:
                item = self._conn.next_event()  # raises the stream's error
                if item is END:
                    return None
                if item is NEED_DATA:
                    if self._conn.finished:
                        return None
                    await self._wait()
                    continue
                await self._flush()  # taking it may have acknowledged data
                assert isinstance(item, dict)
                return item
        raise self._timeout_error("no event from the service in time")

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        event = await self.receive()
        if event is None:
            raise StopAsyncIteration
        return event

    async def await_output(self) -> dict[str, Any]:
        """``{'InvokedProductionVariant': ..., 'ResponseMetadata': {...}}`` once the
        service's headers are in; raises the initial error."""
        self._check_usable()
        with anyio.move_on_after(self._timeout):
            while True:
                output = self._conn.initial_response()  # raises the initial error
                if output is not None:
                    return output
                if self._conn.finished:
                    self._conn.next_event()  # raises the error that finished it
                    raise SageMakerRuntimeError("the stream ended without an answer")
                await self._wait()
        raise self._timeout_error("no answer from the service in time")


# ---------------------------------------------------------------------- opening


async def open_bidi_connection(
    endpoint_url: str,
    *,
    ssl_context: ssl.SSLContext | None,
    connect_timeout: float | None,
) -> anyio.abc.ByteStream:
    """Connect to ``endpoint_url``: TLS with ALPN ``h2`` for https, h2c prior knowledge
    (plain TCP) for http. Raises ``EndpointConnectionError``/``ConnectTimeoutError``."""
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint_url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    try:
        with anyio.fail_after(connect_timeout):
            if not tls:
                return await anyio.connect_tcp(host, port)
            context = ssl_context if ssl_context is not None else ssl.create_default_context()
            context.set_alpn_protocols(["h2"])  # idempotent
            stream = await anyio.connect_tcp(
                host,
                port,
                tls=True,
                ssl_context=context,
                tls_hostname=host,
                tls_standard_compatible=False,
            )
    except TimeoutError:
        raise ConnectTimeoutError(endpoint_url, "connect timed out") from None
    except (OSError, ssl.SSLError, anyio.BrokenResourceError) as exc:
        raise EndpointConnectionError(endpoint_url, exc) from exc
    alpn = stream.extra(anyio.streams.tls.TLSAttribute.alpn_protocol, None)
    if alpn != "h2":
        await anyio.aclose_forcefully(stream)
        raise EndpointConnectionError(
            endpoint_url, f"the server did not agree to HTTP/2 over TLS (ALPN gave {alpn!r})"
        )
    return stream


async def open_bidirectional_stream(call: BidiCall) -> AsyncBidirectionalStream:
    """Connect and send the request of a prepared call; returns the stream (see
    ``AsyncSageMakerRuntime.invoke_endpoint_with_bidirectional_stream``)."""
    endpoint_url = call.endpoint_url
    socket = await open_bidi_connection(
        endpoint_url, ssl_context=call.ssl_context, connect_timeout=call.connect_timeout
    )
    connection = call.connection
    try:
        with anyio.fail_after(call.connect_timeout):
            await socket.send(connection.data_to_send())
    except TimeoutError:
        await anyio.aclose_forcefully(socket)
        raise ConnectTimeoutError(endpoint_url, "sending the request timed out") from None
    except (OSError, anyio.BrokenResourceError, ssl.SSLError) as exc:
        await anyio.aclose_forcefully(socket)
        raise EndpointConnectionError(endpoint_url, exc) from exc
    return AsyncBidirectionalStream(
        connection, socket, clock=call.clock, read_timeout=call.read_timeout, body=call.body
    )
