"""The connection pool: the pure bookkeeping of ``runtime_client.http._pool``, and what the
drivers do with it (``test_transport_pool.py`` has unread answers and a real ``fork``).

* **Pool** (no I/O): connections are kept per origin, at most ``max_idle`` each (beyond
  it ``put`` says False and the caller closes); ``take`` hands out the most recently
  used (LIFO), drops the dead ones it meets (``discard``, called outside the pool's lock,
  so it may use the pool), and after ``fork`` lets the parent's connections go through
  ``abandon`` (never ``discard``: that would close them for the parent); ``clear`` takes
  every idle connection out for the caller to close.
* **Drivers** (blocking, asyncio, trio, through the clients): more concurrent calls than
  ``max_pool_connections`` each get a connection at once (no waiting, as boto3's
  urllib3 pool), and afterwards only ``max_pool_connections`` stay open; a pooled
  connection is reused; after a real ``fork`` the async client's child (asyncio, trio)
  calls on new connections and leaves the parent's open; every socket has
  ``TCP_NODELAY``, and ``SO_KEEPALIVE`` with ``Config(tcp_keepalive=True)``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from runtime_client import AsyncSageMakerRuntime, Config
from runtime_client.http import Origin, _pool
from runtime_client.http._pool import Pool
from tests.support import raw_client
from tests.support.forking import fork
from tests.support.raw_client import Driver, eventually
from tests.support.raw_server import RawServer, Reply, response

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make

KEYS: dict[str, Any] = {
    "region_name": "us-east-1",
    "aws_access_key_id": "AKIDEXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
A = Origin("https", "a.example", 443)
B = Origin("http", "b.example", 8080)


class Conn:
    """A stand-in connection: ``alive`` is what the pool asks before handing it out."""

    def __init__(self, name: str, alive: bool = True) -> None:
        self.name = name
        self.alive = alive

    def __repr__(self) -> str:
        return f"Conn({self.name})"


class Recorder:
    """A pool whose callbacks record what the pool did with each connection."""

    def __init__(self, max_idle: int = 10, abandon: bool = True) -> None:
        self.discarded: list[Conn] = []
        self.abandoned: list[Conn] = []
        self.pool: Pool[Conn] = Pool(
            max_idle,
            lambda conn: conn.alive,
            self.discarded.append,
            self.abandoned.append if abandon else None,
        )


# --- the pure pool ------------------------------------------------------------------------


def test_connections_are_kept_per_origin() -> None:
    pool = Recorder().pool
    a, b = Conn("a"), Conn("b")
    assert pool.take(A) is None  # nothing yet: the driver opens one
    assert pool.put(A, a)
    assert pool.put(B, b)
    assert pool.take(Origin("https", "a.example", 8443)) is None  # another port
    assert pool.take(Origin("http", "a.example", 443)) is None  # another scheme
    assert pool.take(A) is a
    assert pool.take(A) is None  # taken out: it belongs to its caller now
    assert (pool.idle_count(A), pool.idle_count(B), pool.idle_count()) == (0, 1, 1)


def test_at_most_max_idle_per_origin() -> None:
    pool = Recorder(max_idle=2).pool
    kept = [Conn(f"a{i}") for i in range(3)]
    assert [pool.put(A, conn) for conn in kept] == [True, True, False]
    assert pool.put(B, Conn("b"))  # the limit is per origin
    assert (pool.idle_count(A), pool.idle_count()) == (2, 3)
    assert pool.take(A) is kept[1]
    assert pool.put(A, kept[2])  # room again


def test_max_idle_zero_keeps_nothing_and_negative_is_refused() -> None:
    pool = Recorder(max_idle=0).pool
    assert pool.put(A, Conn("a")) is False
    assert pool.take(A) is None
    with pytest.raises(ValueError, match="max_idle must be >= 0"):
        Pool(-1, lambda conn: True, lambda conn: None)


def test_take_is_last_in_first_out() -> None:
    """The most recently used connection is the likeliest to be still open (and warm)."""
    pool = Recorder().pool
    conns = [Conn(name) for name in "abc"]
    for conn in conns:
        pool.put(A, conn)
    assert [pool.take(A), pool.take(A), pool.take(A), pool.take(A)] == [*reversed(conns), None]


def test_a_dead_connection_is_dropped_on_take() -> None:
    recorder = Recorder()
    pool = recorder.pool
    old, dead, newest_dead = Conn("old"), Conn("dead", alive=False), Conn("nd", alive=False)
    for conn in (old, dead, newest_dead):
        pool.put(A, conn)
    assert pool.take(A) is old
    assert recorder.discarded == [newest_dead, dead]  # each discarded once
    assert pool.idle_count() == 0
    assert recorder.abandoned == []


def test_discard_runs_outside_the_lock() -> None:
    """A discard callback may use the pool (closing a connection can run arbitrary code);
    the take is run in a thread so that a deadlock fails the test instead of hanging."""
    seen: list[int] = []
    pool: Pool[Conn] = Pool(4, lambda conn: conn.alive, lambda conn: seen.append(pool.idle_count()))
    pool.put(A, Conn("alive"))
    pool.put(A, Conn("dead", alive=False))
    taker = threading.Thread(target=pool.take, args=(A,), daemon=True)
    taker.start()
    taker.join(timeout=2)
    assert not taker.is_alive(), "discard was called with the pool's lock held"
    assert seen == [0]


def test_clear_takes_every_idle_connection_out() -> None:
    recorder = Recorder()
    pool = recorder.pool
    conns = [Conn("a1"), Conn("a2"), Conn("b1")]
    pool.put(A, conns[0])
    pool.put(A, conns[1])
    pool.put(B, conns[2])
    assert sorted(pool.clear(), key=repr) == conns  # the caller closes them
    assert (pool.idle_count(), pool.take(A), pool.take(B)) == (0, None, None)
    assert recorder.discarded == recorder.abandoned == []


def _pretend_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    # what os.register_at_fork's hook does in a forked child
    monkeypatch.setattr(_pool._Process, "forks", _pool._Process.forks + 1)


@pytest.mark.parametrize("abandon", [True, False], ids=["abandon", "no-abandon"])
def test_after_fork_the_parents_connections_are_abandoned(
    monkeypatch: pytest.MonkeyPatch, abandon: bool
) -> None:
    recorder = Recorder(abandon=abandon)
    pool = recorder.pool
    parents = [Conn("a"), Conn("b")]
    pool.put(A, parents[0])
    pool.put(B, parents[1])
    _pretend_forked(monkeypatch)
    assert pool.take(A) is None  # never the parent's connection
    assert pool.idle_count() == 0
    assert sorted(recorder.abandoned, key=repr) == (parents if abandon else [])
    assert recorder.discarded == []  # a discard would close them for the parent
    mine = Conn("child's")
    assert pool.put(A, mine)  # the child's own connections are pooled as usual
    assert pool.take(A) is mine


def test_after_fork_a_parents_connection_handed_back_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A response the parent opened, finished in the child: its connection is refused by
    the pool (the caller closes the child's copy)."""
    pool = Recorder().pool
    _pretend_forked(monkeypatch)
    assert pool.put(A, Conn("parent's")) is False
    assert pool.idle_count() == 0


