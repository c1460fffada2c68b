"""The service model as data: the four operations, their members and rules.

The three classic operations' constraints were taken from botocore's ``sagemaker-runtime``
2017-05-13 ``service-2.json`` at development time (botocore is not a run-time
dependency); InvokeEndpointWithBidirectionalStream is from the service "SageMaker Runtime
HTTP2" (2025-10-01), which boto3 does not have. The
model's Java-flavoured patterns are translated to Python regular expressions that must
match the *whole* value; ``\\p{Print}`` is printable ASCII and ``\\p{ASCII}`` is checked
as "printable ASCII or tab", since a header value may carry no control character (no CR,
no LF) and no non-ASCII character.

The model is read by the client (:mod:`._validate` checks keyword arguments,
:mod:`._restjson` lays them out and parses answers) and by the local endpoint
(``local/_validation`` checks what it receives): every rule is written here once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from sigv4._record import record

__all__ = [
    "EVENT_STREAM_CONTENT_TYPE",
    "INVOKE_ENDPOINT",
    "INVOKE_ENDPOINT_ASYNC",
    "INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM",
    "INVOKE_ENDPOINT_WITH_RESPONSE_STREAM",
    "MAX_PART_BYTES",
    "OPERATIONS",
    "PAYLOAD_PART",
    "SIGNING_NAME",
    "EventShape",
    "Member",
    "Operation",
    "pattern_text",
]

#: The SigV4 signing name of every operation (not ``runtime.sagemaker``, the endpoint prefix).
SIGNING_NAME = "sagemaker"
EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"

#: "eventstream" is an input stream of events (the bidirectional operation's ``Body``).
Kind = Literal["string", "integer", "blob", "eventstream"]
Location = Literal["uri", "header", "payload", "json"]

# Patterns (whole-value match). Comments give the model's original text.
_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9])*"  # ^[a-zA-Z0-9](-*[a-zA-Z0-9])*  (issue: with $)
_PRINT_ID = r"[\x21-\x7e][\x20-\x7e]*"  # \A\S[\p{Print}]*\z
_HEADER = r"[\t\x20-\x7e]*"  # \p{ASCII}*  (minus control characters)
_COMPONENT = r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?"  # ^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$
_SESSION = r"[a-zA-Z0-9](-*[a-zA-Z0-9])*"  # ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$
_SESSION_OR_NEW = r"NEW_SESSION|[a-zA-Z0-9](-*[a-zA-Z0-9])*"  # ^(NEW_SESSION)$|^...$
_FILENAME = r"(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9_.\-]*"  # ^(?!.*\..*\.)[a-zA-Z0-9][a-zA-Z0-9-_\.]*$
_INPUT_LOCATION = r"(https|s3)://([^/]+)/?(.*)"  # ^(https|s3)://([^/]+)/?(.*)$
_S3_EXTENSION = r"(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+"  # ^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$
_ANY = r"[\t\x20-\x7e]*"  # .*  (as a header: printable ASCII)
_PRINTABLE = r"[\x20-\x7e]*"  # the HTTP2 service's path and query string headers

_PATTERN_TEXT = {
    _NAME: "^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
    _PRINT_ID: "a printable-ASCII first character that is not a space, then printable ASCII",
    _HEADER: "printable ASCII (no control characters, CR or LF)",
    _COMPONENT: "^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$",
    _SESSION: "^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
    _SESSION_OR_NEW: "^(NEW_SESSION)$|^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
    _FILENAME: "^(?!.*\\..*\\.)[a-zA-Z0-9][a-zA-Z0-9-_\\.]*$",
    _INPUT_LOCATION: "^(https|s3)://([^/]+)/?(.*)$",
    _S3_EXTENSION: "^(?!s3:|https:)[a-zA-Z0-9!_.*'()/-]+$",
    _PRINTABLE: "printable ASCII (no control characters, CR or LF)",
}


@record(frozen=True)
class Member:
    """One input or output member: where it travels and what it may hold."""

    name: str
    kind: Kind
    location: Location
    wire_name: str = ""
    min: int | None = None
    max: int | None = None
    pattern: str | None = None
    sensitive: bool = False
    #: The allowed values of an enum member (a string that must be one of them).
    enum: frozenset[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str] | None:
        """The compiled pattern (compiled on first use, then shared)."""
        return None if self.pattern is None else _compiled(self.pattern)


#: Compiled member patterns, built on first use (compiling them all costs import time).
_COMPILED: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    regex = _COMPILED.get(pattern)
    if regex is None:
        regex = _COMPILED[pattern] = re.compile(pattern)
    return regex


def pattern_text(member: Member) -> str:
    """The rule of ``member``'s pattern as the model (and the service's messages) write it."""
    assert member.pattern is not None
    return _PATTERN_TEXT.get(member.pattern, f"^{member.pattern}$")


@record(frozen=True)
class Operation:
    """An operation of the service model."""

    name: str
    method: str
    uri: str
    success_status: int
    inputs: tuple[Member, ...]
    required: frozenset[str]
    outputs: tuple[Member, ...]
    #: "blob" (a streaming body), "eventstream", or None (output members in a JSON body).
    output_payload: Literal["blob", "eventstream"] | None
    #: The HTTP/2 service's operation (its own endpoint, port 8443) rather than the classic one.
    http2: bool = False

    def input(self, name: str) -> Member | None:
        return self.inputs_by_name.get(name)

    # Derived once per operation (the model is immutable), for the per-call code.
    @cached_property
    def inputs_by_name(self) -> dict[str, Member]:
        return {member.name: member for member in self.inputs}

    @cached_property
    def input_index(self) -> dict[str, int]:
        """Each input member's place in the model (requests list headers in that order)."""
        return {member.name: index for index, member in enumerate(self.inputs)}

    @cached_property
    def accepted_strings(self) -> dict[str, set[str]]:
        """Per input member, string values already found valid (see ``_validate``)."""
        return {member.name: set() for member in self.inputs}

    @cached_property
    def header_outputs(self) -> tuple[tuple[str, str], ...]:
        """``(member name, lower-case header name)`` of the outputs sent as headers."""
        return tuple((m.name, m.wire_name.lower()) for m in self.outputs if m.location == "header")


