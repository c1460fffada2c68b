"""The bookkeeping of shared HTTP/2 connections (``SharedPool``: no I/O, no waiting) and
the TLS settings' ALPN siblings."""

from __future__ import annotations

from dataclasses import dataclass

from runtime_client.http import Origin, TLSSettings
from runtime_client.http._pool import SharedPool

A = Origin("https", "a.example", 443)
B = Origin("https", "b.example", 443)


@dataclass(eq=False)
class Conn:
    name: str
    streams: int = 0
    limit: int = 2
    alive: bool = True
    retired: bool = False


def pool(max_idle: int = 1) -> SharedPool[Conn]:
    def retire(conn: Conn) -> None:
        conn.retired = True

    return SharedPool(
        max_idle,
        alive=lambda c: c.alive,
        room=lambda c: c.streams < c.limit,
        idle=lambda c: c.streams == 0,
        retire=retire,
    )


def test_a_connection_is_shared_while_it_has_room() -> None:
    shared = pool()
    assert shared.take(A) is None  # nothing yet: the caller opens one and adds it
    first = Conn("first")
    shared.add(A, first)
    for _ in range(2):
        taken = shared.take(A)
        assert taken is first  # it stays in the pool for the others
        taken.streams += 1
    assert shared.take(A) is None  # full: the caller opens another (never waits)
    assert shared.take(B) is None
    assert shared.count(A) == 1


def test_a_dead_connection_is_dropped_and_retired() -> None:
    shared = pool()
    dead, good = Conn("dead", alive=False), Conn("good")
    shared.add(A, dead)
    shared.add(A, good)
    assert shared.take(A) is good
    assert dead.retired
    assert shared.count(A) == 1


def test_idle_connections_beyond_max_idle_leave() -> None:
    shared = pool(max_idle=1)
    one, two = Conn("one"), Conn("two", streams=1)
    shared.add(A, one)
    shared.add(A, two)
    assert shared.release(A, one) is True  # one idle connection may stay
    two.streams = 0
    assert shared.release(A, two) is False  # a second idle one goes
    assert shared.count(A) == 1
    assert shared.release(A, two) is False  # no longer in the pool
    shared.remove(one)
    assert shared.clear() == []


def test_alpn_siblings_share_trust_and_have_their_own_context() -> None:
    base = TLSSettings(verify=False)
    assert base.with_alpn(("http/1.1",)) is base
    h2_only = base.with_alpn(["h2"])
    assert h2_only is base.with_alpn(("h2",))  # one sibling per list: one context
    assert h2_only.verify is False
    assert h2_only.alpn == ("h2",)
    assert h2_only.context() is not base.context()
    assert h2_only.context().check_hostname is False  # the same (absent) verification


def test_a_factory_context_gets_the_siblings_alpn() -> None:
    import ssl

    made: list[ssl.SSLContext] = []

    def factory() -> ssl.SSLContext:
        context = ssl.create_default_context()
        made.append(context)
        return context

    base = TLSSettings(factory=factory)
    sibling = base.with_alpn(("h2", "http/1.1"))
    assert sibling.context() is made[-1]
    base.context()
    assert len(made) == 2  # each settings object builds its own, once
    assert sibling.context() is made[0]
