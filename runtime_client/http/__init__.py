"""Our HTTP transport: one sans-IO core, a blocking driver and an async driver.

::

    _h1           H1Connection: HTTP/1.1 as a state machine (bytes in, events out, no I/O)
    _exchange     one request and its response head, written once for every driver
    _h2           H2Connection: HTTP/2 streams on h2 as a state machine (no I/O);
                  _h2_stream: one stream's state and rules, the retry line
    _h2_exchange  one request on an HTTP/2 stream as steps (WRITE, Wait, NEXT_CHUNK)
    _pool         which idle connections may be reused, which shared HTTP/2 connections
                  have room (bookkeeping only, no waiting)
    _proxy        proxy routes and the CONNECT tunnel; _tls: the lazily built SSLContext
    _models       Request, Headers, Origin, Timeouts, FileBody
    _sync         SyncTransport: blocking sockets; _sync_h2: its HTTP/2 connections
    _async        AsyncTransport: asyncio (_asyncio, a Protocol) or trio (_anyio);
                  _async_h2: HTTP/2 connections shared by concurrent requests
    _httpx_transport  HTTPTransport / AsyncHTTPTransport: the same, as httpx transports

The clients call :class:`SyncTransport` / :class:`AsyncTransport` directly; a user's own
httpx client can mount :class:`HTTPTransport` / :class:`AsyncHTTPTransport`. HTTP/1.1
unless a transport is made with ``http2=True`` (the ``http2`` extra: ``h2``); the
bidirectional stream (``runtime_client.bidi``) drives the same HTTP/2 connection and
drivers. The exception tree is documented in ``runtime_client.http._exceptions``.
Importing this package loads nothing heavier than ``re`` and ``enum``: the drivers
(``socket``, ``ssl``, ``asyncio``), HTTP/2 (``h2``) and the httpx adapters load on first
access.
"""

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
    from ._h2 import H2Connection
    from ._httpx_transport import AsyncHTTPTransport, HTTPTransport
    from ._sync import SyncResponse, SyncTransport
    from ._tls import TLSSettings

_LAZY = {
    "H2Connection": "._h2",
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
    # __import__, not importlib.import_module: -X importtime lists only what it loads
    value = getattr(__import__(module[1:], globals(), None, (name,), 1), name)
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
    "H2Connection",
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
