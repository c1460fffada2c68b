"""A loopback HTTP proxy that records what it was asked: ``CONNECT`` tunnels and
absolute-form forwarding.

:class:`LoopbackProxy` listens on 127.0.0.1 (ephemeral port), one thread per client
connection. It reads the first request head of each connection and records it
(:class:`ProxyRequest`: method, target as sent, headers), then:

* with ``auth`` set (``"user:password"``), a head without the matching
  ``Proxy-Authorization: Basic ...`` gets ``407`` and the connection is closed;
* with ``refuse`` set (a status such as 403), every request gets that status, closed;
* ``CONNECT host:port`` gets ``200`` and the bytes are piped both ways to that address
  (the proxy sees only the tunnel);
* any other method must carry an absolute-form target (``http://host:port/path``); the
  head is forwarded as it came (a server must accept the absolute form, RFC 9112 §3.2.2)
  and from then on the connection is piped both ways, so the origin server records the
  requests as the client wrote them.

Only loopback addresses are reached. Every wait is bounded (``IO_TIMEOUT``), and
``close()`` ends every connection thread.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support.raw_server import IO_TIMEOUT

__all__ = ["LoopbackProxy", "ProxyRequest"]

_TICK = 0.02
_MAX_HEAD = 64 * 1024
_REASONS = {200: "Connection established", 403: "Forbidden", 407: "Proxy Authentication Required"}


@dataclass
class ProxyRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _reply(status: int, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n{extra}"
    if status != 200:
        head += "Content-Length: 0\r\nConnection: close\r\n"
    return (head + "\r\n").encode("latin-1")


@dataclass
class LoopbackProxy:
    """Start with ``start()`` or ``with``; ``url`` is ``http://127.0.0.1:PORT`` and
    :meth:`url_with` puts credentials in it."""

    auth: str | None = None
    refuse: int | None = None
    requests: list[ProxyRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> LoopbackProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self._spawn(self._accept_loop)
        return self

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        for thread in list(self._threads):
            thread.join(timeout=IO_TIMEOUT)

    def __enter__(self) -> LoopbackProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._listener is not None
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def seen(self) -> list[ProxyRequest]:
        with self._lock:
            return list(self.requests)

    # -- serving -------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], _TICK)
                if not ready:
                    continue
                sock, _ = self._listener.accept()
            except OSError:
                return
            sock.settimeout(IO_TIMEOUT)
            self._spawn(self._serve, sock)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            parsed = self._read_head(client)
            if parsed is None:
                return
            request, head, rest = parsed
            with self._lock:
                self.requests.append(request)
            status = self._refusal(request)
            if status is not None:
                extra = 'Proxy-Authenticate: Basic realm="loopback"\r\n' if status == 407 else ""
                client.sendall(_reply(status, extra))
                return
            upstream = self._open_upstream(request)
            if upstream is None:
                client.sendall(_reply(502))
                return
            if request.method == "CONNECT":
                client.sendall(_reply(200))
            else:
                upstream.sendall(head)
            if rest:
                upstream.sendall(rest)
            self._pipe(client, upstream)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()

    def _refusal(self, request: ProxyRequest) -> int | None:
        if self.auth is not None:
            token = base64.b64encode(self.auth.encode()).decode("ascii")
            if request.header("Proxy-Authorization") != f"Basic {token}":
                return 407
        return self.refuse

    def _read_head(self, sock: socket.socket) -> tuple[ProxyRequest, bytes, bytes] | None:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            if self._stop.is_set() or len(buffer) > _MAX_HEAD:
                return None
            ready, _, _ = select.select([sock], [], [], _TICK)
            if ready:
                data = sock.recv(65536)
                if not data:
                    return None
                buffer += data
        end = buffer.index(b"\r\n\r\n") + 4
        head, rest = buffer[:end], buffer[end:]
        lines = head.decode("latin-1").split("\r\n")
        method, target = [*lines[0].split(" "), "", ""][:2]
        headers = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
        return ProxyRequest(method, target, headers), head, rest

    @staticmethod
    def _open_upstream(request: ProxyRequest) -> socket.socket | None:
        if request.method == "CONNECT":
            host, _, port = request.target.rpartition(":")
        else:
            parts = urlsplit(request.target)
            host, port = parts.hostname or "", str(parts.port or 80)
        if host not in ("127.0.0.1", "localhost") or not port.isdigit():
            return None
        try:
            return socket.create_connection(("127.0.0.1", int(port)), timeout=IO_TIMEOUT)
        except OSError:
            return None

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        """Copy bytes both ways until either side closes (or close() is called)."""
        peers = {a: b, b: a}
        while not self._stop.is_set():
            ready, _, _ = select.select([a, b], [], [], _TICK)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
