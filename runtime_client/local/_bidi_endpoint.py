"""InvokeEndpointWithBidirectionalStream in the emulator: one full-duplex ASGI handler.

``POST /endpoints/{EndpointName}/invocations-bidirectional-stream`` over HTTP/2 (the
emulator's one port speaks HTTP/1.1 and cleartext HTTP/2 with prior knowledge, so a
client given ``endpoint_url=endpoint.url`` reaches it). The handler reads the request
body while it writes the answer, in this order::

    protocol   HTTP/2 only (else 400 InputValidationError)
    signature  the request's SigV4, payload hash STREAMING-AWS4-HMAC-SHA256-EVENTS
               (403 InvalidSignatureException, ...; the x-amz-content-sha256 header must
               say so: 400 InputValidationError)
    validate   EndpointName, TargetVariant, ModelInvocationPath (<= 100),
               ModelQueryString (<= 2048): 400 InputValidationError
    open       the model's session; ModelFailure: 424 ModelError (input may still be open)
    answer     200, then one PayloadPart event per output part, as soon as it is made

Meanwhile an input task decodes the body (event-stream), checks each outer message's
``:date`` (within the clock tolerance) and ``:chunk-signature`` through the chain seeded by
the request signature (:class:`sigv4.EventChainVerifier`), unwraps
the inner ``PayloadPart`` and hands it to the model. A bad message stops the call:
before the 200 headers it is a rest-json error (403 InvalidSignatureException, 400
SerializationException, ...); after them, one ``error`` message (``:error-code`` and
``:error-message``, the event-stream protocol's unmodeled error) and the end of the
stream. What SageMaker does here is not documented; that is the emulator's choice, and
the client raises it as the matching ``ClientError`` (e.g. InvalidSignatureException).
(Transcribe Streaming, the older AWS HTTP/2 event-stream service, reports a bad or
expired event signature in-stream too, as its modeled ``BadRequestException`` with the
SigV4 texts "The request signature we calculated does not match ..." / "Signature
expired: ..."; SageMaker's model has no such in-stream exception.)
END_STREAM without the final signed empty message is such an error too.

The model's failures mid-stream are the modeled exception events: ModelStreamError (with
ErrorCode) for ModelFailure, InternalStreamFailure for anything else. A caller that resets
the stream or hangs up stops the model's session.

Limits (the emulator's, documented honestly): hypercorn credits HTTP/2 flow-control
windows as soon as it hands a DATA frame to the app, so input is buffered here up to
``input_buffer`` bytes (default 64 MiB) while the model is slow; past that the handler
stops reading, which with hypercorn also holds up the connection's other frames. There
is no idle timeout or session duration limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from sigv4 import (
    STREAMING_EVENTS_PAYLOAD,
    Credentials,
    EventChainVerifier,
    SignableRequest,
    SignatureCheckError,
)

from .._model import INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM, PAYLOAD_PART, SIGNING_NAME
from ..eventstream import (
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamMessage,
    decode_message,
    encode_message,
)
from ._bidi_models import BidiInvocation, BidiOpener, BidiPart
from ._checks import check_signature, target_problem
from ._models import ModelFailure
from ._responses import (
    EVENT_STREAM,
    Reply,
    TrackedSend,
    error_reply,
    model_error_reply,
    raw_headers,
    send_reply,
    stream_exception,
)
from ._settings import EndpointSettings
from ._validation import RequestValidationError, validate_request

__all__ = ["BIDI_ACTION", "BidiEndpoint"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BIDI_ACTION = "invocations-bidirectional-stream"
_DEFAULT_INPUT_BUFFER = 64 * 1024 * 1024
_log = logging.getLogger("runtime_client.local")


class _InputFault(Exception):
    """The caller's input broke the protocol: ``code``/``message``/``status`` as answered."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class _ClientGone(Exception):
    """The caller reset the stream or closed the connection."""


