"""A loopback HTTP proxy that only tunnels (``CONNECT host:port``), for tests.

``ConnectProxy`` listens on 127.0.0.1 (ephemeral port); for each client it reads the
CONNECT head, records it in ``requests``, connects to the target (loopback only: any
other host is refused with 403), answers ``200 Connection established`` and then copies
bytes both ways until either side closes. One thread per direction; every wait ends
when the proxy closes.
"""

from __future__ import annotations

import contextlib
import select
import socket

from .listener import ThreadedListener

__all__ = ["ConnectProxy"]

_TICK = 0.05


class ConnectProxy(ThreadedListener):
    def __init__(self) -> None:
        super().__init__("http", tick=_TICK)
        #: The request line of each CONNECT received (``CONNECT 127.0.0.1:port HTTP/1.1``).
        self.requests: list[str] = []
        self.start()

    def accepted(self, sock: socket.socket) -> None:
        self.spawn(self._tunnel, sock)

    def _tunnel(self, client: socket.socket) -> None:
        client.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 16384:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.requests.append(line)
            method, target, _ = line.split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host != "127.0.0.1":
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            with contextlib.suppress(OSError):
                client.close()
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        client.settimeout(None)  # readiness comes from select; writes may take their time
        upstream.settimeout(None)
        self.spawn(self._copy, upstream, client)
        self._copy(client, upstream)

    def _copy(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([source], [], [], _TICK)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except (OSError, ValueError):  # ValueError: the other direction closed both sockets
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
