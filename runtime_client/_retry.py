"""The retry policy: a pure decision per attempt, plus the shared retry quota and rate limiter.

The operation flow classifies what happened to an attempt into an :class:`AttemptOutcome` and
asks the policy for a delay. The policy never sleeps, sends or reads a socket; the flow yields
``Sleep(delay)`` and tries again, or gives up when the answer is ``None``::

    policy = RetryPolicy.from_config(resolved)       # one per client, shared by threads/tasks
    state = policy.start()                           # one per operation call
    attempt = 1
    while True:
        wait = state.send_delay()                    # adaptive mode only; else 0.0
        headers["amz-sdk-request"] = policy.request_header(attempt)
        outcome = ... send, classify ...
        delay = state.decide(outcome)
        if delay is None: finish (return or raise)
        sleep(delay); attempt += 1

**Standard mode** (botocore ``retries/standard.py`` as of botocore 1.44)::

    retry when   attempt < total_max_attempts (default 3)
            and  throttling (error code in THROTTLING_CODES, or HTTP 429)
                 or transient (code in TRANSIENT_CODES, HTTP 500/502/503/504,
                               a connection failure, a read timeout if opted in)
            and  the retry quota has capacity
    delay   t = random() * min(base * 2 ** (attempt - 1), 20)
            base = 1 s for throttling, 0.05 s otherwise
            an ``x-amz-retry-after`` header (ms) raises t to min(retry_after, t + 5)
    quota   shared bucket of 500; a retry takes 5 (throttling) or 14 (anything else);
            a 2xx answer gives back 1 if the call was never retried, else what its
            last retry took; an empty quota means no retry.

**Legacy mode** (botocore ``_retry.json``): 5 attempts in all by default; HTTP 429, 500,
502, 503, 504, 509, the legacy throttling codes and connection failures; delay
``random() * 2 ** (attempt - 1)`` with no cap; no quota.

**Adaptive mode**: standard mode plus botocore's client-side rate limiter (a token bucket whose
rate follows CUBIC: cut to 70 % of the measured send rate on a throttling answer, regrown on
successes). It only engages after the first throttling answer. Here, waiting for a token is a
delay the flow sleeps (:meth:`RetryState.send_delay`): the token is reserved at once, so
concurrent callers queue up instead of polling.

**The rule for "the request may have reached the model"**: once the whole request may have
been sent, a failure without an answer (a read timeout, a reset, a close) is not retried,
unless ``retry_after_send`` (an inference is not idempotent: a retry could run it twice, and
a model that timed out once will likely time out again). Before that point (no connection,
a TLS or proxy failure, a stale keep-alive connection found closed before the request went
out, a write that timed out before the request was complete) a retry is safe and is made;
so is the idle-close race: a kept-alive connection that the server closed, without a byte
of an answer, just as a request went out on it (the server never read that request).

Never retried: an answer whose body had started streaming to the caller, a failure after the
request was sent unless ``retry_after_send`` (above), 4xx answers other than throttling (400
ValidationError, 403, 424 ModelError, ...).
"""

from __future__ import annotations

import enum
import random as _random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal

from sigv4._record import record

from ._rate_limit import ClientRateLimiter

if TYPE_CHECKING:
    from ._resolve import ResolvedConfig

__all__ = [
    "AMZ_SDK_REQUEST_HEADER",
    "AttemptOutcome",
    "ClientRateLimiter",
    "RetryKind",
    "RetryPolicy",
    "RetryQuota",
    "RetryState",
    "THROTTLING_CODES",
    "TRANSIENT_CODES",
    "TransportFailure",
    "new_invocation_id",
]

AMZ_SDK_REQUEST_HEADER: Final = "amz-sdk-request"

#: Error codes botocore's standard mode treats as throttling.
THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
#: Error codes botocore's standard mode treats as transient.
TRANSIENT_CODES: Final = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
_TRANSIENT_STATUS: Final = frozenset({500, 502, 503, 504})
_THROTTLING_STATUS: Final = 429

_LEGACY_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
    }
)
_LEGACY_STATUS: Final = frozenset({429, 500, 502, 503, 504, 509})

_MAX_BACKOFF: Final = 20.0
_THROTTLING_BASE: Final = 1.0
_TRANSIENT_BASE: Final = 0.05
_RETRY_AFTER_MAX_EXTRA: Final = 5.0

_QUOTA_CAPACITY: Final = 500
_RETRY_COST: Final = 14
_THROTTLING_RETRY_COST: Final = 5
_NO_RETRY_INCREMENT: Final = 1

_DEFAULT_ATTEMPTS: Final = {"standard": 3, "adaptive": 3, "legacy": 5}


class TransportFailure(enum.Enum):
    """How an attempt failed when no usable response arrived."""

    #: No connection: DNS, refused, connect timeout, TLS handshake. Nothing reached the model.
    CONNECT = "connect"
    #: The request was sent but no response bytes came within ``read_timeout``.
    READ_TIMEOUT = "read_timeout"
    #: The connection broke (closed, reset) after the request may have been sent whole.
    AFTER_SEND = "after_send"
    #: The connection broke before the request was complete (nothing the model could run).
    OTHER = "other"


