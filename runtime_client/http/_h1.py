"""An HTTP/1.1 client connection as a state machine, without I/O (RFC 9110, RFC 9112).

Bytes in, events out: :meth:`H1Connection.receive_data` takes what the socket read
(``b""`` is end of file), :meth:`H1Connection.next_event` hands out one event at a time,
and the ``send_*`` methods return the bytes to write. No socket, clock or thread: a
blocking driver and an async driver run the same object. One request and its response
at a time (no pipelining)::

    conn = H1Connection()
    sock.sendall(conn.send_request(b"POST", b"/endpoints/ep/invocations", headers))
    sock.sendall(conn.send_data(body))
    sock.sendall(conn.send_end())
    while type(event := conn.next_event()) is not EndOfMessage:
        if event is NEED_DATA:
            conn.receive_data(sock.recv(65536))
        ...                                   # Response, then Data events
    if conn.keep_alive and conn.our_state is conn.their_state is H1State.DONE:
        conn.start_next_cycle()               # the connection may carry the next request

States (``our_state`` for the request we send, ``their_state`` for the response)::

    our:   IDLE -send_request-> SEND_BODY -send_end-> DONE | MUST_CLOSE
    their: IDLE -send_request-> SEND_RESPONSE -Response-> SEND_BODY -EndOfMessage-> DONE
           | MUST_CLOSE; EOF seen by next_event -> CLOSED; any error -> ERROR (both sides)

The response is read as h11 reads it, with the differences listed in
``tests/test_http_h1_differential.py``. The head is found with one search for the blank
line (resumed where the last search stopped) and parsed in a few C-level calls; an
unusual head (bare LF line endings, obs-fold, an invalid line) takes a careful path that
gives the same result as h11, or a precise error. Limits, each named in its error:

- ``max_header_bytes`` (64 KiB): the status line and header lines with their line
  endings and the blank line, whether they arrive in one piece or many;
- ``max_header_count`` (128): header fields in one head, and trailer fields;
- ``max_line_bytes`` (8 KiB): a chunk-size line, extensions included;
- ``max_trailer_bytes`` (16 KiB): the trailer section with its blank line.

Bytes objects given to :meth:`~H1Connection.receive_data` are kept by reference (a body
that arrives in one piece reaches its :class:`Data` event without another copy); other
bytes-like objects are copied first, since drivers reuse their read buffers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Final, TypeAlias

from ._exceptions import (
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    ServerDisconnectedError,
)

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_HEADER_COUNT",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_MAX_TRAILER_BYTES",
    "NEED_DATA",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "H1Connection",
    "H1State",
    "InformationalResponse",
    "NeedData",
    "Response",
]

DEFAULT_MAX_HEADER_BYTES: Final = 64 * 1024
DEFAULT_MAX_HEADER_COUNT: Final = 128
DEFAULT_MAX_LINE_BYTES: Final = 8 * 1024
DEFAULT_MAX_TRAILER_BYTES: Final = 16 * 1024

Headers = list[tuple[bytes, bytes]]


# --- events ---------------------------------------------------------------------------
# Read-only attributes over private slots: as cheap to create as a plain slotted object,
# which matters at three or four events per response.


class _Head:
    __slots__ = ("_headers", "_http_version", "_reason", "_status_code")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self, status_code: int, reason: bytes, headers: Headers, http_version: bytes
    ) -> None:
        self._status_code = status_code
        self._reason = reason
        self._headers = headers
        self._http_version = http_version

    @property
    def status_code(self) -> int:
        return self._status_code

    @property
    def reason(self) -> bytes:
        return self._reason

    @property
    def headers(self) -> Headers:
        """(name, value) pairs in arrival order; names lower-cased, values without OWS."""
        return self._headers

    @property
    def http_version(self) -> bytes:
        """``b"1.1"`` or ``b"1.0"``."""
        return self._http_version

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (
            self._status_code,
            self._reason,
            self._headers,
            self._http_version,
        ) == (other._status_code, other._reason, other._headers, other._http_version)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self._status_code}, reason={self._reason!r}, "
            f"headers={self._headers!r}, http_version={self._http_version!r})"
        )


class InformationalResponse(_Head):
    """A 1xx response head (never 101) that precedes the final response."""

    __slots__ = ()


class Response(_Head):
    """The final response head (status 200-999). Its body follows as :class:`Data`."""

    __slots__ = ()


class Data:
    """A piece of the response body (never empty), de-chunked, never decompressed."""

    __slots__ = ("_data",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def data(self) -> bytes:
        return self._data

    def __eq__(self, other: object) -> bool:
        return type(other) is Data and other._data == self._data

    def __repr__(self) -> str:
        return f"Data(<{len(self._data)} bytes>)"


class EndOfMessage:
    """The response is complete; ``trailers`` are the chunked trailer fields, if any."""

    __slots__ = ("_trailers",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, trailers: Headers | None = None) -> None:
        self._trailers = [] if trailers is None else trailers

    @property
    def trailers(self) -> Headers:
        return self._trailers

    def __eq__(self, other: object) -> bool:
        return type(other) is EndOfMessage and other._trailers == self._trailers

    def __repr__(self) -> str:
        return f"EndOfMessage(trailers={self._trailers!r})"


class ConnectionClosed:
    """The server closed the connection while no response was being read."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is ConnectionClosed

    def __hash__(self) -> int:
        return hash(ConnectionClosed)

    def __repr__(self) -> str:
        return "ConnectionClosed()"


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`: feed more bytes before the next event."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA
#: What :meth:`H1Connection.next_event` returns, besides :data:`NEED_DATA`.
Event: TypeAlias = InformationalResponse | Response | Data | EndOfMessage | ConnectionClosed

_CLOSED_EVENT: Final = ConnectionClosed()


class H1State(enum.Enum):
    """Where each side of the connection stands (the names are h11's)."""

    IDLE = "IDLE"  # no request in flight
    SEND_RESPONSE = "SEND_RESPONSE"  # their side: the request went out, no final head yet
    SEND_BODY = "SEND_BODY"  # a message head is done, its body is not
    DONE = "DONE"  # this side's message is complete and the connection may be reused
    MUST_CLOSE = "MUST_CLOSE"  # complete (or idle), but the connection cannot be reused
    CLOSED = "CLOSED"  # their side: the server closed the connection
    ERROR = "ERROR"  # a protocol error: the connection is unusable


_IDLE, _SEND_RESPONSE, _SEND_BODY = H1State.IDLE, H1State.SEND_RESPONSE, H1State.SEND_BODY
_DONE, _MUST_CLOSE, _CLOSED = H1State.DONE, H1State.MUST_CLOSE, H1State.CLOSED
_ERROR = H1State.ERROR

# What the reader expects next. Below _NOTHING, received bytes belong to the response.
_HEAD, _FIXED, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _END = range(8)
_NOTHING, _FAILED = 8, 9

# --- grammar (RFC 9110 §5.6.2 token, §5.5 field values; RFC 9112 §4 status line) -------
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
_BLANK_LINE_RE: Final = re.compile(rb"\n\r?\n")
_CHUNK_SIZE_RE: Final = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\n]*)?[ \t]*")
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
# What we send: tokens, a target of visible ASCII, values of VCHAR / obs-text with inner
# SP/HTAB (no control byte at all). Names and values are checked in one call each, joined
# by LF, which neither may contain.
_SEND_RUN = rb"[\x21-\x7e\x80-\xff]+"
_SEND_VALUE = rb"(?:%s(?:[ \t]+%s)*)?" % (_SEND_RUN, _SEND_RUN)
_TOKEN_RE: Final = re.compile(_TCHAR + rb"+")
_TARGET_RE: Final = re.compile(rb"[\x21-\x7e]+")
_NAMES_RE: Final = re.compile(rb"%s+(?:\n%s+)*" % (_TCHAR, _TCHAR))
_SEND_CONTROLS: Final = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
_CONTROL = rb"[\x00-\x08\x0a-\x1f\x7f]"
# The patterns above that only the careful paths and the error messages use are compiled
# on first use (re.compile() then caches them): they are most of this module's import time.

_HTTP_11: Final = b"1.1"
_HTTP_10: Final = b"1.0"
_NO_BODY_STATUS: Final = frozenset((204, 304))
_FRAMING_NAMES: Final = frozenset((b"content-length", b"transfer-encoding", b"connection"))
_MAX_CONTENT_LENGTH_DIGITS: Final = 20  # as h11
_NO_FRAMING: Final[tuple[int | None, bool | None, bool]] = (None, None, False)


def _show(data: bytes | bytearray, limit: int = 80) -> str:
    data = bytes(data)
    return repr(data) if len(data) <= limit else f"{data[:limit]!r}... ({len(data)} bytes)"


def _remote(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message)


def _comma_list(value: bytes) -> list[bytes]:
    """The non-empty elements of a #list field value, lower-cased (RFC 9110 §5.6.1)."""
    return [item for item in (part.strip().lower() for part in value.split(b",")) if item]


def _framing(headers: Headers, where: str) -> tuple[int | None, bool | None, bool]:
    """Content-Length, chunked-or-not (None: no Transfer-Encoding), and Connection: close.

    Content-Length is checked as h11 checks it: a comma list of one repeated value, or
    repeated fields with the same digits; 1 to 20 digits.
    """
    length: bytes | None = None
    codings: list[bytes] | None = None
    close = False
    for name, value in headers:
        if name not in _FRAMING_NAMES:
            continue
        if name == b"content-length":
            if not (value.isdigit() and len(value) <= _MAX_CONTENT_LENGTH_DIGITS):
                values = {part.strip() for part in value.split(b",")}
                if len(values) != 1:
                    raise _remote(f"{where}: conflicting Content-Length values in {_show(value)}")
                value = values.pop()
                if not value.isdigit() or len(value) > _MAX_CONTENT_LENGTH_DIGITS:
                    raise _remote(
                        f"{where}: invalid Content-Length {_show(value)} "
                        f"(must be 1 to {_MAX_CONTENT_LENGTH_DIGITS} decimal digits)"
                    )
            if length is None:
                length = value
            elif length != value:
                raise _remote(
                    f"{where}: conflicting Content-Length values {_show(length)} and {_show(value)}"
                )
        elif name == b"transfer-encoding":
            codings = (codings or []) + _comma_list(value)
        elif not close:
            lower = value.lower()  # "keep-alive" most often: no list to split
            close = lower == b"close" or (b"close" in lower and b"close" in _comma_list(lower))
    chunked = None
    if codings is not None:
        for coding in codings:
            if not _TOKEN_RE.fullmatch(coding):
                raise _remote(f"{where}: unsupported transfer coding {_show(coding)}")
        if not codings:
            raise _remote(f"{where}: Transfer-Encoding is empty")
        if b"chunked" in codings[:-1]:
            raise _remote(
                f"{where}: Transfer-Encoding {_show(b', '.join(codings))}: chunked must be "
                "the final coding and applied once (RFC 9112 §6.1)"
            )
        chunked = codings[-1] == b"chunked"
    return (None if length is None else int(length)), chunked, close


def _learn_tokens(fields: list[tuple[bytes, bytes]]) -> Headers | None:
    """Lower-case the names, or None if one is not a token (the careful path says why)."""
    headers = []
    for name, value in fields:
        lower = _TOKENS.get(name)
        if lower is None:
            if not _TOKEN_RE.fullmatch(name):
                return None
            lower = name.lower()
            if len(_TOKENS) < _TOKENS_MAX:
                _TOKENS[name] = lower
        headers.append((lower, value))
    return headers


def _common_head(data: bytes, pos: int, end: int) -> tuple[bytes, int, bytes, Headers] | None:
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


def _split_lines(block: bytes) -> list[bytes]:
    """The lines of a head or trailer section ending in its blank line, as h11 splits them:
    on LF, with one CR before it removed."""
    lines = [line[:-1] if line[-1:] == b"\r" else line for line in block.split(b"\n")]
    del lines[-2:]  # the blank line and what follows its LF
    return lines


def _parse_fields(lines: list[bytes], where: str) -> Headers:
    """Header or trailer lines (without line endings) to (lower-case name, value) pairs.

    An obs-fold continuation line joins the previous field with one space, as h11 does.
    """
    unfolded: list[bytes] = []
    for line in lines:
        if line[:1] == b" " or line[:1] == b"\t":
            if not unfolded:
                raise _remote(f"{where}: a continuation line (obs-fold) comes before any field")
            unfolded[-1] += b" " + line.lstrip(b" \t")
        else:
            unfolded.append(line)
    fields = []
    for line in unfolded:
        match = re.fullmatch(_FIELD, line)
        if match is None:
            raise _remote(f"{where}: invalid field line {_show(line)} (expected 'name: value')")
        fields.append((match[1].lower(), match[2]))
    return fields


def _check_fields(names: list[bytes], values: list[bytes], kind: str) -> None:
    """Raise the precise error for the first field that is not fit to send."""
    for name, value in zip(names, values, strict=True):
        if not _TOKEN_RE.fullmatch(name):
            raise LocalProtocolError(
                f"{kind} name {_show(name)} is not a token (RFC 9110 §5.6.2: letters, digits "
                "and !#$%&'*+-.^_`|~, at least one)"
            )
        if not re.fullmatch(_SEND_VALUE, value):
            bad = re.search(_CONTROL, value)
            if bad is not None:
                raise LocalProtocolError(
                    f"{kind} {_show(name)}: the value holds the control byte {bad[0]!r} at "
                    f"offset {bad.start()} (CR, LF, NUL and other control bytes but HTAB "
                    "are not allowed in a field value)"
                )
            raise LocalProtocolError(
                f"{kind} {_show(name)}: the value {_show(value)} has leading or trailing "
                "whitespace (strip it before sending)"
            )


