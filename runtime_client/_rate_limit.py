"""Adaptive retry mode's client-side rate limiter (botocore's token bucket and CUBIC rate).

Pure bookkeeping behind one lock: :meth:`ClientRateLimiter.send_delay` reserves a token and
returns how long the caller must wait for it (the flow sleeps; nothing here sleeps), and
:meth:`ClientRateLimiter.record` moves the allowed rate after each answer: cut to 70 % of the
measured send rate on a throttling answer, regrown along a CUBIC curve on the others.
The limiter stays off until the first throttling answer.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Final

__all__ = ["ClientRateLimiter"]


class _TokenBucket:
    """botocore's client-side token bucket, with waits returned instead of slept."""

    _MIN_RATE: Final = 0.5

    def __init__(self, clock: Callable[[], float], max_rate: float = 1.0) -> None:
        self._clock = clock
        self._capacity = 0.0
        self._last: float | None = None
        self._fill_rate = max(max_rate, self._MIN_RATE)
        self._max_capacity = max(max_rate, 1.0)

    @property
    def max_rate(self) -> float:
        return self._fill_rate

    def set_max_rate(self, value: float) -> None:
        self._refill()
        self._fill_rate = max(value, self._MIN_RATE)
        self._max_capacity = value if value >= 1 else 1.0
        self._capacity = min(self._capacity, self._max_capacity)

    def reserve(self) -> float:
        """Take one token now; return how long the caller must wait until it is really there."""
        self._refill()
        self._capacity -= 1.0
        return 0.0 if self._capacity >= 0 else -self._capacity / self._fill_rate

    def _refill(self) -> None:
        now = self._clock()
        if self._last is None:
            self._last = now
            return
        self._capacity = min(
            self._max_capacity, self._capacity + (now - self._last) * self._fill_rate
        )
        self._last = now


class ClientRateLimiter:
    """botocore's adaptive-mode limiter: a token bucket driven by a CUBIC rate calculator.

    ``send_delay()`` before each attempt (0.0 until the first throttling answer);
    ``record(throttled)`` after each answer or transport failure. Thread-safe.
    """

    _SCALE: Final = 0.4  # CUBIC scale constant
    _BETA: Final = 0.7  # multiplicative decrease
    _MAX_RATE_ADJUST: Final = 2.0
    _SMOOTHING: Final = 0.8
    _BUCKET_SCALE: Final = 2.0  # measured-rate time buckets of 0.5 s

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._enabled = False
        self._bucket = _TokenBucket(clock)
        now = clock()
        # CUBIC state
        self._w_max = 0.0
        self._k = 0.0
        self._last_fail = now
        # Measured send rate
        self._measured = 0.0
        self._count = 0
        self._last_time_bucket = float(math.floor(now))

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def max_rate(self) -> float:
        return self._bucket.max_rate

    @property
    def measured_rate(self) -> float:
        return self._measured

    def send_delay(self) -> float:
        """Seconds to wait before sending (a token is reserved for the caller)."""
        with self._lock:
            return self._bucket.reserve() if self._enabled else 0.0

    def record(self, throttled: bool) -> None:
        """Update the send rate after an answer (``throttled``) or any other outcome."""
        with self._lock:
            now = self._clock()
            measured = self._record_rate(now)
            if throttled:
                rate = measured if not self._enabled else min(measured, self._bucket.max_rate)
                self._w_max = rate
                self._k = (rate * (1 - self._BETA) / self._SCALE) ** (1 / 3)
                self._last_fail = now
                new_rate = rate * self._BETA
                self._enabled = True
            else:
                new_rate = self._SCALE * (now - self._last_fail - self._k) ** 3 + self._w_max
            self._bucket.set_max_rate(min(new_rate, self._MAX_RATE_ADJUST * measured))

    def _record_rate(self, now: float) -> float:
        time_bucket = math.floor(now * self._BUCKET_SCALE) / self._BUCKET_SCALE
        self._count += 1
        if time_bucket > self._last_time_bucket:
            current = self._count / (time_bucket - self._last_time_bucket)
            self._measured = current * self._SMOOTHING + self._measured * (1 - self._SMOOTHING)
            self._count = 0
            self._last_time_bucket = time_bucket
        return self._measured
