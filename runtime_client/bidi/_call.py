"""One bidirectional call, prepared without I/O: the client's settings it runs with
(:class:`BidiSettings`), and the signed, started connection with where to connect
(:class:`BidiCall`, made by :func:`prepare_bidi_call`)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigv4 import Credentials

from .._restjson import SerializedRequest
from ._connection import BidiConnection
from ._events import build_bidi_request

__all__ = ["BidiCall", "BidiSettings", "prepare_bidi_call"]


@dataclass(frozen=True)
class BidiSettings:
    """What a client lends its bidirectional calls (made once per client): the HTTP/2
    endpoint, the signing region, the user agent, the clock (with the learned skew), the
    TLS context for https (built when first needed) and the timeouts."""

    endpoint_url: str
    region: str
    user_agent: str
    clock: Callable[[], datetime] = field(repr=False)
    ssl_context: Callable[[], ssl.SSLContext] = field(repr=False)
    connect_timeout: float | None
    read_timeout: float | None


@dataclass(frozen=True)
class BidiCall:
    """What a shell needs to run one call: the started connection (its first bytes are
    queued), where to connect, how long to wait, the clock for event signatures."""

    connection: BidiConnection
    endpoint_url: str
    ssl_context: ssl.SSLContext | None = field(repr=False)
    connect_timeout: float | None
    read_timeout: float | None
    clock: Callable[[], datetime] = field(repr=False)
    body: Any = field(repr=False)


def prepare_bidi_call(
    settings: BidiSettings, serialized: SerializedRequest, body: Any, credentials: Credentials
) -> BidiCall:
    """Sign the request (validated and laid out by the client) and start the connection;
    no I/O. TLS with ALPN ``h2`` for an https endpoint, cleartext h2c for http."""
    endpoint_url = settings.endpoint_url
    request = build_bidi_request(
        endpoint_url,
        serialized,
        credentials=credentials,
        region=settings.region,
        time=settings.clock(),
        user_agent=settings.user_agent,
    )
    context: ssl.SSLContext | None = None
    if endpoint_url.lower().startswith("https://"):
        context = settings.ssl_context()
        context.set_alpn_protocols(["h2"])
    connection = BidiConnection(request, endpoint_url=endpoint_url)
    connection.start()
    return BidiCall(
        connection=connection,
        endpoint_url=endpoint_url,
        ssl_context=context,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        clock=settings.clock,
        body=body,
    )