def _encode_fields(
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
            # the only control bytes in the values are the LFs of the join ...
            and len(joined_values.translate(None, _SEND_CONTROLS)) + lines == len(joined_values)
            # ... and no value starts or ends with SP or HTAB (strip() returns the same
            # object when there is nothing to strip, so the comparison is mostly identity)
            and [value.strip(b" \t") for value in values] == values
        ):
            _check_fields(names, values, kind)
            raise LocalProtocolError(f"{kind} fields are not fit to send")  # pragma: no cover
    return (joined.lower().split(b"\n") if names else []), values


def _field_values(names: list[bytes], values: list[bytes], name: bytes) -> list[bytes]:
    if names.count(name) == 1:
        return [values[names.index(name)]]
    return [value for found, value in zip(names, values, strict=True) if found == name]


class H1Connection:
    """The client side of one HTTP/1.1 connection: one request, then its response.

    The limits bound what a server can make us buffer; each defaults to the module's
    ``DEFAULT_MAX_*`` constant and each error that enforces one names it. Not thread-safe:
    one driver uses a connection at a time (the pool hands it out).
    """

    __slots__ = (
        "_awaiting_continue",
        "_buf",
        "_chunk",
        "_close_reason",
        "_deferred",
        "_eof",
        "_error",
        "_head_request",
        "_keep_alive",
        "_length",
        "_max_header_bytes",
        "_max_header_count",
        "_max_line_bytes",
        "_max_trailer_bytes",
        "_our",
        "_pos",
        "_read",
        "_received",
        "_remaining",
        "_scan",
        "_send_left",
        "_send_mode",
        "_started",
        "_their",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_trailer_bytes: int = DEFAULT_MAX_TRAILER_BYTES,
    ) -> None:
        for label, limit in (
            ("max_header_bytes", max_header_bytes),
            ("max_header_count", max_header_count),
            ("max_line_bytes", max_line_bytes),
            ("max_trailer_bytes", max_trailer_bytes),
        ):
            if type(limit) is not int or limit < 1:
                raise ValueError(f"{label} must be a positive int, not {limit!r}")
        self._max_header_bytes = max_header_bytes
        self._max_header_count = max_header_count
        self._max_line_bytes = max_line_bytes
        self._max_trailer_bytes = max_trailer_bytes
        self._our = self._their = _IDLE
        self._keep_alive = True
        self._close_reason = ""
        self._error = ""
        self._buf: bytes | bytearray = b""
        self._pos = self._scan = 0
        self._eof = False
        self._deferred: ProtocolError | None = None
        self._read = _NOTHING
        self._reset_exchange()

    def _reset_exchange(self) -> None:
        self._send_mode = self._send_left = 0
        self._head_request = self._awaiting_continue = self._started = False
        self._length = self._remaining = self._received = self._chunk = 0

    def __repr__(self) -> str:
        return f"<H1Connection our_state={self._our.name} their_state={self._their.name}>"

    # --- state ------------------------------------------------------------------------
    @property
    def our_state(self) -> H1State:
        return self._our

    @property
    def their_state(self) -> H1State:
        return self._their

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request once both sides are DONE.

        False after ``Connection: close`` from either side, an HTTP/1.0 response, a body
        read until close, bytes the server sent outside a response, end of file or an
        error; and while a complete response has arrived but our request body is not
        finished (finishing it with :meth:`send_end` makes the connection reusable).
        """
        return self._keep_alive and not (self._their is _DONE and self._our is _SEND_BODY)

    @property
    def awaiting_continue(self) -> bool:
        """We sent ``Expect: 100-continue`` and neither a 100 nor a final head arrived."""
        return self._awaiting_continue

    @property
    def response_started(self) -> bool:
        """At least one byte of the response to the current request was received."""
        return self._started

    def start_next_cycle(self) -> None:
        """Make a connection whose exchange is complete (both sides DONE) IDLE again.

        Raises :class:`LocalProtocolError` otherwise, without changing any state.
        """
        if self._our is not _DONE or self._their is not _DONE:
            if self._read == _FAILED:
                raise self._unusable()
            why = f" ({self._close_reason})" if self._close_reason else ""
            raise LocalProtocolError(
                "start_next_cycle() needs both sides DONE on a reusable connection, not "
                f"our_state={self._our.name}, their_state={self._their.name}{why}"
            )
        self._our = self._their = _IDLE
        self._reset_exchange()

    def _disable_keep_alive(self, reason: str) -> None:
        if self._keep_alive:
            self._keep_alive = False
            self._close_reason = reason
        if self._our is _DONE or self._our is _IDLE:
            self._our = _MUST_CLOSE
        if self._their is _DONE or self._their is _IDLE:
            self._their = _MUST_CLOSE

    def _fail(self, exc: ProtocolError) -> ProtocolError:
        if self._read != _FAILED:
            self._our = self._their = _ERROR
            self._keep_alive = False
            self._read = _FAILED
            self._error = f"{type(exc).__name__}: {exc}"
            self._buf = b""
            self._pos = self._scan = 0
        return exc

    def _unusable(self) -> LocalProtocolError:
        return LocalProtocolError(f"the connection is unusable after an error ({self._error})")

    # --- sending ----------------------------------------------------------------------
    def send_request(
        self, method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> bytes:
        """The request head to write, exactly as given (no case change, no reordering).

        The framing of the body comes from the headers: ``Content-Length`` (a fixed
        length), ``Transfer-Encoding: chunked``, or neither (no body). Call
        :meth:`send_end` after the body, even when there is none.
        """
        if self._our is not _IDLE or self._their is not _IDLE:
            if self._read == _FAILED:
                raise self._unusable()
            why = f" ({self._close_reason})" if self._close_reason else ""
            raise self._fail(
                LocalProtocolError(
                    "send_request() needs an idle connection, not "
                    f"our_state={self._our.name}, their_state={self._their.name}{why}"
                )
            )
        try:
            parts = [method, b" ", target, b" HTTP/1.1\r\n"]
            names, values = _encode_fields(parts, headers, "header")
            parts.append(b"\r\n")
            self._check_request(method, target, names, values)
        except Exception as exc:
            if not isinstance(exc, ProtocolError):
                self._fail(LocalProtocolError(str(exc)))
                raise
            raise self._fail(exc) from None
        self._our = _SEND_BODY
        self._their = _SEND_RESPONSE
        self._read = _HEAD
        return b"".join(parts)

    def _check_request(
        self, method: bytes, target: bytes, names: list[bytes], values: list[bytes]
    ) -> None:
        if not _TOKEN_RE.fullmatch(method):
            raise LocalProtocolError(f"method {_show(method)} is not a token (RFC 9110 §9.1)")
        if method == b"CONNECT":
            raise LocalProtocolError("method CONNECT (a tunnel) is not supported here")
        if not _TARGET_RE.fullmatch(target):
            raise LocalProtocolError(
                f"request target {_show(target)} must be non-empty visible ASCII, without "
                "whitespace or control bytes (percent-encode the rest)"
            )
        hosts = names.count(b"host")
        if hosts != 1:
            raise LocalProtocolError(
                "a request needs exactly one Host header (RFC 9112 §3.2), "
                f"{'not ' + str(hosts) if hosts else 'and it has none'}"
            )
        mode = length = 0
        if b"content-length" in names:
            lengths = _field_values(names, values, b"content-length")
            if len(lengths) > 1:
                raise LocalProtocolError("header Content-Length: send it once")
            if not lengths[0].isdigit() or len(lengths[0]) > _MAX_CONTENT_LENGTH_DIGITS:
                raise LocalProtocolError(
                    f"header Content-Length: {_show(lengths[0])} is not a decimal length"
                )
            mode, length = 1, int(lengths[0])
        if b"transfer-encoding" in names:
            codings = [
                item
                for value in _field_values(names, values, b"transfer-encoding")
                for item in _comma_list(value)
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
            mode = 2
        close = expect = False
        if b"connection" in names:
            close = any(
                b"close" in _comma_list(value)
                for value in _field_values(names, values, b"connection")
            )
        if b"expect" in names:
            expect = any(
                b"100-continue" in _comma_list(value)
                for value in _field_values(names, values, b"expect")
            )
        self._send_mode, self._send_left = mode, length
        self._head_request = method == b"HEAD"
        self._awaiting_continue = expect
        if close:
            self._disable_keep_alive("we sent Connection: close")

    def send_data(self, data: bytes) -> bytes:
        """The bytes to write for a piece of the request body, framed."""
        if self._our is not _SEND_BODY:
            raise self._out_of_turn("send_data()")
        mode = self._send_mode
        if mode == 1:
            left = self._send_left - len(data)
            if left < 0:
                raise self._fail(
                    LocalProtocolError(
                        f"request body: {len(data)} more bytes would exceed the Content-Length "
                        f"by {-left} ({self._send_left} were left to send)"
                    )
                )
            self._send_left = left
            return data
        if mode == 2:
            if not data:
                return b""  # an empty chunk would end the body
            return b"".join((b"%x\r\n" % len(data), data, b"\r\n"))
        if data:
            raise self._fail(
                LocalProtocolError(
                    f"request body: {len(data)} bytes, but the request has no body framing "
                    "(send Content-Length or Transfer-Encoding: chunked)"
                )
            )
        return b""

    def send_end(self, trailers: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
        """The bytes that end the request body (the last chunk and trailers, if chunked)."""
        if self._our is not _SEND_BODY:
            raise self._out_of_turn("send_end()")
        out = b""
        if self._send_mode == 2:
            parts = [b"0\r\n"]
            try:
                names, _ = _encode_fields(parts, trailers, "trailer")
            except ProtocolError as exc:
                raise self._fail(exc) from None
            framing = {b"content-length", b"transfer-encoding", b"host"}.intersection(names)
            if framing:
                raise self._fail(
                    LocalProtocolError(f"trailer {sorted(framing)[0]!r} may not be a trailer")
                )
            parts.append(b"\r\n")
            out = b"".join(parts)
        elif trailers:
            raise self._fail(
                LocalProtocolError("trailers need Transfer-Encoding: chunked in the request")
            )
        elif self._send_left:
            raise self._fail(
                LocalProtocolError(
                    f"request body: ended {self._send_left} bytes short of its Content-Length"
                )
            )
        self._our = _DONE if self._keep_alive else _MUST_CLOSE
        return out

    def _out_of_turn(self, call: str) -> ProtocolError:
        if self._read == _FAILED:
            return self._unusable()
        return self._fail(
            LocalProtocolError(f"{call} needs our_state SEND_BODY, not {self._our.name}")
        )

    # --- receiving --------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the socket; ``b""`` means the server closed it (EOF)."""
        if self._read >= _NOTHING or self._eof:
            self._receive_unexpected(data)
            return
        if not data:
            self._eof = True
            self._disable_keep_alive("the server closed the connection")
            return
        if type(data) is not bytes:
            data = bytes(data)
        self._started = True
        buf = self._buf
        pos = self._pos
        if pos == len(buf):
            self._buf = data
            self._pos = self._scan = 0
        elif isinstance(buf, bytes):
            # A short leftover (a cut line) is joined into new bytes: one copy, and the
            # rest reads from bytes; a longer one goes to a bytearray grown in place.
            self._scan -= pos
            self._pos = 0
            self._buf = buf[pos:] + data if len(buf) - pos <= 256 else bytearray(buf[pos:]) + data
        else:
            if pos:
                del buf[:pos]
                self._scan -= pos
                self._pos = 0
            buf += data

    def _receive_unexpected(self, data: bytes) -> None:
        if self._read == _FAILED:
            raise self._unusable()
        if not data:
            self._eof = True
            self._disable_keep_alive("the server closed the connection")
        elif self._eof:
            raise self._fail(LocalProtocolError("receive_data() got bytes after end of file"))
        else:  # no response is expected: the bytes are dropped, the connection is spent
            self._disable_keep_alive("the server sent bytes outside a response")

    def next_event(self) -> Event | NeedData:
        """The next event of the response, or :data:`NEED_DATA`.

        After :class:`EndOfMessage`, :data:`NEED_DATA` until end of file, then
        :class:`ConnectionClosed` (also while idle).
        """
        read = self._read
        try:
            if read == _FIXED:
                buf = self._buf
                pos = self._pos
                if pos < len(buf):
                    remaining = self._remaining
                    end = pos + remaining
                    if end >= len(buf):
                        data = buf if not pos and type(buf) is bytes else bytes(buf[pos:])
                        self._buf = b""
                        self._pos = 0
                    else:
                        data = bytes(buf[pos:end])
                        self._pos = end
                    remaining -= len(data)
                    self._remaining = remaining
                    if not remaining:
                        self._read = _END
                    return Data(data)
            elif read == _HEAD:
                return self._read_head()
            elif read == _END:
                return self._end_of_message([])
            elif read <= _TRAILERS:
                return self._read_chunked()
            elif read == _UNTIL_CLOSE:
                if self._pos < len(self._buf):
                    data = self._take(len(self._buf))
                    self._received += len(data)
                    return Data(data)
                if self._eof:
                    return self._end_of_message([])
            elif read == _NOTHING:
                if self._eof:
                    self._their = _CLOSED
                    return _CLOSED_EVENT
            else:
                raise self._unusable()
            if self._eof:
                raise self._eof_error()
            return NEED_DATA
        except ProtocolError as exc:
            raise self._fail(exc) from None

    def _take(self, count: int) -> bytes:
        """Up to ``count`` buffered bytes, consumed; without a copy when that is all."""
        buf = self._buf
        pos = self._pos
        end = pos + count
        if end >= len(buf):
            data = buf if not pos and type(buf) is bytes else bytes(buf[pos:])
            self._buf = b""
            self._pos = self._scan = 0
            return data
        self._pos = self._scan = end
        return bytes(buf[pos:end])

    def _consume_to(self, end: int) -> None:
        if end >= len(self._buf):
            self._buf = b""
            end = 0
        self._pos = self._scan = end

    def _read_head(self) -> Event | NeedData:
        buf = self._buf
        pos = self._pos
        if pos == len(buf):
            if self._eof:
                raise self._eof_error()
            return NEED_DATA
        end = buf.find(b"\r\n\r\n", self._scan)
        if end >= 0 and end + 4 - pos <= self._max_header_bytes:
            if type(buf) is bytes:
                head = _common_head(buf, pos, end)
            else:  # a head that came in pieces
                head = _common_head(bytes(buf[pos : end + 4]), 0, end - pos)
            if head is not None:
                return self._start_response(*head, end + 4)
        elif end < 0:
            blank = _BLANK_LINE_RE.search(buf, self._scan)
            if blank is None:
                available = len(buf) - pos
                if available >= 5 and not buf.startswith(b"HTTP/", pos):
                    raise self._not_http(bytes(buf[pos : pos + 5]))
                if available >= self._max_header_bytes:
                    raise self._too_big("response head", "max_header_bytes")
                self._scan = max(pos, len(buf) - 3)
                if self._eof:
                    raise self._eof_error()
                return NEED_DATA
        return self._read_head_carefully()

    def _read_head_carefully(self) -> Event:
        """The head read line by line exactly as h11 reads it, or a precise error."""
        buf = self._buf
        pos = self._pos
        blank = _BLANK_LINE_RE.search(buf, pos)
        assert blank is not None, "called once the head is complete"
        block = bytes(buf[pos : blank.end()])
        if not block.startswith(b"HTTP/"):
            raise self._not_http(block[:5])
        if len(block) > self._max_header_bytes:
            raise self._too_big("response head", "max_header_bytes")
        lines = _split_lines(block)
        status = _STATUS_RE.fullmatch(lines[0])
        if status is None:
            other = re.fullmatch(_ANY_STATUS, lines[0])
            if other is not None:
                raise _remote(
                    f"status line {_show(lines[0])}: HTTP/{other[1].decode()} is not "
                    "supported (HTTP/1.1 or HTTP/1.0 only)"
                )
            raise _remote(
                f"invalid status line {_show(lines[0])} "
                "(expected 'HTTP/1.x NNN reason', the status three digits)"
            )
        version, code, reason = status.groups()
        headers = _parse_fields(lines[1:], "response head")
        return self._start_response(version, int(code), reason or b"", headers, blank.end())

    def _not_http(self, start: bytes) -> RemoteProtocolError:
        return _remote(
            f"the response does not begin with 'HTTP/' but with {start!r}: not an HTTP/1.x "
            "answer (a TLS server spoken to in plain text, or an HTTP/2-only one?)"
        )

    def _too_big(self, what: str, limit: str) -> RemoteProtocolError:
        return _remote(f"{what} exceeds {limit}={getattr(self, '_' + limit)} bytes")

    def _start_response(
        self, version: bytes, status: int, reason: bytes, headers: Headers, end: int
    ) -> Event:
        if len(headers) > self._max_header_count:
            raise _remote(
                f"response head has {len(headers)} header fields, more than "
                f"max_header_count={self._max_header_count}"
            )
        framing = [field for field in headers if field[0] in _FRAMING_NAMES]
        length, chunked, close = _framing(framing, "response head") if framing else _NO_FRAMING
        if status < 200:
            if status == 101:
                raise _remote("101 Switching Protocols, but this client never asks to upgrade")
            if status < 100:
                raise _remote(f"status code {status:03d} is not between 100 and 999")
            if status == 100:
                self._awaiting_continue = False
            self._consume_to(end)
            return InformationalResponse(status, reason, headers, version)
        self._consume_to(end)
        self._awaiting_continue = False
        self._their = _SEND_BODY
        if self._head_request or status in _NO_BODY_STATUS:
            self._read = _END
        elif chunked:
            self._read = _CHUNK_SIZE
        elif chunked is None and length is not None:
            self._length = self._remaining = length
            self._read = _FIXED if length else _END
        else:
            self._read = _UNTIL_CLOSE
            self._disable_keep_alive("the response body runs until the connection closes")
        if close:
            self._disable_keep_alive("the server sent Connection: close")
        elif version == _HTTP_10:
            self._disable_keep_alive("the server answered with HTTP/1.0")
        return Response(status, reason, headers, version)

    def _read_chunked(self) -> Event | NeedData:
        """The chunks complete in the buffer, de-chunked into one Data event.

        An error found after some body was gathered is raised by the next call, so that
        the body before it is handed out however the bytes were cut into reads.
        """
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        pieces: list[bytes] = []
        try:
            while True:
                read = self._read
                buf = self._buf
                pos = self._pos
                available = len(buf) - pos
                if read == _CHUNK_DATA:
                    if not available:
                        break
                    data = self._take(self._remaining)
                    pieces.append(data)
                    self._received += len(data)
                    self._remaining -= len(data)
                    if self._remaining:
                        break
                    self._read = _CHUNK_END
                elif read == _CHUNK_SIZE:
                    end = buf.find(b"\r\n", self._scan)
                    if end < 0 or end + 2 - pos > self._max_line_bytes:
                        if end >= 0 or available >= self._max_line_bytes:
                            raise self._too_big("a chunk-size line", "max_line_bytes")
                        self._scan = max(pos, len(buf) - 1)
                        break
                    line = buf[pos:end]
                    if line and not line.strip(_HEX_DIGITS) and len(line) <= 16:
                        size = int(line, 16)
                    else:
                        match = _CHUNK_SIZE_RE.fullmatch(line)
                        if match is None:
                            raise _remote(
                                f"invalid chunk-size line {_show(line)} after {self._received} "
                                "bytes of chunked body (expected hex digits, then ;extensions)"
                            )
                        size = int(match[1], 16)
                    self._consume_to(end + 2)
                    if size:
                        self._remaining = self._chunk = size
                        self._read = _CHUNK_DATA
                    else:
                        self._read = _TRAILERS
                elif read == _CHUNK_END:
                    if available >= 2 and buf[pos] == 13 and buf[pos + 1] == 10:
                        self._consume_to(pos + 2)
                        self._read = _CHUNK_SIZE
                    elif available >= 2 or (available and buf[pos] != 13):
                        wrong = buf[pos : pos + (2 if buf[pos] == 13 else 1)]
                        raise _remote(
                            f"a chunk of {self._chunk} bytes is followed by {_show(wrong)}, "
                            "not CRLF"
                        )
                    else:
                        break
                elif pieces:
                    break  # the body first; the trailers at the next call
                else:
                    return self._read_trailers()
        except ProtocolError as exc:
            if not pieces:
                raise
            self._deferred = exc
        if pieces:
            return Data(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        if self._eof:
            raise self._eof_error()
        return NEED_DATA

    def _read_trailers(self) -> Event | NeedData:
        buf = self._buf
        pos = self._pos
        if buf[pos : pos + 1] == b"\n" or buf[pos : pos + 2] == b"\r\n":
            self._consume_to(pos + 1 if buf[pos] == 10 else pos + 2)
            return self._end_of_message([])
        blank = _BLANK_LINE_RE.search(buf, self._scan)
        if blank is None:
            if len(buf) - pos >= self._max_trailer_bytes:
                raise self._too_big("the chunked trailer section", "max_trailer_bytes")
            self._scan = max(pos, len(buf) - 2)
            if self._eof:
                raise self._eof_error()
            return NEED_DATA
        if blank.end() - pos > self._max_trailer_bytes:
            raise self._too_big("the chunked trailer section", "max_trailer_bytes")
        trailers = _parse_fields(_split_lines(bytes(buf[pos : blank.end()])), "trailers")
        if len(trailers) > self._max_header_count:
            raise _remote(
                f"the trailers have {len(trailers)} fields, more than "
                f"max_header_count={self._max_header_count}"
            )
        _framing(trailers, "trailers")  # checked as h11 checks them; they frame nothing
        self._consume_to(blank.end())
        return self._end_of_message(trailers)

    def _end_of_message(self, trailers: Headers) -> EndOfMessage:
        self._read = _NOTHING
        if self._pos < len(self._buf):
            self._disable_keep_alive("the server sent bytes after the end of the response")
            self._buf = b""
            self._pos = self._scan = 0
        self._their = _DONE if self._keep_alive else _MUST_CLOSE
        return EndOfMessage(trailers)

    def _eof_error(self) -> RemoteProtocolError:
        read = self._read
        closed = "the server closed the connection"
        if read == _HEAD:
            if not self._started:
                return ServerDisconnectedError(f"{closed} before sending any byte of the response")
            got = len(self._buf) - self._pos
            return _remote(
                f"{closed} {got} bytes into a response head, before the blank line that ends it"
                if got
                else f"{closed} after an informational (1xx) response, before the final one"
            )
        if read == _FIXED:
            return _remote(
                f"{closed} after {self._length - self._remaining} of the {self._length} bytes "
                "of the response body (Content-Length)"
            )
        where = {
            _CHUNK_SIZE: "in a chunk-size line",
            _CHUNK_DATA: f"{self._remaining} bytes short of the end of a {self._chunk}-byte chunk",
            _CHUNK_END: "before the CRLF that ends a chunk",
            _TRAILERS: "in the trailer section, before the blank line that ends it",
        }[read]
        return _remote(f"{closed} {where}, after {self._received} bytes of chunked body")
