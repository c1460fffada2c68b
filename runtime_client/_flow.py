"""The seam between pure flows and I/O.

A *flow* is a generator that yields what it needs done and is sent the outcome::

    Send(request)  -> the shell sends it, the flow is sent the httpx.Response
                      (body read, or left unread when ``stream=True``)
    Read(response) -> the shell reads the body of a streamed response, sends it back
    Close(response)-> the shell closes a streamed response, sends None
    Sleep(seconds) -> the shell sleeps (time.sleep or the async library's sleep)
    Call(fn, args) -> the shell runs a blocking callable (off the event loop in async)

A transport failure while sending is thrown into the flow (``flow.throw(exc)``) so that
the flow, not the shell, decides whether to retry. The flow's return value is the
shell's return value. ``run_sync`` and ``run_async`` are the only drivers: every
operation and every credential provider that does I/O is written once as a flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

__all__ = [
    "AsyncSender",
    "Call",
    "Close",
    "Flow",
    "Read",
    "Send",
    "Sleep",
    "Step",
    "SyncSender",
    "run_async",
    "run_sync",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    request: httpx.Request
    stream: bool = False


@dataclass(frozen=True)
class Read:
    response: httpx.Response


@dataclass(frozen=True)
class Close:
    response: httpx.Response


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Call:
    """Run ``fn(*args)``, a blocking callable (file read, subprocess)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(default=())


Step = Send | Read | Close | Sleep | Call
Flow = Generator[Step, Any, T]


class SyncSender(Protocol):
    """What ``run_sync`` needs of its client: ``httpx.Client.send``."""

    def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response: ...


class AsyncSender(Protocol):
    """What ``run_async`` needs of its client: ``httpx.AsyncClient.send``."""

    async def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response: ...


def run_sync(flow: Flow[T], client: SyncSender) -> T:
    """Drive ``flow`` with a blocking ``httpx.Client``."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(step, Send):
                value = client.send(step.request, stream=step.stream)
            elif isinstance(step, Read):
                step.response.read()
                value = step.response
            elif isinstance(step, Close):
                step.response.close()
            elif isinstance(step, Sleep):
                if step.seconds > 0:
                    time.sleep(step.seconds)
            else:
                value = step.fn(*step.args)
        except Exception as exc:  # handed to the flow, which translates or re-raises
            error = exc


async def run_async(flow: Flow[T], client: AsyncSender) -> T:
    """Drive ``flow`` with an ``httpx.AsyncClient`` under asyncio or trio."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(step, Send):
                value = await client.send(step.request, stream=step.stream)
            elif isinstance(step, Read):
                await step.response.aread()
                value = step.response
            elif isinstance(step, Close):
                await step.response.aclose()
            elif isinstance(step, Sleep):
                if step.seconds > 0:
                    await _async_sleep(step.seconds)
            else:
                value = await _run_in_thread(step.fn, *step.args)
        except Exception as exc:
            error = exc


async def _async_sleep(seconds: float) -> None:
    import anyio  # httpx's own dependency; works under asyncio and trio

    await anyio.sleep(seconds)


async def _run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)