# --- the drivers --------------------------------------------------------------------------

CALLS = 5
SIZE = 2


async def _invoke(client: Driver, body: bytes) -> bytes:
    """A call and its body; the blocking client in a worker thread, so that several run
    at once."""
    if client.kind == "sync":

        def call() -> bytes:
            answer = client.client.invoke_endpoint(EndpointName="ep", Body=body)
            data: bytes = answer["Body"].read()
            return data

        return await anyio.to_thread.run_sync(call)
    answer = await client.invoke(EndpointName="ep", Body=body)
    return await client.read(answer["Body"])


@pytest.mark.anyio
async def test_more_calls_than_the_pool_each_get_a_connection_at_once(
    make: Callable[..., Driver], server: RawServer
) -> None:
    client = make(config=Config(max_pool_connections=SIZE, retries={"total_max_attempts": 1}))
    gate = threading.Event()
    server.play(*[Reply((gate, response(200, body=b"held")))] * CALLS)
    answers: list[bytes] = []
    seen: list[tuple[bool, int]] = []

    async def one(i: int) -> None:
        answers.append(await _invoke(client, f"call-{i}".encode()))

    async def release_once_all_arrived() -> None:
        try:
            arrived = await eventually(lambda: len(server.requests) == CALLS, timeout=3)
            seen.append((arrived, server.open_connections))
        finally:
            gate.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for i in range(CALLS):
                group.start_soon(one, i)
            group.start_soon(release_once_all_arrived)
    assert seen == [(True, CALLS)]  # all in flight together, one connection each
    assert answers == [b"held"] * CALLS
    assert await eventually(lambda: server.open_connections == SIZE)
    assert server.closed_by_peer == CALLS - SIZE  # the extra ones were closed, not kept
    for i in range(SIZE + 1):
        assert await _invoke(client, f"after-{i}".encode()) == f"after-{i}".encode()
    assert server.accepted == CALLS  # the kept connections serve the next calls


