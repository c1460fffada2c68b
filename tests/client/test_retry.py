"""The retry policy: classification, delays with a fixed random, quota, modes, botocore parity."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from botocore.retries import adaptive as bc_adaptive
from botocore.retries import bucket as bc_bucket
from botocore.retries import quota as bc_quota
from botocore.retries import standard as bc_standard
from botocore.retries import throttling as bc_throttling

from runtime_client._config import Config
from runtime_client._resolve import resolve_client_config
from runtime_client._retry import (
    AMZ_SDK_REQUEST_HEADER,
    AttemptOutcome,
    ClientRateLimiter,
    RetryKind,
    RetryPolicy,
    RetryQuota,
    TransportFailure,
)

CONNECT = TransportFailure.CONNECT
READ_TIMEOUT = TransportFailure.READ_TIMEOUT
OTHER = TransportFailure.OTHER


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


def failure(attempt: int, status: int | None = 503, code: str | None = None) -> AttemptOutcome:
    return AttemptOutcome(attempt=attempt, status=status, error_code=code)


# (what happened, retried in standard mode?)
CLASSIFICATION: list[tuple[AttemptOutcome, RetryKind]] = [
    (AttemptOutcome(1, status=429, error_code="ModelNotReadyException"), RetryKind.THROTTLING),
    (AttemptOutcome(1, status=429), RetryKind.THROTTLING),
    (AttemptOutcome(1, status=400, error_code="ThrottlingException"), RetryKind.THROTTLING),
    (AttemptOutcome(1, status=400, error_code="SlowDown"), RetryKind.THROTTLING),
    (AttemptOutcome(1, status=400, error_code="PriorRequestNotComplete"), RetryKind.THROTTLING),
    (AttemptOutcome(1, status=400, error_code="RequestTimeout"), RetryKind.TRANSIENT),
    (AttemptOutcome(1, status=408, error_code="RequestTimeoutException"), RetryKind.TRANSIENT),
    (AttemptOutcome(1, status=500, error_code="InternalFailure"), RetryKind.TRANSIENT),
    (AttemptOutcome(1, status=502), RetryKind.TRANSIENT),
    (AttemptOutcome(1, status=503, error_code="ServiceUnavailable"), RetryKind.TRANSIENT),
    (AttemptOutcome(1, status=504), RetryKind.TRANSIENT),
    (AttemptOutcome(1, transport_failure=CONNECT), RetryKind.TRANSIENT),
    (AttemptOutcome(1, transport_failure=OTHER), RetryKind.TRANSIENT),
    (AttemptOutcome(1, transport_failure=READ_TIMEOUT), RetryKind.NOT_RETRYABLE),
    (AttemptOutcome(1, status=424, error_code="ModelError"), RetryKind.NOT_RETRYABLE),
    (AttemptOutcome(1, status=400, error_code="ValidationError"), RetryKind.NOT_RETRYABLE),
    (
        AttemptOutcome(1, status=403, error_code="InvalidSignatureException"),
        RetryKind.NOT_RETRYABLE,
    ),
    (
        AttemptOutcome(1, status=530, error_code="InternalDependencyException"),
        RetryKind.NOT_RETRYABLE,
    ),
    (AttemptOutcome(1, status=404), RetryKind.NOT_RETRYABLE),
    (AttemptOutcome(1, status=503, response_started=True), RetryKind.NOT_RETRYABLE),
    (AttemptOutcome(1, status=200), RetryKind.SUCCESS),
    (AttemptOutcome(1, status=202), RetryKind.SUCCESS),
]


@pytest.mark.parametrize(("outcome", "kind"), CLASSIFICATION)
def test_standard_classification(outcome: AttemptOutcome, kind: RetryKind) -> None:
    policy = RetryPolicy(random=fixed(0.5))
    assert policy.classify(outcome) is kind
    delay = policy.decide(outcome)
    if kind in (RetryKind.THROTTLING, RetryKind.TRANSIENT):
        assert delay is not None
        assert delay > 0
    else:
        assert delay is None


def test_read_timeouts_are_retried_only_when_opted_in() -> None:
    outcome = AttemptOutcome(1, transport_failure=READ_TIMEOUT)
    assert RetryPolicy().decide(outcome) is None
    assert RetryPolicy(retry_after_send=True, random=fixed(0.5)).decide(outcome) == 0.025


def test_body_failure_after_the_status_line() -> None:
    quota = RetryQuota()
    policy = RetryPolicy(quota=quota, random=fixed(0.5))
    broken = AttemptOutcome(1, status=200, transport_failure=OTHER)
    assert policy.classify(broken) is RetryKind.TRANSIENT
    assert policy.decide(broken) == 0.025
    assert quota.available == 500 - 14  # a retry was paid for, nothing given back
    assert policy.decide(AttemptOutcome(1, status=200, transport_failure=READ_TIMEOUT)) is None
    opted_in = RetryPolicy(retry_after_send=True, random=fixed(0.5))
    assert opted_in.decide(AttemptOutcome(1, status=200, transport_failure=READ_TIMEOUT)) == 0.025


def test_nothing_is_retried_after_the_response_started_streaming() -> None:
    policy = RetryPolicy(retry_after_send=True, random=fixed(0.5))
    for outcome in (
        AttemptOutcome(1, transport_failure=READ_TIMEOUT, response_started=True),
        AttemptOutcome(1, transport_failure=OTHER, response_started=True),
        AttemptOutcome(1, status=200, error_code="ModelStreamError", response_started=True),
    ):
        assert policy.decide(outcome) is None


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        # throttling: random * min(1 * 2**(n-1), 20)
        (
            lambda n: failure(n, 429, "ModelNotReadyException"),
            [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0],
        ),
        # anything else: random * min(0.05 * 2**(n-1), 20)
        (lambda n: failure(n, 503), [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6]),
        (
            lambda n: AttemptOutcome(n, transport_failure=CONNECT),
            [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6],
        ),
    ],
)
def test_standard_delay_sequence(
    outcome: Callable[[int], AttemptOutcome], expected: list[float]
) -> None:
    policy = RetryPolicy("standard", total_max_attempts=8, random=fixed(0.5))
    state = policy.start()
    delays = [state.decide(outcome(n)) for n in range(1, 9)]
    assert delays == pytest.approx([*expected, None])  # the 8th attempt is the last


def test_backoff_cap_is_20_seconds() -> None:
    policy = RetryPolicy(total_max_attempts=30, random=fixed(0.999999))
    assert policy.decide(failure(20, 429)) == pytest.approx(20.0 * 0.999999)


def test_default_is_three_attempts_in_all() -> None:
    policy = RetryPolicy(random=fixed(0.5))
    state = policy.start()
    assert [state.decide(failure(n)) for n in (1, 2, 3)] == [0.025, 0.05, None]
    assert policy.request_header(1) == "attempt=1; max=3"
    assert state.request_header(3) == "attempt=3; max=3"
    assert AMZ_SDK_REQUEST_HEADER == "amz-sdk-request"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3000", 3.0),  # raised to the server's hint
        ("100000", 0.025 + 5.0),  # ... but never more than 5 s above the backoff
        ("10", 0.025),  # never below the backoff
        ("abc", 0.025),  # ignored when invalid
        ("-5", 0.025),
    ],
)
def test_retry_after_header(header: str, expected: float) -> None:
    policy = RetryPolicy(random=fixed(0.5))
    outcome = AttemptOutcome(1, status=503, retry_after=header)
    assert policy.decide(outcome) == pytest.approx(expected)


def test_quota_exhaustion_stops_retries() -> None:
    quota = RetryQuota()
    policy = RetryPolicy(quota=quota, random=fixed(0.5))
    # Non-throttling retries cost 14: 35 fit in 500 (10 left), the 36th does not.
    delays = [policy.decide(failure(1, 500)) for _ in range(36)]
    assert delays[:35] == [0.025] * 35
    assert delays[35] is None
    assert quota.available == 10
    # Throttling retries cost 5: two more fit.
    assert [policy.decide(failure(1, 429)) for _ in range(3)] == [0.5, 0.5, None]
    assert quota.available == 0


def test_quota_refunds() -> None:
    quota = RetryQuota()
    policy = RetryPolicy(quota=quota, random=fixed(0.5))
    state = policy.start()
    assert state.decide(failure(1, 500)) is not None
    assert state.decide(failure(2, 429)) is not None
    assert quota.available == 500 - 14 - 5
    # A success after retries gives back what the last retry took (5), once.
    assert state.decide(AttemptOutcome(3, status=200)) is None
    assert quota.available == 500 - 14
    # A first-attempt success gives back 1, never above the initial capacity.
    assert policy.start().decide(AttemptOutcome(1, status=200)) is None
    assert quota.available == 500 - 13
    for _ in range(20):
        policy.decide(AttemptOutcome(1, status=200))
    assert quota.available == 500
    # A non-retryable error gives nothing back.
    state = policy.start()
    state.decide(failure(1, 500))
    assert state.decide(failure(2, 400, "ValidationError")) is None
    assert quota.available == 486


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_answered_is_decide_for_a_success(mode: Any) -> None:
    """``answered()`` (what the client calls on a 2xx) leaves the quota and the adaptive
    limiter as ``decide()`` of a 2xx outcome leaves them."""

    def clock() -> float:
        return 0.0

    def state_of(thing: object) -> dict[str, Any]:
        return {k: v for k, v in vars(thing).items() if k not in ("_clock", "_lock", "_bucket")}

    sides = []
    for use_answered in (False, True):
        quota = RetryQuota()
        policy = RetryPolicy(mode, quota=quota, random=fixed(0.5), clock=clock)
        state = policy.start()
        assert state.decide(failure(1, 500)) is not None
        assert state.decide(failure(2, 429)) is not None
        if use_answered:
            state.answered()
            policy.answered()
        else:
            assert state.decide(AttemptOutcome(3, status=200)) is None
            assert policy.decide(AttemptOutcome(1, status=200)) is None
        limiter = policy.rate_limiter
        limits = None if limiter is None else (state_of(limiter), state_of(limiter._bucket))
        sides.append((quota.available, state.held, limits))
    assert sides[0] == sides[1]
    assert sides[0][0] == 500 - 14 + 1


def test_legacy_mode_has_no_quota_and_no_cap() -> None:
    quota = RetryQuota(capacity=0)
    policy = RetryPolicy("legacy", total_max_attempts=12, quota=quota, random=fixed(1.0))
    delays = [policy.decide(failure(n, 500)) for n in range(1, 13)]
    assert delays == [2.0**k for k in range(11)] + [None]
    assert RetryPolicy("legacy").total_max_attempts == 5
    assert RetryPolicy("legacy").request_header(2) == "attempt=2; max=5"


@pytest.mark.parametrize(
    ("outcome", "retried"),
    [
        (failure(1, 509), True),
        (failure(1, 429, "ModelNotReadyException"), True),
        (failure(1, 400, "ThrottlingException"), True),
        (failure(1, 400, "SlowDown"), False),  # not a legacy code
        (failure(1, 400, "RequestTimeout"), False),
        (failure(1, 424, "ModelError"), False),
        (AttemptOutcome(1, transport_failure=CONNECT), True),
        (AttemptOutcome(1, transport_failure=READ_TIMEOUT), False),
    ],
)
def test_legacy_classification(outcome: AttemptOutcome, retried: bool) -> None:
    assert (RetryPolicy("legacy", random=fixed(0.5)).decide(outcome) is not None) is retried


def test_quota_is_thread_safe() -> None:
    quota = RetryQuota()
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(quota.acquire(5) for _ in range(50))
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sum(granted) == 100  # 8 * 50 asks of 5 from 500: exactly 100 granted
    assert quota.available == 0


def test_quota_shared_by_policies() -> None:
    quota = RetryQuota(capacity=14)
    a = RetryPolicy(quota=quota, random=fixed(0.5))
    b = RetryPolicy(quota=quota, random=fixed(0.5))
    assert a.decide(failure(1, 500)) == 0.025
    assert b.decide(failure(1, 500)) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "fast"}, "mode must be 'standard', 'legacy' or 'adaptive'"),
        ({"total_max_attempts": 0}, "total_max_attempts must be an integer >= 1"),
        ({"total_max_attempts": True}, "total_max_attempts must be an integer >= 1"),
    ],
)
def test_policy_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempt": 0, "status": 500}, "attempt must be an integer >= 1"),
        ({"attempt": 1}, "needs a status"),
        ({"attempt": 1, "status": 42}, "status must be an HTTP status code"),
    ],
)
def test_outcome_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AttemptOutcome(**kwargs)


def test_from_config() -> None:
    resolved = resolve_client_config(
        region_name="us-east-1",
        endpoint_url=None,
        config=Config(retries={"mode": "legacy", "max_attempts": 2}, retry_read_timeouts=True),
        profile_name=None,
        environ={},
        profile_config={},
    )
    policy = RetryPolicy.from_config(resolved, random=fixed(1.0))
    assert (policy.mode, policy.total_max_attempts, policy.retry_after_send) == (
        "legacy",
        3,
        True,
    )
    assert policy.decide(AttemptOutcome(1, transport_failure=READ_TIMEOUT)) == 1.0


# --- botocore parity -----------------------------------------------------------------------


_INVOKE_ENDPOINT = (
    botocore.session.get_session()
    .get_service_model("sagemaker-runtime")
    .operation_model("InvokeEndpoint")
)


def _botocore_context(outcome: AttemptOutcome) -> bc_standard.RetryContext:
    http_response = None
    parsed = None
    exc = None
    if outcome.status is not None:
        headers = {} if outcome.retry_after is None else {"x-amz-retry-after": outcome.retry_after}
        http_response = AWSResponse("https://example.com", outcome.status, headers, None)
        parsed = {"Error": {"Code": outcome.error_code}} if outcome.error_code else {}
    else:
        exc = EndpointConnectionError(endpoint_url="https://example.com")
    return bc_standard.RetryContext(
        attempt_number=outcome.attempt,
        operation_model=_INVOKE_ENDPOINT,
        parsed_response=parsed,
        http_response=http_response,
        caught_exception=exc,
    )


PARITY = (
    [
        failure(n, status, code)
        for n in (1, 2, 3, 4, 7)
        for status, code in [
            (429, None),
            (400, "ThrottlingException"),
            (400, "TooManyRequestsException"),
            (400, "RequestTimeout"),
            (500, None),
            (502, None),
            (503, None),
            (504, None),
            (424, "ModelError"),
            (400, "ValidationError"),
            (403, "AccessDeniedException"),
            (200, None),
        ]
    ]
    + [AttemptOutcome(n, transport_failure=CONNECT) for n in (1, 2, 5)]
    + [
        AttemptOutcome(2, status=503, retry_after="1500"),
        AttemptOutcome(1, status=429, retry_after="50000"),
    ]
)


@pytest.mark.parametrize("outcome", PARITY)
def test_matches_botocore_standard_mode(outcome: AttemptOutcome) -> None:
    """Same retry decision, delay and quota cost as botocore's standard mode (no op model)."""
    ours_quota = RetryQuota()
    ours = RetryPolicy(total_max_attempts=5, quota=ours_quota, random=fixed(0.37))
    detector = bc_standard.ThrottlingErrorDetector(bc_standard.RetryEventAdapter())
    conditions = bc_standard.StandardRetryConditions(max_attempts=5)
    backoff = bc_standard.ExponentialBackoff(random=fixed(0.37), throttling_detector=detector)
    their_quota = bc_quota.RetryQuota()
    checker = bc_standard.RetryQuotaChecker(their_quota, detector)

    context = _botocore_context(outcome)
    expected: float | None = None
    if conditions.is_retryable(context) and checker.acquire_retry_quota(context):
        expected = backoff.delay_amount(context)
    assert ours.decide(outcome) == pytest.approx(expected)
    assert ours_quota.available == their_quota.available_capacity


