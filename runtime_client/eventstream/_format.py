"""The wire format of an event-stream message, written once for the encoder and the decoder.

A message, integers big-endian::

    [total_length u32][headers_length u32][prelude_crc u32]   prelude_crc = crc32(first 8 bytes)
    [headers: headers_length bytes][payload: total_length - headers_length - 16 bytes]
    [message_crc u32]                                         crc32 of every byte before it

    header = [name_len u8][name, UTF-8][type u8][value]
    type: 0 TRUE, 1 FALSE (no value); 2 INT8, 3 INT16, 4 INT32, 5 INT64 (signed); 6 BYTES,
    7 STRING (u16 length, then bytes / UTF-8); 8 TIMESTAMP (i64 ms since epoch); 9 UUID (16)
"""

from __future__ import annotations

import enum
import struct
from datetime import datetime, timedelta, timezone

__all__ = [
    "DEFAULT_MAX_HEADERS_LENGTH",
    "DEFAULT_MAX_PAYLOAD_LENGTH",
    "EPOCH",
    "I64",
    "INTS",
    "LENGTHS",
    "MAX_VARIABLE_LENGTH",
    "MILLISECOND",
    "OVERHEAD",
    "PRELUDE",
    "PRELUDE_LENGTH",
    "U16",
    "U32",
    "HeaderType",
]

#: The decoder's default limits (and the encoder's only ones).
DEFAULT_MAX_HEADERS_LENGTH = 128 * 1024
DEFAULT_MAX_PAYLOAD_LENGTH = 16 * 1024 * 1024

PRELUDE_LENGTH = 12
OVERHEAD = 16  # prelude + message CRC
#: Longest BYTES or STRING header value (its length is a u16).
MAX_VARIABLE_LENGTH = 0xFFFF

PRELUDE = struct.Struct(">III")
LENGTHS = struct.Struct(">II")
U32 = struct.Struct(">I")
U16 = struct.Struct(">H")
I64 = struct.Struct(">q")

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MILLISECOND = timedelta(milliseconds=1)


class HeaderType(enum.IntEnum):
    """The wire type of a header value."""

    TRUE = 0
    FALSE = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTES = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


INTS = {  # wire type -> (struct, min, max)
    HeaderType.INT8: (struct.Struct(">b"), -(1 << 7), (1 << 7) - 1),
    HeaderType.INT16: (struct.Struct(">h"), -(1 << 15), (1 << 15) - 1),
    HeaderType.INT32: (struct.Struct(">i"), -(1 << 31), (1 << 31) - 1),
    HeaderType.INT64: (I64, -(1 << 63), (1 << 63) - 1),
}
