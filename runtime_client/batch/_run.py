"""The decisions of a batch, without I/O: how many calls at once, which record goes next,
what a finished call means (a result, or the record sent again later), and in what order
results come out. The blocking driver (threads) and the async one (tasks) only feed it
records, perform the calls it starts, and hand back how each ended.

**Concurrency** (:class:`Window`) is additive-increase, multiplicative-decrease, between 1
and the ceiling the caller gives (where it starts). A congested answer (a throttling error,
``ModelNotReadyException``, HTTP 429 or 503, or an answer that needed the client's own
retries) cuts the window to 70 % (as botocore's adaptive retry mode cuts its send rate),
at most once per round trip: calls sent before the last cut were already counted. Each
other answer grows it by 1/window, so a full window of answers adds one call. The client
in adaptive retry mode (``Config(retries={"mode": "adaptive"})``, which the command line
uses) also paces each send with botocore's token bucket.

**A throttled record is not an error**: it is sent again after a jittered backoff
(0.5 s, doubling, at most 20 s), up to ``max_rounds`` times; after that its error is its
result. So is a record whose call never reached the endpoint once the client's own
retries were spent (``EndpointConnectionError``, ``ConnectTimeoutError``,
``ProxyConnectionError``: refused, unreachable, no connection in time, while an endpoint
restarts or scales), which also counts as congestion. Any other error is the record's
result at once: an ``SSLError`` will not heal by waiting, and after a
``ReadTimeoutError`` or ``ConnectionClosedError`` the model may have run the record.

**Order**: results come out as calls finish, or in input order (``ordered``), holding at
most ``4 x ceiling`` (and at least 64) records between the oldest unfinished one and the
newest started, so that memory stays flat whatever the input size.

**Resume**: records whose index is in ``done`` are skipped (counted, never sent).
"""

from __future__ import annotations

import heapq
import random as _random
import time
from collections import deque
from collections.abc import Callable, Container, Mapping
from typing import Any

from sigv4._record import field, field_names, record

from .._errors import ClientError, ParamValidationError, SageMakerRuntimeError
from .._retry import THROTTLING_CODES
from ._records import BatchRecord, BatchResult

__all__ = [
    "CONGESTION_CODES",
    "UNSENT_CODES",
    "BatchRun",
    "BatchStats",
    "Pending",
    "Window",
    "check_options",
    "error_info",
    "new_run",
]

#: Error codes that mean "too much, slow down": the record is sent again later.
CONGESTION_CODES = THROTTLING_CODES | {"ModelNotReadyException", "ServiceUnavailable"}
#: Transport errors of a call that never reached the endpoint (no connection was made):
#: sending the record again cannot run it twice.
UNSENT_CODES = frozenset({"EndpointConnectionError", "ConnectTimeoutError", "ProxyConnectionError"})
_CONGESTION_STATUS = frozenset({429, 503})
_BACKOFF, _MAX_BACKOFF = 0.5, 20.0


class Window:
    """How many calls may be in flight: AIMD between 1 and ``ceiling`` (see the module)."""

    BETA = 0.7

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.lowest = float(ceiling)
        self._sent = 0
        self._cut_after = 0  # calls numbered up to this one were sent before the last cut

    @property
    def size(self) -> int:
        return max(1, int(self.limit))

    def ticket(self) -> int:
        """Number a call as it is sent."""
        self._sent += 1
        return self._sent

    def record(self, ticket: int, congested: bool) -> None:
        """Move the window after the answer to call ``ticket``."""
        if not congested:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
        elif ticket > self._cut_after:
            self.limit = max(1.0, self.limit * self.BETA)
            self.lowest = min(self.lowest, self.limit)
            self._cut_after = self._sent


@record(frozen=True, slots=True)
class Pending:
    """A call the driver is to make: the record, which round this is, and its number."""

    record: BatchRecord
    rounds: int
    ticket: int


