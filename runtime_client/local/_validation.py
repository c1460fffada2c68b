"""Server-side validation: the service model's rules applied to a received request.

The rules are not typed again here: each operation's input members, their wire names and
their constraints (length, pattern, integer range) come from ``runtime_client._model``.
This module maps a request's headers, path label and body back to members and answers
the way the service does, one sentence per fault::

    1 validation error detected: Value 'a_b' at 'endpointName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$

Sensitive members (the body, custom attributes) are named without their value.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .._model import Member, Operation, pattern_text

__all__ = ["Fault", "RequestValidationError", "validate_request"]

_SHOWN = 100


@dataclass(frozen=True)
class Fault:
    """One broken rule: the member, the value received (``None`` if absent) and the rule."""

    member: str
    value: str | None
    rule: str
    sensitive: bool = False

    def sentence(self) -> str:
        name = self.member[:1].lower() + self.member[1:]
        if self.value is None or self.sensitive:
            subject = f"Value at '{name}'"
        else:
            shown = self.value if len(self.value) <= _SHOWN else self.value[:_SHOWN] + "..."
            subject = f"Value '{shown}' at '{name}'"
        return f"{subject} failed to satisfy constraint: {self.rule}"


class RequestValidationError(ValueError):
    """The request broke the service model's rules; ``str()`` is the service's message."""

    def __init__(self, faults: list[Fault]) -> None:
        self.faults = list(faults)
        count = len(self.faults)
        plural = "s" if count != 1 else ""
        text = "; ".join(fault.sentence() for fault in self.faults)
        super().__init__(f"{count} validation error{plural} detected: {text}")


def _check_string(member: Member, value: str) -> str | None:
    if member.min is not None and len(value) < member.min:
        return f"Member must have length greater than or equal to {member.min}"
    if member.max is not None and len(value) > member.max:
        return f"Member must have length less than or equal to {member.max}"
    if member.compiled is not None and member.compiled.fullmatch(value) is None:
        return f"Member must satisfy regular expression pattern: {pattern_text(member)}"
    return None


def _check_integer(member: Member, value: str) -> tuple[int | None, str | None]:
    text = value.strip()
    if not (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())) or not text.isascii():
        return None, "Member must be an integer"
    number = int(text)
    if member.min is not None and number < member.min:
        return None, f"Member must have value greater than or equal to {member.min}"
    if member.max is not None and number > member.max:
        return None, f"Member must have value less than or equal to {member.max}"
    return number, None


def validate_request(
    operation: Operation,
    *,
    labels: Mapping[str, str],
    headers: Mapping[str, str],
    body_length: int,
    skip_pattern: Collection[str] = (),
) -> dict[str, str | int]:
    """Map the received request back to ``operation``'s input members and check them.

    ``labels`` holds the decoded path labels by member name, ``headers`` the received
    headers by lower-case name. Returns the header and label members present (integers
    parsed); raises :class:`RequestValidationError` listing every fault. The body is
    checked for length only (an empty body cannot be told from an absent one).
    ``skip_pattern`` names members whose pattern the caller checks itself.
    """
    faults: list[Fault] = []
    params: dict[str, str | int] = {}
    for member in operation.inputs:
        if member.location == "payload":
            if member.kind != "eventstream":  # events are checked one by one as they arrive
                faults += _body_faults(member, body_length)
            continue
        value = _received(member, labels, headers)
        if value is None:
            if member.name in operation.required:
                faults.append(Fault(member.name, None, "Member must not be null"))
            continue
        parsed, rule = _check_value(member, value, skip_pattern)
        if rule is not None:
            faults.append(Fault(member.name, value, rule, member.sensitive))
        elif parsed is not None:
            params[member.name] = parsed
    if faults:
        raise RequestValidationError(faults)
    return params


def _body_faults(member: Member, body_length: int) -> list[Fault]:
    if member.max is not None and body_length > member.max:
        rule = f"Member must have length less than or equal to {member.max}"
        return [Fault(member.name, None, rule, True)]
    return []


def _received(member: Member, labels: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The member's value as received: a path label or a header (None if absent)."""
    if member.location == "uri":
        return labels.get(member.name)
    if member.location == "header":
        return headers.get(member.wire_name.lower())
    return None


def _check_value(
    member: Member, value: str, skip_pattern: Collection[str]
) -> tuple[str | int | None, str | None]:
    """``(parsed value, None)`` or ``(None, the broken rule)``."""
    if member.kind == "integer":
        return _check_integer(member, value)
    checked = member
    if member.name in skip_pattern and member.compiled is not None:
        checked = Member(member.name, member.kind, member.location, member.wire_name,
                         member.min, member.max)  # fmt: skip
    rule = _check_string(checked, value)
    return (value, None) if rule is None else (None, rule)
