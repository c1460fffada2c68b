"""Whether a pooled connection is still quiet, asked of the socket itself.

A connection the server closed while it sat in the pool (its FIN, or a reset) or that
holds bytes nobody asked for reads as *readable*. Each driver asks before it reuses a
connection, with a zero-timeout poll of the socket: one system call, on a poll object
kept per connection (urllib3 and httpcore ask the same way). The asyncio driver asks too,
although its protocol hears of an end of file by itself, because it hears only when the
loop next polls: a call that starts right after the answer was read would otherwise
write to a connection whose FIN is already in.

A FIN that has not arrived yet cannot be seen: that race is what the transport's
retry-on-a-new-connection rule and the client's retry policy are for (``_exchange``).
"""

from __future__ import annotations

import select
import socket

__all__ = ["IdleCheck"]


class IdleCheck:
    """``quiet()``: nothing to read on ``sock`` (no bytes, no end of file, no error)."""

    __slots__ = ("_poller", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._poller: select.poll | None = None
        if hasattr(select, "poll"):
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)

    def quiet(self) -> bool:
        try:
            if self._poller is not None:
                return not self._poller.poll(0)  # a closed descriptor reads as POLLNVAL
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