def _h(name: str, wire: str, kind: Kind = "string", **rules: Any) -> Member:
    return Member(name, kind, "header", wire, **rules)


_ENDPOINT_NAME = Member("EndpointName", "string", "uri", "EndpointName", max=63, pattern=_NAME)
_CUSTOM_ATTRIBUTES = _h(
    "CustomAttributes",
    "X-Amzn-SageMaker-Custom-Attributes",
    max=1024,
    pattern=_HEADER,
    sensitive=True,
)
_INFERENCE_ID = _h("InferenceId", "X-Amzn-SageMaker-Inference-Id", min=1, max=64, pattern=_PRINT_ID)
_TARGET_VARIANT = _h("TargetVariant", "X-Amzn-SageMaker-Target-Variant", max=63, pattern=_NAME)
_TARGET_HOST = _h(
    "TargetContainerHostname",
    "X-Amzn-SageMaker-Target-Container-Hostname",
    max=63,
    pattern=_NAME,
)
_COMPONENT_NAME = _h(
    "InferenceComponentName", "X-Amzn-SageMaker-Inference-Component", max=63, pattern=_COMPONENT
)
_PREFIX_AWARE_ID = _h(
    "PrefixAwareId", "X-Amzn-SageMaker-Prefix-Aware-Id", min=1, max=64, pattern=_PRINT_ID
)
_OUT_CONTENT_TYPE = _h("ContentType", "Content-Type")
_OUT_VARIANT = _h("InvokedProductionVariant", "x-Amzn-Invoked-Production-Variant")
_OUT_CUSTOM = _h("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes")

INVOKE_ENDPOINT = Operation(
    name="InvokeEndpoint",
    method="POST",
    uri="/endpoints/{EndpointName}/invocations",
    success_status=200,
    inputs=(
        _ENDPOINT_NAME,
        Member("Body", "blob", "payload", max=6291456, sensitive=True),
        _h("ContentType", "Content-Type", max=1024, pattern=_HEADER),
        _h("Accept", "Accept", max=1024, pattern=_HEADER),
        _CUSTOM_ATTRIBUTES,
        _h("TargetModel", "X-Amzn-SageMaker-Target-Model", min=1, max=1024, pattern=_PRINT_ID),
        _TARGET_VARIANT,
        _TARGET_HOST,
        _INFERENCE_ID,
        _h(
            "EnableExplanations",
            "X-Amzn-SageMaker-Enable-Explanations",
            min=1,
            max=64,
            pattern=_ANY,
        ),
        _COMPONENT_NAME,
        _h("SessionId", "X-Amzn-SageMaker-Session-Id", max=256, pattern=_SESSION_OR_NEW),
        _PREFIX_AWARE_ID,
    ),
    required=frozenset({"EndpointName", "Body"}),
    outputs=(
        _OUT_CONTENT_TYPE,
        _OUT_VARIANT,
        _OUT_CUSTOM,
        _h("NewSessionId", "X-Amzn-SageMaker-New-Session-Id"),
        _h("ClosedSessionId", "X-Amzn-SageMaker-Closed-Session-Id"),
    ),
    output_payload="blob",
)