def test_model_not_ready_is_retried_unlike_botocore() -> None:
    """A deliberate difference: botocore reads ModelNotReadyException (429) as a modeled,
    non-retryable error; the model is only loading, so we retry it as throttling."""
    outcome = failure(1, 429, "ModelNotReadyException")
    conditions = bc_standard.StandardRetryConditions(max_attempts=3)
    assert not conditions.is_retryable(_botocore_context(outcome))
    assert RetryPolicy(random=fixed(0.5)).decide(outcome) == 0.5


class _FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def current_time(self) -> float:
        return self.now


class _FlagDetector:
    def is_throttling_error(self, **kwargs: Any) -> bool:
        return bool(kwargs["throttled"])


def test_adaptive_rate_matches_botocore() -> None:
    clock = _FakeClock()
    ours = ClientRateLimiter(clock)
    theirs = bc_adaptive.ClientRateLimiter(
        rate_adjustor=bc_throttling.CubicCalculator(starting_max_rate=0, start_time=clock.now),
        rate_clocker=bc_adaptive.RateClocker(clock),
        token_bucket=bc_bucket.TokenBucket(max_rate=1, clock=clock),
        throttling_detector=_FlagDetector(),
        clock=clock,
    )
    pattern: Iterator[bool] = iter(([False] * 7 + [True]) * 6)
    for step, throttled in enumerate(pattern):
        clock.now += 0.13 + (step % 5) * 0.07
        ours.record(throttled)
        theirs.on_receiving_response(throttled=throttled)
        assert ours.max_rate == pytest.approx(theirs._token_bucket.max_rate), step
        assert ours.measured_rate == pytest.approx(theirs._rate_clocker.measured_rate), step


