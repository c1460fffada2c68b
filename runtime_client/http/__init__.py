"""Our HTTP transport: one sans-IO core, a blocking driver and an async driver.

::

    _h1           H1Connection: HTTP/1.1 as a state machine (bytes in, events out, no I/O)
    _exchange     one request and its response head, written once for every driver
    _pool         which idle connections may be reused (bookkeeping only, no waiting)
    _proxy        proxy routes and the CONNECT tunnel; _tls: the lazily built SSLContext
    _models       Request, Headers, Origin, Timeouts, FileBody
    _sync         SyncTransport: blocking sockets
    _async        AsyncTransport: asyncio (_asyncio, a Protocol) or trio (_anyio)
    _httpx_transport  HTTPTransport / AsyncHTTPTransport: the same, as httpx transports

The clients call :class:`SyncTransport` / :class:`AsyncTransport` directly; a user's own
httpx client can mount :class:`HTTPTransport` / :class:`AsyncHTTPTransport`. The exception
tree is documented in ``runtime_client.http._exceptions``. Importing this package loads
nothing heavier than ``re`` and ``enum``: the drivers (``socket``, ``ssl``, ``asyncio``)
and the httpx adapters load on first access.
"""

import importlib as _importlib
import typing as _typing

from ._exceptions import (
    ConnectError,
    ConnectTimeout,
    LocalProtocolError,
    NetworkError,
    ProtocolError,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    ServerDisconnectedError,
    TLSError,
    TransportError,
    WriteTimeout,
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
from ._models import FileBody, Headers, HTTPResponse, Origin, Request, Timeouts

if _typing.TYPE_CHECKING:
    from ._async import AsyncResponse, AsyncTransport
    from ._httpx_transport import AsyncHTTPTransport, HTTPTransport
    from ._sync import SyncResponse, SyncTransport
    from ._tls import TLSSettings

_LAZY = {
    "AsyncResponse": "._async",
    "AsyncTransport": "._async",
    "AsyncHTTPTransport": "._httpx_transport",
    "HTTPTransport": "._httpx_transport",
    "SyncResponse": "._sync",
    "SyncTransport": "._sync",
    "TLSSettings": "._tls",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_HEADER_COUNT",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_MAX_TRAILER_BYTES",
    "NEED_DATA",
    "AsyncHTTPTransport",
    "AsyncResponse",
    "AsyncTransport",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "FileBody",
    "H1Connection",
    "H1State",
    "HTTPResponse",
    "HTTPTransport",
    "Headers",
    "InformationalResponse",
    "LocalProtocolError",
    "NeedData",
    "NetworkError",
    "Origin",
    "ProtocolError",
    "ProxyError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "Response",
    "ServerDisconnectedError",
    "SyncResponse",
    "SyncTransport",
    "TLSError",
    "TLSSettings",
    "Timeouts",
    "TransportError",
    "WriteTimeout",
]