class _Inbox:
    """Verified input parts waiting for the model: a queue bounded by bytes (one part
    always fits), closed at the end of input."""

    def __init__(self, limit: int) -> None:
        self._items: deque[BidiPart] = deque()
        self._bytes = 0
        self._limit = limit
        self._closed = False
        self._changed = asyncio.Condition()

    async def put(self, part: BidiPart) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._items or self._bytes < self._limit)
            self._items.append(part)
            self._bytes += len(part.data)
            self._changed.notify_all()

    async def close(self) -> None:
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def parts(self) -> AsyncIterator[BidiPart]:
        while True:  # ends when the input is closed and drained
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._items) or self._closed)
                if not self._items:
                    return
                part = self._items.popleft()
                self._bytes -= len(part.data)
                self._changed.notify_all()
            yield part


def _part(inner: EventStreamMessage) -> BidiPart:
    """The verified inner message as a model input part; its header members are checked
    against the model's ``PAYLOAD_PART`` (the same rules the client applies)."""
    if inner.message_type != "event" or inner.event_type != PAYLOAD_PART.name:
        raise _InputFault(
            "InputValidationError",
            f"Unsupported input event: :message-type {inner.message_type!r}, "
            f":event-type {inner.event_type!r} (only PayloadPart events are accepted).",
        )
    values: dict[str, str | None] = {}
    for key in ("DataType", "CompletionState"):
        member = PAYLOAD_PART.members_by_name[key]
        assert member.enum is not None
        value = inner.headers.get(key)
        if value is not None and value not in member.enum:
            raise _InputFault(
                "InputValidationError",
                f"Value {value!r} at 'PayloadPart.{key}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(sorted(member.enum))}]",
            )
        values[key] = value if isinstance(value, str) else None
    return BidiPart(inner.payload, values["DataType"], values["CompletionState"])


def payload_event(part: BidiPart) -> bytes:
    """The PayloadPart event answering ``part`` (its DataType/CompletionState when set)."""
    headers: list[tuple[str, str]] = [(":message-type", "event"), (":event-type", "PayloadPart")]
    if part.data:
        headers.append((":content-type", "application/octet-stream"))
    if part.data_type is not None:
        headers.append(("DataType", part.data_type))
    if part.completion_state is not None:
        headers.append(("CompletionState", part.completion_state))
    return encode_message(headers, part.data)


def error_event(code: str, message: str) -> bytes:
    """An event-stream ``error`` message (the protocol's unmodeled error)."""
    return encode_message(
        ((":message-type", "error"), (":error-code", code), (":error-message", message)), b""
    )


