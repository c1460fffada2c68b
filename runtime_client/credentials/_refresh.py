"""The refresh decisions of temporary credentials, written once: no locks, no I/O.

Temporary credentials are refreshed in two windows before they expire, as botocore does::

    ... fresh ......|<- advisory (15 min) ->|<- mandatory (10 min) ->| expiration
                    one caller refreshes;    every caller waits for
                    the others keep the      one refresh; its error
                    current credentials; a   is raised
                    failure only logs a
                    warning

:class:`RefreshState` decides (use the credentials, try an advisory refresh, wait for a
mandatory one, what a success or a failure leaves behind);
:class:`~._provider.RefreshingCredentialsProvider` only takes the locks and fetches.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import TYPE_CHECKING

from sigv4 import Credentials
from sigv4._record import record

from .._diagnostics import DEBUG, WARNING, log
from ._errors import CredentialsRetrievalError
from ._source import describe

if TYPE_CHECKING:
    from ._source import Clock, Source

__all__ = [
    "ADVISORY_REFRESH",
    "Fetch",
    "MANDATORY_REFRESH",
    "RefreshState",
    "TryAdvisory",
    "Use",
    "WaitAndRefresh",
]

_LOGGER = "runtime_client.credentials"  # see runtime_client._diagnostics


ADVISORY_REFRESH = timedelta(minutes=15)


MANDATORY_REFRESH = timedelta(minutes=10)


class _Window(Enum):
    """Where credentials stand in their lifetime (see the module docstring)."""

    FRESH = "fresh"
    ADVISORY = "advisory"
    MANDATORY = "mandatory"


@record(frozen=True)
class Use:
    """Return these credentials; nothing to refresh."""

    credentials: Credentials


@record(frozen=True)
class TryAdvisory:
    """Take the lock without waiting and ``begin``; if it is held, return ``current``."""

    current: Credentials


@record(frozen=True)
class WaitAndRefresh:
    """Wait for the lock, then ``begin``; ``seen`` counts the refreshes tried before."""

    seen: int


@record(frozen=True)
class Fetch:
    """Fetch (holding the lock), then report ``succeeded`` or ``failed``.

    ``keep`` is what an advisory refresh hands out when it fails; ``None`` for a
    mandatory refresh, whose failure is raised (and shared with its waiters).
    """

    keep: Credentials | None


class RefreshState:
    """The refresh decisions, written once for both shells: no locks, no I/O.

    ``plan`` and ``usable`` may be called without the lock (they only read);
    ``begin``, ``succeeded`` and ``failed`` only by the caller holding the thread lock.
    """

    def __init__(
        self,
        source: Source,
        clock: Clock,
        advisory_window: timedelta,
        mandatory_window: timedelta,
        advisory_retry: timedelta,
    ) -> None:
        self._source = source
        self._clock = clock
        self._advisory = advisory_window
        self._mandatory = mandatory_window
        self._advisory_retry = advisory_retry
        self.credentials: Credentials | None = None
        self._attempts = 0  # mandatory refreshes tried, to share a failure with waiters
        self._failure: Exception | None = None
        self._next_advisory_attempt = datetime.min.replace(tzinfo=timezone.utc)

    def _window(self, creds: Credentials | None) -> _Window:
        if creds is None:
            return _Window.MANDATORY
        if creds.expiration is None:
            return _Window.FRESH
        left = creds.expiration - self._clock()
        if left <= self._mandatory:
            return _Window.MANDATORY
        if left <= self._advisory:
            return _Window.ADVISORY
        return _Window.FRESH

    def plan(self) -> Use | TryAdvisory | WaitAndRefresh:
        """What a caller arriving now does first."""
        creds = self.credentials
        window = self._window(creds)
        if window is _Window.FRESH and creds is not None:
            return Use(creds)
        if window is _Window.ADVISORY and creds is not None:
            if self._clock() < self._next_advisory_attempt:  # a try failed moments ago
                return Use(creds)
            return TryAdvisory(creds)
        return WaitAndRefresh(self._attempts)

    def usable(self) -> Credentials | None:
        """The current credentials unless they are missing or in the mandatory window."""
        current = self.credentials
        if current is not None and self._window(current) is not _Window.MANDATORY:
            return current
        return None

    def begin(self, plan: TryAdvisory | WaitAndRefresh) -> Credentials | Fetch:
        """Under the lock: credentials someone else just got, or a fetch to make.

        Callers that waited through a failed mandatory refresh get that same error
        instead of each trying again in turn (as asyncio futures hand one exception to
        every awaiter); callers that arrive later try afresh.
        """
        if isinstance(plan, TryAdvisory):
            latest = self.credentials or plan.current
            if self._window(latest) is not _Window.ADVISORY:
                return latest
            return Fetch(keep=latest)
        current = self.usable()
        if current is not None:
            return current
        if self._attempts != plan.seen and self._failure is not None:
            raise self._failure
        return Fetch(keep=None)

    def succeeded(self, fetch: Fetch, creds: Credentials) -> Credentials:
        """Store what the fetch returned, unless it has already expired (a failure)."""
        if creds.expiration is not None and creds.expiration <= self._clock():
            expired = CredentialsRetrievalError(
                self._source.name,
                f"returned credentials that expired at {creds.expiration.isoformat()}",
            )
            return self.failed(fetch, expired)
        self.credentials = creds
        expiry = creds.expiration.isoformat() if creds.expiration else "never"
        log(_LOGGER, DEBUG, "credentials loaded from %s (expire: %s)", self._source.name, expiry)
        if fetch.keep is None:
            self._attempts += 1
            self._failure = None
        return creds

    def failed(self, fetch: Fetch, exc: Exception) -> Credentials:
        """After an advisory failure: the old credentials, with a warning (and no new
        try for ``advisory_retry``). A mandatory failure is recorded for the callers
        waiting on this refresh, and raised."""
        if fetch.keep is None:
            self._attempts += 1
            self._failure = exc
            raise exc
        self._next_advisory_attempt = self._clock() + self._advisory_retry
        expiry = fetch.keep.expiration.isoformat() if fetch.keep.expiration else "?"
        log(
            _LOGGER,
            WARNING,
            "refreshing credentials from %s failed; keeping the current ones (expire %s): %s",
            self._source.name,
            expiry,
            describe(exc),
        )
        return fetch.keep