INVOKE_ENDPOINT_ASYNC = Operation(
    name="InvokeEndpointAsync",
    method="POST",
    uri="/endpoints/{EndpointName}/async-invocations",
    success_status=202,
    inputs=(
        _ENDPOINT_NAME,
        _h("ContentType", "X-Amzn-SageMaker-Content-Type", max=1024, pattern=_HEADER),
        _h("Accept", "X-Amzn-SageMaker-Accept", max=1024, pattern=_HEADER),
        _CUSTOM_ATTRIBUTES,
        _INFERENCE_ID,
        _h(
            "InputLocation",
            "X-Amzn-SageMaker-InputLocation",
            min=1,
            max=1024,
            pattern=_INPUT_LOCATION,
        ),
        _h(
            "S3OutputPathExtension",
            "X-Amzn-SageMaker-S3OutputPathExtension",
            min=1,
            max=512,
            pattern=_S3_EXTENSION,
        ),
        _h("Filename", "X-Amzn-SageMaker-Filename", min=1, max=32, pattern=_FILENAME),
        _h("RequestTTLSeconds", "X-Amzn-SageMaker-RequestTTLSeconds", "integer", min=60, max=21600),
        _h(
            "InvocationTimeoutSeconds",
            "X-Amzn-SageMaker-InvocationTimeoutSeconds",
            "integer",
            min=1,
            max=3600,
        ),
        Member("Body", "blob", "payload", max=128000, sensitive=True),
    ),
    required=frozenset({"EndpointName"}),
    outputs=(
        Member("InferenceId", "string", "json", "InferenceId"),
        _h("OutputLocation", "X-Amzn-SageMaker-OutputLocation"),
        _h("FailureLocation", "X-Amzn-SageMaker-FailureLocation"),
    ),
    output_payload=None,
)

INVOKE_ENDPOINT_WITH_RESPONSE_STREAM = Operation(
    name="InvokeEndpointWithResponseStream",
    method="POST",
    uri="/endpoints/{EndpointName}/invocations-response-stream",
    success_status=200,
    inputs=(
        _ENDPOINT_NAME,
        Member("Body", "blob", "payload", max=6291456, sensitive=True),
        _h("ContentType", "Content-Type", max=1024, pattern=_HEADER),
        _h("Accept", "X-Amzn-SageMaker-Accept", max=1024, pattern=_HEADER),
        _CUSTOM_ATTRIBUTES,
        _TARGET_VARIANT,
        _TARGET_HOST,
        _INFERENCE_ID,
        _COMPONENT_NAME,
        _h("SessionId", "X-Amzn-SageMaker-Session-Id", max=256, pattern=_SESSION),
        _PREFIX_AWARE_ID,
    ),
    required=frozenset({"EndpointName", "Body"}),
    outputs=(
        _h("ContentType", "X-Amzn-SageMaker-Content-Type"),
        _OUT_VARIANT,
        _OUT_CUSTOM,
    ),
    output_payload="eventstream",
)

INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM = Operation(
    name="InvokeEndpointWithBidirectionalStream",
    method="POST",
    uri="/endpoints/{EndpointName}/invocations-bidirectional-stream",
    success_status=200,
    inputs=(
        _ENDPOINT_NAME,
        # Optional here: without it the caller sends through ``stream.input_stream``.
        Member("Body", "eventstream", "payload", sensitive=True),
        _TARGET_VARIANT,
        _h(
            "ModelInvocationPath",
            "X-Amzn-SageMaker-Model-Invocation-Path",
            max=100,
            pattern=_PRINTABLE,
        ),
        _h("ModelQueryString", "X-Amzn-SageMaker-Model-Query-String", max=2048, pattern=_PRINTABLE),
    ),
    required=frozenset({"EndpointName"}),
    outputs=(_OUT_VARIANT,),
    output_payload="eventstream",
    http2=True,
)

OPERATIONS: Mapping[str, Operation] = {
    op.name: op
    for op in (
        INVOKE_ENDPOINT,
        INVOKE_ENDPOINT_ASYNC,
        INVOKE_ENDPOINT_WITH_RESPONSE_STREAM,
        INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM,
    )
}

#: Largest ``Bytes`` of one PayloadPart of the bidirectional stream: the signed outer
#: message (the inner message plus its headers) must fit the event-stream payload limit of
#: 16 MiB.
MAX_PART_BYTES = 16 * 1024 * 1024 - 1024

_BIDI_DATA_TYPES = frozenset({"UTF8", "BINARY"})
_COMPLETION_STATES = frozenset({"PARTIAL", "COMPLETE"})


@record(frozen=True)
class EventShape:
    """An event of an event stream: its ``:event-type`` and its members (the payload, or
    event headers of their own names)."""

    name: str
    members: tuple[Member, ...]

    @cached_property
    def members_by_name(self) -> dict[str, Member]:
        return {member.name: member for member in self.members}


#: The bidirectional stream's one event, both ways: ``{'PayloadPart': {'Bytes': b'...',
#: 'DataType': 'UTF8', 'CompletionState': 'COMPLETE', 'P': '...'}}``, every member optional.
PAYLOAD_PART = EventShape(
    "PayloadPart",
    (
        Member("Bytes", "blob", "payload", max=MAX_PART_BYTES, sensitive=True),
        Member("DataType", "string", "header", "DataType", enum=_BIDI_DATA_TYPES),
        Member("CompletionState", "string", "header", "CompletionState", enum=_COMPLETION_STATES),
        Member("P", "string", "header", "P", max=0xFFFF),
    ),
)
