"""Connections that a server ends, and answers that it cuts, as a user of the client sees them.

Each scenario runs three ways (the blocking client, the async client under asyncio and
under trio) against ``RawServer``, which counts connections and plays exact bytes:

* a kept-alive connection that the server closes while it is idle (well before the next
  call, at the moment of the next call, or as the next request arrives) is never handed
  to a call as if it were alive: the call succeeds on a new connection, or, when the
  close races the request, fails promptly with an error of the library's tree;
* a server that closes after a complete answer without ``Connection: close``;
* an answer cut mid-body (``Content-Length`` or chunked) is an error from the library's
  tree, never a short answer: for InvokeEndpoint when ``Body`` is read, for
  InvokeEndpointAsync (a 202 JSON answer) at the call.

Where a call must succeed on a new connection without the client's retries helping
(``total_max_attempts=1``), the transport itself must have noticed the dead connection.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from runtime_client import (
    Config,
    ConnectionClosedError,
    HTTPClientError,
    IncompleteReadError,
    ResponseStreamingError,
)
from tests.support import raw_client
from tests.support.raw_client import Driver, eventually
from tests.support.raw_server import (
    Close,
    RawServer,
    Reply,
    chunk,
    head,
    response,
)

pytestmark = pytest.mark.anyio

#: No retries by the client: the transport alone must cope.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=3)
#: Well under the read timeout: a call that notices a close does not wait for a timer.
PROMPT = 1.0
TEXT = (("Content-Type", "text/plain"),)


mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make


async def _echo(client: Driver, body: bytes) -> dict[str, Any]:
    answer = await client.invoke(EndpointName="ep", Body=body)
    assert await client.read(answer["Body"]) == body
    return answer


async def _answered_or_library_error(client: Driver, body: bytes) -> HTTPClientError | None:
    """Call and check the echo; None if answered, else the library's transport error
    (anything else propagates and fails the test)."""
    try:
        await _echo(client, body)
    except HTTPClientError as exc:
        return exc
    return None


# --- a kept-alive connection that the server closed ---------------------------------------


async def test_idle_connection_closed_well_before_the_call_is_not_reused(
    make: Callable[..., Driver], server: RawServer
) -> None:
    client = make(config=NO_RETRIES)
    server.play(Reply((response(200, TEXT, b"first"),), idle_close=0.1))
    first = await client.invoke(EndpointName="ep", Body=b"1")
    assert await client.read(first["Body"]) == b"first"
    assert await eventually(lambda: server.connection(0).closed_by == "server")
    await anyio.sleep(0.1)  # the FIN is at the client's socket well before the next call

    start = time.monotonic()
    second = await _echo(client, b"second")
    assert time.monotonic() - start < PROMPT
    assert second["ResponseMetadata"]["RetryAttempts"] == 0
    assert [(r.connection, r.index) for r in server.requests] == [(0, 0), (1, 0)]
    assert server.accepted == 2


async def test_connection_closed_as_the_next_request_arrives(
    make: Callable[..., Driver], server: RawServer
) -> None:
    """The server reads the next request's head and closes without a word (the body still
    unread, so the kernel resets the connection): the race a client cannot win. The call
    must end promptly, with its answer or an error of the library's tree."""
    client = make(config=Config(connect_timeout=2, read_timeout=3))
    server.play(Reply((response(200, TEXT, b"first"),)), Reply((Close(),), read_body=False))
    first = await client.invoke(EndpointName="ep", Body=b"1")
    assert await client.read(first["Body"]) == b"first"

    start = time.monotonic()
    error = await _answered_or_library_error(client, b"raced")
    assert time.monotonic() - start < PROMPT, "the call waited for a timer, not the close"
    assert error is None or server.url in str(error)
    assert server.requests[1].connection == 0  # the request did go to the closing connection
    await _echo(client, b"after")  # and the client is still usable


@pytest.mark.parametrize("offset", [-0.002, -0.001, 0.0, 0.001, 0.002])
async def test_idle_close_racing_the_next_call(
    make: Callable[..., Driver], server: RawServer, offset: float
) -> None:
    """The server's idle timer fires about when the next call starts (``offset`` seconds
    after it): whichever wins, the call ends promptly, answered or with a library error."""
    client = make(config=Config(connect_timeout=2, read_timeout=3))
    idle = 0.15
    server.play(Reply((response(200, TEXT, b"first"),), idle_close=idle))
    first = await client.invoke(EndpointName="ep", Body=b"1")
    assert await client.read(first["Body"]) == b"first"
    await anyio.sleep(idle + offset)

    start = time.monotonic()
    error = await _answered_or_library_error(client, b"raced")
    assert time.monotonic() - start < PROMPT
    assert error is None or server.url in str(error)
    await _echo(client, b"after")


