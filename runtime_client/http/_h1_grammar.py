"""The HTTP/1.1 grammar both ways: tokens, field lines, the status line, body framing.

Receiving (as h11 reads a response): the head parsed in a few C-level calls
(:func:`common_head`) or line by line with a precise error (:func:`parse_head`), header
and trailer lines (:func:`parse_fields`), and the framing fields (:func:`framing`:
Content-Length, Transfer-Encoding, Connection: close). Sending: field lines encoded and
checked (:func:`encode_fields`). Pure functions over bytes: no connection state here.
RFC 9110 §5.5 (field values), §5.6.1 (lists), §5.6.2 (tokens); RFC 9112 §4 (status line),
§6 (Transfer-Encoding, Content-Length).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from ._exceptions import LocalProtocolError, RemoteProtocolError
from ._h1_events import Headers

__all__ = [
    "BLANK_LINE_RE",
    "CHUNK_SIZE_RE",
    "FRAMING_NAMES",
    "HEX_DIGITS",
    "HTTP_10",
    "MAX_CONTENT_LENGTH_DIGITS",
    "NO_BODY_STATUS",
    "SEND_CONTROLS",
    "TARGET_RE",
    "TOKEN_RE",
    "comma_list",
    "common_head",
    "encode_fields",
    "field_values",
    "framing",
    "parse_fields",
    "parse_head",
    "remote",
    "show",
    "split_lines",
]

# --- the patterns (RFC 9110 §5.6.2 token, §5.5 field values; RFC 9112 §4 status line)
_TCHAR = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
# A received value as h11 reads it: runs of bytes other than NUL, SP, HTAB, LF, VT, FF and
# CR, separated by SP/HTAB. (Other control bytes are tolerated, as h11 does.)
_RUN = rb"[^\x00\t\n\x0b\x0c\r ]+"
_VALUE = rb"(?:%s(?:[ \t]+%s)*)?" % (_RUN, _RUN)
_FIELD = rb"(%s+):[ \t]*(%s)[ \t]*" % (_TCHAR, _VALUE)
# All the field lines of a head in one call, loosely: each match is anchored at a line
# start and its value has no CR and no trailing SP/HTAB; the caller checks the rest (every
# CR, LF, NUL, VT and FF is a matched line ending, every name a token).
_FIELDS_RE: Final = re.compile(rb"^([^:]+):[ \t]*((?:[^\r]*[^\r \t])?)\r\n", re.M)
_BAD_BYTES: Final = b"\x00\x0b\x0c\r\n"
# Field names seen before, checked to be tokens: raw name -> lower-case name. Shared by
# all connections (servers repeat the same few names) and bounded.
_TOKENS: dict[bytes, bytes] = {}
_TOKENS_MAX: Final = 1024
_STATUS_RE: Final = re.compile(rb"HTTP/(1\.[01]) ([0-9]{3})(?: ([^\x00\n\x0b\x0c\r]*))?")
_ANY_STATUS = rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: ([^\x00\n\x0b\x0c\r]*))?"
BLANK_LINE_RE: Final = re.compile(rb"\n\r?\n")
CHUNK_SIZE_RE: Final = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\n]*)?[ \t]*")
HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
# What we send: tokens, a target of visible ASCII, values of VCHAR / obs-text, SP and HTAB
# (no other control byte). A value with blanks at its edges is sent as given: they are the
# optional whitespace around a field value (RFC 9112 §5), which every reader strips, as
# http.client (boto3) sends them. Names and values are checked in one call each, joined by
# LF, which neither may contain.
TOKEN_RE: Final = re.compile(_TCHAR + rb"+")
TARGET_RE: Final = re.compile(rb"[\x21-\x7e]+")
_NAMES_RE: Final = re.compile(rb"%s+(?:\n%s+)*" % (_TCHAR, _TCHAR))
SEND_CONTROLS: Final = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
_CONTROL = rb"[\x00-\x08\x0a-\x1f\x7f]"
# The patterns above that only the careful paths and the error messages use are compiled
# on first use (re.compile() then caches them): they are most of this module's import time.

HTTP_10: Final = b"1.0"
NO_BODY_STATUS: Final = frozenset((204, 304))
FRAMING_NAMES: Final = frozenset((b"content-length", b"transfer-encoding", b"connection"))
MAX_CONTENT_LENGTH_DIGITS: Final = 20  # as h11


def show(data: bytes | bytearray, limit: int = 80) -> str:
    data = bytes(data)
    return repr(data) if len(data) <= limit else f"{data[:limit]!r}... ({len(data)} bytes)"


def remote(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message)


def comma_list(value: bytes) -> list[bytes]:
    """The non-empty elements of a #list field value, lower-cased (RFC 9110 §5.6.1)."""
    return [item for item in (part.strip().lower() for part in value.split(b",")) if item]


