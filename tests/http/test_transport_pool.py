"""The connection pool as a user meets it: with answers left unread, and across
``os.fork`` (the storm of cancellations is in ``test_transport_storm.py``). Every scenario
talks to ``RawServer``, which counts the connections the client keeps open.

* **Unread answers** (blocking, asyncio, trio): 12 InvokeEndpoint answers whose ``Body``
  is never read nor closed (kept referenced) do not stop a 13th call, which answers at
  once, as with boto3, whose (urllib3) pool opens an extra connection beyond its size
  instead of waiting; once the unread answers are dropped and collected, their
  connections are closed (or given back) and the client keeps no more than its idle count.
* **fork**: a blocking client with a pooled connection; the process forks; parent and
  child call concurrently from threads with unique bodies: each gets its own answers, and
  the child never writes on a socket it inherited (the server sees only new connections
  carry the child's requests).
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from runtime_client import Config, HTTPClientError, SageMakerRuntime
from tests.support import raw_client
from tests.support.forking import fork
from tests.support.raw_client import Driver, eventually
from tests.support.raw_server import RawServer

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make

KEYS: dict[str, Any] = {
    "region_name": "us-east-1",
    "aws_access_key_id": "AKIDEXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
IDLE = 10  # Config's default max_pool_connections
PROMPT = 1.0


# --- answers left unread ------------------------------------------------------------------


async def _timed_call(client: Driver, body: bytes, unread: int) -> dict[str, Any]:
    start = time.monotonic()
    try:
        answer = await client.invoke(EndpointName="ep", Body=body)
    except HTTPClientError as exc:
        pytest.fail(f"a call with {unread} answers left unread failed: {exc!r}")
    elapsed = time.monotonic() - start
    assert elapsed < PROMPT, f"a call with {unread} answers left unread took {elapsed:.1f}s"
    return answer


@pytest.mark.anyio
async def test_unread_answers_do_not_block_the_next_call(
    make: Callable[..., Driver], server: RawServer
) -> None:
    client = make(config=Config(connect_timeout=2, retries={"total_max_attempts": 1}))
    kept = [await _timed_call(client, f"unread-{i}".encode(), i) for i in range(12)]
    answer = await _timed_call(client, b"thirteenth", 12)
    assert await client.read(answer["Body"]) == b"thirteenth"
    unread = {r.connection for r in server.requests[:12]}
    assert len(unread) == 12  # each unread answer holds its own connection

    del kept, answer
    gc.collect()
    for i in range(IDLE):
        answer = await _timed_call(client, f"after-{i}".encode(), 0)
        assert await client.read(answer["Body"]) == f"after-{i}".encode()
    later = {r.connection for r in server.requests[13:]}

    def released() -> bool:
        return all(server.connection(c).closed_by is not None or c in later for c in unread)

    assert await eventually(released), "connections of dropped answers are still held"
    assert await eventually(lambda: server.open_connections <= IDLE), (
        f"{server.open_connections} connections open at the server (idle count {IDLE})"
    )


# --- fork -----------------------------------------------------------------------------------

THREADS = 4
CALLS_PER_THREAD = 5
CHILD_LIMIT = 30.0


def _concurrent_calls(client: SageMakerRuntime, tag: str) -> list[str]:
    """THREADS threads each make CALLS_PER_THREAD calls with unique bodies; the problems."""
    problems: list[str] = []

    def worker(number: int) -> None:
        for i in range(CALLS_PER_THREAD):
            body = f"{tag}-{number}-{i}".encode()
            try:
                data = client.invoke_endpoint(EndpointName="ep", Body=body)["Body"].read()
            except Exception as exc:  # reported, not raised: this may be the child
                problems.append(f"{body!r}: {exc!r}"[:300])
            else:
                if data != body:
                    problems.append(f"{body!r} was answered {data[:40]!r}")

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=CHILD_LIMIT / 2)
    problems += [f"{tag} thread {t.name} hung" for t in threads if t.is_alive()]
    return problems


def _run_child(client: SageMakerRuntime, write_end: int) -> None:
    code = 1
    try:
        problems = _concurrent_calls(client, "child")
        os.write(write_end, json.dumps(problems[:20]).encode())
        code = 0
    finally:
        os._exit(code)


def _child_report(pid: int, read_end: int) -> list[str]:
    """What the child wrote, waiting at most CHILD_LIMIT; a hung child is killed."""
    deadline = time.monotonic() + CHILD_LIMIT
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([read_end], [], [], 0.1)
        if ready:
            piece = os.read(read_end, 65536)
            if not piece:
                break
            data += piece
    while time.monotonic() < deadline:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            assert os.waitstatus_to_exitcode(status) == 0, "the child failed"
            return list(json.loads(data))
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the child did not finish within {CHILD_LIMIT}s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork does not exist on this platform")
def test_forked_child_opens_its_own_connections(server: RawServer) -> None:
    config = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1})
    with SageMakerRuntime(endpoint_url=server.url, config=config, **KEYS) as client:
        assert client.invoke_endpoint(EndpointName="ep", Body=b"pre-fork")["Body"].read()
        [before] = server.requests  # its connection is now idle in the pool
        read_end, write_end = os.pipe()
        pid = fork()
        if pid == 0:
            _run_child(client, write_end)
        os.close(write_end)
        try:
            parent_problems = _concurrent_calls(client, "parent")
            child_problems = _child_report(pid, read_end)
        finally:
            os.close(read_end)
    child_requests = [r for r in server.requests if r.body.startswith(b"child-")]
    child = {r.connection for r in child_requests}
    parent = {r.connection for r in server.requests if not r.body.startswith(b"child-")}
    inherited = [r.body[:16] for r in server.requests if r.connection == before.connection]
    mixed = f"parent saw {parent_problems[:2]}, child saw {child_problems[:2]}"
    assert all(body.startswith((b"pre-fork", b"parent-")) for body in inherited), (
        f"the connection pooled before the fork carried {inherited} ({mixed})"
    )
    assert child.isdisjoint(parent), f"parent and child shared a connection ({mixed})"
    assert (parent_problems, child_problems) == ([], [])
    assert len(child_requests) == THREADS * CALLS_PER_THREAD
