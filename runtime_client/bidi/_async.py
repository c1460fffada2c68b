"""The async form of InvokeEndpointWithBidirectionalStream (asyncio or trio): a thin driver.

Each call performs the steps :mod:`._steps` decides for it (the same as the blocking
form's) on the async HTTP/2 connection of ``runtime_client.http``
(:class:`~runtime_client.http._async_h2.AsyncH2Connection`), opened like every connection
of the client's transport: the same TLS settings (ALPN ``h2`` required), timeouts, proxy
(a CONNECT tunnel) and socket options. What only the async form has: a *reader task*
that keeps reading between calls (the :func:`~._steps.pump` steps), so that input and
output flow at once; the calls wait for its news. With ``Body``, a second task sends it.

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
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import anyio
import anyio.abc

from ..http._async import open_connection
from ..http._async_h2 import AsyncH2Connection
from ..http._exceptions import TransportError
from ..http._h2_exchange import Steps
from ..http._models import Timeouts
from . import _steps
from ._call import BidiCall, opening_error, refused_alpn
from ._connection import BidiConnection

__all__ = [
    "AsyncBidirectionalInputStream",
    "AsyncBidirectionalStream",
    "open_bidirectional_stream",
]

T = TypeVar("T")
#: How long closing waits to say goodbye (RST_STREAM, GOAWAY) to the service.
_CLOSE_GRACE = 1.0


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
    between calls is never timed out. A stream that ends before the service answered
    raises ``ResponseStreamingError`` (as the blocking form does). Nothing is retried.
    """

    def __init__(
        self,
        connection: BidiConnection,
        channel: AsyncH2Connection,
        *,
        clock: Callable[[], datetime],
        timeouts: Timeouts,
        body: AsyncIterable[Any] | Iterable[Any] | None = None,
    ) -> None:
        self._conn = connection
        self._channel = channel
        self._clock = clock
        self._timeouts = timeouts
        self._body = body
        self._send_lock = anyio.Lock()
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
                with anyio.move_on_after(_CLOSE_GRACE), contextlib.suppress(Exception):
                    await self._channel.write(_CLOSE_GRACE)  # best effort: the peer may be gone
                self._channel.close()

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("the bidirectional stream is closed")
        if self._task_group is None:
            raise RuntimeError("enter the stream first: `async with stream:` runs its reader task")

    async def _run(self, steps: Steps[T]) -> T:
        try:
            return await self._channel.run(steps, None, self._timeouts)
        except TransportError as exc:
            raise self._conn.transport_error(exc) from exc

    # ------------------------------------------------------------------ tasks

    async def _reader(self) -> None:
        with contextlib.suppress(TransportError):  # recorded in the connection
            await self._channel.run(_steps.pump(self._conn), None, self._timeouts)

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
            self._channel.notify()

    # ------------------------------------------------------------------ the calls

    async def _send(self, event: Any) -> None:
        self._check_usable()
        async with self._send_lock:
            self._conn.send_event(event, self._clock())
            await self._run(_steps.deliver(self._conn, anyio.current_time, self._timeouts.read))

    async def _close_input(self) -> None:
        self._check_usable()
        async with self._send_lock:
            if self._conn.input_closed:
                return
            self._conn.close_input(self._clock())
            await self._run(_steps.deliver(self._conn, anyio.current_time, self._timeouts.read))

    async def receive(self) -> dict[str, Any] | None:
        """The next event, or None once the service's answer has ended."""
        self._check_usable()
        return await self._run(_steps.receive(self._conn, anyio.current_time, self._timeouts.read))

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
        return await self._run(_steps.output(self._conn, anyio.current_time, self._timeouts.read))


# ---------------------------------------------------------------------- opening


async def open_bidirectional_stream(call: BidiCall) -> AsyncBidirectionalStream:
    """Connect and send the request of a prepared call; returns the stream (see
    ``AsyncSageMakerRuntime.invoke_endpoint_with_bidirectional_stream``)."""
    url = call.endpoint_url
    try:
        io = await open_connection(
            call.origin, call.route, call.tls, call.timeouts, call.socket_options
        )
    except TransportError as exc:
        raise opening_error(exc, url) from exc
    alpn = io.selected_alpn()
    if alpn != "h2" and call.origin.scheme == "https":
        io.close()  # not a word of HTTP/2 to a server that did not agree to it
        raise refused_alpn(url, alpn)
    channel = AsyncH2Connection(io, call.connection.core)
    try:
        await channel.run(_steps.opening(call.connection), None, call.opening_timeouts)
    except TransportError as exc:
        channel.close()
        raise opening_error(exc, url) from exc
    except BaseException:
        channel.close()
        raise
    return AsyncBidirectionalStream(
        call.connection, channel, clock=call.clock, timeouts=call.timeouts, body=call.body
    )