CHILD_LIMIT = 10.0


def _run_in(backend: str, client: AsyncSageMakerRuntime, *bodies: bytes) -> list[str]:
    """Call once per body under a fresh event loop of ``backend``; the answers (or the
    errors) as text."""

    async def calls() -> list[str]:
        found = []
        for body in bodies:
            try:
                answer = await client.invoke_endpoint(EndpointName="ep", Body=body)
                found.append((await answer["Body"].read()).decode())
            except Exception as exc:  # reported, not raised: this may be the child
                found.append(f"{type(exc).__name__}: {exc}"[:300])
        return found

    return anyio.run(calls, backend=backend)


def _fork_and_call(backend: str, client: AsyncSageMakerRuntime) -> list[str]:
    """Fork; the child calls twice under a new loop and reports; the parent waits."""
    read_end, write_end = os.pipe()
    pid = fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.write(write_end, json.dumps(_run_in(backend, client, b"child", b"child-2")).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        deadline = time.monotonic() + CHILD_LIMIT
        data = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 0.05)
            if ready and not (piece := os.read(read_end, 65536)):
                break
            data += piece if ready else b""
        finished, status = os.waitpid(pid, os.WNOHANG)
        while not finished and time.monotonic() < deadline:
            time.sleep(0.02)
            finished, status = os.waitpid(pid, os.WNOHANG)
        if not finished:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the child did not finish within {CHILD_LIMIT}s")
        assert os.waitstatus_to_exitcode(status) == 0, "the child failed"
        return list(json.loads(data))
    finally:
        os.close(read_end)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork does not exist on this platform")
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_forked_child_of_the_async_client_abandons_the_parents_connection(
    server: RawServer, backend: str
) -> None:
    """The async client's pooled connection, made before ``fork``: the child's calls go
    on new connections, and the child lets the parent's go without closing it (the
    server still sees it open after the child has exited). The blocking client's fork
    is in ``test_transport_pool.py``."""
    config = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1})
    client = AsyncSageMakerRuntime(endpoint_url=server.url, config=config, **KEYS)
    try:
        assert _run_in(backend, client, b"pre-fork") == ["pre-fork"]
        assert client._transport is not None
        assert client._transport._pool.idle_count() == 1  # pooled before the fork
        assert _fork_and_call(backend, client) == ["child", "child-2"]
        child = {r.connection for r in server.requests if r.body.startswith(b"child")}
        assert child == {1}  # a new connection, then reused by the child
        assert server.connection(0).requests == 1  # only "pre-fork"
        assert server.connection(0).closed_by is None  # the child did not close it
        assert _run_in(backend, client, b"parent") == ["parent"]
    finally:
        anyio.run(client.aclose, backend=backend)


def _pooled_sockets(client: Driver) -> list[Any]:
    """The sockets of the client's idle connections, whichever driver made them."""
    pool = client.client._transport._pool
    sockets = []
    for conn in (conn for idle in pool._idle.values() for conn in idle):
        if hasattr(conn, "sock"):  # blocking
            sockets.append(conn.sock)
        elif hasattr(conn, "stream"):  # anyio (trio)
            sockets.append(conn._socket)
        else:  # asyncio
            sockets.append(conn.transport.get_extra_info("socket"))
    return sockets


@pytest.mark.anyio
@pytest.mark.parametrize("keepalive", [False, True], ids=["default", "tcp_keepalive"])
async def test_socket_options(
    make: Callable[..., Driver], server: RawServer, keepalive: bool
) -> None:
    client = make(config=Config(tcp_keepalive=keepalive))
    assert await _invoke(client, b"options") == b"options"
    [sock] = _pooled_sockets(client)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0) is keepalive
