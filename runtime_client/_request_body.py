"""Request bodies: bytes in memory, or a seekable binary file sent in chunks.

A body is checked before anything is sent (:func:`check_body`), then frozen into a
:class:`RequestBody` (:func:`prepare_body`). A file body remembers the position it was
given at; each attempt streams ``length`` bytes from there (so a retry rewinds it), and
the payload hash is computed in O(chunk) memory.

The transport sends a file body with :class:`~runtime_client.http._models.FileBody`.
"""

from __future__ import annotations

import io
import os
from typing import IO, Any

from sigv4._record import record

from .http._models import FileBody

__all__ = ["CHUNK_SIZE", "RequestBody", "check_body", "prepare_body"]

#: Bytes read from a file body per chunk (also the hashing granularity).
CHUNK_SIZE = 64 * 1024


def _file_extent(value: Any) -> tuple[int, int] | str:
    """``(start, length)`` of a seekable binary file from its current position, or a problem."""
    if isinstance(value, io.TextIOBase):
        return "a text-mode file cannot be sent; open it in binary mode ('rb')"
    if getattr(value, "closed", False) is True:
        return "the file is closed; pass an open binary file (open(path, 'rb'))"
    readable = getattr(value, "readable", None)
    try:
        if callable(readable) and not readable():
            return "the file is not open for reading; open it with mode 'rb'"
    except (OSError, ValueError):
        return "the file cannot be read; pass an open binary file (open(path, 'rb'))"
    seekable = getattr(value, "seekable", None)
    try:
        ok = bool(seekable()) if callable(seekable) else hasattr(value, "seek")
        if not ok or not hasattr(value, "tell"):
            raise OSError("not seekable")
        start = int(value.tell())
        end = int(value.seek(0, os.SEEK_END))
        value.seek(start)
    except (OSError, ValueError, AttributeError, TypeError):
        return (
            "a non-seekable stream cannot be sent: the body must be hashed for signing and "
            "rewound on retry; read it into bytes first, or pass a seekable binary file"
        )
    return start, max(0, end - start)


def check_body(value: object, max_length: int | None) -> str | None:
    """The problem with a body value, or ``None``. Accepts bytes, bytearray, str, or a file."""
    if isinstance(value, (bytes, bytearray)):
        length = len(value)
    elif isinstance(value, str):
        try:
            length = len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            return (
                f"a str body must be text that UTF-8 can encode; it holds a lone surrogate "
                f"{value[exc.start]!r} at position {exc.start} (pass bytes instead)"
            )
    elif hasattr(value, "read"):
        extent = _file_extent(value)
        if isinstance(extent, str):
            return extent
        length = extent[1]
    else:
        return (
            f"invalid type {type(value).__name__}, valid types: bytes, bytearray, str, "
            "seekable binary file-like object"
        )
    if max_length is not None and length > max_length:
        return f"invalid length {length} bytes, valid max length: {max_length} bytes"
    return None


@record(slots=True)  # built on every call: plain assignments
class RequestBody:
    """A checked body: ``data`` in memory, or ``file`` from ``start`` for ``length`` bytes."""

    length: int
    data: bytes | None = None
    file: IO[bytes] | None = None
    start: int = 0

    def transport_body(self) -> bytes | FileBody:
        """What the transport sends for one attempt: the bytes, or the file from ``start``
        (rewound by the transport before each attempt)."""
        if self.file is not None:
            return FileBody(self.file, self.start, self.length)
        return self.data or b""

    def __repr__(self) -> str:  # bodies are sensitive: never show the content
        where = "file" if self.file is not None else "bytes"
        return f"RequestBody({where}, length={self.length})"


def prepare_body(value: object) -> RequestBody:
    """Freeze a body already accepted by :func:`check_body`."""
    if isinstance(value, (bytes, bytearray)):
        return RequestBody(length=len(value), data=bytes(value))
    if isinstance(value, str):
        data = value.encode("utf-8")
        return RequestBody(length=len(data), data=data)
    extent = _file_extent(value)
    if isinstance(extent, str):
        raise TypeError(extent)  # check_body ran first; this is a programming error
    start, length = extent
    return RequestBody(length=length, file=value, start=start)  # type: ignore[arg-type]
