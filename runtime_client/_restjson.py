"""The rest-json protocol of SageMaker Runtime, without I/O: keyword arguments laid out
as a request (path label, headers, body), and answers read back into boto3's dicts.

:func:`serialize_request` validates (:mod:`._validate`) and returns a
:class:`SerializedRequest`; :func:`parse_header_members`, :func:`parse_json_output` and
:func:`response_metadata` turn an answer's headers and body into boto3's shape. Error
answers are parsed in :mod:`._errors`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sigv4._record import field, record

from ._json import json_object, member_value
from ._model import Operation
from ._request_body import RequestBody, prepare_body
from ._validate import validate_params
from .http._models import Headers

__all__ = [
    "SerializedRequest",
    "parse_header_members",
    "parse_headers_output",
    "parse_json_output",
    "response_metadata",
    "serialize_request",
]


@record(slots=True)  # built on every call: plain assignments
class SerializedRequest:
    """The wire form of an operation call, before signing."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)  # may hold sensitive values
    body: RequestBody


def serialize_request(
    operation: Operation, params: Mapping[str, object], *, strict: bool = True
) -> SerializedRequest:
    """Validate, then lay the parameters out as path, headers and body (rest-json)."""
    validate_params(operation, params, strict=strict)
    headers: list[tuple[int, str, str]] = []
    path = operation.uri
    body: object = b""
    by_name = operation.inputs_by_name
    for name, value in params.items():  # the few given, not every member of the model
        if value is None:
            continue
        member = by_name[name]
        if member.location == "uri":
            path = path.replace("{" + name + "}", _label(str(value)))
        elif member.location == "header":
            headers.append((operation.input_index[name], member.wire_name, str(value)))
        elif member.kind == "blob":  # the payload (an event stream is sent by its caller)
            body = value
    if len(headers) > 1:
        headers.sort()  # in the model's order, whatever the order of the arguments
    fields = tuple((wire, value) for _, wire, value in headers)
    return SerializedRequest(operation.method, path, fields, prepare_body(body))


@functools.lru_cache(maxsize=256)
def _label(value: str) -> str:
    """A path label, percent-encoded (cached: a client calls few endpoints, again and again)."""
    return quote(value, safe="-_.~")


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
    document = json_object(body)
    parsed: dict[str, Any] = {}
    for member in operation.outputs:
        if member.location == "json":
            value = member_value(document.get(member.wire_name), member.kind)
            if value is not None:
                parsed[member.name] = value
    return parsed


def response_metadata(
    status_code: int, headers: Mapping[str, str], retry_attempts: int
) -> dict[str, Any]:
    """boto3's ``ResponseMetadata``: RequestId, HTTPStatusCode, HTTPHeaders, RetryAttempts."""
    # Our transport's Headers are lower-case already; an httpx.Headers' items() are too.
    lowered = (
        dict(headers)
        if isinstance(headers, Headers)
        else {k.lower(): v for k, v in headers.items()}
    )
    metadata: dict[str, Any] = {}
    if "x-amzn-requestid" in lowered:
        metadata["RequestId"] = lowered["x-amzn-requestid"]
    metadata["HTTPStatusCode"] = status_code
    metadata["HTTPHeaders"] = lowered
    metadata["RetryAttempts"] = retry_attempts
    return metadata