def framing(headers: Headers, where: str) -> tuple[int | None, bool | None, bool]:
    """Content-Length, chunked-or-not (None: no Transfer-Encoding), and Connection: close.

    Content-Length is checked as h11 checks it: a comma list of one repeated value, or
    repeated fields with the same digits; 1 to 20 digits.
    """
    length: bytes | None = None
    codings: list[bytes] | None = None
    close = False
    for name, value in headers:
        if name not in FRAMING_NAMES:
            continue
        if name == b"content-length":
            # plain digits inline (every response has them): the call only for the rest
            if not (value.isdigit() and len(value) <= MAX_CONTENT_LENGTH_DIGITS):
                value = _length_list(value, where)
            if length is None:
                length = value
            elif length != value:
                raise remote(
                    f"{where}: conflicting Content-Length values {show(length)} and {show(value)}"
                )
        elif name == b"transfer-encoding":
            codings = (codings or []) + comma_list(value)
        elif not close:
            lower = value.lower()  # "keep-alive" most often: no list to split
            close = lower == b"close" or (b"close" in lower and b"close" in comma_list(lower))
    chunked = None if codings is None else _chunked_last(codings, where)
    return (None if length is None else int(length)), chunked, close


def _length_list(value: bytes, where: str) -> bytes:
    """The digits of a Content-Length value that is not plain digits: a comma list of one
    repeated value (``5, 5``), or an error."""
    values = {part.strip() for part in value.split(b",")}
    if len(values) != 1:
        raise remote(f"{where}: conflicting Content-Length values in {show(value)}")
    value = values.pop()
    if not value.isdigit() or len(value) > MAX_CONTENT_LENGTH_DIGITS:
        raise remote(
            f"{where}: invalid Content-Length {show(value)} "
            f"(must be 1 to {MAX_CONTENT_LENGTH_DIGITS} decimal digits)"
        )
    return value


def _chunked_last(codings: list[bytes], where: str) -> bool:
    """Whether the transfer codings end in chunked (RFC 9112 §6.3: then the body is
    chunked, else it runs until close), once they are checked as h11 checks them."""
    for coding in codings:
        if not TOKEN_RE.fullmatch(coding):
            raise remote(f"{where}: unsupported transfer coding {show(coding)}")
    if not codings:
        raise remote(f"{where}: Transfer-Encoding is empty")
    if b"chunked" in codings[:-1]:
        raise remote(
            f"{where}: Transfer-Encoding {show(b', '.join(codings))}: chunked must be "
            "the final coding and applied once (RFC 9112 §6.1)"
        )
    return codings[-1] == b"chunked"


def _learn_tokens(fields: list[tuple[bytes, bytes]]) -> Headers | None:
    """Lower-case the names, or None if one is not a token (the careful path says why)."""
    headers = []
    for name, value in fields:
        lower = _TOKENS.get(name)
        if lower is None:
            if not TOKEN_RE.fullmatch(name):
                return None
            lower = name.lower()
            if len(_TOKENS) < _TOKENS_MAX:
                _TOKENS[name] = lower
        headers.append((lower, value))
    return headers


def common_head(data: bytes, pos: int, end: int) -> tuple[bytes, int, bytes, Headers] | None:
    """The status line and fields of the head ``data[pos:end + 4]`` (which ends in the first
    CRLF CRLF), or None if it is anything but the common case.

    A few C calls: the status line, all the fields, and one check that every CR, LF, NUL,
    VT and FF in the lines is a matched field's line ending (so that the fields cover
    every line and no value holds those bytes); the names must be known tokens.
    """
    line_end = data.find(b"\r\n", pos)
    status = _STATUS_RE.fullmatch(data, pos, line_end)
    if status is None:
        return None
    start = line_end + 2
    fields = _FIELDS_RE.findall(data, start, end + 2)
    if len(data[start : end + 2].translate(None, _BAD_BYTES)) != end + 2 - start - 2 * len(fields):
        return None
    headers: Headers | None
    try:
        headers = [(_TOKENS[name], value) for name, value in fields]
    except KeyError:
        headers = _learn_tokens(fields)
        if headers is None:
            return None
    version, code, reason = status.groups()
    return version, int(code), reason or b"", headers


