"""One bidirectional call, prepared without I/O: the client's settings it runs with
(:class:`BidiSettings`), and the signed, started connection with where and how to connect
(:class:`BidiCall`, made by :func:`prepare_bidi_call`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sigv4 import Credentials
from sigv4._record import field, record

from .._errors import ConnectTimeoutError, EndpointConnectionError, HTTPClientError
from .._restjson import SerializedRequest
from ..http._exceptions import TransportError, WriteTimeout
from ..http._models import Origin, Timeouts
from ..http._proxy import ProxyRoute, route_for
from ..http._tls import TLSSettings
from ._connection import BidiConnection
from ._events import build_bidi_request

__all__ = ["BidiCall", "BidiSettings", "opening_error", "prepare_bidi_call", "refused_alpn"]

SocketOption = tuple[int, int, int]


@record(frozen=True)
class BidiSettings:
    """What a client lends its bidirectional calls (made once per client): the HTTP/2
    endpoint, the signing region, the user agent, the clock (with the learned skew), and
    the connection options of the client's transport: its TLS settings (offering ALPN
    ``h2`` only), proxies, socket options and timeouts."""

    endpoint_url: str
    region: str
    user_agent: str
    clock: Callable[[], datetime] = field(repr=False)
    tls: TLSSettings = field(repr=False)
    connect_timeout: float | None
    read_timeout: float | None
    proxies: Mapping[str, str] | None = field(default=None, repr=False)
    socket_options: Sequence[SocketOption] = ()


@record(frozen=True)
class BidiCall:
    """What a stream's driver needs to run one call: the started connection (its first
    bytes are queued), where to connect and through which proxy (always a CONNECT
    tunnel: HTTP/2 with prior knowledge does not pass a plain proxy), how long to wait,
    the clock for event signatures."""

    connection: BidiConnection
    endpoint_url: str
    origin: Origin
    route: ProxyRoute | None
    tls: TLSSettings = field(repr=False)
    timeouts: Timeouts
    socket_options: Sequence[SocketOption]
    clock: Callable[[], datetime] = field(repr=False)
    body: Any = field(repr=False)

    @property
    def read_timeout(self) -> float | None:
        return self.timeouts.read

    @property
    def opening_timeouts(self) -> Timeouts:
        """For the first write (the preface and the request): the connect timeout."""
        return self.timeouts._replace(write=self.timeouts.connect)


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
    origin = Origin.from_url(endpoint_url)
    route = route_for(origin, settings.proxies)
    connection = BidiConnection(request, endpoint_url=endpoint_url)
    connection.start()
    timeouts = Timeouts(settings.connect_timeout, settings.read_timeout, settings.read_timeout)
    return BidiCall(
        connection=connection,
        endpoint_url=endpoint_url,
        origin=origin,
        route=route._replace(tunnel=True) if route is not None else None,
        tls=settings.tls,
        timeouts=timeouts,
        socket_options=tuple(settings.socket_options),
        clock=settings.clock,
        body=body,
    )


def opening_error(exc: TransportError, endpoint_url: str) -> HTTPClientError:
    """What a failure while connecting or sending the request is to the user."""
    if isinstance(exc, WriteTimeout):
        return ConnectTimeoutError(endpoint_url, "sending the request timed out")
    from .._operation import classify_transport_error

    error = classify_transport_error(exc, endpoint_url)[1]
    if not isinstance(error, EndpointConnectionError):  # the connection broke at once
        return EndpointConnectionError(endpoint_url, exc)
    return error


def refused_alpn(endpoint_url: str, alpn: str | None) -> EndpointConnectionError:
    """The server would not speak HTTP/2 over TLS."""
    return EndpointConnectionError(
        endpoint_url, f"the server did not agree to HTTP/2 over TLS (ALPN gave {alpn!r})"
    )
