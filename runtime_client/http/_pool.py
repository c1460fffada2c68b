"""The connection pool as bookkeeping: which idle connections may be reused, per origin
(:class:`Pool`), and which shared HTTP/2 connections have room for one more request
(:class:`SharedPool`).

No I/O and no waiting, with every state change in one place:

* :meth:`Pool.take` hands out the most recently used idle connection to an origin (or
  None: the driver opens a new one). A call never waits for a connection: beyond the
  pool's size a call simply opens one more, and it is not kept afterwards (boto3's
  urllib3 pool does the same), so no number of cancelled, unread or slow calls can starve
  the next one.
* :meth:`Pool.put` takes a connection back after a complete exchange; it says False when
  the pool already keeps ``max_idle`` connections to that origin (the driver closes it).
* A connection in use belongs to its response alone: the pool never sees it until the
  response hands it back, and a response that is closed early, cut, cancelled or
  collected closes its connection instead.
* After ``fork`` the child starts with an empty pool (:meth:`Pool.take` notices the
  fork): the parent's sockets are never used by the child, and the child never
  closes them gracefully (that would end the parent's TLS sessions).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ._models import Origin

__all__ = ["Pool", "SharedPool"]

C = TypeVar("C")


class _Process:
    """Which process this is, as the number of forks that led to it: counted up in each
    forked child (``os.register_at_fork``), so that a pool's fork check is an attribute
    read, not a ``getpid()`` system call on every take and put."""

    forks = 0


def _forked() -> None:
    _Process.forks += 1


if hasattr(os, "register_at_fork"):  # no fork without it (Windows)
    os.register_at_fork(after_in_child=_forked)


class Pool(Generic[C]):
    """Idle connections by origin, at most ``max_idle`` per origin.

    ``alive`` is asked about an idle connection before it is handed out (a driver's check
    that the server has not closed it); ``discard`` is called for each connection the pool
    drops (closed by the server). ``abandon`` releases, in a forked child, a connection
    the parent made, without a word to the server (e.g. closing the file descriptor only).
    """

    def __init__(
        self,
        max_idle: int,
        alive: Callable[[C], bool],
        discard: Callable[[C], None],
        abandon: Callable[[C], None] | None = None,
    ) -> None:
        if max_idle < 0:
            raise ValueError("max_idle must be >= 0")
        self.max_idle = max_idle
        self._alive = alive
        self._discard = discard
        self._abandon = abandon
        self._idle: dict[Origin, list[C]] = {}
        self._lock = threading.Lock()
        self._process = _Process.forks

    def take(self, origin: Origin) -> C | None:
        """An idle connection to ``origin`` that is still open, or None."""
        dead: list[C] = []
        found: C | None = None
        with self._lock:
            if self._process != _Process.forks:
                self._forget_parent()
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if self._alive(conn):
                    found = conn
                    break
                dead.append(conn)
        for conn in dead:
            self._discard(conn)
        return found

    def put(self, origin: Origin, conn: C) -> bool:
        """Keep ``conn`` for reuse; False if the pool is full (the caller closes it)."""
        with self._lock:
            if self._process != _Process.forks:
                return False  # a connection made before fork, handed back in the child
            idle = self._idle.setdefault(origin, [])
            if len(idle) >= self.max_idle:
                return False
            idle.append(conn)
            return True

    def clear(self) -> list[C]:
        """Take every idle connection out (the caller closes them)."""
        with self._lock:
            taken = [conn for idle in self._idle.values() for conn in idle]
            self._idle.clear()
        return taken

    def idle_count(self, origin: Origin | None = None) -> int:
        with self._lock:
            if origin is not None:
                return len(self._idle.get(origin, ()))
            return sum(len(idle) for idle in self._idle.values())

    def _forget_parent(self) -> None:
        """In a forked child: let go of the parent's idle connections (the caller holds
        the lock)."""
        parents = [conn for idle in self._idle.values() for conn in idle]
        self._idle.clear()
        self._process = _Process.forks
        if self._abandon is not None:
            for conn in parents:
                self._abandon(conn)


class SharedPool(Generic[C]):
    """Connections that carry several requests at once (HTTP/2), by origin; bookkeeping
    only, no waiting.

    A shared connection stays in the pool while requests use it. :meth:`take` hands out
    one with room for another request (``room``), or None: the driver opens a new one
    and :meth:`add` s it (a call never waits for another's handshake, so the first calls
    to an origin, made at once, each open one). One that is no longer ``alive`` (the
    server sent GOAWAY, the connection broke) is dropped and handed to ``retire`` (which
    closes it once its last request is over). After a request, :meth:`release` says
    whether the connection may stay: not beyond ``max_idle`` idle ones (``idle``) per
    origin, as :class:`Pool`.
    """

    def __init__(
        self,
        max_idle: int,
        alive: Callable[[C], bool],
        room: Callable[[C], bool],
        idle: Callable[[C], bool],
        retire: Callable[[C], None],
    ) -> None:
        self.max_idle = max_idle
        self._alive = alive
        self._room = room
        self._idle_check = idle
        self._retire = retire
        self._shared: dict[Origin, list[C]] = {}
        self._lock = threading.Lock()
        self._process = _Process.forks

    def take(self, origin: Origin) -> C | None:
        """A connection to ``origin`` with room for one more request, or None."""
        dead: list[C] = []
        found: C | None = None
        with self._lock:
            if self._process != _Process.forks:  # forked: the parent's connections are not ours
                self._shared.clear()
                self._process = _Process.forks
            shared = self._shared.get(origin, [])
            for conn in list(shared):
                if not self._alive(conn):
                    shared.remove(conn)
                    dead.append(conn)
                elif found is None and self._room(conn):
                    found = conn
        for conn in dead:
            self._retire(conn)
        return found

    def add(self, origin: Origin, conn: C) -> None:
        with self._lock:
            self._shared.setdefault(origin, []).append(conn)

    def release(self, origin: Origin, conn: C) -> bool:
        """After a request on ``conn``: False if the caller should retire it (it left the
        pool, or it is idle beyond ``max_idle`` idle connections to ``origin``; it is
        then out of the pool)."""
        with self._lock:
            shared = self._shared.get(origin, [])
            if conn not in shared:
                return False
            if self._idle_check(conn):
                idle = sum(1 for each in shared if self._idle_check(each))
                if idle > self.max_idle:
                    shared.remove(conn)
                    return False
            return True

    def remove(self, conn: C) -> None:
        with self._lock:
            for shared in self._shared.values():
                if conn in shared:
                    shared.remove(conn)

    def clear(self) -> list[C]:
        """Take every connection out (the caller retires them)."""
        with self._lock:
            taken = [conn for shared in self._shared.values() for conn in shared]
            self._shared.clear()
        return taken

    def count(self, origin: Origin | None = None) -> int:
        with self._lock:
            if origin is not None:
                return len(self._shared.get(origin, ()))
            return sum(len(shared) for shared in self._shared.values())
