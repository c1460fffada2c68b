"""The request of an HTTP/1.1 client connection: its head checked and encoded, and what
the head says of the exchange.

:func:`encode_request` returns the bytes of the head exactly as given (no case change, no
reordering) and reads the fields that frame the exchange: how the body is framed
(:data:`SEND_NONE`, :data:`SEND_LENGTH` with its length, or :data:`SEND_CHUNKED`),
whether we wait for ``100 Continue``, whether the connection closes after the response.
:func:`encode_trailers` is the end of a chunked body. A request that must not be sent
raises :class:`LocalProtocolError` naming the rule: RFC 9110 §9.1 (method), RFC 9112
§3.2 (target and Host) and §6 (framing). The state of the exchange is the connection's.

**A plan per shape of head.** A client sends the same method and the same field names, in
the same order, on every call; only the target and the values change. Once a head of
that shape has passed the full checks (:func:`_encode_checked`), what they found of its
names (all tokens, one Host, where Content-Length is, no Transfer-Encoding, Connection or
Expect) is kept as a :class:`_Plan`: the head as a ``%``-template. The next head of that
shape is the template filled in, with three checks left that depend on what changes: the
target, the values (no control byte but HTAB: the filled head must hold exactly the
template's CR and LF bytes) and Content-Length's digits. A head that fails any of them
goes through the full checks, which say what is wrong; so both ways give the same bytes
and the same errors (a differential test holds them to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple, cast

from ._exceptions import LocalProtocolError
from ._h1_grammar import (
    MAX_CONTENT_LENGTH_DIGITS,
    SEND_CONTROLS,
    TARGET_RE,
    TOKEN_RE,
    comma_list,
    encode_fields,
    field_values,
    show,
)

__all__ = [
    "SEND_CHUNKED",
    "SEND_LENGTH",
    "SEND_NONE",
    "encode_request",
    "encode_trailers",
]

#: How the request body is framed: not at all (no body), by Content-Length, chunked.
SEND_NONE: Final = 0
SEND_LENGTH: Final = 1
SEND_CHUNKED: Final = 2


class _Plan(NamedTuple):
    """What the full checks found of one shape of head (method and field names)."""

    template: bytes  # the head, "%s" for the target and for each value
    controls: int  # the CR and LF bytes of the template: the only control bytes allowed
    length_at: int  # where Content-Length's value is among the values, -1 if nowhere
    text: bool  # the fields come as str (encoded as latin-1), not bytes


#: (method, field names) -> its plan; bounded (a full cache only stops learning).
_PLANS: dict[tuple[bytes, tuple[bytes | str, ...]], _Plan] = {}
_PLANS_MAX: Final = 256
_UNPLANNED: Final = frozenset((b"transfer-encoding", b"connection", b"expect"))
Encoded = tuple[bytes, int, int, bool, bool]
#: Header fields: ``(name, value)`` pairs, all of bytes, or all of str (sent as latin-1).
Fields = Sequence[tuple[bytes, bytes]] | Sequence[tuple[str, str]]


def encode_request(method: bytes, target: bytes, headers: Fields) -> Encoded:
    """The head to write, the body framing (a ``SEND_*`` value) and its length, whether
    ``Expect: 100-continue`` was sent, and whether ``Connection: close`` was sent.

    The fields are checked first, then the method, the target, Host and the framing
    (through the head's plan when its shape was seen: see the module docstring).
    """
    try:
        names, given = zip(*headers, strict=True)
        plan = _PLANS[method, names]
        # str values in one encode (one holding LF splits in two, and then fills the
        # template wrongly: a TypeError, so the full checks)
        values: Sequence[bytes] = (
            "\n".join(given).encode("latin-1").split(b"\n") if plan.text else given
        )
        head: bytes = plan.template % (target, *values)
    except (KeyError, ValueError, TypeError):  # a new shape, no fields, not latin-1
        return _encode_checked(method, target, headers)
    if TARGET_RE.fullmatch(target) and (
        len(head) - len(head.translate(None, SEND_CONTROLS)) == plan.controls
    ):
        if plan.length_at < 0:
            return head, SEND_NONE, 0, False, False
        length = values[plan.length_at]
        if length.isdigit() and len(length) <= MAX_CONTENT_LENGTH_DIGITS:
            return head, SEND_LENGTH, int(length), False, False
    return _encode_checked(method, target, headers)  # it names what is wrong


def _learn(
    method: bytes, given: tuple[bytes | str, ...], raw: list[bytes], names: list[bytes]
) -> None:
    """Keep the plan of a head that passed the full checks, if its shape can have one:
    ``given`` are its field names as given (the plan's key), ``raw`` the same as bytes and
    ``names`` lower-cased. Only names that are all ``bytes`` or all ``str`` are planned
    (a bytearray is no key, and other bytes-like names take the full checks each time)."""
    kind = type(given[0])
    if (
        len(_PLANS) >= _PLANS_MAX
        or type(method) is not bytes
        or (kind is not bytes and kind is not str)
        or not all(type(name) is kind for name in given)
        or not _UNPLANNED.isdisjoint(names)
    ):
        return
    template = b"".join(
        [
            method.replace(b"%", b"%%"),
            b" %s HTTP/1.1\r\n",
            *(name.replace(b"%", b"%%") + b": %s\r\n" for name in raw),
            b"\r\n",
        ]
    )
    length_at = names.index(b"content-length") if b"content-length" in names else -1
    _PLANS[method, given] = _Plan(template, 2 * (len(names) + 2), length_at, kind is str)


def _as_bytes(headers: Fields) -> Sequence[tuple[bytes, bytes]]:
    """The fields as bytes: bytes pairs as given (``encode_fields`` checks them), str pairs
    encoded as latin-1 (or an error naming the field that cannot be)."""
    if not headers or not isinstance(next(iter(headers[0]), None), str):
        return headers  # type: ignore[return-value]
    text = cast(Sequence[tuple[str, str]], headers)
    try:
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in text]
    except AttributeError:
        raise TypeError(_MIXED) from None
    except UnicodeEncodeError:
        return [(_latin1(name, "a header name"), _latin1(value, name)) for name, value in text]


_MIXED: Final = "header fields: all str pairs or all bytes pairs, not a mix"


def _latin1(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(_MIXED)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(
            f"{what if what == 'a header name' else 'header ' + repr(what)}: {text!r} has "
            f"{text[exc.start]!r}, which HTTP/1.1 cannot carry (latin-1 only; "
            "percent-encode or base64 it)"
        ) from None


def _encode_checked(method: bytes, target: bytes, given: Fields) -> Encoded:
    """:func:`encode_request` by the full checks, each failure named."""
    headers = _as_bytes(given)
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    names, values = encode_fields(parts, headers, "header")
    parts.append(b"\r\n")
    if not TOKEN_RE.fullmatch(method):
        raise LocalProtocolError(f"method {show(method)} is not a token (RFC 9110 §9.1)")
    if method == b"CONNECT":
        raise LocalProtocolError("method CONNECT (a tunnel) is not supported here")
    if not TARGET_RE.fullmatch(target):
        raise LocalProtocolError(
            f"request target {show(target)} must be non-empty visible ASCII, without "
            "whitespace or control bytes (percent-encode the rest)"
        )
    hosts = names.count(b"host")
    if hosts != 1:
        raise LocalProtocolError(
            "a request needs exactly one Host header (RFC 9112 §3.2), "
            f"{'not ' + str(hosts) if hosts else 'and it has none'}"
        )
    mode, length = _body_framing(names, values)
    close = b"connection" in names and _lists(names, values, b"connection", b"close")
    expect = b"expect" in names and _lists(names, values, b"expect", b"100-continue")
    if given:
        _learn(method, tuple(name for name, _ in given), [name for name, _ in headers], names)
    return b"".join(parts), mode, length, expect, close


def _body_framing(names: list[bytes], values: list[bytes]) -> tuple[int, int]:
    """The framing of the body (a ``SEND_*`` value) and its length, from one
    Content-Length field or ``Transfer-Encoding: chunked`` (RFC 9112 §6.2), never both."""
    mode, length = SEND_NONE, 0
    if b"content-length" in names:
        lengths = field_values(names, values, b"content-length")
        if len(lengths) > 1:
            raise LocalProtocolError("header Content-Length: send it once")
        if not lengths[0].isdigit() or len(lengths[0]) > MAX_CONTENT_LENGTH_DIGITS:
            raise LocalProtocolError(
                f"header Content-Length: {show(lengths[0])} is not a decimal length"
            )
        mode, length = SEND_LENGTH, int(lengths[0])
    if b"transfer-encoding" in names:
        codings = [
            item
            for value in field_values(names, values, b"transfer-encoding")
            for item in comma_list(value)
        ]
        if codings != [b"chunked"]:
            raise LocalProtocolError(
                f"header Transfer-Encoding: only 'chunked' can be sent, not {codings!r}"
            )
        if mode:
            raise LocalProtocolError(
                "headers Content-Length and Transfer-Encoding: send one of them, not both "
                "(RFC 9112 §6.2)"
            )
        mode = SEND_CHUNKED
    return mode, length


def _lists(names: list[bytes], values: list[bytes], name: bytes, token: bytes) -> bool:
    """Whether a field ``name`` (a #list, RFC 9110 §5.6.1) holds ``token``."""
    return any(token in comma_list(value) for value in field_values(names, values, name))


def encode_trailers(trailers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The last chunk and the trailer section that end a chunked body (RFC 9112 §7.1.2)."""
    parts = [b"0\r\n"]
    names, _ = encode_fields(parts, trailers, "trailer")
    framing = {b"content-length", b"transfer-encoding", b"host"}.intersection(names)
    if framing:
        raise LocalProtocolError(f"trailer {sorted(framing)[0]!r} may not be a trailer")
    parts.append(b"\r\n")
    return b"".join(parts)
