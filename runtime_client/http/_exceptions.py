"""The errors of our HTTP transport.

::

    TransportError                    base of everything the transport raises
    ├── ConnectError                  no connection: refused, name not found
    │   ├── ConnectTimeout            the TCP connect or the TLS handshake timed out
    │   ├── TLSError                  the TLS handshake failed (a certificate refused)
    │   └── ProxyError                the proxy refused or failed the CONNECT tunnel
    ├── ReadTimeout                   the server sent nothing for the read timeout
    ├── WriteTimeout                  the server took nothing for the write timeout
    ├── NetworkError                  the connection broke (reset, broken pipe) mid-exchange
    └── ProtocolError                 the connection is unusable afterwards (state ERROR)
        ├── LocalProtocolError        we were asked to send something invalid, or to do
        │                             something the connection's state does not allow
        └── RemoteProtocolError       the server sent something invalid or incomplete
            └── ServerDisconnectedError  the server closed the connection before sending
                                      any byte of the response to the request in flight

``request_sent`` on a :class:`TransportError` says whether any byte of the request may have
reached the server (False for every ``ConnectError``): what a retry rule needs to know.
``unprocessed`` says that the server declared it did not process the request, though it
reached it (HTTP/2: a GOAWAY whose last stream id is below the request's stream, or a
RST_STREAM with REFUSED_STREAM), so that it may be sent again.

A :class:`ServerDisconnectedError` is how a keep-alive connection that the server dropped
shows up when the request was already written: the transport does not send it again (it
may have been processed; see ``_exchange``), the caller's retry policy decides
(``connection_reused`` tells it that the connection had served a request before: the
idle-close race). Every
other :class:`RemoteProtocolError` means a response was cut or malformed.

The messages name the rule that was broken and the field or limit involved, so that a
failure can be diagnosed from the message alone.
"""

from __future__ import annotations

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "LocalProtocolError",
    "NetworkError",
    "ProtocolError",
    "ProxyError",
    "ReadTimeout",
    "RemoteProtocolError",
    "ServerDisconnectedError",
    "TLSError",
    "TransportError",
    "WriteTimeout",
]


class TransportError(Exception):
    """The transport could not complete the exchange (see the tree above)."""

    #: Whether any byte of the request may have reached the server.
    request_sent: bool = True
    #: The server said it did not process the request (HTTP/2 only; see the module).
    unprocessed: bool = False
    #: The exchange ran on a kept-alive connection that had served a request before.
    connection_reused: bool = False


class ConnectError(TransportError):
    """No connection to the server (or the proxy) could be made; nothing was sent."""

    request_sent = False


class ConnectTimeout(ConnectError, TimeoutError):
    """The TCP connection or the TLS handshake did not complete in time."""


class TLSError(ConnectError):
    """The TLS handshake failed: the server's certificate was refused (an unknown CA, a
    name that does not match), or the server refused ours, or no protocol was agreed."""


class ProxyError(ConnectError):
    """The proxy refused the tunnel (its status and reason are in the message)."""


class ReadTimeout(TransportError, TimeoutError):
    """The server sent nothing for as long as the read timeout."""


class WriteTimeout(TransportError, TimeoutError):
    """The server took none of the request for as long as the write timeout."""


class NetworkError(TransportError):
    """The connection broke (reset, broken pipe, closed) while writing or reading."""


class ProtocolError(TransportError):
    """A protocol violation (HTTP/1.1 or HTTP/2); an HTTP/1.1 connection cannot be used
    afterwards, an HTTP/2 one may carry other streams when only one stream failed."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something invalid, or to act out of turn.

    The message names the field (method, target, header name) and the rule it breaks.
    """


class RemoteProtocolError(ProtocolError):
    """The server sent something invalid or incomplete.

    The message says what was wrong and where: the status line, a header line, a chunk,
    a limit that was exceeded, or how much of a body arrived before the connection closed.
    """


class ServerDisconnectedError(RemoteProtocolError):
    """The server closed the connection before sending any byte of the response.

    Raised only while a request is in flight and nothing of its response has arrived.
    """