class BidiEndpoint:
    """Serves the operation for :class:`~runtime_client.local.EmulatorApp` (which routes
    the path here). ``opener`` is the model's session (:func:`bidi_session_for`), or None
    when the model cannot serve it (400)."""

    def __init__(
        self,
        opener: BidiOpener | None,
        settings: EndpointSettings,
        *,
        input_buffer: int = _DEFAULT_INPUT_BUFFER,
    ) -> None:
        self._opener = opener
        self.settings = settings
        self.input_buffer = input_buffer

    def __repr__(self) -> str:
        return f"BidiEndpoint(region={self.settings.region!r}, variant={self.settings.variant!r})"

    # ------------------------------------------------------------------ entry

    async def handle(
        self,
        scope: Message,
        receive: Receive,
        send: Send,
        *,
        name: str,
        target: str,
        pairs: list[tuple[str, str]],
        request_id: str,
    ) -> None:
        """Answer one call (the route matched; ``target`` is the raw path and query)."""
        headers: dict[str, str] = {}
        for key, value in pairs:
            headers.setdefault(key.lower(), value)
        early = self._check_request(scope, target, pairs, headers, name, request_id)
        if isinstance(early, Reply):
            await send_reply(send, early)
            return
        invocation = BidiInvocation(
            endpoint_name=name,
            target_variant=headers.get("x-amzn-sagemaker-target-variant"),
            invocation_path=headers.get("x-amzn-sagemaker-model-invocation-path"),
            query_string=headers.get("x-amzn-sagemaker-model-query-string"),
        )
        tracked = TrackedSend(send)
        try:
            await self._converse(receive, tracked, early, invocation, request_id)
        except Exception:
            _log.exception("bidirectional call %s failed", request_id)
            if not tracked.started:  # else the stream is cut short, which the caller sees
                text = "An internal error occurred."
                await send_reply(send, error_reply(500, "InternalServerError", text, request_id))

    # ------------------------------------------------------------------ checks

    def _check_request(
        self,
        scope: Message,
        target: str,
        pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        name: str,
        request_id: str,
    ) -> Reply | EventChainVerifier:
        """The checks before any input is read: a reply to send, or the chain verifier."""

        def invalid(message: str, status: int = 400) -> Reply:
            return error_reply(status, "InputValidationError", message, request_id)

        if scope.get("http_version") != "2":
            return invalid(
                "InvokeEndpointWithBidirectionalStream needs HTTP/2 (this request came over "
                f"HTTP/{scope.get('http_version')}); the emulator speaks cleartext HTTP/2 "
                "with prior knowledge on the same port."
            )
        request = SignableRequest("POST", target, pairs, payload_hash=STREAMING_EVENTS_PAYLOAD)
        try:
            verified = check_signature(self.settings, request)
        except SignatureCheckError as exc:
            return error_reply(exc.status, exc.code, exc.message, request_id)
        if headers.get("x-amz-content-sha256") != STREAMING_EVENTS_PAYLOAD:
            return invalid(
                f"The x-amz-content-sha256 header must be {STREAMING_EVENTS_PAYLOAD}: the "
                "input is a stream of signed events."
            )
        problem = self._validate(name, headers)
        if problem is not None:
            return invalid(problem)
        if self._opener is None:
            return invalid(
                f"Endpoint {name} of account {self.settings.account_id} does not support "
                "bidirectional streaming (its model has no bidirectional session)."
            )
        secret = self.settings.secrets[verified.access_key_id]
        credentials = Credentials(verified.access_key_id, secret)
        return EventChainVerifier(verified.signature, credentials, verified.region, SIGNING_NAME)

    def _validate(self, name: str, headers: Mapping[str, str]) -> str | None:
        try:
            validate_request(
                INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM,
                labels={"EndpointName": name},
                headers=headers,
                body_length=0,
            )
        except RequestValidationError as exc:
            return str(exc)
        return target_problem(self.settings, name, headers.get("x-amzn-sagemaker-target-variant"))

    # ------------------------------------------------------------------ the call

    async def _read_input(
        self, receive: Receive, verifier: EventChainVerifier, inbox: _Inbox
    ) -> None:
        """Decode, verify and queue the input; then wait for the caller to go. Raises
        _InputFault or _ClientGone; never returns normally."""
        decoder = EventStreamDecoder()
        ended = False
        while True:  # each ASGI message is a body chunk, the end, or the disconnect
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            if ended:
                continue
            data = message.get("body", b"")
            try:
                outers = decoder.feed(data) if data else []
                if not message.get("more_body", False):
                    decoder.end()
            except CorruptMessageError as exc:
                raise _InputFault(
                    "SerializationException", f"The input is corrupt: {exc}"
                ) from None
            for outer in outers:
                inner = self._verified(verifier, outer)
                if inner is not None:
                    await inbox.put(_part(inner))
                elif verifier.ended:  # the final signed empty message: the input is over
                    await inbox.close()
            if not message.get("more_body", False):
                if not verifier.ended:
                    raise _InputFault(
                        "IncompleteSignatureException",
                        "The input ended (END_STREAM) without the final signed empty message.",
                    )
                ended = True

    def _verified(
        self, verifier: EventChainVerifier, outer: EventStreamMessage
    ) -> EventStreamMessage | None:
        """The inner message of a signed outer message (None for the final empty one);
        the ``:date`` header is verified as it was sent (any precision)."""
        number = verifier.count
        try:
            payload = verifier.verify(
                outer.headers.get(":date"),
                outer.headers.get(":chunk-signature"),
                outer.payload,
                now=self.settings.clock(),
                tolerance=self.settings.tolerance,
            )
        except SignatureCheckError as exc:
            raise _InputFault(exc.code, exc.message, exc.status) from None
        if payload is None:
            return None
        try:
            return decode_message(payload)
        except CorruptMessageError as exc:
            raise _InputFault("SerializationException", f"message {number}: {exc}") from None

    async def _opened(
        self,
        send: Send,
        opening: asyncio.Future[AsyncIterator[BidiPart]],
        invocation: BidiInvocation,
        request_id: str,
    ) -> AsyncIterator[BidiPart] | None:
        """The model's output parts once its session opened; None after answering its
        failure (424 ModelError, or 500 for an unexpected exception)."""
        try:
            return opening.result()
        except ModelFailure as failure:
            reply = model_error_reply(
                failure,
                endpoint_name=invocation.endpoint_name,
                region=self.settings.region,
                account_id=self.settings.account_id,
                request_id=request_id,
            )
        except Exception as exc:
            _log.exception("the model's bidirectional session did not open")
            message = f"The model failed to start the session ({type(exc).__name__})."
            reply = error_reply(500, "InternalServerError", message, request_id)
        await send_reply(send, reply)
        return None

    async def _converse(
        self,
        receive: Receive,
        send: Send,
        verifier: EventChainVerifier,
        invocation: BidiInvocation,
        request_id: str,
    ) -> None:
        assert self._opener is not None
        inbox = _Inbox(self.input_buffer)
        reader = asyncio.ensure_future(self._read_input(receive, verifier, inbox))
        opening = asyncio.ensure_future(self._opener(invocation, inbox.parts()))
        relay: asyncio.Future[None] | None = None
        try:
            await asyncio.wait((reader, opening), return_when=asyncio.FIRST_COMPLETED)
            if not opening.done():  # the input failed (or the caller left) first
                opening.cancel()
                await _send_input_fault(send, reader, request_id, started=False)
                return
            output = await self._opened(send, opening, invocation, request_id)
            if output is None:
                return
            headers = (
                ("x-amzn-RequestId", request_id),
                ("Content-Type", EVENT_STREAM),
                ("x-Amzn-Invoked-Production-Variant", self.settings.variant),
            )
            await send(
                {"type": "http.response.start", "status": 200, "headers": raw_headers(headers)}
            )
            relay = asyncio.ensure_future(_relay(send, output))
            await asyncio.wait((reader, relay), return_when=asyncio.FIRST_COMPLETED)
            if not relay.done():
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await relay
                await _send_input_fault(send, reader, request_id, started=True)
            else:
                relay.result()
        finally:
            for task in (reader, opening, relay):
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(
                *(t for t in (reader, opening, relay) if t is not None), return_exceptions=True
            )
            if opening.done() and not opening.cancelled() and opening.exception() is None:
                await _close_iterator(opening.result())


