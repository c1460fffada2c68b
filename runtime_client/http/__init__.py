"""Our HTTP transport: sans-IO connections, pool, drivers.

:class:`H1Connection` is the HTTP/1.1 client connection as a state machine (bytes in,
events out, no I/O); the exception tree is documented in ``runtime_client.http._exceptions``.
Importing this package loads nothing heavier than ``re`` and ``enum``.
"""

from ._exceptions import (
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    ServerDisconnectedError,
)
from ._h1 import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_TRAILER_BYTES,
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    H1Connection,
    H1State,
    InformationalResponse,
    NeedData,
    Response,
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
    "LocalProtocolError",
    "NeedData",
    "ProtocolError",
    "RemoteProtocolError",
    "ServerDisconnectedError",
    "Response",
]