@record
class BatchStats:
    """What a batch has done so far (read by progress displays and tests); ``window`` and
    ``lowest_window`` are the concurrency window's size now and at its lowest."""

    concurrency: Window = field(repr=False)
    total: int | None = None  # when the caller knows it
    done: int = 0
    ok: int = 0
    skipped: int = 0
    resent: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # by code
    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    peak_in_flight: int = 0

    @property
    def window(self) -> float:
        return self.concurrency.limit

    @property
    def lowest_window(self) -> float:
        return self.concurrency.lowest

    @property
    def to_do(self) -> int | None:
        """How many records this run sends (``total`` less those already done), if known."""
        return None if self.total is None else self.total - self.skipped

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SHOWN)
        return f"BatchStats({shown})"


_SHOWN = (
    *(name for name in field_names(BatchStats) if name != "concurrency"),
    "window",
    "lowest_window",
)


def error_info(exc: SageMakerRuntimeError) -> dict[str, Any]:
    """``Code``, ``Message``, ``HTTPStatusCode`` (when the service answered) and the
    ``ResponseMetadata`` of an error; a transport error's code is its class name."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        metadata = exc.response.get("ResponseMetadata", {})
        return {
            "Code": error.get("Code") or type(exc).__name__,
            "Message": error.get("Message") or str(exc),
            "HTTPStatusCode": metadata.get("HTTPStatusCode"),
            "ResponseMetadata": metadata,
        }
    return {"Code": type(exc).__name__, "Message": str(exc), "HTTPStatusCode": None}


def check_options(concurrency: object, max_rounds: object, shared: Mapping[str, Any]) -> None:
    """A ``ParamValidationError`` naming each bad option, before anything is sent."""
    faults = []
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        faults.append(("concurrency", f"must be an integer >= 1, not {concurrency!r}"))
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        faults.append(("max_rounds", f"must be an integer >= 1, not {max_rounds!r}"))
    if "EndpointName" not in shared:
        faults.append(("EndpointName", "is required (the endpoint every record is sent to)"))
    if "Body" in shared:
        faults.append(("Body", "is each record's own: give the bodies as the records"))
    if faults:
        raise ParamValidationError(faults)


def new_run(options: Mapping[str, Any]) -> tuple[BatchRun, dict[str, Any]]:
    """The run of a batch and the parameters its records share, from the keywords of
    ``invoke_endpoint_batch`` (the batch's own options have their defaults here), after
    :func:`check_options`."""
    shared = dict(options)
    concurrency = shared.pop("concurrency", 16)
    max_rounds = shared.pop("max_rounds", 5)
    ordered, skip = shared.pop("ordered", True), shared.pop("skip", ())
    total = shared.pop("total", None)
    check_options(concurrency, max_rounds, shared)
    run = BatchRun(concurrency=concurrency, ordered=ordered, max_rounds=max_rounds, done=skip)
    run.stats.total = total
    return run, shared


def _congested(info: Mapping[str, Any]) -> bool:
    code = info["Code"]
    status = info.get("HTTPStatusCode")
    return code in CONGESTION_CODES or code in UNSENT_CODES or status in _CONGESTION_STATUS


class BatchRun:
    """One batch's state (see the module). A driver loops: :meth:`wants` new records, each
    :meth:`add`-ed (then :meth:`end_of_input`); :meth:`start` gives the calls to make;
    :meth:`finish` each call as it ends; emit what :meth:`add` and :meth:`finish` return;
    until :attr:`done`. While nothing finishes, wait at most :meth:`wait_time`."""

    def __init__(
        self,
        *,
        concurrency: int,
        ordered: bool = False,
        max_rounds: int = 5,
        done: Container[int] = (),
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        backoff: float = _BACKOFF,
    ) -> None:
        self.window = Window(concurrency)
        self.stats = BatchStats(self.window)
        self._ordered, self._max_rounds, self._skip = ordered, max_rounds, done
        self._clock, self._random, self._backoff = clock, random, backoff
        self._fresh: deque[BatchRecord] = deque()
        self._waiting: list[tuple[float, int, int, BatchRecord]] = []  # (due, index, rounds, r)
        self._order: deque[int] = deque()  # ordered: indexes not yet emitted, in input order
        self._ready: dict[int, BatchResult] = {}
        self._max_pending = max(4 * concurrency, 64)
        self._input_done = False

    @property
    def busy(self) -> bool:
        """Calls in flight, or records waiting to be sent again."""
        return bool(self.stats.in_flight or self._waiting)

    @property
    def done(self) -> bool:
        idle = not (self._fresh or self._waiting or self.stats.in_flight or self._ready)
        return self._input_done and idle

    def wants(self) -> int:
        """How many new records to :meth:`add` now."""
        if self._input_done:
            return 0
        room = self.window.size - self.stats.in_flight - len(self._fresh)
        if self._ordered:
            room = min(room, self._max_pending - len(self._order))
        return max(room, 0)

    def add(self, item: BatchRecord) -> list[BatchResult]:
        """Take one record of the input (in order); an item that is not a record, or the
        end of the batch for it when resuming, may give its result at once."""
        if item.index in self._skip:
            self.stats.skipped += 1
            return []
        if self._ordered:
            self._order.append(item.index)
        if item.problem is not None:
            error = {"Code": "ParamValidationError", "Message": item.problem}
            return self._result(BatchResult(item.index, item.id, None, None, error, 0))
        self._fresh.append(item)
        return []

    def end_of_input(self) -> None:
        self._input_done = True

    def start(self) -> list[Pending]:
        """The calls to make now: records due again first, then new ones, within the window."""
        now, calls, stats = self._clock(), [], self.stats
        while stats.in_flight < self.window.size:
            if self._waiting and self._waiting[0][0] <= now:
                _, _, rounds, item = heapq.heappop(self._waiting)
            elif self._fresh:
                rounds, item = 0, self._fresh.popleft()
            else:
                break
            stats.in_flight += 1
            calls.append(Pending(item, rounds + 1, self.window.ticket()))
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        return calls

    def wait_time(self) -> float | None:
        """Seconds until a record waiting to be sent again is due, if there is room for it."""
        if not self._waiting or self.stats.in_flight >= self.window.size:
            return None
        return max(0.0, self._waiting[0][0] - self._clock())

    def finish(
        self,
        call: Pending,
        body: bytes | None,
        response: Mapping[str, Any] | None,
        error: SageMakerRuntimeError | None,
    ) -> list[BatchResult]:
        """How ``call`` ended: its answer (body and members) or its error."""
        self.stats.in_flight -= 1
        item = call.record
        info = error_info(error) if error is not None else None
        if info is not None:
            congested = _congested(info)
        else:
            metadata = (response or {}).get("ResponseMetadata") or {}
            congested = bool(metadata.get("RetryAttempts"))
        self.window.record(call.ticket, congested)
        if info is not None and congested and call.rounds < self._max_rounds:
            delay = min(self._backoff * 2 ** (call.rounds - 1), _MAX_BACKOFF) * self._random()
            heapq.heappush(self._waiting, (self._clock() + delay, item.index, call.rounds, item))
            self.stats.resent += 1
            return []
        result = BatchResult(item.index, item.id, body, response, info, call.rounds)
        return self._result(result)

    def _result(self, result: BatchResult) -> list[BatchResult]:
        stats = self.stats
        stats.done += 1
        if result.error is None:
            stats.ok += 1
        else:
            code = result.error["Code"]
            stats.errors[code] = stats.errors.get(code, 0) + 1
        if not self._ordered:
            return [result]
        self._ready[result.index] = result
        out = []
        while self._order and self._order[0] in self._ready:
            out.append(self._ready.pop(self._order.popleft()))
        return out
