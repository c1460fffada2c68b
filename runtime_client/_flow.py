"""The seam between pure flows and I/O.

A *flow* is a generator that yields what it needs done and is sent the outcome::

    Send(request)  -> the shell sends it (a runtime_client.http Request), the flow is
                      sent the response (body read, or left unread when ``stream=True``)
    Read(response) -> the shell reads the body of a streamed response, sends it back
    Close(response)-> the shell closes a streamed response, sends None
    Sleep(seconds) -> the shell sleeps (time.sleep or the async library's sleep)
    Call(fn, args) -> the shell runs a blocking callable (off the event loop in async)

A transport failure while sending is thrown into the flow (``flow.throw(exc)``) so that
the flow, not the shell, decides whether to retry. The flow's return value is the
shell's return value. ``run_sync`` and ``run_async`` are the only drivers: every
operation and every credential provider that does I/O is written once as a flow.

The drivers own the flow's lifetime: it is closed when they return, however they end,
and when the call ends with an exception (a cancellation included) every streamed
response the flow opened is closed, so that no connection stays checked out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from typing import Any, Protocol, TypeVar

from sigv4._record import field, record

from .http._models import HTTPResponse, Request

__all__ = [
    "AsyncAnswer",
    "AsyncSender",
    "Call",
    "Close",
    "Flow",
    "Read",
    "Send",
    "Sleep",
    "Step",
    "SyncAnswer",
    "SyncSender",
    "run_async",
    "run_sync",
]

T = TypeVar("T")


@record(slots=True)  # built on every call: plain assignments
class Send:
    request: Request
    stream: bool = False


@record(slots=True)
class Read:
    #: A SyncAnswer or an AsyncAnswer: whatever the runner's sender returned.
    response: Any


@record(slots=True)
class Close:
    response: Any


@record(slots=True)
class Sleep:
    seconds: float


@record(slots=True)
class Call:
    """Run ``fn(*args)``, a blocking callable (file read, subprocess)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(default=())


Step = Send | Read | Close | Sleep | Call
Flow = Generator[Step, Any, T]


class SyncAnswer(HTTPResponse, Protocol):
    """A response as a blocking sender returns it: its body still to be read."""

    def read(self) -> bytes: ...

    def read_chunk(self) -> bytes | None:
        """The next piece of the body as it arrives (never decompressed), None at its end."""

    def close(self) -> None: ...


class AsyncAnswer(HTTPResponse, Protocol):
    """A response as an async sender returns it."""

    async def aread(self) -> bytes: ...

    async def aread_chunk(self) -> bytes | None: ...

    async def aclose(self) -> None: ...


class SyncSender(Protocol):
    """What ``run_sync`` needs: our ``SyncTransport``, or a lent ``httpx.Client`` behind
    its adapter (``runtime_client._httpx``)."""

    def send(self, request: Request) -> SyncAnswer: ...


class AsyncSender(Protocol):
    """What ``run_async`` needs: our async transport, or a lent ``httpx.AsyncClient``."""

    async def send(self, request: Request) -> AsyncAnswer: ...


class _Driving:
    """The bookkeeping of driving one flow, shared by both runners: which step is next,
    what to send or throw into the flow, its result, and the streamed responses opened
    for it (closed by the runner if the call ends with an exception)."""

    __slots__ = ("_error", "_flow", "_value", "opened", "result")

    def __init__(self, flow: Flow[Any]) -> None:
        self._flow = flow
        self._value: Any = None
        self._error: Exception | None = None
        self.opened: list[Any] = []
        self.result: Any = None

    def next_step(self) -> Step | None:
        """The flow's next step, or None once it has returned (see :attr:`result`)."""
        value, error = self._value, self._error
        self._value = self._error = None
        try:
            return self._flow.throw(error) if error is not None else self._flow.send(value)
        except StopIteration as stop:
            self.result = stop.value
            return None

    def done(self, step: Step, value: Any) -> None:
        if isinstance(step, Send) and step.stream:
            self.opened.append(value)
        self._value = value

    def failed(self, exc: Exception) -> None:
        """A step failed: the flow decides (it is thrown in at its next step)."""
        self._error = exc


def run_sync(flow: Flow[T], client: SyncSender) -> T:
    """Drive ``flow`` with a blocking sender (see :class:`SyncSender`). The flow is closed when this
    returns; if it ends with an exception, the streamed responses it opened are closed."""
    driving = _Driving(flow)
    try:
        while (step := driving.next_step()) is not None:
            try:
                driving.done(step, _perform_sync(step, client))
            except Exception as exc:  # handed to the flow, which translates or re-raises
                driving.failed(exc)
        return driving.result  # type: ignore[no-any-return]
    except BaseException:
        for response in driving.opened:
            with contextlib.suppress(Exception):
                response.close()
        raise
    finally:
        flow.close()


async def run_async(flow: Flow[T], client: AsyncSender) -> T:
    """Drive ``flow`` with an async sender under asyncio or trio; the flow's
    lifetime as in :func:`run_sync`. Cancellation at any step closes what was opened."""
    driving = _Driving(flow)
    try:
        while (step := driving.next_step()) is not None:
            try:
                driving.done(step, await _perform_async(step, client))
            except Exception as exc:
                driving.failed(exc)
        return driving.result  # type: ignore[no-any-return]
    except BaseException:
        await _close_all(driving.opened)
        raise
    finally:
        flow.close()


def _perform_sync(step: Step, client: SyncSender) -> Any:
    if isinstance(step, Send):
        response = client.send(step.request)
        if not step.stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        return response
    if isinstance(step, Read):
        step.response.read()
        return step.response
    if isinstance(step, Close):
        step.response.close()
        return None
    if isinstance(step, Sleep):
        if step.seconds > 0:
            time.sleep(step.seconds)
        return None
    return step.fn(*step.args)


async def _perform_async(step: Step, client: AsyncSender) -> Any:
    if isinstance(step, Send):
        response = await client.send(step.request)
        if not step.stream:
            try:
                await response.aread()
            except BaseException:
                await _close_all([response])
                raise
        return response
    if isinstance(step, Read):
        await step.response.aread()
        return step.response
    if isinstance(step, Close):
        await step.response.aclose()
        return None
    if isinstance(step, Sleep):
        if step.seconds > 0:
            await _async_sleep(step.seconds)
        return None
    return await _run_in_thread(step.fn, *step.args)


async def _close_all(responses: list[Any]) -> None:
    """Close ``responses``, shielded from the cancellation that may be under way (trio
    cancels every await in a cancelled scope; asyncio may cancel again)."""
    if not any(not response.is_closed for response in responses):
        return
    import anyio

    with anyio.CancelScope(shield=True):
        for response in responses:
            with contextlib.suppress(Exception):
                await response.aclose()


async def _async_sleep(seconds: float) -> None:
    import anyio  # httpx's own dependency; works under asyncio and trio

    await anyio.sleep(seconds)


async def _run_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)
