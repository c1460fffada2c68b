"""The errors of our HTTP transport's connections.

::

    ProtocolError                     the connection is unusable afterwards (state ERROR)
    ├── LocalProtocolError            we were asked to send something invalid, or to do
    │                                 something the connection's state does not allow
    └── RemoteProtocolError           the server sent something invalid or incomplete
        └── ServerDisconnectedError   the server closed the connection before sending any
                                      byte of the response to the request in flight

A :class:`ServerDisconnectedError` on a reused keep-alive connection is the one error a
pool may answer by retrying the request on a new connection: the server had not begun to
answer, which is how an idle connection that the server dropped shows up. Every other
:class:`RemoteProtocolError` means a response was cut or malformed.

The messages name the rule that was broken and the field or limit involved, so that a
failure can be diagnosed from the message alone.
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "ServerDisconnectedError",
]


class ProtocolError(Exception):
    """An HTTP/1.1 protocol violation; the connection cannot be used afterwards."""


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
