"""The service model as data, with pure request serialization and response parsing.

Every constraint below was taken from botocore's ``sagemaker-runtime`` 2017-05-13
``service-2.json`` at development time (botocore is not a run-time dependency). The
model's Java-flavoured patterns are translated to Python regular expressions that must
match the *whole* value; ``\\p{Print}`` is printable ASCII and ``\\p{ASCII}`` is checked
as "printable ASCII or tab", since a header value may carry no control character (no CR,
no LF) and no non-ASCII character.

Nothing here touches the network: :func:`validate_params` and :func:`serialize_request`
turn keyword arguments into a :class:`SerializedRequest`; :func:`parse_headers_output`
and :func:`response_metadata` turn an answer into boto3's dict shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal
from urllib.parse import quote

from ._errors import ParamValidationError
from ._request_body import RequestBody, check_body, prepare_body

__all__ = [
    "INVOKE_ENDPOINT",
    "INVOKE_ENDPOINT_ASYNC",
    "INVOKE_ENDPOINT_WITH_RESPONSE_STREAM",
    "OPERATIONS",
    "Member",
    "Operation",
    "SerializedRequest",
    "parse_header_members",
    "parse_headers_output",
    "parse_json_output",
    "response_metadata",
    "serialize_request",
    "validate_params",
]

Kind = Literal["string", "integer", "blob"]
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
}


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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

    def input(self, name: str) -> Member | None:
        return self.inputs_by_name.get(name)

    # Derived once per operation (the model is immutable), for the per-call code.
    @cached_property
    def inputs_by_name(self) -> dict[str, Member]:
        return {member.name: member for member in self.inputs}

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

OPERATIONS: Mapping[str, Operation] = {
    op.name: op
    for op in (INVOKE_ENDPOINT, INVOKE_ENDPOINT_ASYNC, INVOKE_ENDPOINT_WITH_RESPONSE_STREAM)
}


@dataclass(frozen=True)
class SerializedRequest:
    """The wire form of an operation call, before signing."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)  # may hold sensitive values
    body: RequestBody


def _shown(member: Member, value: object) -> str:
    if member.sensitive:
        return ""
    text = repr(value)
    return f", value: {text[:80]}{'...' if len(text) > 80 else ''}"


def _check_string(member: Member, value: str, strict: bool) -> str | None:
    problem = _string_problem(member, value, strict)
    return None if problem is None else problem + _shown(member, value)


def _string_problem(member: Member, value: str, strict: bool) -> str | None:
    if member.location in ("header", "uri") and ("\r" in value or "\n" in value):
        return "must not contain CR or LF characters"
    if member.location == "header" and not value.isascii():
        return "must be ASCII only (it is sent as an HTTP header)"
    if not strict:
        return None
    if member.min is not None and len(value) < member.min:
        return f"invalid length {len(value)}, valid min length: {member.min}"
    if member.max is not None and len(value) > member.max:
        return f"invalid length {len(value)}, valid max length: {member.max}"
    if member.pattern is not None and _compiled(member.pattern).fullmatch(value) is None:
        return f"does not match the pattern {_PATTERN_TEXT.get(member.pattern, member.pattern)}"
    return None


def _check_member(member: Member, value: object, strict: bool) -> str | None:
    if member.kind == "blob":
        return check_body(value, member.max if strict else None)
    if member.kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return f"invalid type {type(value).__name__}, valid types: int"
        if not strict:
            return None
        if member.min is not None and value < member.min:
            return f"invalid range {value}, valid min value: {member.min}"
        if member.max is not None and value > member.max:
            return f"invalid range {value}, valid max value: {member.max}"
        return None
    if not isinstance(value, str):
        return f"invalid type {type(value).__name__}, valid types: str"
    return _check_string(member, value, strict)


def _valid(operation: Operation, params: Mapping[str, object], strict: bool) -> bool:
    by_name = operation.inputs_by_name
    for name, value in params.items():
        member = by_name.get(name)
        if member is None:
            return False
        if value is not None and _check_member(member, value, strict) is not None:
            return False
    return all(params.get(name) is not None for name in operation.required)


