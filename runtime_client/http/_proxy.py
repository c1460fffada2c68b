"""HTTP proxies, without I/O: which proxy a request goes through, and the CONNECT tunnel.

``proxies`` maps a scheme (``"https"``, ``"http"``), a scheme and host (``"https://host"``,
the most specific wins) or ``"all"`` to a proxy URL (``http://[user:password@]proxy:port``,
or ``https://`` for a proxy spoken to over TLS), as ``Config(proxies=...)`` and the
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` variables give it (``NO_PROXY`` was applied
when the client resolved its configuration).

* An ``https`` origin goes through a **tunnel**: ``CONNECT host:port`` to the proxy, then
  TLS with the origin inside it; the proxy sees only the tunnel.
* An ``http`` origin is sent to the proxy with the request target in absolute form
  (``POST http://host:port/path``), with ``Proxy-Authorization`` when the proxy URL has
  credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from ._exceptions import ProxyError
from ._models import Origin

__all__ = ["MAX_CONNECT_REPLY", "ProxyRoute", "connect_request", "parse_connect_reply", "route_for"]

#: Bytes of a proxy's answer to CONNECT that we read at most before its blank line.
MAX_CONNECT_REPLY = 16 * 1024


class ProxyRoute(NamedTuple):
    """Through which proxy, and how: a tunnel (``https`` origins) or absolute-form
    requests (``http``); ``authorization`` is the ``Proxy-Authorization`` value."""

    proxy: Origin
    tunnel: bool
    authorization: str | None

    def __repr__(self) -> str:  # the authorization carries a password
        return f"ProxyRoute(proxy={self.proxy}, tunnel={self.tunnel})"


def route_for(origin: Origin, proxies: Mapping[str, str] | None) -> ProxyRoute | None:
    """The proxy route for ``origin``, or None to connect directly."""
    if not proxies:
        return None
    url = (
        proxies.get(f"{origin.scheme}://{origin.host}")
        or proxies.get(origin.scheme)
        or proxies.get("all")
    )
    if not url:
        return None
    return ProxyRoute(_proxy_origin(url), origin.scheme == "https", _authorization(url))


def _proxy_origin(url: str) -> Origin:
    try:
        return Origin.from_url(url if "://" in url else f"http://{url}")
    except ValueError:
        raise ProxyError(f"the proxy URL {_redacted(url)!r} is not an http(s) URL") from None


def _authorization(url: str) -> str | None:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is None:
        return None
    import base64  # here: few proxies take credentials (cold start)

    user = unquote(parts.username)
    password = unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _redacted(url: str) -> str:
    scheme, _, rest = url.rpartition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}://{rest}" if scheme else rest


def connect_request(origin: Origin, authorization: str | None) -> bytes:
    """The CONNECT request that opens a tunnel to ``origin``."""
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    authority = f"{host}:{origin.port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if authorization is not None:
        lines.append(f"Proxy-Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_connect_reply(
    buffer: bytes | bytearray, proxy: Origin | None = None
) -> tuple[int, bytes] | None:
    """The proxy's answer to CONNECT: ``(status, bytes after the head)`` once its head is
    complete, None while it is not. Raises :class:`ProxyError` naming ``proxy`` (its
    origin: never the credentials) for an answer that is not HTTP, too long, or not 2xx
    (the tunnel is refused)."""
    name = "the proxy" if proxy is None else f"the proxy {proxy}"
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_CONNECT_REPLY:
            raise ProxyError(f"{name}'s answer to CONNECT is over {MAX_CONNECT_REPLY} bytes")
        return None
    status_line = bytes(buffer[: buffer.find(b"\r\n")])
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProxyError(f"{name} answered CONNECT with {status_line[:80]!r}, not HTTP")
    status = int(parts[1])
    if not 200 <= status < 300:
        reason = parts[2].decode("latin-1", "replace") if len(parts) > 2 else ""
        raise ProxyError(f"{name} refused the tunnel: {status} {reason}".rstrip())
    return status, bytes(buffer[end + 4 :])
