"""Client-side validation of keyword arguments and input events against the model.

Like boto3, before anything is sent: unknown names are refused with the list of valid
ones, required members must be present, and every fault is listed in one
:class:`ParamValidationError` naming the parameter and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import ParamValidationError
from ._model import EventShape, Member, Operation, pattern_text
from ._request_body import check_body

__all__ = ["validate_event", "validate_params"]

_DOT_SEGMENTS = ("", ".", "..")


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
    if member.location == "uri" and value in _DOT_SEGMENTS:
        return "must be a name, not empty, '.' or '..' (it is a segment of the request path)"
    if member.location == "header" and not value.isascii():
        return "must be ASCII only (it is sent as an HTTP header)"
    if not strict:
        return None
    if member.min is not None and len(value) < member.min:
        return f"invalid length {len(value)}, valid min length: {member.min}"
    if member.max is not None and len(value) > member.max:
        return f"invalid length {len(value)}, valid max length: {member.max}"
    if member.compiled is not None and member.compiled.fullmatch(value) is None:
        return f"does not match the pattern {pattern_text(member)}"
    return None


def _check_stream(value: object) -> str | None:
    if isinstance(value, (bytes, bytearray, memoryview, str, Mapping)):
        return "must be an iterable of events, not a single value"
    if not (hasattr(value, "__aiter__") or hasattr(value, "__iter__")):
        return (
            f"invalid type {type(value).__name__}, valid types: an async iterable or "
            "iterable of {'PayloadPart': {...}} events, or None"
        )
    return None


def _check_member(member: Member, value: object, strict: bool) -> str | None:
    if member.kind == "blob":
        return check_body(value, member.max if strict else None)
    if member.kind == "eventstream":
        return _check_stream(value)
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


def _all_valid(operation: Operation, params: Mapping[str, object], strict: bool) -> bool:
    by_name = operation.inputs_by_name
    accepted = operation.accepted_strings
    for name, value in params.items():
        member = by_name.get(name)
        if member is None:
            return False
        if value is None:
            continue
        if type(value) is str and member.kind == "string":
            # A client sends the same few strings again and again (its endpoint, content
            # type): each one that passed every rule once is not checked again.
            seen = accepted[name]
            if value in seen:
                continue
            if _check_string(member, value, strict) is not None:
                return False
            if strict and len(seen) < _ACCEPTED_PER_MEMBER:
                seen.add(value)
        elif _check_member(member, value, strict) is not None:
            return False
    return all(params.get(name) is not None for name in operation.required)


#: Strings remembered per member as valid (under the strict rules, which imply the lax ones).
_ACCEPTED_PER_MEMBER = 64


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
    if _all_valid(operation, params, strict):
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


def validate_event(shape: EventShape, event: object, name: str = "Body event") -> Mapping[str, Any]:
    """Check one input event, e.g. ``{'PayloadPart': {'Bytes': b'...', 'DataType': 'UTF8'}}``
    (every member optional; a missing ``Bytes`` is an empty part), and return its member
    mapping. ``name`` prefixes the error paths (``Body event.PayloadPart.DataType``)."""
    if not isinstance(event, Mapping) or list(event) != [shape.name]:
        example = f"{{{shape.name!r}: {{'Bytes': b'...'}}}}"
        raise ParamValidationError(
            [(name, f"must be a dict with the one key {shape.name!r}, e.g. {example}")]
        )
    part = event[shape.name]
    if not isinstance(part, Mapping):
        raise ParamValidationError([(f"{name}.{shape.name}", "must be a dict")])
    errors: list[tuple[str, str]] = []
    for key, value in part.items():
        where = f"{name}.{shape.name}.{key}"
        member = shape.members_by_name.get(key)
        problem = (
            f"unknown member, must be one of: {', '.join(shape.members_by_name)}"
            if member is None
            else _event_member_problem(member, value)
        )
        if problem is not None:
            errors.append((where, problem))
    if errors:
        raise ParamValidationError(errors)
    return part


def _event_member_problem(member: Member, value: object) -> str | None:
    if member.kind == "blob":
        if not isinstance(value, (bytes, bytearray, memoryview)):
            return f"invalid type {type(value).__name__}, valid types: bytes"
        if member.max is not None and len(value) > member.max:
            return f"invalid length {len(value)}, valid max: {member.max}"
        return None
    if not isinstance(value, str):
        return f"invalid type {type(value).__name__}, valid types: str"
    if member.enum is not None and value not in member.enum:
        return f"must be one of: {', '.join(sorted(member.enum))}"
    if member.max is not None and len(value.encode("utf-8", "surrogatepass")) > member.max:
        return f"must be at most {member.max} UTF-8 bytes"
    return None
