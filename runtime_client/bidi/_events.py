"""InvokeEndpointWithBidirectionalStream without I/O: parameters, the signed request, events.

The operation belongs to the service "SageMaker Runtime HTTP2" (2025-10-01). Its request is
an HTTP/2 ``POST`` whose body is a stream of *signed* event-stream messages, and whose
answer is a stream of unsigned events. Everything here is pure:

* :func:`validate_bidi_params` checks the keyword arguments before anything is sent;
* :func:`build_bidi_request` lays them out and signs the request headers (the payload-hash
  line is ``STREAMING-AWS4-HMAC-SHA256-EVENTS``; its signature seeds the event chain);
* :func:`encode_input_event` turns ``{'PayloadPart': {...}}`` into the inner message that
  :class:`~runtime_client.bidi._connection.BidiConnection` then signs and wraps;
* :func:`event_from_message` turns a received message into boto3's event shape or the
  modeled exception;
* :class:`EventChainVerifier` / :func:`verify_event_chain` are the server's side of the
  signature chain (for test servers and the local emulator).

One input event on the wire (PROTOCOL.md, "Bidirectional stream")::

    outer message   headers  :date             timestamp, whole seconds
                             :chunk-signature  32 raw HMAC bytes (see sigv4._eventsign)
                    payload  inner message
    inner message   headers  :message-type event, :event-type PayloadPart,
                             :content-type application/octet-stream (when Bytes is not empty),
                             DataType UTF8|BINARY, CompletionState PARTIAL|COMPLETE, P (padding)
                    payload  Bytes

The end of input is one more outer message with an empty payload, then END_STREAM.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from sigv4 import (
    STREAMING_EVENTS_PAYLOAD,
    Credentials,
    PayloadHashHeader,
    SignableRequest,
    SignatureCheckError,
    SigningParams,
    SigningSettings,
    sign,
    sign_event,
)

from .._errors import (
    ClientError,
    ParamValidationError,
)
from .._response_stream import error_from_message
from ..eventstream import (
    DEFAULT_MAX_PAYLOAD_LENGTH,
    CorruptMessageError,
    EventStreamDecoder,
    EventStreamMessage,
    encode_message,
)

__all__ = [
    "BIDI_OPERATION_NAME",
    "BIDI_PARAMS",
    "EVENT_STREAM_CONTENT_TYPE",
    "MAX_PART_BYTES",
    "BidiRequest",
    "EventChainVerifier",
    "build_bidi_request",
    "encode_input_event",
    "error_from_stream_message",
    "event_from_message",
    "validate_bidi_params",
    "validate_input_event",
    "verify_event_chain",
]

BIDI_OPERATION_NAME = "InvokeEndpointWithBidirectionalStream"
EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
SIGNING_SERVICE = "sagemaker"

#: Largest ``Bytes`` of one PayloadPart: the outer message (inner message plus its
#: headers) must fit the event-stream payload limit of 16 MiB.
MAX_PART_BYTES = DEFAULT_MAX_PAYLOAD_LENGTH - 1024

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")

#: Header parameters: name -> (wire name, max length, pattern, rule text).
_HEADER_PARAMS: Mapping[str, tuple[str, int, re.Pattern[str], str]] = {
    "TargetVariant": (
        "X-Amzn-SageMaker-Target-Variant",
        63,
        _NAME,
        "^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
    ),
    "ModelInvocationPath": (
        "X-Amzn-SageMaker-Model-Invocation-Path",
        100,
        _PRINTABLE,
        "printable ASCII (no control characters, CR or LF)",
    ),
    "ModelQueryString": (
        "X-Amzn-SageMaker-Model-Query-String",
        2048,
        _PRINTABLE,
        "printable ASCII (no control characters, CR or LF)",
    ),
}

#: Every keyword the operation takes.
BIDI_PARAMS = ("EndpointName", "Body", *_HEADER_PARAMS)

_PART_MEMBERS: Mapping[str, frozenset[str] | None] = {
    "Bytes": None,
    "DataType": frozenset({"UTF8", "BINARY"}),
    "CompletionState": frozenset({"PARTIAL", "COMPLETE"}),
    "P": None,
}


# ----------------------------------------------------------------------------- parameters


def validate_bidi_params(params: Mapping[str, object], *, strict: bool = True) -> None:
    """Check the operation's keyword arguments; raise :class:`ParamValidationError` listing
    every fault. ``Body`` is only checked for being absent or an (async) iterable here; each
    event is checked when it is sent (:func:`validate_input_event`). ``strict=False``
    skips the length and pattern rules but never CR/LF or non-ASCII in headers."""
    errors: list[tuple[str, str]] = []
    for name in params:
        if name not in BIDI_PARAMS:
            errors.append((name, f"unknown parameter, must be one of: {', '.join(BIDI_PARAMS)}"))
    endpoint = params.get("EndpointName")
    if endpoint is None:
        errors.append(("EndpointName", "missing required parameter"))
    elif not isinstance(endpoint, str):
        errors.append(("EndpointName", f"invalid type {type(endpoint).__name__}, valid types: str"))
    elif strict and len(endpoint) > 63:
        errors.append(("EndpointName", f"invalid length {len(endpoint)}, valid max length: 63"))
    elif strict and _NAME.fullmatch(endpoint) is None:
        errors.append(
            (
                "EndpointName",
                f"does not match the pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$, "
                f"value: {endpoint[:80]!r}",
            )
        )
    elif not endpoint or "\r" in endpoint or "\n" in endpoint:
        errors.append(("EndpointName", "must be non-empty, without CR or LF characters"))
    body = params.get("Body")
    if body is not None and not (hasattr(body, "__aiter__") or hasattr(body, "__iter__")):
        errors.append(
            (
                "Body",
                f"invalid type {type(body).__name__}, valid types: an async iterable or "
                "iterable of {'PayloadPart': {...}} events, or None",
            )
        )
    if isinstance(body, (bytes, bytearray, memoryview, str, Mapping)):
        errors.append(("Body", "must be an iterable of events, not a single value"))
    for name, (_, max_length, pattern, rule) in _HEADER_PARAMS.items():
        value = params.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.append((name, f"invalid type {type(value).__name__}, valid types: str"))
        elif "\r" in value or "\n" in value or not value.isascii():
            errors.append((name, "must be ASCII without CR or LF (it is sent as an HTTP header)"))
        elif strict and len(value) > max_length:
            errors.append((name, f"invalid length {len(value)}, valid max length: {max_length}"))
        elif strict and pattern.fullmatch(value) is None:
            errors.append((name, f"does not match the pattern {rule}"))
    if errors:
        raise ParamValidationError(errors)


def validate_input_event(event: object, name: str = "Body event") -> Mapping[str, Any]:
    """Check one input event, ``{'PayloadPart': {'Bytes': b'...', 'DataType': 'UTF8',
    'CompletionState': 'COMPLETE'}}`` (every member optional; a missing ``Bytes`` is an
    empty part), and return its PayloadPart mapping. ``name`` prefixes the error paths."""
    if not isinstance(event, Mapping) or list(event) != ["PayloadPart"]:
        raise ParamValidationError(
            [
                (
                    name,
                    "must be a dict with the one key 'PayloadPart', e.g. "
                    "{'PayloadPart': {'Bytes': b'...'}}",
                )
            ]
        )
    part = event["PayloadPart"]
    if not isinstance(part, Mapping):
        raise ParamValidationError([(f"{name}.PayloadPart", "must be a dict")])
    errors: list[tuple[str, str]] = []
    for key, value in part.items():
        where = f"{name}.PayloadPart.{key}"
        if key not in _PART_MEMBERS:
            errors.append((where, f"unknown member, must be one of: {', '.join(_PART_MEMBERS)}"))
        elif key == "Bytes":
            if not isinstance(value, (bytes, bytearray, memoryview)):
                errors.append((where, f"invalid type {type(value).__name__}, valid types: bytes"))
            elif len(value) > MAX_PART_BYTES:
                errors.append((where, f"invalid length {len(value)}, valid max: {MAX_PART_BYTES}"))
        elif not isinstance(value, str):
            errors.append((where, f"invalid type {type(value).__name__}, valid types: str"))
        else:
            allowed = _PART_MEMBERS[key]
            if allowed is not None and value not in allowed:
                errors.append((where, f"must be one of: {', '.join(sorted(allowed))}"))
            elif len(value.encode("utf-8", "surrogatepass")) > 0xFFFF:
                errors.append((where, "must be at most 65535 UTF-8 bytes"))
    if errors:
        raise ParamValidationError(errors)
    return part


def encode_input_event(event: object, name: str = "Body event") -> bytes:
    """Validate ``event`` and encode it as the inner message (the signed outer payload)."""
    part = validate_input_event(event, name)
    data = bytes(part.get("Bytes", b""))
    headers: list[tuple[str, str]] = [(":message-type", "event"), (":event-type", "PayloadPart")]
    if data:
        headers.append((":content-type", "application/octet-stream"))
    headers.extend((key, part[key]) for key in ("DataType", "CompletionState", "P") if key in part)
    return encode_message(headers, data)


# ----------------------------------------------------------------------------- request


@dataclass(frozen=True)
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
    params: Mapping[str, object],
    *,
    credentials: Credentials,
    region: str,
    time: datetime,
    user_agent: str | None = None,
) -> BidiRequest:
    """Lay out validated ``params`` as the signed request to ``endpoint_url`` (scheme, host,
    port and an optional path prefix)."""
    parts = urlsplit(endpoint_url)
    endpoint = quote(str(params["EndpointName"]), safe="-_.~")
    path = f"{parts.path.rstrip('/')}/endpoints/{endpoint}/invocations-bidirectional-stream"
    authority = parts.netloc
    headers: list[tuple[str, str]] = [("content-type", EVENT_STREAM_CONTENT_TYPE)]
    for name, (wire, *_) in _HEADER_PARAMS.items():
        value = params.get(name)
        if value is not None:
            headers.append((wire.lower(), str(value)))
    signable = SignableRequest(
        method="POST",
        url=f"{parts.scheme}://{authority}{path}",
        headers=[("host", authority), *headers],
        payload_hash=STREAMING_EVENTS_PAYLOAD,
    )
    signing = SigningParams(
        credentials,
        region,
        SIGNING_SERVICE,
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


# ----------------------------------------------------------------------------- server side


class EventChainVerifier:
    """The receiving end of the signature chain (a server's check of each input message).

    Seed it with the request's ``Signature=`` value (from a verified ``Authorization``
    header) and the signer's credentials and region; then :meth:`verify` each received
    outer message in order. It returns the decoded inner message, or None for the final
    empty message (after which :attr:`ended` is True). A bad message raises
    :class:`sigv4.SignatureCheckError` (``code`` and ``status`` as the service would
    answer); the chain does not advance on failure. ``now``/``tolerance`` optionally bound
    each event's ``:date`` against the verifier's clock.
    """

    def __init__(
        self,
        seed_signature: str,
        credentials: Credentials,
        region: str,
        service: str = SIGNING_SERVICE,
    ) -> None:
        self._prior = seed_signature
        self._credentials = credentials
        self._region = region
        self._service = service
        self.ended = False
        self.count = 0

    def verify(
        self,
        message: EventStreamMessage,
        *,
        now: datetime | None = None,
        tolerance: timedelta = timedelta(minutes=5),
    ) -> EventStreamMessage | None:
        if self.ended:
            raise SignatureCheckError(
                "InvalidSignatureException", "a message followed the end of the stream", 400
            )
        date = message.headers.get(":date")
        signature = message.headers.get(":chunk-signature")
        if not isinstance(date, datetime) or not isinstance(signature, bytes):
            raise SignatureCheckError(
                "IncompleteSignatureException",
                f"message {self.count} lacks a timestamp :date or a bytes :chunk-signature",
                400,
            )
        if now is not None and abs(now - date) > tolerance:
            raise SignatureCheckError(
                "InvalidSignatureException",
                f"Signature expired: message {self.count} is dated {date:%Y%m%dT%H%M%SZ}, "
                f"the server's time is {now:%Y%m%dT%H%M%SZ}",
            )
        expected = sign_event(
            message.payload,
            self._prior,
            SigningParams(self._credentials, self._region, self._service, date),
        )
        if not hmac.compare_digest(expected.signature, signature):
            raise SignatureCheckError(
                "InvalidSignatureException",
                f"the :chunk-signature of message {self.count} does not match",
            )
        self._prior = expected.signature_hex
        self.count += 1
        if not message.payload:
            self.ended = True
            return None
        try:
            decoder = EventStreamDecoder()
            inner = decoder.feed(message.payload)
            decoder.end()
        except CorruptMessageError as exc:
            raise SignatureCheckError(
                "SerializationException", f"message {self.count - 1}: {exc}", 400
            ) from None
        if len(inner) != 1:
            raise SignatureCheckError(
                "SerializationException",
                f"message {self.count - 1} must carry exactly one inner message",
                400,
            )
        return inner[0]


def verify_event_chain(
    seed_signature: str,
    messages: Iterable[EventStreamMessage],
    credentials: Credentials,
    region: str,
    service: str = SIGNING_SERVICE,
) -> tuple[list[EventStreamMessage], bool]:
    """Verify a whole chain at once: ``(inner messages, ended)`` where ``ended`` says that
    the final empty message was seen. Raises :class:`sigv4.SignatureCheckError`."""
    verifier = EventChainVerifier(seed_signature, credentials, region, service)
    inner: list[EventStreamMessage] = []
    for message in messages:
        decoded = verifier.verify(message)
        if decoded is not None:
            inner.append(decoded)
    return inner, verifier.ended