async def _close_iterator(iterator: AsyncIterator[BidiPart]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()


async def _relay(send: Send, output: AsyncIterator[BidiPart]) -> None:
    """Send each output part as a PayloadPart event, then end the stream (with an
    exception event first if the model failed)."""
    tail = b""
    try:
        async for part in output:
            await send(
                {"type": "http.response.body", "body": payload_event(part), "more_body": True}
            )
    except ModelFailure as failure:
        tail = stream_exception("ModelStreamError", failure.message, failure.stream_error_code)
    except Exception as exc:
        _log.exception("the model's bidirectional session failed")
        tail = stream_exception(
            "InternalStreamFailure",
            f"The stream failed inside the endpoint ({type(exc).__name__}).",
        )
    await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _send_input_fault(
    send: Send, reader: asyncio.Future[None], request_id: str, *, started: bool
) -> None:
    """The input task ended (it only ends by failing): answer its fault, or nothing when
    the caller left."""
    exc = reader.exception() if reader.done() and not reader.cancelled() else None
    if not isinstance(exc, _InputFault):
        if exc is not None and not isinstance(exc, _ClientGone):
            _log.error("reading the bidirectional input failed: %r", exc)
        return
    if started:
        body = error_event(exc.code, exc.message)
        await send({"type": "http.response.body", "body": body, "more_body": False})
    else:
        await send_reply(send, error_reply(exc.status, exc.code, exc.message, request_id))
