"""The plumbing the threaded loopback servers share: a listener on 127.0.0.1 (ephemeral
port), an accept loop on its own thread that hands each connection to the subclass, one
thread per connection, and a ``close()`` that ends every wait (the loops poll ``stopping``
every ``tick`` seconds) and joins the threads.

A subclass sets itself up, then calls :meth:`ThreadedListener.start`, and implements
:meth:`ThreadedListener.accepted`."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["ThreadedListener"]

_Self = TypeVar("_Self", bound="ThreadedListener")


class ThreadedListener:
    def __init__(self, scheme: str, *, tick: float = 0.05) -> None:
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(tick)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._accept.start()

    def accepted(self, sock: socket.socket) -> None:
        """Called on the accept thread for each new connection (usually: :meth:`spawn`)."""
        raise NotImplementedError

    def spawn(self, target: Callable[..., Any], *args: Any) -> None:
        """Run ``target(*args)`` on a thread that :meth:`close` joins."""
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._accept.is_alive():
            self._accept.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted(sock)