def validate_params(
    operation: Operation, params: Mapping[str, object], *, strict: bool = True
) -> None:
    """Check ``params`` against the model; raise :class:`ParamValidationError` listing all faults.

    Like boto3, unknown names are refused with the list of valid ones and a required
    member must be present (``None`` counts as absent for optional members).
    ``strict=False`` (``Config(parameter_validation=False)``) skips the service's length,
    range and pattern rules, but never the checks that keep the request well-formed:
    names, required members, types, CR/LF and non-ASCII in headers, body kinds.
    """
    if _valid(operation, params, strict):
        return  # the usual case, checked in one pass over the few given parameters
    errors: list[tuple[str, str]] = []
    names = [m.name for m in operation.inputs]
    for name in params:
        if operation.input(name) is None:
            errors.append((name, f"unknown parameter, must be one of: {', '.join(names)}"))
    for member in operation.inputs:
        if member.name not in params or params[member.name] is None:
            if member.name in operation.required:
                errors.append((member.name, "missing required parameter"))
            continue
        problem = _check_member(member, params[member.name], strict)
        if problem is not None:
            errors.append((member.name, problem))
    if errors:
        raise ParamValidationError(errors)


def serialize_request(
    operation: Operation, params: Mapping[str, object], *, strict: bool = True
) -> SerializedRequest:
    """Validate, then lay the parameters out as path, headers and body (rest-json)."""
    validate_params(operation, params, strict=strict)
    headers: list[tuple[str, str]] = []
    path = operation.uri
    body: object = b""
    for member in operation.inputs:
        value = params.get(member.name)
        if value is None:
            continue
        if member.location == "uri":
            path = path.replace("{" + member.name + "}", quote(str(value), safe="-_.~"))
        elif member.location == "header":
            headers.append((member.wire_name, str(value)))
        elif member.location == "payload":
            body = value
    return SerializedRequest(operation.method, path, tuple(headers), prepare_body(body))


def parse_headers_output(operation: Operation, headers: Mapping[str, str]) -> dict[str, Any]:
    """Output members carried in headers (``headers`` looked up case-insensitively)."""
    parsed: dict[str, Any] = {}
    for member in operation.outputs:
        if member.location == "header" and member.wire_name in headers:
            parsed[member.name] = headers[member.wire_name]
    return parsed


def parse_header_members(operation: Operation, lowered: Mapping[str, str]) -> dict[str, Any]:
    """:func:`parse_headers_output` for headers already keyed by lower-case name (as
    ``ResponseMetadata['HTTPHeaders']``, with repeated headers joined by ``", "``)."""
    parsed: dict[str, Any] = {}
    for name, wire in operation.header_outputs:
        value = lowered.get(wire)
        if value is not None:
            parsed[name] = value
    return parsed


def parse_json_output(operation: Operation, body: bytes) -> dict[str, Any]:
    """Output members carried in a JSON body; unknown keys are ignored, as boto3 does."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    parsed: dict[str, Any] = {}
    for member in operation.outputs:
        if member.location == "json" and member.wire_name in document:
            parsed[member.name] = document[member.wire_name]
    return parsed


def response_metadata(
    status_code: int, headers: Mapping[str, str], retry_attempts: int
) -> dict[str, Any]:
    """boto3's ``ResponseMetadata``: RequestId, HTTPStatusCode, HTTPHeaders, RetryAttempts."""
    lowered = {k.lower(): v for k, v in headers.items()}
    metadata: dict[str, Any] = {}
    if "x-amzn-requestid" in lowered:
        metadata["RequestId"] = lowered["x-amzn-requestid"]
    metadata["HTTPStatusCode"] = status_code
    metadata["HTTPHeaders"] = lowered
    metadata["RetryAttempts"] = retry_attempts
    return metadata
