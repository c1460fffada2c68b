"""Cancelling an async call at every step it can wait in leaves no response open.

Each case starts a call, waits until it is at one step (awaiting the answer's headers,
reading an error body, sleeping before a retry, reading a 202 body, reading the answer's
``Body``, iterating a response stream), cancels the task there, and checks at once (no
``gc.collect()``) that every response the transport opened has been closed, then that
the client still answers the next call. The transport is the client's own, wrapped to
record what it opens: the test sees what a pool would keep checked out.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest

from runtime_client import AsyncSageMakerRuntime
from tests.support.h2_server import KEYS as H2_KEYS
from tests.support.h2_server import REGION, H2BidiServer, Script
from tests.support.sigv4_server import KEYS, Reply, SigV4Server, StreamReply, payload_part

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0


@pytest.fixture(scope="module")
def server() -> Iterator[SigV4Server]:
    with SigV4Server() as srv:
        yield srv


class _TrackedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self.inner = inner
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


@dataclass
class Tracking(httpx.AsyncBaseTransport):
    """The default async transport, recording each response stream it hands out."""

    inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)
    streams: list[_TrackedStream] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        tracked = _TrackedStream(response.stream)
        self.streams.append(tracked)
        response.stream = tracked
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def open_streams(self) -> int:
        return sum(not stream.closed for stream in self.streams)


@dataclass
class Case:
    """One cancel point: what the server plays, what the test calls, when it cancels."""

    operation: str
    replies: Callable[[threading.Event], list[Reply | StreamReply]]
    #: "headers": the request reached the server; "body": a response is open;
    #: "sleep": a first answer was read and closed; "user": the call returned.
    point: str
    read: bool = False  # the test reads the returned Body (the cancel point is that read)


def _error_body_in_pieces(gate: threading.Event, status: int, code: str) -> StreamReply:
    return StreamReply(
        steps=(b'{"message": "part', gate, b'ial"}'),
        status=status,
        headers=(("Content-Type", "application/json"), ("x-amzn-ErrorType", code)),
    )


def _throttled() -> Reply:
    # A throttling error waits a full second before the retry (base 1 s; random = 1).
    return Reply.error(400, "ThrottlingException", "slow down")


def _cases() -> list[Case]:
    cases = []
    for operation in ("invoke_endpoint", "invoke_endpoint_async", "stream"):
        cases += [
            Case(operation, lambda gate: [Reply(200, (), b"late", delay=3.0)], "headers"),
            Case(
                operation,
                lambda gate: [_error_body_in_pieces(gate, 424, "ModelError")],
                "body",
            ),
            Case(operation, lambda gate: [_throttled(), Reply(200, (), b"")], "sleep"),
        ]
    cases += [
        Case(
            "invoke_endpoint_async",
            lambda gate: [
                StreamReply(
                    steps=(b'{"InferenceId": ', gate, b'"x"}'),
                    status=202,
                    headers=(("Content-Type", "application/json"),),
                )
            ],
            "body",
        ),
        Case(
            "invoke_endpoint",
            lambda gate: [
                StreamReply(
                    steps=(b"first half ", gate, b"second half"),
                    headers=(("Content-Type", "text/plain"),),
                )
            ],
            "user",
            read=True,
        ),
        Case(
            "stream",
            lambda gate: [StreamReply(steps=(payload_part(b"one"), gate, payload_part(b"two")))],
            "user",
            read=True,
        ),
    ]
    return cases


CASES = _cases()


def _case_id(case: Case) -> str:
    return f"{case.operation}-{case.point}" + ("-read" if case.read else "")


async def _call(client: AsyncSageMakerRuntime, case: Case) -> Any:
    if case.operation == "invoke_endpoint":
        answer: Any = await client.invoke_endpoint(EndpointName="ep", Body=b"{}")
        if case.read:
            await answer["Body"].read()
        return answer
    if case.operation == "invoke_endpoint_async":
        return await client.invoke_endpoint_async(
            EndpointName="ep", InputLocation="s3://bucket/in.json"
        )
    answer = await client.invoke_endpoint_with_response_stream(EndpointName="ep", Body=b"{}")
    if case.read:
        async for _ in answer["Body"]:
            pass
    return answer


def _ready(case: Case, server: SigV4Server, tracking: Tracking, returned: list[Any]) -> bool:
    if case.point == "headers":
        return len(server.requests) == 1 and not tracking.streams
    if case.point == "body":
        return len(tracking.streams) == 1
    if case.point == "sleep":
        return len(tracking.streams) == 1 and tracking.open_streams == 0
    return bool(returned) or (len(tracking.streams) == 1 and case.read)


async def _cancel_when_ready(call: Callable[[], Awaitable[Any]], ready: Callable[[], bool]) -> bool:
    """Run ``call`` in a task and cancel it once ``ready()``; True if it was cancelled
    before it finished."""
    finished = False

    async def target() -> None:
        nonlocal finished
        await call()
        finished = True

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as group:
            group.start_soon(target)
            while not ready():
                await anyio.sleep(0.002)
            await anyio.sleep(0.02)  # let the call settle into the wait
            group.cancel_scope.cancel()
    return not finished


@pytest.mark.parametrize("case", CASES, ids=_case_id)
async def test_cancelled_call_leaves_no_response_open(server: SigV4Server, case: Case) -> None:
    server.reset()
    gate = threading.Event()
    server.play(*case.replies(gate))
    tracking = Tracking()
    http = httpx.AsyncClient(transport=tracking, timeout=TIMEOUT)
    client = AsyncSageMakerRuntime(
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=KEYS["AKIDEXAMPLE"][0],
        http_client=http,
    )
    client._ctx.retry_policy._random = lambda: 1.0  # a full backoff: a sleep to cancel
    returned: list[Any] = []

    async def call() -> None:
        returned.append(await _call(client, case))

    try:
        cancelled = await _cancel_when_ready(call, lambda: _ready(case, server, tracking, returned))
        assert cancelled, "the call finished before it could be cancelled"
        assert tracking.open_streams == 0, (
            f"{tracking.open_streams} of {len(tracking.streams)} responses left open"
        )
        gate.set()
        server.reset()  # the next call gets the default (echo) answer
        with anyio.fail_after(TIMEOUT):
            answer = await client.invoke_endpoint(EndpointName="ep", Body=b'{"next": 1}')
            assert json.loads(await answer["Body"].read()) == {"next": 1}
        assert tracking.open_streams == 0
    finally:
        gate.set()
        await client.aclose()
        await http.aclose()


# ----------------------------------------------------------------------------- bidirectional


@pytest.fixture(scope="module")
def h2_server() -> Iterator[H2BidiServer]:
    with H2BidiServer() as srv:
        srv.scripts["silent"] = Script(silent=True)
        yield srv


async def _bidi_wait(client: AsyncSageMakerRuntime, where: str) -> None:
    stream = await client.invoke_endpoint_with_bidirectional_stream(EndpointName="silent")
    async with stream:
        if where == "send":
            await stream.input_stream.send({"PayloadPart": {"Bytes": b"x" * 300_000}})
        elif where == "output":
            await stream.await_output()
        await stream.receive()  # the silent server never answers


@pytest.mark.parametrize("where", ["receive", "output", "send"])
async def test_cancelled_bidirectional_stream_closes_its_connection(
    h2_server: H2BidiServer, where: str
) -> None:
    client = AsyncSageMakerRuntime(
        region_name=REGION,
        endpoint_url=h2_server.url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=H2_KEYS["AKIDEXAMPLE"],
    )
    before = h2_server.connections
    try:
        cancelled = await _cancel_when_ready(
            lambda: _bidi_wait(client, where),
            lambda: h2_server.connections > before and bool(h2_server.logs),
        )
        assert cancelled
        with anyio.fail_after(TIMEOUT):
            while h2_server.closed_connections < h2_server.connections:
                await anyio.sleep(0.01)
    finally:
        await client.aclose()