def test_adaptive_send_delay() -> None:
    clock = _FakeClock()
    policy = RetryPolicy("adaptive", total_max_attempts=4, random=fixed(0.5), clock=clock)
    state = policy.start()
    # Before any throttling the limiter is off.
    assert [state.send_delay() for _ in range(5)] == [0.0] * 5
    for _ in range(20):  # send ~10/s for 2 s
        clock.now += 0.1
        assert state.decide(AttemptOutcome(1, status=200)) is None
    assert state.decide(failure(1, 429)) == 0.5
    limiter = policy.rate_limiter
    assert limiter is not None
    assert limiter.enabled
    rate = limiter.max_rate
    assert 0.5 <= rate < 10
    # Tokens are reserved: back-to-back sends queue up at 1/rate intervals.
    delays = [state.send_delay() for _ in range(4)]
    assert delays == sorted(delays)
    assert delays[-1] - delays[-2] == pytest.approx(1 / rate)
    clock.now += 60  # after a quiet minute the bucket is full again
    assert state.send_delay() == 0.0


def test_adaptive_uses_standard_decisions() -> None:
    policy = RetryPolicy("adaptive", random=fixed(0.5))
    assert policy.total_max_attempts == 3
    assert policy.decide(failure(1, 424, "ModelError")) is None
    assert policy.decide(failure(1, 503)) == 0.025
    assert RetryPolicy("standard").start().send_delay() == 0.0
