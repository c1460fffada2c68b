"""One request and its response head on an HTTP/1.1 connection, written once for every
driver: a generator that yields what it needs done and is sent the outcome.

::

    bytes        write these bytes (a failed write is thrown in as a NetworkError)
    READ         read from the socket; send back the bytes (b"" at end of file)
    NEXT_CHUNK   the next chunk of a file body (b"" at its end)

It returns the final :class:`~._h1_events.Response` head (1xx heads are skipped). The
rules it decides, so that no driver decides them again:

* **Early answers.** A server may answer (413, or an error) and close while the body is
  still being written. When a write fails, the exchange reads on: a complete head that
  arrives is the answer (the connection is then not reused); if none does, the write
  error stands.
* **Reuse.** After the response body, :func:`reusable` says whether the connection may
  carry the next request (both sides done, keep-alive on both sides).
* **Retrying on a new connection** (:func:`retry_on_new_connection`). A pooled connection
  is checked before it is reused: one the server has closed (its FIN or reset already
  arrived) is dropped and the request goes on a new one, which is always safe. After
  that, the line is **whether the request may have been processed**: a request is sent
  again by the transport only if the connection was reused, and it broke before any byte
  of the request was written (the first write failed: the server had already closed).
  A reused connection that the server closes after the request went out
  (:class:`ServerDisconnectedError`, a reset) may have been processed: the transport
  raises, and the caller's retry policy decides, as for any call whose request may have
  reached the service.
"""

from __future__ import annotations

import enum
from collections.abc import Generator
from typing import Final, TypeAlias

from ._exceptions import LocalProtocolError, NetworkError, RemoteProtocolError, TransportError
from ._h1 import NEED_DATA, H1Connection, H1State, InformationalResponse, Response
from ._models import FileBody, Request
from ._proxy import ProxyRoute

__all__ = [
    "NEXT_CHUNK",
    "READ",
    "Exchange",
    "IOStep",
    "exchange",
    "read_head",
    "retry_on_new_connection",
    "reusable",
]


class IOStep(enum.Enum):
    READ = "READ"
    NEXT_CHUNK = "NEXT_CHUNK"


READ: Final = IOStep.READ
NEXT_CHUNK: Final = IOStep.NEXT_CHUNK

#: What an exchange yields (bytes to write, or a step) and is sent back.
Exchange: TypeAlias = Generator[bytes | IOStep, bytes, Response]


def _ascii(text: str, what: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise LocalProtocolError(
            f"request {what} {text!r} is not ASCII (percent-encode it)"
        ) from None


def exchange(h1: H1Connection, request: Request, forward: ProxyRoute | None = None) -> Exchange:
    """Send ``request`` on ``h1`` and read up to its final response head. ``forward``: the
    plain proxy it goes to (not a tunnel): the request target is then in absolute form,
    with the proxy's ``Proxy-Authorization`` when its URL has credentials."""
    method = _ascii(request.method, "method")
    headers = request.headers  # str pairs: the connection encodes them (latin-1)
    if forward is None:
        path = _ascii(request.target, "target")
    else:
        path = _ascii(str(request.origin) + request.target, "target")
        if forward.authorization is not None:
            headers = [*headers, ("Proxy-Authorization", forward.authorization)]
    head = h1.send_request(method, path, headers)
    body = request.body
    written = False
    try:
        if isinstance(body, FileBody):
            yield head
            written = True
            while chunk := (yield NEXT_CHUNK):
                yield h1.send_data(chunk)
            yield h1.send_end()
        else:
            yield head + h1.send_data(body) + h1.send_end() if body else head + h1.send_end()
    except NetworkError as exc:
        exc.request_sent = written or _partly_sent(exc)
        return (yield from _early_answer(h1, exc))
    return (yield from read_head(h1))


def _partly_sent(exc: NetworkError) -> bool:
    # A driver says how much of a failed write went out; unknown means it may have.
    sent = getattr(exc, "bytes_sent", None)
    return sent is None or sent > 0


def _early_answer(h1: H1Connection, write_error: NetworkError) -> Exchange:
    """After a failed write: an answer the server completed before it closed, else the
    write error."""
    try:
        return (yield from read_head(h1))
    except TransportError:
        raise write_error from None


def read_head(h1: H1Connection) -> Exchange:
    """Read until the final response head (informational 1xx heads are skipped)."""
    while True:
        event = h1.next_event()
        if event is NEED_DATA:
            h1.receive_data((yield READ))
        elif type(event) is Response:
            return event
        elif type(event) is not InformationalResponse:
            raise RemoteProtocolError(f"expected a response head, got {event!r}")


def reusable(h1: H1Connection) -> bool:
    """After the whole response: whether the connection may carry another request (then
    it is made ready for it)."""
    if h1.our_state is H1State.DONE and h1.their_state is H1State.DONE and h1.keep_alive:
        h1.start_next_cycle()
        return True
    return False


def retry_on_new_connection(error: TransportError, reused: bool) -> bool:
    """Whether the transport sends the request again on a new connection (see the module
    docstring for where the line is): only when nothing of it was written to a reused
    connection."""
    return reused and not error.request_sent
