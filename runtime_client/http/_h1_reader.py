"""The receiving half of an HTTP/1.1 client connection: the bytes received, and how far
the response has been read in them.

:class:`ResponseReader` holds the receive buffer with the limits that bound it, and
finds in it what the connection turns into events: a head (the fast path, or the careful
one), the chunks of a chunked body (the size line, the data, the CRLF after it), the
trailer section; and when the server closes too early, an error that says where the
response was cut. It changes no state of the exchange (our and their states, keep-alive,
which body follows a head): ``H1Connection`` does. The connection is a subclass rather
than the owner of a reader, so that its hot path (``next_event``, ``receive_data``) reads
the buffer's slots on ``self``, with no indirection.
"""

from __future__ import annotations

from typing import Final

from ._exceptions import RemoteProtocolError, ServerDisconnectedError
from ._h1_events import NEED_DATA, Headers, NeedData
from ._h1_grammar import (
    BLANK_LINE_RE,
    CHUNK_SIZE_RE,
    HEX_DIGITS,
    common_head,
    framing,
    parse_fields,
    parse_head,
    remote,
    show,
    split_lines,
)

__all__ = [
    "CHUNK_DATA",
    "CHUNK_END",
    "CHUNK_SIZE",
    "END",
    "FAILED",
    "FIXED",
    "HEAD",
    "NOTHING",
    "TRAILERS",
    "UNTIL_CLOSE",
    "ResponseReader",
]

# What the reader expects next (``ResponseReader._read``). Below NOTHING, received bytes
# belong to the response.
HEAD: Final = 0  # a head: informational or final
FIXED: Final = 1  # a Content-Length body
CHUNK_SIZE: Final = 2  # chunked: a chunk-size line
CHUNK_DATA: Final = 3  # chunked: the data of a chunk
CHUNK_END: Final = 4  # chunked: the CRLF after the data
TRAILERS: Final = 5  # chunked: the trailer section after the last chunk
UNTIL_CLOSE: Final = 6  # a body that runs until the server closes
END: Final = 7  # the end of the message, with no more bytes to read
NOTHING: Final = 8  # no response is being read
FAILED: Final = 9  # after an error


