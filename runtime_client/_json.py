"""Reading JSON that a server sent, bounded: error bodies, 202 bodies, the payloads of
stream exceptions. Whatever arrives, the result is a flat, safe value or nothing: no
``RecursionError`` from a body nested 100,000 deep, no ``ValueError`` from a number of
5,000 digits, and no deep structure copied into an answer (where printing it would
recurse again).

* :func:`json_object`: the body as a dict, or ``{}`` when it is not a JSON object (or is
  nested deeper than the parser's recursion allows).
* :func:`json_or_text`: the same, but a body that is plainly not JSON becomes its text
  (the first 64 KiB) under ``text_key``: an error body or stream payload in prose.
* :func:`member_value`: a member of that dict checked against its kind in the model
  (``"string"``: a str; ``"integer"``: an int, or a str of at most 18 ASCII digits, as a
  JSON number or a header-style number), else None: a member that is not what the model
  says is left out.
"""

from __future__ import annotations

from typing import Any

__all__ = ["json_object", "json_or_text", "member_value"]

_MAX_DIGITS = 18  # within int64 and far below int()'s 4,300-digit limit
_MAX_TEXT = 64 * 1024  # bytes of a prose body kept as its message


def json_object(body: bytes | str) -> dict[str, Any]:
    """``body`` parsed as a JSON object; ``{}`` for anything else."""
    if not body:
        return {}
    import json  # here: a successful InvokeEndpoint answer is not JSON (cold start)

    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested beyond the stack
        return {}
    return parsed if isinstance(parsed, dict) else {}


def json_or_text(body: bytes, text_key: str) -> dict[str, Any]:
    """:func:`json_object`, or ``{text_key: the text}`` for a body that does not start
    like JSON (one that does but fails to parse gives ``{}``)."""
    parsed = json_object(body)
    if not parsed and body.strip() and not body.lstrip().startswith((b"{", b"[")):
        return {text_key: body[:_MAX_TEXT].decode("utf-8", errors="replace")}
    return parsed


def member_value(value: object, kind: str) -> Any:
    """``value`` if it is what a member of ``kind`` holds, else None."""
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value if len(str(abs(value))) <= _MAX_DIGITS else None
        if isinstance(value, str):
            digits = value[1:] if value.startswith("-") else value
            if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_DIGITS:
                return int(value)
        return None
    return value if isinstance(value, str) else None
