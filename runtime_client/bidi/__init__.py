"""InvokeEndpointWithBidirectionalStream: full-duplex event streams over HTTP/2.

The operation (service "SageMaker Runtime HTTP2") sends *signed* event-stream messages and
receives unsigned ones on one HTTP/2 stream, both at once. It needs the ``http2`` extra
(``h2``). Call it through a client (``client.invoke_endpoint_with_bidirectional_stream``);
this package holds what that returns and what it is made of::

    _events       the request (signed headers), input events, answers: pure
    _connection   BidiConnection: the event layer over one stream of the HTTP/2 core
                  (runtime_client.http._h2), bytes in and out (sans-IO)
    _steps        every call of the stream (send, close, receive, output) as steps
    _call         a call prepared without I/O: where and how to connect
    _sync         BidirectionalStream, BidirectionalInputStream (blocking, one thread)
    _async        AsyncBidirectionalStream, AsyncBidirectionalInputStream (asyncio, trio)

``_sync`` and ``_async`` only run the steps on ``runtime_client.http``'s HTTP/2 drivers.

Names load on first access, so that the blocking client never imports the async machinery.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
    from ._async import AsyncBidirectionalInputStream, AsyncBidirectionalStream
    from ._sync import BidirectionalInputStream, BidirectionalStream, SyncBidirectionalInputStream

_LAZY = {
    "AsyncBidirectionalInputStream": "._async",
    "AsyncBidirectionalStream": "._async",
    "BidirectionalInputStream": "._sync",
    "BidirectionalStream": "._sync",
    "SyncBidirectionalInputStream": "._sync",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # __import__, not importlib.import_module: -X importtime lists only what it loads
    value = getattr(__import__(module[1:], globals(), None, (name,), 1), name)
    globals()[name] = value
    return value


__all__ = [
    "AsyncBidirectionalInputStream",
    "AsyncBidirectionalStream",
    "BidirectionalInputStream",
    "BidirectionalStream",
    "SyncBidirectionalInputStream",
]
