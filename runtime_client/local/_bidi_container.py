"""The bidirectional operation bridged to a container.

SageMaker's contract for a container that supports bidirectional streaming (AWS blog
"Introducing bidirectional streaming for real-time inference on Amazon SageMaker AI",
2025-11): the container carries the Docker label
``com.amazonaws.sagemaker.capabilities.bidirectional-streaming=true``, answers ``GET
/ping`` as usual, and accepts a WebSocket connection at
``ws://localhost:8080/invocations-bidirectional-stream`` (within 250 ms). A sidecar opens
that WebSocket per call; each input PayloadPart becomes one WebSocket data frame (text
for UTF8 data, binary otherwise), each frame the container sends back becomes one
PayloadPart; the sidecar pings every 60 s. ``ModelInvocationPath`` and
``ModelQueryString`` name another WebSocket path and query inside the container (the
blog's Deepgram example: ``v1/listen`` and ``model=nova-3``).

What :class:`ContainerBridge` does, on the container URL given to ``serve``::

    open        WebSocket handshake to {url}/{ModelInvocationPath or
                invocations-bidirectional-stream}?{ModelQueryString}
                101: bridge; 404/405 without a ModelInvocationPath: the container has no
                WebSocket endpoint, fall back to HTTP; another status: ModelError (424)
                with OriginalStatusCode and the container's body; no connection:
                ModelError without them
    input       each part one whole WebSocket message: text when DataType is UTF8 (and
                the bytes are UTF-8), binary otherwise; end of input: close frame 1000
    output      each whole WebSocket message one PayloadPart, DataType UTF8 for text,
                BINARY for binary, CompletionState COMPLETE; the container's close frame
                ends the stream; a connection lost without one is a ModelStreamError
                (StreamBroken); pings are answered
    fallback    per message (parts joined up to one that is not PARTIAL): POST
                /invocations with the message as body, the answer one PayloadPart
                (UTF8 when its Content-Type is text or JSON); a non-2xx answer is a
                ModelStreamError

Limits: CompletionState PARTIAL is not mapped to WebSocket fragmentation (every part is
a whole frame); the bridge sends no pings of its own; one WebSocket message is at most
16 MiB; the fallback's path is always ``/invocations``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import wsproto
import wsproto.events as ws_events

from ._bidi_models import BidiInvocation, BidiPart
from ._container import ContainerModel
from ._models import ModelFailure, ModelRequest

__all__ = ["DEFAULT_WEBSOCKET_PATH", "ContainerBridge"]

DEFAULT_WEBSOCKET_PATH = "invocations-bidirectional-stream"
_READ_SIZE = 65536
_MAX_MESSAGE = 16 * 1024 * 1024
_CONTAINER = "primary"
_NO_WEBSOCKET = (404, 405)


class _Socket:
    """An asyncio connection carrying one client-side wsproto WebSocket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self._lock = asyncio.Lock()
        self.leftover: list[ws_events.Event] = []

    async def send(self, event: ws_events.Event) -> None:
        async with self._lock:
            self.writer.write(self.ws.send(event))
            await self.writer.drain()

    async def events(self) -> list[ws_events.Event]:
        """The next events; an empty list means the connection ended."""
        if self.leftover:  # read together with the handshake's answer
            events, self.leftover = self.leftover, []
            return events
        data = await self.reader.read(_READ_SIZE)
        self.ws.receive_data(data or None)
        events = list(self.ws.events())
        if not data and not events:
            return []
        return events or await self.events()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class ContainerBridge:
    """``open_bidirectional`` for a :class:`~runtime_client.local.ContainerModel`."""

    def __init__(self, model: ContainerModel) -> None:
        self.model = model

    def __repr__(self) -> str:
        return f"ContainerBridge({self.model.url!r})"

    async def open(
        self, invocation: BidiInvocation, parts: AsyncIterator[BidiPart]
    ) -> AsyncIterator[BidiPart]:
        url = urlsplit(self.model.url)
        tls = url.scheme == "https"
        host = url.hostname or "127.0.0.1"
        port = url.port or (443 if tls else 80)
        target = "/" + (invocation.invocation_path or DEFAULT_WEBSOCKET_PATH).lstrip("/")
        if invocation.query_string:
            target += "?" + invocation.query_string
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host, port, ssl=ssl.create_default_context() if tls else None
                ),
                self.model.invocation_timeout,
            )
        except (OSError, asyncio.TimeoutError) as exc:
            raise ModelFailure(
                f"Could not open a WebSocket to container {_CONTAINER} at {self.model.url} "
                f"({type(exc).__name__})."
            ) from None
        sock = _Socket(reader, writer)
        try:
            await sock.send(ws_events.Request(host=url.netloc, target=target))
            status, body = await asyncio.wait_for(
                self._handshake(sock), self.model.invocation_timeout
            )
        except (OSError, asyncio.TimeoutError, wsproto.utilities.ProtocolError) as exc:
            await sock.close()
            raise ModelFailure(
                f"The WebSocket handshake with container {_CONTAINER} failed "
                f"({type(exc).__name__})."
            ) from None
        if status == 101:
            return _bridge(sock, parts)
        await sock.close()
        if status in _NO_WEBSOCKET and invocation.invocation_path is None:
            return _per_message(self.model, invocation, parts)
        raise ModelFailure(body.decode("utf-8", errors="replace"), status_code=status)

    @staticmethod
    async def _handshake(sock: _Socket) -> tuple[int, bytes]:
        """``(101, b"")`` when accepted, else the status and (up to 64 KiB of) body."""
        status = 0
        body = bytearray()
        while True:  # each read makes progress or ends the connection
            events = await sock.events()
            if not events:
                if status:
                    return status, bytes(body)
                raise ConnectionResetError("the container closed the connection")
            for index, event in enumerate(events):
                if isinstance(event, ws_events.AcceptConnection):
                    sock.leftover = events[index + 1 :]
                    return 101, b""
                if isinstance(event, ws_events.RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        return status, b""
                elif isinstance(event, ws_events.RejectData):
                    body += event.data[: 65536 - len(body)]
                    if event.body_finished:
                        return status, bytes(body)


def _frame(part: BidiPart) -> ws_events.TextMessage | ws_events.BytesMessage:
    if part.data_type == "UTF8":
        try:
            return ws_events.TextMessage(data=part.data.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    return ws_events.BytesMessage(data=part.data)


async def _forward(sock: _Socket, parts: AsyncIterator[BidiPart]) -> None:
    """Input parts to the container as frames; a normal close at the end of input."""
    with contextlib.suppress(wsproto.utilities.LocalProtocolError, OSError):
        async for part in parts:
            await sock.send(_frame(part))
        await sock.send(ws_events.CloseConnection(code=1000))


async def _bridge(sock: _Socket, parts: AsyncIterator[BidiPart]) -> AsyncIterator[BidiPart]:
    forwarder = asyncio.ensure_future(_forward(sock, parts))
    buffer = bytearray()
    try:
        while True:  # until the close frame or the end of the connection
            try:
                events = await sock.events()
            except (OSError, wsproto.utilities.ProtocolError) as exc:
                raise _broken(f"the WebSocket failed ({type(exc).__name__})") from None
            if not events:
                raise _broken("the container closed the connection without a close frame")
            for event in events:
                if isinstance(event, ws_events.Message):
                    data = event.data
                    buffer += data.encode("utf-8") if isinstance(data, str) else data
                    if len(buffer) > _MAX_MESSAGE:
                        raise _broken(f"a WebSocket message is larger than {_MAX_MESSAGE} bytes")
                    if event.message_finished:
                        kind = "UTF8" if isinstance(event, ws_events.TextMessage) else "BINARY"
                        yield BidiPart(bytes(buffer), kind, "COMPLETE")
                        buffer.clear()
                elif isinstance(event, ws_events.Ping):
                    with contextlib.suppress(wsproto.utilities.LocalProtocolError, OSError):
                        await sock.send(event.response())
                elif isinstance(event, ws_events.CloseConnection):
                    if event.code not in (1000, 1001, 1005):
                        raise _broken(f"the container closed the WebSocket with code {event.code}")
                    if sock.ws.state is wsproto.connection.ConnectionState.REMOTE_CLOSING:
                        with contextlib.suppress(wsproto.utilities.LocalProtocolError, OSError):
                            await sock.send(event.response())
                    return
    finally:
        forwarder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await forwarder
        await sock.close()


def _broken(what: str) -> ModelFailure:
    return ModelFailure(
        f"The stream from container {_CONTAINER} broke: {what}.", stream_error_code="StreamBroken"
    )


async def _per_message(
    model: ContainerModel, invocation: BidiInvocation, parts: AsyncIterator[BidiPart]
) -> AsyncIterator[BidiPart]:
    pending = bytearray()
    kind: str | None = None
    async for part in parts:
        pending += part.data
        kind = kind or part.data_type
        if len(pending) > _MAX_MESSAGE:
            raise _broken(f"a message is larger than {_MAX_MESSAGE} bytes")
        if not part.ends_message:
            continue
        text = kind == "UTF8"
        request = ModelRequest(
            body=bytes(pending),
            content_type="text/plain; charset=utf-8" if text else "application/octet-stream",
            endpoint_name=invocation.endpoint_name,
        )
        pending.clear()
        kind = None
        response = await model.invoke(request)  # ModelFailure: a ModelStreamError event
        content_type = response.content_type.lower()
        textual = content_type.startswith("text/") or "json" in content_type
        yield BidiPart(response.body, "UTF8" if textual else "BINARY", "COMPLETE")
