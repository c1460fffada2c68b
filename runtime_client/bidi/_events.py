"""InvokeEndpointWithBidirectionalStream without I/O: parameters, the signed request, events.

The operation belongs to the service "SageMaker Runtime HTTP2" (2025-10-01). Its request is
an HTTP/2 ``POST`` whose body is a stream of *signed* event-stream messages, and whose
answer is a stream of unsigned events. Everything here is pure:

* the keyword arguments are checked and laid out from the service model
  (``INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM``, by ``_restjson.serialize_request``);
* :func:`build_bidi_request` signs that layout as HTTP/2 headers (the payload-hash line is
  ``STREAMING-AWS4-HMAC-SHA256-EVENTS``; its signature seeds the event chain);
* :func:`encode_input_event` checks ``{'PayloadPart': {...}}`` against the model's
  ``PAYLOAD_PART`` and turns it into the inner message that
  :class:`~runtime_client.bidi._connection.BidiConnection` then signs and wraps;
* :func:`event_from_message` turns a received message into boto3's event shape or the
  modeled exception;

One input event on the wire (PROTOCOL.md, "Bidirectional stream")::

    outer message   headers  :date             timestamp, whole seconds
                             :chunk-signature  32 raw HMAC bytes (see sigv4._eventsign)
                    payload  inner message
    inner message   headers  :message-type event, :event-type PayloadPart,
                             :content-type application/octet-stream (when Bytes is not empty),
                             DataType UTF8|BINARY, CompletionState PARTIAL|COMPLETE, P (padding)
                    payload  Bytes

The end of input is one more outer message with an empty payload, then END_STREAM. The
receiving end of the signature chain is :class:`sigv4.EventChainVerifier`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sigv4 import (
    STREAMING_EVENTS_PAYLOAD,
    Credentials,
    PayloadHashHeader,
    SignableRequest,
    SigningParams,
    SigningSettings,
    sign,
)
from sigv4._record import field, record

from .._errors import ClientError, error_class_for_code, parse_error_response
from .._json import json_object
from .._model import (
    EVENT_STREAM_CONTENT_TYPE,
    INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM,
    PAYLOAD_PART,
    SIGNING_NAME,
)
from .._response_stream import error_from_message
from .._restjson import SerializedRequest
from .._validate import validate_event
from ..eventstream import (
    EventStreamMessage,
    encode_message,
)

__all__ = [
    "BIDI_OPERATION_NAME",
    "BidiRequest",
    "build_bidi_request",
    "encode_input_event",
    "error_from_stream_message",
    "event_from_message",
    "initial_error",
]

BIDI_OPERATION_NAME = INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM.name


def encode_input_event(event: object, name: str = "Body event") -> bytes:
    """Validate ``event`` and encode it as the inner message (the signed outer payload)."""
    part = validate_event(PAYLOAD_PART, event, name)
    data = bytes(part.get("Bytes", b""))
    headers: list[tuple[str, str]] = [(":message-type", "event"), (":event-type", "PayloadPart")]
    if data:
        headers.append((":content-type", "application/octet-stream"))
    headers.extend((key, part[key]) for key in ("DataType", "CompletionState", "P") if key in part)
    return encode_message(headers, data)


# ----------------------------------------------------------------------------- request


@record(frozen=True)
class BidiRequest:
    """The signed request that opens the stream, as HTTP/2 header fields.

    ``authority`` is the ``:authority`` pseudo-header, which stands for ``Host`` (and keeps
    the port, e.g. ``:8443``); ``headers`` are the regular fields, lower-case. ``signature``
    seeds the event chain; it and the headers are kept out of ``repr``.
    """

    scheme: str
    authority: str
    path: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    signature: str = field(repr=False)
    params: SigningParams = field(repr=False)

    @property
    def h2_headers(self) -> list[tuple[str, str]]:
        """Pseudo-headers first, then the regular fields (RFC 9113, section 8.3)."""
        return [
            (":method", "POST"),
            (":scheme", self.scheme),
            (":authority", self.authority),
            (":path", self.path),
            *self.headers,
        ]


def build_bidi_request(
    endpoint_url: str,
    serialized: SerializedRequest,
    *,
    credentials: Credentials,
    region: str,
    time: datetime,
    user_agent: str | None = None,
) -> BidiRequest:
    """Sign the laid-out call (``serialize_request`` of the operation) as a request to
    ``endpoint_url`` (scheme, host, port and an optional path prefix)."""
    parts = urlsplit(endpoint_url)
    path = f"{parts.path.rstrip('/')}{serialized.path}"
    authority = parts.netloc
    headers: list[tuple[str, str]] = [("content-type", EVENT_STREAM_CONTENT_TYPE)]
    headers.extend((name.lower(), value) for name, value in serialized.headers)
    signable = SignableRequest(
        method=serialized.method,
        url=f"{parts.scheme}://{authority}{path}",
        headers=[("host", authority), *headers],
        payload_hash=STREAMING_EVENTS_PAYLOAD,
    )
    signing = SigningParams(
        credentials,
        region,
        SIGNING_NAME,
        time,
        settings=SigningSettings(payload_hash_header=PayloadHashHeader.INCLUDE),
    )
    result = sign(signable, signing)
    headers.extend((name.lower(), value) for name, value in result.headers)
    if user_agent:
        headers.append(("user-agent", user_agent))
    return BidiRequest(
        scheme=parts.scheme,
        authority=authority,
        path=path,
        headers=tuple(headers),
        signature=result.signature,
        params=signing,
    )


# ----------------------------------------------------------------------------- responses


def error_from_stream_message(
    message: EventStreamMessage, metadata: Mapping[str, Any]
) -> ClientError:
    """The exception for an ``exception`` or ``error`` message, shaped like boto3's (see
    ``_response_stream.error_from_message``); an unmodeled one keeps its ``ErrorCode``."""
    return error_from_message(
        message, BIDI_OPERATION_NAME, metadata, unmodeled_members=("ErrorCode",)
    )


def event_from_message(
    message: EventStreamMessage, metadata: Mapping[str, Any]
) -> dict[str, Any] | ClientError | None:
    """A received message as boto3 gives it: ``{'PayloadPart': {'Bytes': b'...',
    'DataType': ..., 'CompletionState': ..., 'P': ...}}`` (members present only when sent),
    the exception of an exception/error message, or None for an event to skip (unknown
    event types are skipped, as boto3 does)."""
    kind = message.message_type
    if kind in ("exception", "error"):
        return error_from_stream_message(message, metadata)
    if kind != "event" or message.event_type != "PayloadPart":
        return None
    part: dict[str, Any] = {"Bytes": message.payload}
    for key in ("DataType", "CompletionState", "P"):
        value = message.headers.get(key)
        if isinstance(value, str):
            part[key] = value
    return {"PayloadPart": part}


def initial_error(
    status: int, headers: Mapping[str, str], body: bytes, metadata: Mapping[str, Any]
) -> ClientError:
    """The modeled error of a non-200 answer (rest-json: InputValidationError 400,
    ModelError 424, InternalServerError 500, ServiceUnavailableError 503, ...); an
    ``ErrorCode`` in the body is kept even where the model does not name it."""
    parsed = parse_error_response(status, headers, body)
    code = parsed["Error"]["Code"]
    if "ErrorCode" not in parsed:
        extra = _error_code_member(body)
        if extra is not None:
            parsed["ErrorCode"] = extra
    parsed["ResponseMetadata"] = {**parsed.get("ResponseMetadata", {}), **metadata}
    return error_class_for_code(code)(parsed, BIDI_OPERATION_NAME)


def _error_code_member(body: bytes) -> str | None:
    value = json_object(body).get("ErrorCode")
    return value if isinstance(value, str) else None
