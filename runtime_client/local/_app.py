"""The SageMaker Runtime front door as a plain ASGI application (no framework).

Each request goes through the steps the service takes, in this order::

    route      POST /endpoints/{EndpointName}/invocations                  InvokeEndpoint
               POST /endpoints/{EndpointName}/async-invocations            InvokeEndpointAsync
               POST /endpoints/{EndpointName}/invocations-response-stream  ...WithResponseStream
               POST /endpoints/{EndpointName}/invocations-bidirectional-stream (HTTP/2,
               full duplex: handled apart, see ``_bidi_endpoint.py``)
    body       read, up to the operation's limit (over it: 400 ValidationError)
    signature  SigV4 checked with ``sigv4.verify_request`` (403 InvalidSignatureException,
               UnrecognizedClientException, ...; 400 IncompleteSignatureException)
    operation  unknown path or method: 404 UnknownOperationException
    validate   the service model's rules (400 ValidationError)
    invoke     the model; its failures become ModelError (424) or stream exception events

InvokeEndpointAsync answers 202 at once and runs the model in the background, writing the
result (or the error message) where OutputLocation (or FailureLocation) says; its
RequestTTLSeconds is checked but not enforced (nothing waits in a queue here), its
InvocationTimeoutSeconds is (default 15 minutes). A caller that hangs up mid-stream stops
the model's stream.

Every answer carries ``x-amzn-RequestId``. The app also speaks the ASGI lifespan protocol:
startup starts the model (a container must answer ``/ping``), shutdown stops it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from sigv4 import SignableRequest, SignatureCheckError

from .._model import (
    INVOKE_ENDPOINT,
    INVOKE_ENDPOINT_ASYNC,
    INVOKE_ENDPOINT_WITH_RESPONSE_STREAM,
    Operation,
)
from ._bidi_endpoint import BIDI_ACTION, BidiEndpoint
from ._bidi_models import bidi_session_for
from ._checks import check_claim, check_signature, target_problem
from ._models import Model, ModelFailure, ModelRequest
from ._responses import (
    EVENT_STREAM,
    Reply,
    TrackedSend,
    error_reply,
    model_error_reply,
    payload_part,
    raw_headers,
    send_reply,
    stream_exception,
)
from ._settings import DEFAULT_VARIANT, EndpointSettings
from ._storage import InputLocationError, LocalStore, is_local_location
from ._uploads import Disconnected, Reject, Uploads, body_limit
from ._validation import Fault, RequestValidationError, validate_request

__all__ = ["DEFAULT_VARIANT", "EmulatorApp", "Scope", "Receive", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_T = TypeVar("_T")

_ROUTE = re.compile(r"/endpoints/(?P<name>[^/]+)/(?P<action>[a-z-]+)\Z")
_ACTIONS: Mapping[str, Operation] = {
    "invocations": INVOKE_ENDPOINT,
    "async-invocations": INVOKE_ENDPOINT_ASYNC,
    "invocations-response-stream": INVOKE_ENDPOINT_WITH_RESPONSE_STREAM,
}
_DEFAULT_ASYNC_TIMEOUT = 900.0
_MAX_PART = 1024 * 1024
_log = logging.getLogger("runtime_client.local")


class EmulatorApp:
    """The ASGI app: serves ``model`` (a :class:`Model`) as ``settings`` say (the accepted
    keys, region, endpoint name and variant, the clock and its tolerance), keeping async
    inputs and results in ``store``."""

    def __init__(
        self,
        model: Model,
        settings: EndpointSettings,
        store: LocalStore,
        *,
        on_startup: Callable[[], None] | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.store = store
        self.on_startup = on_startup
        self._uploads = Uploads(settings.max_body_bytes_in_flight)
        #: Why the model did not start (the lifespan's startup failed), if it did not.
        self.start_failure: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._bidi = BidiEndpoint(bidi_session_for(model), settings)

    def __repr__(self) -> str:
        return f"EmulatorApp(model={self.model!r}, region={self.settings.region!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        # Other scopes (websocket) are not served: returning closes them.

    # ------------------------------------------------------------------ lifespan

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:  # ends with the shutdown message
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.model.start()
                except Exception as exc:
                    # Raised to the caller (ModelStartError) by run() and serve()
                    _log.debug("the model did not start: %s", exc)
                    self.start_failure = str(exc) or type(exc).__name__
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
                if self.on_startup is not None:
                    self.on_startup()
            elif message["type"] == "lifespan.shutdown":
                await self.drain()
                await self.model.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout`` seconds) for async invocations, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # ------------------------------------------------------------------ http

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        tracked = TrackedSend(send)
        try:
            await self._handle(scope, receive, tracked, request_id)
        except Reject as reject:
            await send_reply(send, reject.reply)
        except Disconnected:
            return
        except Exception:
            _log.exception("request %s failed", request_id)
            if not tracked.started:  # else the answer is cut short, which the client sees
                reply = error_reply(
                    500, "InternalFailure", "An internal error occurred.", request_id
                )
                await send_reply(send, reply)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = raw_path.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        method: str = scope["method"]
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for name, value in pairs:
            headers.setdefault(name.lower(), value)

        route = _ROUTE.match(path)
        if route is not None and method == "POST" and route.group("action") == BIDI_ACTION:
            await self._bidi.handle(
                scope,
                receive,
                send,
                name=unquote(route.group("name"), errors="replace"),
                target=path + ("?" + query if query else ""),
                pairs=pairs,
                request_id=request_id,
            )
            return
        operation = _ACTIONS.get(route.group("action")) if route else None
        if method != "POST":
            operation = None
        target = path + ("?" + query if query else "")
        self._verify(method, target, pairs, None, request_id)  # all but the body's hash
        body, digest = await self._uploads.read(receive, headers, body_limit(operation), request_id)
        self._verify(method, target, pairs, (body, digest), request_id)
        if route is None or operation is None:
            raise Reject(
                error_reply(404, "UnknownOperationException", "Unknown operation.", request_id)
            )
        name = unquote(route.group("name"), errors="replace")
        params = self._validated(operation, name, headers, len(body), request_id)
        model_request = ModelRequest(
            body=body,
            content_type=_str(params.get("ContentType")),
            accept=_str(params.get("Accept")),
            custom_attributes=_str(params.get("CustomAttributes")),
            target_model=_str(params.get("TargetModel")),
            inference_id=_str(params.get("InferenceId")),
            session_id=_str(params.get("SessionId")),
            endpoint_name=name,
            streaming=operation is INVOKE_ENDPOINT_WITH_RESPONSE_STREAM,
        )
        if operation is INVOKE_ENDPOINT:
            await self._invoke(send, model_request, request_id)
        elif operation is INVOKE_ENDPOINT_ASYNC:
            await self._invoke_async(send, model_request, params, request_id)
        else:
            await self._invoke_stream(receive, send, model_request, request_id)

    def _validated(
        self,
        operation: Operation,
        name: str,
        headers: Mapping[str, str],
        body_length: int,
        request_id: str,
    ) -> dict[str, str | int]:
        """The request's members by the model's rules, for an endpoint served here; a local
        ``InputLocation`` (a path into the data folder) is checked by the store instead."""
        skip: tuple[str, ...] = ()
        location = headers.get("x-amzn-sagemaker-inputlocation")
        if location is not None and is_local_location(location):
            skip = ("InputLocation",)
        try:
            params = validate_request(
                operation,
                labels={"EndpointName": name},
                headers=headers,
                body_length=body_length,
                skip_pattern=skip,
            )
        except RequestValidationError as exc:
            raise Reject(error_reply(400, "ValidationError", str(exc), request_id)) from None
        self._check_target(name, params, request_id)
        return params

    def _verify(
        self,
        method: str,
        target: str,
        pairs: list[tuple[str, str]],
        body: tuple[bytes, str] | None,
        request_id: str,
    ) -> None:
        """The signature check: without the body (``None``) all but its hash, else all."""
        try:
            if body is None:
                check_claim(self.settings, SignableRequest(method, target, pairs))
            else:
                request = SignableRequest(method, target, pairs, body[0], payload_hash=body[1])
                check_signature(self.settings, request)
        except SignatureCheckError as exc:
            raise Reject(error_reply(exc.status, exc.code, exc.message, request_id)) from None

    def _check_target(self, name: str, params: Mapping[str, object], request_id: str) -> None:
        variant = params.get("TargetVariant")
        problem = target_problem(self.settings, name, variant if isinstance(variant, str) else None)
        if problem is not None:
            raise Reject(error_reply(400, "ValidationError", problem, request_id))

    def _model_error(self, failure: ModelFailure, name: str, request_id: str) -> Reject:
        return Reject(
            model_error_reply(
                failure,
                endpoint_name=name,
                region=self.settings.region,
                account_id=self.settings.account_id,
                request_id=request_id,
            )
        )

    def _crash(self, exc: Exception, name: str, request_id: str) -> Reject:
        # An in-process model that raises is a container that answered 500.
        _log.exception("the model raised")
        failure = ModelFailure(f"{type(exc).__name__}: {exc}", status_code=500)
        return self._model_error(failure, name, request_id)

    # ------------------------------------------------------------------ operations

    async def _ask_model(
        self,
        ask: Callable[[ModelRequest], Awaitable[_T]],
        request: ModelRequest,
        request_id: str,
    ) -> _T:
        """The model's answer, or the error reply it stands for (424 ModelError for a
        ModelFailure, the answer of a crashed container otherwise)."""
        try:
            return await ask(request)
        except ModelFailure as failure:
            raise self._model_error(failure, request.endpoint_name, request_id) from None
        except Exception as exc:
            raise self._crash(exc, request.endpoint_name, request_id) from None

    async def _invoke(self, send: Send, request: ModelRequest, request_id: str) -> None:
        response = await self._ask_model(self.model.invoke, request, request_id)
        headers = [
            ("x-amzn-RequestId", request_id),
            ("Content-Type", response.content_type),
            ("x-Amzn-Invoked-Production-Variant", self.settings.variant),
        ]
        for name, value in (
            ("X-Amzn-SageMaker-Custom-Attributes", response.custom_attributes),
            ("X-Amzn-SageMaker-New-Session-Id", response.new_session_id),
            ("X-Amzn-SageMaker-Closed-Session-Id", response.closed_session_id),
        ):
            if value is not None:
                headers.append((name, value))
        await send_reply(send, Reply(200, tuple(headers), response.body))

    async def _invoke_stream(
        self, receive: Receive, send: Send, request: ModelRequest, request_id: str
    ) -> None:
        stream = await self._ask_model(self.model.stream, request, request_id)
        headers = [
            ("x-amzn-RequestId", request_id),
            ("Content-Type", EVENT_STREAM),
            ("X-Amzn-SageMaker-Content-Type", stream.content_type),
            ("x-Amzn-Invoked-Production-Variant", self.settings.variant),
        ]
        if stream.custom_attributes is not None:
            headers.append(("X-Amzn-SageMaker-Custom-Attributes", stream.custom_attributes))
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers(headers)})
        # Relay the parts while watching for the client to leave: a caller that hangs up
        # mid-stream stops the model's stream (and closes the container's answer).
        relay = asyncio.ensure_future(self._relay(send, stream.parts))
        watch = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((relay, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watch, relay):
                if not task.done():
                    task.cancel()
            await asyncio.gather(relay, watch, return_exceptions=True)
        if not relay.cancelled() and relay.exception() is not None:
            raise cast(BaseException, relay.exception())

    async def _relay(self, send: Send, parts: AsyncIterator[bytes]) -> None:
        tail = b""
        try:
            async for part in parts:
                for start in range(0, len(part), _MAX_PART):  # big parts go as several
                    event = payload_part(part[start : start + _MAX_PART])
                    await send({"type": "http.response.body", "body": event, "more_body": True})
        except ModelFailure as failure:
            tail = stream_exception("ModelStreamError", failure.message, failure.stream_error_code)
        except Exception as exc:
            _log.exception("the model's stream raised")
            tail = stream_exception(
                "InternalStreamFailure",
                f"The stream failed inside the endpoint ({type(exc).__name__}).",
            )
        finally:
            closer = getattr(parts, "aclose", None)
            if closer is not None:
                await closer()
        await send({"type": "http.response.body", "body": tail, "more_body": False})

    async def _invoke_async(
        self,
        send: Send,
        request: ModelRequest,
        params: Mapping[str, object],
        request_id: str,
    ) -> None:
        location = _str(params.get("InputLocation"))
        try:
            if location is not None:
                path = self.store.resolve_input(location)
                try:
                    body = await asyncio.to_thread(path.read_bytes)
                except OSError as exc:
                    problem = exc.strerror or type(exc).__name__
                    message = f"Could not read the input at {location}: {problem}"
                    raise InputLocationError(message) from None
            elif request.body:
                body = request.body
            else:
                raise RequestValidationError(
                    [Fault("InputLocation", None, "Member must not be null")]
                )
            output, failure = self.store.output_paths(
                _str(params.get("Filename")), _str(params.get("S3OutputPathExtension"))
            )
        except (InputLocationError, RequestValidationError) as exc:
            raise Reject(error_reply(400, "ValidationError", str(exc), request_id)) from None
        inference_id = request.inference_id or str(uuid.uuid4())
        timeout = params.get("InvocationTimeoutSeconds")
        seconds = float(timeout) if isinstance(timeout, int) else _DEFAULT_ASYNC_TIMEOUT
        work = ModelRequest(
            body=body,
            content_type=request.content_type,
            accept=request.accept,
            custom_attributes=request.custom_attributes,
            inference_id=inference_id,
            endpoint_name=request.endpoint_name,
        )
        task = asyncio.get_running_loop().create_task(
            self._run_async(work, output, failure, seconds)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        headers = (
            ("x-amzn-RequestId", request_id),
            ("Content-Type", "application/json"),
            ("X-Amzn-SageMaker-OutputLocation", self.store.location(output)),
            ("X-Amzn-SageMaker-FailureLocation", self.store.location(failure)),
        )
        document = json.dumps({"InferenceId": inference_id}).encode()
        await send_reply(send, Reply(202, headers, document))

    async def _run_async(
        self, request: ModelRequest, output: Path, failure: Path, timeout: float
    ) -> None:
        try:
            response = await asyncio.wait_for(self.model.invoke(request), timeout)
        except asyncio.TimeoutError:
            message = f"The invocation timed out after {timeout:g} seconds."
        except ModelFailure as exc:
            reply = model_error_reply(
                exc,
                endpoint_name=request.endpoint_name,
                region=self.settings.region,
                account_id=self.settings.account_id,
                request_id="",
            )
            message = json.loads(reply.body)["Message"]
        except Exception as exc:
            _log.exception("the model raised")
            message = f"The model failed: {type(exc).__name__}: {exc}"
        else:
            await asyncio.to_thread(self.store.write_atomic, output, response.body)
            return
        await asyncio.to_thread(self.store.write_atomic, failure, message.encode("utf-8"))


async def _disconnected(receive: Receive) -> None:
    """Return when the client has gone (the request body was already read)."""
    while True:  # each message is either the end or an ignored empty body message
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