#: Failures after which the model may be running the request (see the module docstring).
_AFTER_SEND = frozenset({TransportFailure.READ_TIMEOUT, TransportFailure.AFTER_SEND})


class RetryKind(enum.Enum):
    """What an outcome is, before attempts and quota are considered."""

    SUCCESS = "success"
    THROTTLING = "throttling"
    TRANSIENT = "transient"
    NOT_RETRYABLE = "not_retryable"


@record(frozen=True)
class AttemptOutcome:
    """What happened to one attempt, as the flow classified it.

    ``attempt`` is 1 for the first attempt. ``status`` is the HTTP status when a response
    arrived; ``error_code`` the parsed error code (``"ModelError"``, ``"ThrottlingException"``)
    or None; ``transport_failure`` is set when no response arrived; ``response_started`` is
    True once body bytes were handed to the caller (a stream); ``retry_after`` is the raw
    ``x-amz-retry-after`` header (milliseconds), if any.

    A body that fails to arrive after the status line (a non-streaming call) is reported
    with both ``status`` and ``transport_failure``; it is classified by the failure, as
    botocore does. Once bytes of a stream have reached the caller, set ``response_started``:
    nothing is retried then.
    """

    attempt: int
    status: int | None = None
    error_code: str | None = None
    transport_failure: TransportFailure | None = None
    response_started: bool = False
    retry_after: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 1:
            raise ValueError(f"attempt must be an integer >= 1, got {self.attempt!r}")
        if self.status is None and self.transport_failure is None:
            raise ValueError("an outcome needs a status (a response) or a transport_failure")
        if self.status is not None and not 100 <= self.status <= 999:
            raise ValueError(f"status must be an HTTP status code, got {self.status!r}")

    @property
    def succeeded(self) -> bool:
        """A 2xx response with no error code."""
        return (
            self.transport_failure is None
            and self.status is not None
            and 200 <= self.status < 300
            and self.error_code is None
        )


class RetryQuota:
    """The shared retry token bucket (thread-safe; its lock is held only for arithmetic)."""

    def __init__(self, capacity: int = _QUOTA_CAPACITY) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"capacity must be an integer >= 0, got {capacity!r}")
        self._max = capacity
        self._available = capacity
        self._lock = threading.Lock()

    @property
    def available(self) -> int:
        return self._available

    @property
    def max_capacity(self) -> int:
        return self._max

    def acquire(self, amount: int) -> bool:
        """Take ``amount`` if available; False (and nothing taken) otherwise."""
        with self._lock:
            if amount > self._available:
                return False
            self._available -= amount
            return True

    def release(self, amount: int) -> None:
        """Give back ``amount``, never above the initial capacity."""
        with self._lock:
            self._available = min(self._max, self._available + amount)


