"""What the local endpoint adds to hypercorn: its listeners, a cap on connections, and a
fix for DATA that arrives after an HTTP/2 answer.

Listeners. The main port serves HTTP/1.1 and HTTP/2 (by ALPN over TLS, h2c with prior
knowledge in cleartext). ``http2_port`` adds a second port, as the service's ``:8443``
endpoint, that serves HTTP/2 only: over TLS it offers only ``h2`` by ALPN, and a request
that still arrives over HTTP/1.1 (a client that sent no ALPN, or cleartext) is answered
505 with a message naming the main URL. Each listener is one hypercorn server on the one
event loop; the main one runs the app's lifespan (the model's start and stop), the second
only acknowledges it (:class:`Http2Only`).

Connections. ``max_connections`` bounds the connections held open across both listeners.
A connection accepted beyond it is answered ``503 ServiceUnavailable`` (naming the cap)
for each request, and closed after the first on HTTP/1.1; the count drops as connections
close (hypercorn notices that an idle connection was closed by its client at its
keep-alive timeout, 5 s). Hypercorn has no such option: its per-connection server class
is replaced, once, by a subclass that counts (:func:`install_connection_cap`), a no-op
where hypercorn's internals are not as expected (then the cap is not enforced, and a
warning says so).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import replace
from typing import Any

from ._app import Receive, Scope, Send
from ._responses import error_reply, send_reply

__all__ = [
    "ConnectionCap",
    "Http2Only",
    "attach_cap",
    "exception_handler",
    "ignore_late_data",
    "install_connection_cap",
]

_log = logging.getLogger("runtime_client.local")


async def _answer(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    """A whole rest-json error; on HTTP/1.1 the connection closes after it."""
    reply = error_reply(status, code, message, str(uuid.uuid4()))
    if scope.get("http_version") != "2":  # a connection-specific field, not HTTP/2's
        reply = replace(reply, headers=(*reply.headers, ("Connection", "close")))
    await send_reply(send, reply)


class Http2Only:
    """The app as the HTTP/2-only listener serves it: HTTP/1.1 requests are answered 505,
    and the lifespan is only acknowledged (the main listener runs the app's)."""

    def __init__(self, app: Any, main_url: str) -> None:
        self._app = app
        self._main_url = main_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:  # ends with the shutdown message
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http" and scope.get("http_version") != "2":
            text = (
                f"This port serves HTTP/2 only, as the service's :8443 endpoint does; "
                f"HTTP/{scope.get('http_version', '1.1')} requests go to {self._main_url}"
            )
            await _answer(scope, send, 505, "HttpVersionNotSupported", text)
            return
        await self._app(scope, receive, send)


class ConnectionCap:
    """The connections one endpoint holds open (both listeners), and its limit. Used
    from the endpoint's event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def __repr__(self) -> str:
        return f"ConnectionCap({self.open}/{self.limit})"


class _Refusing:
    """A hypercorn app wrapper for a connection beyond the cap: every request 503."""

    def __init__(self, inner: Any, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send, *rest: Any) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send, *rest)
            return
        message = (
            f"The local endpoint holds its maximum of {self._limit} open connections "
            "(max_connections, --max-connections); retry when one closes"
        )
        await _answer(scope, send, 503, "ServiceUnavailable", message)


_CAP_ATTRIBUTE = "_runtime_client_connection_cap"


def attach_cap(config: Any, cap: ConnectionCap) -> None:
    """Make the hypercorn ``config``'s connections count against ``cap``."""
    setattr(config, _CAP_ATTRIBUTE, cap)


def install_connection_cap() -> bool:
    """Replace hypercorn's asyncio per-connection server with one that counts connections
    against the cap of its config (see :func:`attach_cap`); once. False (and a warning)
    where hypercorn is not as expected."""
    try:
        from hypercorn.asyncio import run as hypercorn_run
    except ImportError:  # pragma: no cover - depends on the installed extras
        return False
    original = getattr(hypercorn_run, "TCPServer", None)
    if original is None or not callable(getattr(original, "run", None)):
        _log.warning("max_connections is not enforced: hypercorn's internals are not as expected")
        return False
    if getattr(original, "_counts_connections", False):
        return True

    class CountingTCPServer(original):  # type: ignore[misc, valid-type]
        _counts_connections = True

        def __init__(self, app: Any, loop: Any, config: Any, *rest: Any) -> None:
            cap: ConnectionCap | None = getattr(config, _CAP_ATTRIBUTE, None)
            self._cap = cap
            if cap is not None:
                cap.open += 1
                if cap.open > cap.limit:
                    app = _Refusing(app, cap.limit)
            super().__init__(app, loop, config, *rest)

        async def run(self) -> None:
            try:
                await super().run()
            finally:
                if self._cap is not None:
                    self._cap.open -= 1

    setattr(hypercorn_run, "TCPServer", CountingTCPServer)  # noqa: B010
    return True


def is_late_data(exc: BaseException | None) -> bool:
    """True for hypercorn's KeyError (seen with hypercorn 0.18) when HTTP/2 DATA arrives on
    a stream whose answer is complete: a bidirectional call answered early (424, or a bad
    event signature) while the caller was still sending. hypercorn then closes that
    connection; the caller already has its complete answer."""
    inner = getattr(exc, "exceptions", None)  # an exception group (3.10: the backport)
    if inner is not None:
        return bool(inner) and all(is_late_data(e) for e in inner)
    if not isinstance(exc, KeyError):
        return False
    tb, last = exc.__traceback__, None
    while tb is not None:  # bounded by the traceback's depth
        last, tb = tb, tb.tb_next
    filename = last.tb_frame.f_code.co_filename if last is not None else ""
    return filename.endswith(os.path.join("hypercorn", "protocol", "h2.py"))


def ignore_late_data() -> None:
    """Make hypercorn's HTTP/2 protocol drop DATA for a stream it has already answered
    (acknowledging it for flow control) instead of failing on it with a KeyError and
    closing the whole connection. A server answers a bidirectional call early (424, or a
    bad event signature) while the caller is still sending; closing the connection then can
    destroy the answer before the caller has read it. Applied once, at the first start;
    a no-op where hypercorn's internals are not as expected."""
    try:
        import h2.events
        from hypercorn.protocol.h2 import H2Protocol
    except ImportError:  # pragma: no cover - depends on the installed extras
        return
    original = getattr(H2Protocol, "_handle_events", None)
    if original is None or getattr(original, "_drops_late_data", False):
        return

    async def _handle_events(self: Any, events: list[Any]) -> None:
        for event in events:  # in order: a batch may open a stream, then carry its DATA
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                self.connection.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            else:
                await original(self, [event])
        await original(self, [])  # sends what is pending (the acknowledgements)

    _handle_events._drops_late_data = True  # type: ignore[attr-defined]
    setattr(H2Protocol, "_handle_events", _handle_events)  # noqa: B010


def exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if is_late_data(context.get("exception")):
        _log.debug("HTTP/2 DATA after a stream's complete answer: the connection was closed")
        return
    loop.default_exception_handler(context)
