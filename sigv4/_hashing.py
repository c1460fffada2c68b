"""The payload hash: the last line of the canonical request.

The body is hashed in chunks so that a large file is never held in memory to be signed.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from typing import BinaryIO

from ._errors import SigningError

__all__ = [
    "EMPTY_SHA256",
    "STREAMING_EVENTS_PAYLOAD",
    "UNSIGNED_PAYLOAD",
    "hash_payload",
]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
"""Hex SHA-256 of the empty body."""

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
"""Payload-hash line for a body that is not covered by the signature."""

STREAMING_EVENTS_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-EVENTS"
"""Payload-hash line for an event stream whose messages are signed one by one."""

CHUNK_SIZE = 64 * 1024


def hash_payload(data: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]) -> str:
    """Return the hex SHA-256 of a body given as bytes, a seekable binary file or chunks.

    A file is hashed from its current position to its end, ``CHUNK_SIZE`` bytes at a time,
    and left at the position it had. Memory use is one chunk, whatever the size.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    if isinstance(data, io.IOBase) or hasattr(data, "read"):
        stream: BinaryIO = data  # type: ignore[assignment]
        if not (hasattr(stream, "seekable") and stream.seekable()):
            raise SigningError(
                "body", "a file body must be seekable to be hashed and then sent from the start"
            )
        start = stream.tell()
        try:
            while chunk := stream.read(CHUNK_SIZE):
                if not isinstance(chunk, bytes):
                    raise SigningError("body", "a file body must be opened in binary mode")
                digest.update(chunk)
        finally:
            stream.seek(start)
        return digest.hexdigest()
    if isinstance(data, str):  # type: ignore[unreachable]
        raise SigningError("body", "must be bytes, not str (encode it first)")
    for chunk in data:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise SigningError("body", f"chunks must be bytes, got {type(chunk).__name__}")
        digest.update(chunk)
    return digest.hexdigest()