def parse_head(block: bytes) -> tuple[bytes, int, bytes, Headers]:
    """The status line and fields of a head ``block`` (which ends in its blank line) read
    line by line exactly as h11 reads them, or a precise error: the careful path."""
    lines = split_lines(block)
    status = _STATUS_RE.fullmatch(lines[0])
    if status is None:
        other = re.fullmatch(_ANY_STATUS, lines[0])
        if other is not None:
            raise remote(
                f"status line {show(lines[0])}: HTTP/{other[1].decode()} is not "
                "supported (HTTP/1.1 or HTTP/1.0 only)"
            )
        raise remote(
            f"invalid status line {show(lines[0])} "
            "(expected 'HTTP/1.x NNN reason', the status three digits)"
        )
    version, code, reason = status.groups()
    return version, int(code), reason or b"", parse_fields(lines[1:], "response head")


def split_lines(block: bytes) -> list[bytes]:
    """The lines of a head or trailer section ending in its blank line, as h11 splits them:
    on LF, with one CR before it removed."""
    lines = [line[:-1] if line[-1:] == b"\r" else line for line in block.split(b"\n")]
    del lines[-2:]  # the blank line and what follows its LF
    return lines


def parse_fields(lines: list[bytes], where: str) -> Headers:
    """Header or trailer lines (without line endings) to (lower-case name, value) pairs.

    An obs-fold continuation line joins the previous field with one space, as h11 does.
    """
    unfolded: list[bytes] = []
    for line in lines:
        if line[:1] == b" " or line[:1] == b"\t":
            if not unfolded:
                raise remote(f"{where}: a continuation line (obs-fold) comes before any field")
            unfolded[-1] += b" " + line.lstrip(b" \t")
        else:
            unfolded.append(line)
    fields = []
    for line in unfolded:
        match = re.fullmatch(_FIELD, line)
        if match is None:
            raise remote(f"{where}: invalid field line {show(line)} (expected 'name: value')")
        fields.append((match[1].lower(), match[2]))
    return fields


def _check_fields(names: list[bytes], values: list[bytes], kind: str) -> None:
    """Raise the precise error for the first field that is not fit to send."""
    for name, value in zip(names, values, strict=True):
        if not TOKEN_RE.fullmatch(name):
            raise LocalProtocolError(
                f"{kind} name {show(name)} is not a token (RFC 9110 §5.6.2: letters, digits "
                "and !#$%&'*+-.^_`|~, at least one)"
            )
        bad = re.search(_CONTROL, value)
        if bad is not None:
            raise LocalProtocolError(
                f"{kind} {show(name)}: the value holds the control byte {bad[0]!r} at "
                f"offset {bad.start()} (CR, LF, NUL and other control bytes but HTAB "
                "are not allowed in a field value)"
            )


def encode_fields(
    parts: list[bytes], fields: Sequence[tuple[bytes, bytes]], kind: str
) -> tuple[list[bytes], list[bytes]]:
    """Append ``name: value CRLF`` for each field to ``parts``; return the lower-case names
    and the values, checked."""
    names = []
    values = []
    for name, value in fields:
        names.append(name)
        values.append(value)
        parts += (name, b": ", value, b"\r\n")
    joined = b"\n".join(names)
    if names:
        joined_values = b"\n".join(values)
        lines = len(names) - 1  # no LF inside a name or value: the joins add them all
        if not (
            _NAMES_RE.fullmatch(joined)
            and joined.count(b"\n") == lines
            # the only control bytes in the values are the LFs of the join
            and len(joined_values.translate(None, SEND_CONTROLS)) + lines == len(joined_values)
        ):
            _check_fields(names, values, kind)
            raise LocalProtocolError(f"{kind} fields are not fit to send")  # pragma: no cover
    return (joined.lower().split(b"\n") if names else []), values


def field_values(names: list[bytes], values: list[bytes], name: bytes) -> list[bytes]:
    if names.count(name) == 1:
        return [values[names.index(name)]]
    return [value for found, value in zip(names, values, strict=True) if found == name]
