"""The AWS event stream codec (``application/vnd.amazon.eventstream``): standard library only,
no I/O.

SageMaker Runtime sends InvokeEndpointWithResponseStream answers, and both directions of
InvokeEndpointWithBidirectionalStream, as a stream of these messages. The codec is usable
on its own, for any AWS event stream::

    from runtime_client.eventstream import EventStreamDecoder, encode_message

    data = encode_message({":message-type": "event", ":event-type": "PayloadPart"}, b"hi")
    decoder = EventStreamDecoder()
    for chunk in (data[:5], data[5:]):  # bytes as they arrive, cut anywhere
        for message in decoder.feed(chunk):
            print(message.event_type, message.payload)  # PayloadPart b'hi'
    decoder.end()  # raises TruncatedStreamError if the stream stopped inside a message

A message, integers big-endian::

    [total_length u32][headers_length u32][prelude_crc u32]   prelude_crc = crc32(first 8 bytes)
    [headers: headers_length bytes][payload: total_length - headers_length - 16 bytes]
    [message_crc u32]                                         crc32 of every byte before it

    header = [name_len u8][name, UTF-8][type u8][value]
    type: 0 TRUE, 1 FALSE (no value); 2 INT8, 3 INT16, 4 INT32, 5 INT64 (signed); 6 BYTES,
    7 STRING (u16 length, then bytes / UTF-8); 8 TIMESTAMP (i64 ms since epoch); 9 UUID (16)

What is here::

    encode_message(headers, payload) -> bytes     one message (encode_headers: the block)
    EventStreamDecoder                            feed(bytes) -> [EventStreamMessage]; end()
    decode_message(bytes) -> EventStreamMessage   bytes that hold exactly one message
    EventStreamMessage                            headers (plain values), payload, typed_headers
    HeaderValue, HeaderType                       a header value with an explicit wire type

Errors::

    EventStreamError                 base of everything the codec raises
    +-- InvalidMessageError          bad local input to the encoder (also a ValueError)
    +-- CorruptMessageError          bad bytes from the peer (raised by the decoder)
        +-- ChecksumMismatchError    .part ("prelude" or "message"), .expected, .actual
        +-- MessageTooLargeError     .part ("headers" or "payload"), .length, .limit
        +-- InvalidPreludeError      lengths that cannot describe a message
        +-- InvalidHeaderError       a header block that does not parse
        +-- TruncatedStreamError     the stream ended inside a message

Header values never appear in exception messages, and bytes values never in reprs (a
``:chunk-signature`` header carries a signature).
"""

from ._decoder import EventStreamDecoder, decode_message
from ._encoder import encode_headers, encode_message
from ._errors import (
    ChecksumMismatchError,
    CorruptMessageError,
    EventStreamError,
    InvalidHeaderError,
    InvalidMessageError,
    InvalidPreludeError,
    MessageTooLargeError,
    TruncatedStreamError,
)
from ._format import DEFAULT_MAX_HEADERS_LENGTH, DEFAULT_MAX_PAYLOAD_LENGTH, HeaderType
from ._message import (
    EventStreamHeaders,
    EventStreamMessage,
    HeaderInput,
    HeaderValue,
    PlainHeaderValue,
)

__all__ = [
    "DEFAULT_MAX_HEADERS_LENGTH",
    "DEFAULT_MAX_PAYLOAD_LENGTH",
    "ChecksumMismatchError",
    "CorruptMessageError",
    "EventStreamDecoder",
    "EventStreamError",
    "EventStreamHeaders",
    "EventStreamMessage",
    "HeaderInput",
    "HeaderType",
    "HeaderValue",
    "InvalidHeaderError",
    "InvalidMessageError",
    "InvalidPreludeError",
    "MessageTooLargeError",
    "PlainHeaderValue",
    "TruncatedStreamError",
    "decode_message",
    "encode_headers",
    "encode_message",
]
