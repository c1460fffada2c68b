"""The errors of the event stream codec (see the tree in ``runtime_client.eventstream``)."""

from __future__ import annotations

__all__ = [
    "ChecksumMismatchError",
    "CorruptMessageError",
    "EventStreamError",
    "InvalidHeaderError",
    "InvalidMessageError",
    "InvalidPreludeError",
    "MessageTooLargeError",
    "TruncatedStreamError",
]


class EventStreamError(Exception):
    """Base class of the errors raised by the event stream codec."""


class InvalidMessageError(EventStreamError, ValueError):
    """The caller asked the encoder for a message that cannot be encoded."""


class CorruptMessageError(EventStreamError):
    """The peer sent bytes that are not a valid event stream."""


class ChecksumMismatchError(CorruptMessageError):
    """A CRC32 in the stream does not match the bytes it covers."""

    def __init__(self, part: str, expected: int, actual: int) -> None:
        self.part = part
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{part} checksum mismatch: the stream says 0x{expected:08x}, "
            f"the bytes give 0x{actual:08x}"
        )


class MessageTooLargeError(CorruptMessageError):
    """A prelude announces headers or a payload larger than the decoder's limit."""

    def __init__(self, part: str, length: int, limit: int) -> None:
        self.part = part
        self.length = length
        self.limit = limit
        super().__init__(f"the peer announced {length} bytes of {part}, over the limit of {limit}")


class InvalidPreludeError(CorruptMessageError):
    """A prelude whose lengths cannot describe a message."""


class InvalidHeaderError(CorruptMessageError):
    """A header block that does not parse (bad type, lengths, UTF-8, duplicate name)."""


class TruncatedStreamError(CorruptMessageError):
    """The stream ended in the middle of a message."""
