"""Why a signature did not match, read from what AWS says.

A service that refuses a signature (``InvalidSignatureException``,
``SignatureDoesNotMatch``) often quotes the canonical request and the string to sign it
computed::

    The request signature we calculated does not match the signature you provided. ...

    The Canonical String for this request should have been
    'POST
    /endpoints/my-endpoint/invocations
    ...'

    The String-to-Sign should have been
    'AWS4-HMAC-SHA256
    ...'

:func:`explain_mismatch` compares those texts with the ones the client signed and says,
in one or two lines, where they first differ (the line, what that line is, both values)
or, when both texts agree, that the secret key must be the wrong one. Session tokens are
masked in what it says. Pure: strings in, a string out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["explain_mismatch", "mask_tokens"]

_CANONICAL = re.compile(r"The Canonical String for this request should have been\s*'(.*?)'", re.S)
_STRING_TO_SIGN = re.compile(r"The String-to-Sign should have been\s*'(.*?)'", re.S)
_TOKEN = re.compile(r"(x-amz-security-token:|X-Amz-Security-Token=)([^\s'&]+)", re.I)
_SHOWN = 120  # characters of a differing line shown


def mask_tokens(text: str) -> str:
    """``text`` with every session token (a canonical header line or a query parameter)
    replaced by ``***``."""
    return _TOKEN.sub(r"\1***", text)


def _canonical_line_name(lines: list[str], index: int) -> str:
    """What line ``index`` (0-based) of a canonical request is."""
    fixed = {0: "the HTTP method", 1: "the canonical URI", 2: "the canonical query string"}
    if index in fixed:
        return fixed[index]
    try:
        blank = lines.index("", 3)
    except ValueError:
        blank = len(lines)
    if index < blank:
        return f"the canonical header {lines[index].partition(':')[0]!r}"
    if index == blank:
        return "the blank line after the headers"
    if index == blank + 1:
        return "the signed headers list"
    return "the payload hash"


def _string_to_sign_line_name(lines: list[str], index: int) -> str:
    names = [
        "the algorithm",
        "the request time",
        "the credential scope",
        "the canonical request's hash",
    ]
    return names[index] if index < len(names) else f"line {index + 1}"


def _shown(line: str | None) -> str:
    if line is None:
        return "(no such line)"
    masked = mask_tokens(line)
    return repr(masked if len(masked) <= _SHOWN else masked[:_SHOWN] + "...")


def _difference(
    what: str, theirs: str, ours: str, name_of: Callable[[list[str], int], str]
) -> str | None:
    """Where the texts first differ, line by line, said with both lines; None if equal."""
    a, b = theirs.split("\n"), ours.split("\n")
    for index in range(max(len(a), len(b))):
        if index < len(a) and index < len(b) and a[index] == b[index]:
            continue
        mine = b[index] if index < len(b) else None
        aws = a[index] if index < len(a) else None
        return (
            f"The {what} differ first at line {index + 1} "
            f"({name_of(a if index < len(a) else b, index)}): "
            f"AWS computed {_shown(aws)}, this client signed {_shown(mine)}."
        )
    return None


def explain_mismatch(
    service_message: str, canonical_request: str, string_to_sign: str
) -> str | None:
    """Where the client's ``canonical_request`` and ``string_to_sign`` (exact texts) first
    differ from those quoted in ``service_message``; None when the message quotes neither."""
    # Compared with tokens masked on both sides: a message may arrive masked already.
    service_message = mask_tokens(service_message)
    quoted_canonical = _CANONICAL.search(service_message)
    quoted_sts = _STRING_TO_SIGN.search(service_message)
    if quoted_canonical is None and quoted_sts is None:
        return None
    found = None
    if quoted_canonical is not None:
        theirs, ours = quoted_canonical.group(1), mask_tokens(canonical_request)
        found = _difference("canonical requests", theirs, ours, _canonical_line_name)
    if found is None and quoted_sts is not None:
        theirs, ours = quoted_sts.group(1), string_to_sign
        found = _difference("strings to sign", theirs, ours, _string_to_sign_line_name)
    return found or (
        "The canonical request and the string to sign are the ones AWS computed: the "
        "signature differs only through the key, so the secret access key is not the one "
        "of this access key id (or it was copied with a stray character)."
    )