class ResponseReader:
    """The receive buffer of a connection and how far the response has been read.

    ``_buf[_pos:]`` is unread; a search for a line ending resumes at ``_scan``; ``_read``
    says what comes next. A bytes object received when nothing is left unread becomes the
    buffer (``H1Connection.receive_data``); else :meth:`_append` adds it.
    """

    __slots__ = (
        "_buf",
        "_chunk",
        "_eof",
        "_length",
        "_max_header_bytes",
        "_max_header_count",
        "_max_line_bytes",
        "_max_trailer_bytes",
        "_pos",
        "_read",
        "_received",
        "_remaining",
        "_scan",
        "_started",
    )

    def __init__(
        self,
        max_header_bytes: int,
        max_header_count: int,
        max_line_bytes: int,
        max_trailer_bytes: int,
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
        self._buf: bytes | bytearray = b""
        self._pos = self._scan = 0
        self._eof = False
        self._read = NOTHING
        # what the response has used so far: reset for each exchange by the connection
        self._started = False
        self._length = self._remaining = self._received = self._chunk = 0

    # --- the buffer -------------------------------------------------------------------
    def _append(self, data: bytes) -> None:
        """Add ``data`` after unread bytes (``H1Connection.receive_data`` takes it by
        reference when there are none)."""
        buf = self._buf
        pos = self._pos
        if isinstance(buf, bytes):
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

    def _take_all(self) -> bytes:
        """The unread bytes, consumed; without a copy when they are the whole buffer."""
        buf = self._buf
        pos = self._pos
        data = buf if not pos and type(buf) is bytes else bytes(buf[pos:])
        self._buf = b""
        self._pos = self._scan = 0
        return data

    def _consume_to(self, end: int) -> None:
        if end >= len(self._buf):
            self._buf = b""
            end = 0
        self._pos = self._scan = end

    # --- the head ---------------------------------------------------------------------
    def _read_head(self) -> tuple[bytes, int, bytes, Headers, int] | NeedData:
        """The next head: (version, status, reason, headers, the offset past its blank
        line), or NEED_DATA. Found with one search for CRLF CRLF (resumed where the last
        one stopped) and parsed in a few C calls; an unusual head (bare LF line endings,
        obs-fold, an invalid line) takes the careful path."""
        buf = self._buf
        pos = self._pos
        if pos == len(buf):
            if self._eof:
                raise self._eof_error()
            return NEED_DATA
        end = buf.find(b"\r\n\r\n", self._scan)
        common = None
        if end >= 0 and end + 4 - pos <= self._max_header_bytes:
            if type(buf) is bytes:
                common = common_head(buf, pos, end)
            else:  # a head that came in pieces
                common = common_head(bytes(buf[pos : end + 4]), 0, end - pos)
        elif end < 0 and BLANK_LINE_RE.search(buf, self._scan) is None:
            return self._wait_for_head()
        head = self._read_head_carefully() if common is None else (*common, end + 4)
        if len(head[3]) > self._max_header_count:
            raise remote(
                f"response head has {len(head[3])} header fields, more than "
                f"max_header_count={self._max_header_count}"
            )
        return head

    def _wait_for_head(self) -> NeedData:
        """NEED_DATA for a head with no blank line yet, unless it cannot become valid."""
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available >= 5 and not buf.startswith(b"HTTP/", pos):
            raise self._not_http(bytes(buf[pos : pos + 5]))
        if available >= self._max_header_bytes:
            raise self._too_big("response head", "max_header_bytes")
        self._scan = max(pos, len(buf) - 3)
        if self._eof:
            raise self._eof_error()
        return NEED_DATA

    def _read_head_carefully(self) -> tuple[bytes, int, bytes, Headers, int]:
        """The head read line by line exactly as h11 reads it, or a precise error:
        (version, status, reason, headers, the offset just past its blank line)."""
        buf = self._buf
        pos = self._pos
        blank = BLANK_LINE_RE.search(buf, pos)
        assert blank is not None, "called once the head is complete"
        block = bytes(buf[pos : blank.end()])
        if not block.startswith(b"HTTP/"):
            raise self._not_http(block[:5])
        if len(block) > self._max_header_bytes:
            raise self._too_big("response head", "max_header_bytes")
        return (*parse_head(block), blank.end())

    def _not_http(self, start: bytes) -> RemoteProtocolError:
        return remote(
            f"the response does not begin with 'HTTP/' but with {start!r}: not an HTTP/1.x "
            "answer (a TLS server spoken to in plain text, or an HTTP/2-only one?)"
        )

    def _too_big(self, what: str, limit: str) -> RemoteProtocolError:
        return remote(f"{what} exceeds {limit}={getattr(self, '_' + limit)} bytes")

    # --- a chunked body (RFC 9112 §7.1) -----------------------------------------------
    def _read_chunks(self, pieces: list[bytes]) -> None:
        """De-chunk the buffer into ``pieces``, until it runs out or the trailers are next.

        The steps: a chunk-size line, the chunk's data, the CRLF after it; each consumes
        what it read, or returns to wait for more bytes.
        """
        while True:
            read = self._read
            if read == CHUNK_DATA:
                # The data step is inline, with no call: most reads of a chunked body hold
                # only data, and each is an event (a call here measurably slowed them).
                buf = self._buf
                pos = self._pos
                if pos == len(buf):
                    return
                end = pos + self._remaining
                if end >= len(buf):
                    data = buf if not pos and type(buf) is bytes else bytes(buf[pos:])
                    self._buf = b""
                    self._pos = self._scan = 0
                else:
                    data = bytes(buf[pos:end])
                    self._pos = self._scan = end
                pieces.append(data)
                self._received += len(data)
                self._remaining -= len(data)
                if self._remaining:
                    return
                self._read = CHUNK_END
            elif read == CHUNK_SIZE:
                if self._whole_chunks(pieces):
                    continue  # the rest is not a whole plain chunk: step by step
                if not self._chunk_size_line():
                    return
            elif read == CHUNK_END:
                if not self._chunk_end():
                    return
            else:  # TRAILERS
                return

    def _whole_chunks(self, pieces: list[bytes]) -> bool:
        """Take the chunks that are whole in the buffer and plain (a size of hex digits
        only, the data, CRLF) in one loop: a token stream sends one small chunk per event,
        and a read brings many. False (nothing taken) when the next chunk is not such."""
        buf = self._buf
        pos = start = self._pos
        size = 0
        while True:  # bounded: each turn consumes a whole chunk of the buffer
            end = buf.find(b"\r\n", pos, pos + 18)  # up to 16 hex digits, then CRLF
            if end <= pos:
                break
            line = buf[pos:end]
            if line.strip(HEX_DIGITS):
                break
            size = int(line, 16)
            data_end = end + 2 + size
            if not size or buf[data_end : data_end + 2] != b"\r\n":
                break  # the last chunk, or one not whole yet
            pieces.append(bytes(buf[end + 2 : data_end]))
            self._received += size
            self._chunk = size
            pos = data_end + 2
        if pos == start:
            return False
        self._consume_to(pos)
        return True

    def _chunk_size_line(self) -> bool:
        """A chunk-size line: hex digits, then ``;extensions`` (ignored), then CRLF."""
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\r\n", self._scan)
        if end < 0 or end + 2 - pos > self._max_line_bytes:
            if end >= 0 or len(buf) - pos >= self._max_line_bytes:
                raise self._too_big("a chunk-size line", "max_line_bytes")
            self._scan = max(pos, len(buf) - 1)
            return False
        line = buf[pos:end]
        if line and not line.strip(HEX_DIGITS) and len(line) <= 16:
            size = int(line, 16)
        else:
            match = CHUNK_SIZE_RE.fullmatch(line)
            if match is None:
                raise remote(
                    f"invalid chunk-size line {show(line)} after {self._received} "
                    "bytes of chunked body (expected hex digits, then ;extensions)"
                )
            size = int(match[1], 16)
        self._consume_to(end + 2)
        if size:
            self._remaining = self._chunk = size
            self._read = CHUNK_DATA
        else:  # the last chunk
            self._read = TRAILERS
        return True

    def _chunk_end(self) -> bool:
        """The CRLF that ends a chunk's data (a bare LF is refused, as h11 does)."""
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available >= 2 and buf[pos] == 13 and buf[pos + 1] == 10:
            self._consume_to(pos + 2)
            self._read = CHUNK_SIZE
            return True
        if available >= 2 or (available and buf[pos] != 13):
            wrong = buf[pos : pos + (2 if buf[pos] == 13 else 1)]
            raise remote(f"a chunk of {self._chunk} bytes is followed by {show(wrong)}, not CRLF")
        return False

    def _read_trailer_section(self) -> Headers | None:
        """The trailer fields after the last chunk, once the blank line that ends them has
        arrived (None until then); checked as h11 checks them, though they frame nothing."""
        buf = self._buf
        pos = self._pos
        if buf[pos : pos + 1] == b"\n" or buf[pos : pos + 2] == b"\r\n":
            self._consume_to(pos + 1 if buf[pos] == 10 else pos + 2)
            return []
        blank = BLANK_LINE_RE.search(buf, self._scan)
        if blank is None:
            if len(buf) - pos >= self._max_trailer_bytes:
                raise self._too_big("the chunked trailer section", "max_trailer_bytes")
            self._scan = max(pos, len(buf) - 2)
            if self._eof:
                raise self._eof_error()
            return None
        if blank.end() - pos > self._max_trailer_bytes:
            raise self._too_big("the chunked trailer section", "max_trailer_bytes")
        trailers = parse_fields(split_lines(bytes(buf[pos : blank.end()])), "trailers")
        if len(trailers) > self._max_header_count:
            raise remote(
                f"the trailers have {len(trailers)} fields, more than "
                f"max_header_count={self._max_header_count}"
            )
        framing(trailers, "trailers")
        self._consume_to(blank.end())
        return trailers

    # --- end of file too early --------------------------------------------------------
    def _eof_error(self) -> RemoteProtocolError:
        """What the response lacks when the server closed the connection in it."""
        read = self._read
        closed = "the server closed the connection"
        if read == HEAD:
            if not self._started:
                return ServerDisconnectedError(f"{closed} before sending any byte of the response")
            got = len(self._buf) - self._pos
            return remote(
                f"{closed} {got} bytes into a response head, before the blank line that ends it"
                if got
                else f"{closed} after an informational (1xx) response, before the final one"
            )
        if read == FIXED:
            return remote(
                f"{closed} after {self._length - self._remaining} of the {self._length} bytes "
                "of the response body (Content-Length)"
            )
        where = {
            CHUNK_SIZE: "in a chunk-size line",
            CHUNK_DATA: f"{self._remaining} bytes short of the end of a {self._chunk}-byte chunk",
            CHUNK_END: "before the CRLF that ends a chunk",
            TRAILERS: "in the trailer section, before the blank line that ends it",
        }[read]
        return remote(f"{closed} {where}, after {self._received} bytes of chunked body")
