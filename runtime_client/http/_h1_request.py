"""The request of an HTTP/1.1 client connection: its head checked and encoded, and what
the head says of the exchange.

:func:`encode_request` returns the bytes of the head exactly as given (no case change, no
reordering) and reads the fields that frame the exchange: how the body is framed
(:data:`SEND_NONE`, :data:`SEND_LENGTH` with its length, or :data:`SEND_CHUNKED`),
whether we wait for ``100 Continue``, whether the connection closes after the response.
:func:`encode_trailers` is the end of a chunked body. A request that must not be sent
raises :class:`LocalProtocolError` naming the rule: RFC 9110 §9.1 (method), RFC 9112
§3.2 (target and Host) and §6 (framing). The state of the exchange is the connection's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._exceptions import LocalProtocolError
from ._h1_grammar import (
    MAX_CONTENT_LENGTH_DIGITS,
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


def encode_request(
    method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> tuple[bytes, int, int, bool, bool]:
    """The head to write, the body framing (a ``SEND_*`` value) and its length, whether
    ``Expect: 100-continue`` was sent, and whether ``Connection: close`` was sent.

    The fields are checked first, then the method, the target, Host and the framing.
    """
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