class RetryPolicy:
    """Retry decisions for one client; its quota and limiter are shared by all its calls.

    ``random`` (uniform in [0, 1)) and ``clock`` (seconds, monotonic) are injectable so
    that tests are deterministic.
    """

    def __init__(
        self,
        mode: Literal["standard", "legacy", "adaptive"] = "standard",
        total_max_attempts: int | None = None,
        *,
        retry_after_send: bool = False,
        quota: RetryQuota | None = None,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in _DEFAULT_ATTEMPTS:
            raise ValueError(f"mode must be 'standard', 'legacy' or 'adaptive', got {mode!r}")
        if total_max_attempts is None:
            total_max_attempts = _DEFAULT_ATTEMPTS[mode]
        if (
            isinstance(total_max_attempts, bool)
            or not isinstance(total_max_attempts, int)
            or total_max_attempts < 1
        ):
            raise ValueError(
                f"total_max_attempts must be an integer >= 1, got {total_max_attempts!r}"
            )
        self.mode = mode
        self.total_max_attempts = total_max_attempts
        self.retry_after_send = retry_after_send
        self.quota = quota if quota is not None else RetryQuota()
        self.rate_limiter = ClientRateLimiter(clock) if mode == "adaptive" else None
        self._random = random

    @classmethod
    def from_config(
        cls,
        config: ResolvedConfig,
        *,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> RetryPolicy:
        """The policy a resolved client configuration asks for."""
        return cls(
            config.retry_mode,
            config.total_max_attempts,
            retry_after_send=config.retry_after_send,
            random=random,
            clock=clock,
        )

    def start(self) -> RetryState:
        """Per-call state: remembers the quota taken by the last retry, to give it back."""
        return RetryState(self)

    def request_header(self, attempt: int) -> str:
        """The ``amz-sdk-request`` header value for ``attempt`` (1-based)."""
        return f"attempt={attempt}; max={self.total_max_attempts}"

    def classify(self, outcome: AttemptOutcome) -> RetryKind:
        """What ``outcome`` is, ignoring attempts left and quota (pure)."""
        if outcome.succeeded:
            return RetryKind.SUCCESS
        if outcome.response_started:
            return RetryKind.NOT_RETRYABLE
        failure = outcome.transport_failure
        if failure is not None:
            if failure in _AFTER_SEND and not self.retry_after_send:
                return RetryKind.NOT_RETRYABLE
            return RetryKind.TRANSIENT
        code, status = outcome.error_code, outcome.status
        if self.mode == "legacy":
            if code in _LEGACY_CODES or status in _LEGACY_STATUS:
                return (
                    RetryKind.THROTTLING
                    if code in _LEGACY_CODES or status == _THROTTLING_STATUS
                    else RetryKind.TRANSIENT
                )
            return RetryKind.NOT_RETRYABLE
        if code in THROTTLING_CODES or status == _THROTTLING_STATUS:
            return RetryKind.THROTTLING
        if code in TRANSIENT_CODES or status in _TRANSIENT_STATUS:
            return RetryKind.TRANSIENT
        return RetryKind.NOT_RETRYABLE

    def answered(self, state: RetryState | None = None) -> None:
        """:meth:`decide` for a 2xx answer with no error code, which always stops: the
        same steps without an outcome to build (the client's hot path)."""
        if self.rate_limiter is not None:
            self.rate_limiter.record(False)
        self._give_back(state)

    def _give_back(self, state: RetryState | None) -> None:
        # botocore gives quota back on any 2xx answer (even a stream that fails later).
        held = state.held if state is not None else 0
        self.quota.release(held if held else _NO_RETRY_INCREMENT)
        if state is not None:
            state.held = 0

    def backoff(self, outcome: AttemptOutcome, kind: RetryKind) -> float:
        """The delay before the attempt after ``outcome`` (draws one random number)."""
        exponent = outcome.attempt - 1
        if self.mode == "legacy":
            return self._random() * 2.0**exponent
        base = _THROTTLING_BASE if kind is RetryKind.THROTTLING else _TRANSIENT_BASE
        delay = self._random() * min(base * 2.0**exponent, _MAX_BACKOFF)
        retry_after = _parse_retry_after(outcome.retry_after)
        if retry_after is not None:
            delay = max(delay, min(retry_after, delay + _RETRY_AFTER_MAX_EXTRA))
        return delay

    def decide(self, outcome: AttemptOutcome, state: RetryState | None = None) -> float | None:
        """Seconds to sleep before the next attempt, or None to stop (success or give up).

        Pass the call's :class:`RetryState` (or use ``state.decide``) so that a success after
        retries gives back the quota its last retry took, as botocore does.
        """
        kind = self.classify(outcome)
        if self.rate_limiter is not None:
            self.rate_limiter.record(kind is RetryKind.THROTTLING)
        if (
            outcome.transport_failure is None
            and outcome.status is not None
            and 200 <= outcome.status < 300
        ):
            self._give_back(state)
            return None
        if kind in (RetryKind.SUCCESS, RetryKind.NOT_RETRYABLE):
            return None
        if outcome.attempt >= self.total_max_attempts:
            return None
        if self.mode != "legacy":
            cost = _THROTTLING_RETRY_COST if kind is RetryKind.THROTTLING else _RETRY_COST
            if not self.quota.acquire(cost):
                return None
            if state is not None:
                state.held = cost
        return self.backoff(outcome, kind)


class RetryState:
    """The retry bookkeeping of one operation call (create with :meth:`RetryPolicy.start`)."""

    __slots__ = ("held", "policy")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        #: Quota taken by this call's last retry (returned if the call then succeeds).
        self.held = 0

    def send_delay(self) -> float:
        """Seconds to wait before sending an attempt (adaptive mode's rate limit; else 0)."""
        limiter = self.policy.rate_limiter
        return 0.0 if limiter is None else limiter.send_delay()

    def request_header(self, attempt: int) -> str:
        return self.policy.request_header(attempt)

    def decide(self, outcome: AttemptOutcome) -> float | None:
        """:meth:`RetryPolicy.decide` for this call."""
        return self.policy.decide(outcome, self)

    def answered(self) -> None:
        """:meth:`RetryPolicy.answered` for this call (a 2xx answer)."""
        self.policy.answered(self)


def _parse_retry_after(value: str | None) -> float | None:
    """``x-amz-retry-after`` in milliseconds as seconds; None when absent or invalid."""
    if value is None:
        return None
    try:
        ms = int(value.strip())
    except ValueError:
        return None
    return ms / 1000.0 if ms >= 0 else None


def new_invocation_id() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())`` (without importing ``uuid``).

    The bits come from ``random`` (seeded from ``os.urandom``, and reseeded in a forked
    child): an invocation id must be unique, not secret, and a system call per call for it
    costs more than the rest of the id.
    """
    value = (_random_bits(128) & _UUID_CLEAR) | _UUID_V4
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_random_bits = _random.getrandbits
# RFC 9562 version 4: version bits 0100 (bits 76-79), variant bits 10 (bits 62-63).
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_V4 = (0x4 << 76) | (0x2 << 62)
