"""The events of an HTTP/1.1 client connection, its states and its default limits.

What ``H1Connection.next_event()`` hands out (:class:`InformationalResponse`,
:class:`Response`, :class:`Data`, :class:`EndOfMessage`, :class:`ConnectionClosed`, or
:data:`NEED_DATA`), the :class:`H1State` of each side, and the ``DEFAULT_MAX_*`` limits a
connection applies unless told otherwise. Values only: the connection is in ``_h1``.
"""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

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
    "H1State",
    "Headers",
    "InformationalResponse",
    "NeedData",
    "Response",
]

DEFAULT_MAX_HEADER_BYTES: Final = 64 * 1024
DEFAULT_MAX_HEADER_COUNT: Final = 128
DEFAULT_MAX_LINE_BYTES: Final = 8 * 1024
DEFAULT_MAX_TRAILER_BYTES: Final = 16 * 1024

#: Header or trailer fields: (name, value) pairs in arrival order.
Headers: TypeAlias = list[tuple[bytes, bytes]]

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


class H1State(enum.Enum):
    """Where each side of the connection stands (the names are h11's)."""

    IDLE = "IDLE"  # no request in flight
    SEND_RESPONSE = "SEND_RESPONSE"  # their side: the request went out, no final head yet
    SEND_BODY = "SEND_BODY"  # a message head is done, its body is not
    DONE = "DONE"  # this side's message is complete and the connection may be reused
    MUST_CLOSE = "MUST_CLOSE"  # complete (or idle), but the connection cannot be reused
    CLOSED = "CLOSED"  # their side: the server closed the connection
    ERROR = "ERROR"  # a protocol error: the connection is unusable