@pytest.mark.parametrize("when", ["after-the-fin-arrived", "at-once"])
async def test_server_closing_after_its_answer_without_saying_so(
    make: Callable[..., Driver], server: RawServer, when: str
) -> None:
    """HTTP/1.1, a ``Content-Length`` answer without ``Connection: close``, then FIN.

    ``after-the-fin-arrived``: the pooled connection reads as closed before reuse, so the
    next request goes on a new connection; nothing is retried (retries are off).

    ``at-once``: the next call starts as soon as the first answer is read. Usually the FIN
    is in by then and the same happens; if it is not, the request goes out on the closing
    connection and the transport does **not** send it again by itself, since a written
    request may have been processed (the line is drawn in ``runtime_client.http._exchange``).
    The server's close then reads as ``ConnectionClosedError``, which the client's retry
    policy retries: with the default retries the call succeeds either way.
    """
    client = make(config=NO_RETRIES if when == "after-the-fin-arrived" else Config())
    server.play(Reply((response(200, TEXT, b"first"), Close())))
    first = await client.invoke(EndpointName="ep", Body=b"1")
    assert await client.read(first["Body"]) == b"first"
    if when == "after-the-fin-arrived":
        assert await eventually(lambda: server.connection(0).closed_by == "server")
        await anyio.sleep(0.05)

    second = await _echo(client, b"second")
    attempts = second["ResponseMetadata"]["RetryAttempts"]
    assert attempts == 0 if when == "after-the-fin-arrived" else attempts in (0, 1)
    answered = [r for r in server.requests if r.body == b"second"][-1]
    assert answered.connection == 1
    # the server thread notes its close just after the FIN, which the client may see first
    assert await eventually(lambda: server.connection(0).closed_by == "server")
    third = await _echo(client, b"third")  # the new connection is kept and reused
    assert third["ResponseMetadata"]["RetryAttempts"] == 0
    assert server.requests[-1].connection == 1
    assert server.accepted == 2


# --- answers cut mid-body -------------------------------------------------------------------

DATA = bytes(range(250)) * 4  # 1000 bytes


def _cut_at_400() -> Reply:
    headers = (("Content-Type", "application/octet-stream"), ("Content-Length", "1000"))
    return Reply((head(200, headers), DATA[:400], Close()))


def _cut_chunked(inside: bool) -> Reply:
    headers = (("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked"))
    steps: tuple[Any, ...] = (head(200, headers), chunk(DATA[:300]), chunk(DATA[300:600]))
    if inside:  # a chunk that says 400 bytes and brings 100
        steps += (b"190\r\n" + DATA[600:700],)
    return Reply((*steps, Close()))


@pytest.mark.parametrize("how", ["read", "chunks"])
async def test_body_cut_short_of_its_content_length(
    make: Callable[..., Driver], server: RawServer, how: str
) -> None:
    client = make()
    server.play(_cut_at_400())
    answer = await client.invoke(EndpointName="ep", Body=b"x")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    got: list[bytes] = []
    size = None if how == "read" else 100
    with pytest.raises(IncompleteReadError) as info:
        await client.chunks(answer["Body"], size, got)
    error = info.value
    assert (error.actual_bytes, error.expected_bytes) == (400, 1000)
    assert "400 read, but total bytes expected is 1000" in str(error)
    assert b"".join(got) == DATA[: len(b"".join(got))]  # pieces before the cut are exact
    assert len(b"".join(got)) <= 400
    assert len(server.requests) == 1  # a streamed answer is never retried


@pytest.mark.parametrize("inside", [False, True], ids=["between-chunks", "inside-a-chunk"])
async def test_chunked_body_cut(
    make: Callable[..., Driver], server: RawServer, inside: bool
) -> None:
    client = make()
    server.play(_cut_chunked(inside))
    answer = await client.invoke(EndpointName="ep", Body=b"x")
    got: list[bytes] = []
    with pytest.raises(ResponseStreamingError) as info:
        await client.chunks(answer["Body"], 100, got)
    assert server.url in str(info.value)
    assert re.search(r"(?i)clos|cut|incomplete|ended|chunk", str(info.value)), str(info.value)
    received = b"".join(got)
    assert received == DATA[: len(received)]
    assert len(received) <= (700 if inside else 600)
    assert len(server.requests) == 1


def _async_answer_cut(chunked: bool) -> Reply:
    body = json.dumps({"InferenceId": "id-" + "x" * 200}).encode()
    if chunked:
        headers = (("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"))
        return Reply((head(202, headers), chunk(body[:100]), Close()))
    headers = (("Content-Type", "application/json"), ("Content-Length", str(len(body))))
    return Reply((head(202, headers), body[:100], Close()))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_async_invocation_answer_cut(
    make: Callable[..., Driver], server: RawServer, chunked: bool
) -> None:
    """InvokeEndpointAsync reads its 202 JSON at the call: a cut answer is raised there
    (at most the default 3 attempts), never returned as a partial result."""
    client = make()
    server.play(*[_async_answer_cut(chunked)] * 3)
    start = time.monotonic()
    with pytest.raises((ConnectionClosedError, ResponseStreamingError)) as info:
        await client.invoke_async(EndpointName="ep", InputLocation="s3://bucket/in.json")
    assert server.url in str(info.value)
    assert 1 <= len(server.requests) <= 3
    assert time.monotonic() - start < PROMPT * 3
