"""Credentials providers: the interface, the refresh holder and the default chain.

A provider hands out :class:`sigv4.Credentials` from sync code (``get_credentials``,
thread-safe) and async code (``aget_credentials``, asyncio or trio, never blocking the
event loop). Temporary credentials are refreshed in two windows before they expire,
as botocore does::

    ... fresh ......|<- advisory (15 min) ->|<- mandatory (10 min) ->| expiration
                    one caller refreshes;    every caller waits for
                    the others keep the      one refresh; its error
                    current credentials; a   is raised
                    failure only logs a
                    warning

The decisions (use the credentials, try an advisory refresh, wait for a mandatory one,
what a success or a failure leaves behind) are made once, by :class:`_RefreshState`,
which holds no lock and does no I/O; ``get_credentials`` and ``aget_credentials`` only
take the locks and fetch.

A single refresh serves all concurrent callers. Threads meet on one ``threading.Lock``.
Async tasks first meet on a lock of their own event loop (an asyncio or trio lock
cannot be shared across loops), so one task per loop goes on to take the thread lock,
which it waits for in a worker thread when a sync caller holds it. The fetch itself is
a flow (see :mod:`._sansio`) driven by ``run_sync`` or ``run_async`` with a client made
for that fetch and closed after it, so nothing is ever shared between event loops.
"""

from __future__ import annotations

import abc
import logging
import os
import ssl
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

import httpx

from sigv4 import Credentials

from ._credentials_errors import (
    CredentialsConfigError,
    CredentialsError,
    CredentialsRetrievalError,
)
from ._sansio import Call, Flow, run_async, run_sync

if TYPE_CHECKING:
    import anyio

    from ._credentials_chain import ChainContext
    from ._credentials_http import Clock, Source

# Only a client without explicit keys needs the chain (config files, STS, SSO, IMDS,
# container, process) and only async callers need anyio/asyncio: those modules are
# imported where they are first used, so that a client with static keys starts fast.

__all__ = [
    "ADVISORY_REFRESH",
    "MANDATORY_REFRESH",
    "ChainSource",
    "CredentialsProvider",
    "RefreshingCredentialsProvider",
    "default_credentials_provider",
    "static_credentials_provider",
]

logger = logging.getLogger("runtime_client.credentials")

ADVISORY_REFRESH = timedelta(minutes=15)
MANDATORY_REFRESH = timedelta(minutes=10)


class CredentialsProvider(abc.ABC):
    """Hands out credentials to sync and async callers, refreshing them as needed."""

    @abc.abstractmethod
    def get_credentials(self) -> Credentials:
        """Current credentials (thread-safe; may block while refreshing)."""

    @abc.abstractmethod
    async def aget_credentials(self) -> Credentials:
        """Current credentials, without blocking the event loop (asyncio or trio)."""


class _StaticProvider(CredentialsProvider):
    def __init__(self, credentials: Credentials) -> None:
        if not isinstance(credentials, Credentials):
            raise TypeError("credentials: must be a sigv4.Credentials")
        self._credentials = credentials

    def get_credentials(self) -> Credentials:
        return self._credentials

    async def aget_credentials(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"static_credentials_provider({self._credentials!r})"


def static_credentials_provider(credentials: Credentials) -> CredentialsProvider:
    """A provider that always returns ``credentials`` (never refreshed)."""
    return _StaticProvider(credentials)


def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    import certifi

    try:
        return ssl.create_default_context(cafile=cafile or certifi.where())
    except (OSError, ssl.SSLError) as exc:
        raise CredentialsConfigError(
            f"the CA bundle {cafile!r} (AWS_CA_BUNDLE / ca_bundle) cannot be loaded: "
            f"{type(exc).__name__}"
        ) from None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _describe(exc: BaseException) -> str:
    from ._credentials_http import describe

    return describe(exc)


class _Window(Enum):
    """Where credentials stand in their lifetime (see the module docstring)."""

    FRESH = "fresh"
    ADVISORY = "advisory"
    MANDATORY = "mandatory"


# What a caller does next, as decided by _RefreshState.plan() and .begin(). The shells
# (get_credentials, aget_credentials) only take the locks and fetch.


@dataclass(frozen=True)
class _Use:
    """Return these credentials; nothing to refresh."""

    credentials: Credentials


@dataclass(frozen=True)
class _TryAdvisory:
    """Take the lock without waiting and ``begin``; if it is held, return ``current``."""

    current: Credentials


@dataclass(frozen=True)
class _WaitAndRefresh:
    """Wait for the lock, then ``begin``; ``seen`` counts the refreshes tried before."""

    seen: int


@dataclass(frozen=True)
class _Fetch:
    """Fetch (holding the lock), then report ``succeeded`` or ``failed``.

    ``keep`` is what an advisory refresh hands out when it fails; ``None`` for a
    mandatory refresh, whose failure is raised (and shared with its waiters).
    """

    keep: Credentials | None


class _RefreshState:
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

    def plan(self) -> _Use | _TryAdvisory | _WaitAndRefresh:
        """What a caller arriving now does first."""
        creds = self.credentials
        window = self._window(creds)
        if window is _Window.FRESH and creds is not None:
            return _Use(creds)
        if window is _Window.ADVISORY and creds is not None:
            if self._clock() < self._next_advisory_attempt:  # a try failed moments ago
                return _Use(creds)
            return _TryAdvisory(creds)
        return _WaitAndRefresh(self._attempts)

    def usable(self) -> Credentials | None:
        """The current credentials unless they are missing or in the mandatory window."""
        current = self.credentials
        if current is not None and self._window(current) is not _Window.MANDATORY:
            return current
        return None

    def begin(self, plan: _TryAdvisory | _WaitAndRefresh) -> Credentials | _Fetch:
        """Under the lock: credentials someone else just got, or a fetch to make.

        Callers that waited through a failed mandatory refresh get that same error
        instead of each trying again in turn (as asyncio futures hand one exception to
        every awaiter); callers that arrive later try afresh.
        """
        if isinstance(plan, _TryAdvisory):
            latest = self.credentials or plan.current
            if self._window(latest) is not _Window.ADVISORY:
                return latest
            return _Fetch(keep=latest)
        current = self.usable()
        if current is not None:
            return current
        if self._attempts != plan.seen and self._failure is not None:
            raise self._failure
        return _Fetch(keep=None)

    def succeeded(self, fetch: _Fetch, creds: Credentials) -> Credentials:
        """Store what the fetch returned, unless it has already expired (a failure)."""
        if creds.expiration is not None and creds.expiration <= self._clock():
            expired = CredentialsRetrievalError(
                self._source.name,
                f"returned credentials that expired at {creds.expiration.isoformat()}",
            )
            return self.failed(fetch, expired)
        self.credentials = creds
        expiry = creds.expiration.isoformat() if creds.expiration else "never"
        logger.debug("credentials loaded from %s (expire: %s)", self._source.name, expiry)
        if fetch.keep is None:
            self._attempts += 1
            self._failure = None
        return creds

    def failed(self, fetch: _Fetch, exc: Exception) -> Credentials:
        """After an advisory failure: the old credentials, with a warning (and no new
        try for ``advisory_retry``). A mandatory failure is recorded for the callers
        waiting on this refresh, and raised."""
        if fetch.keep is None:
            self._attempts += 1
            self._failure = exc
            raise exc
        self._next_advisory_attempt = self._clock() + self._advisory_retry
        expiry = fetch.keep.expiration.isoformat() if fetch.keep.expiration else "?"
        logger.warning(
            "refreshing credentials from %s failed; keeping the current ones (expire %s): %s",
            self._source.name,
            expiry,
            _describe(exc),
        )
        return fetch.keep


def _loop_key() -> object:
    """The running event loop (asyncio) or trio run, to key per-loop locks."""
    import asyncio  # only reached by async callers, which have imported it already

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        import trio  # only reached under trio

        return trio.lowlevel.current_trio_token()


class _OnDemandClient:
    """The ``httpx.Client`` of one fetch, made (with ``prepare()``'s TLS context) on its
    first request. Most fetches make none (environment variables, a profile's keys, a
    process), and the TLS context loads a CA bundle: tens of milliseconds saved."""

    def __init__(self, prepare: Callable[[], ssl.SSLContext]) -> None:
        self._prepare = prepare
        self._client: httpx.Client | None = None

    def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        if self._client is None:
            self._client = httpx.Client(verify=self._prepare())
        return self._client.send(request, stream=stream)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _AsyncOnDemandClient:
    """The async twin of :class:`_OnDemandClient` (``prepare`` runs in a worker thread)."""

    def __init__(self, prepare: Callable[[], ssl.SSLContext]) -> None:
        self._prepare = prepare
        self._client: httpx.AsyncClient | None = None

    async def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        if self._client is None:
            import anyio.to_thread

            context = await anyio.to_thread.run_sync(self._prepare)
            self._client = httpx.AsyncClient(verify=context)
        return await self._client.send(request, stream=stream)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class RefreshingCredentialsProvider(CredentialsProvider):
    """Holds credentials from ``source`` and refreshes them before they expire.

    ``prepare`` is a blocking callable returning the TLS context for fetches (it may
    read config files); it runs in a worker thread under async callers, and only when a
    fetch makes its first HTTP request (see :class:`_OnDemandClient`). ``clock`` is
    injectable for tests.
    """

    def __init__(
        self,
        source: Source,
        *,
        prepare: Callable[[], ssl.SSLContext] | None = None,
        clock: Clock = _utcnow,
        advisory_window: timedelta = ADVISORY_REFRESH,
        mandatory_window: timedelta = MANDATORY_REFRESH,
        advisory_retry: timedelta = timedelta(seconds=30),
        wait_timeout: float = 300.0,
    ) -> None:
        if mandatory_window > advisory_window:
            raise ValueError("mandatory_window: must not be longer than advisory_window")
        self._source = source
        self._prepare = prepare or (lambda: _ssl_context(None))
        self._wait_timeout = wait_timeout
        self._refresh = _RefreshState(
            source, clock, advisory_window, mandatory_window, advisory_retry
        )
        self._lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[Any, anyio.Lock] = weakref.WeakKeyDictionary()
        self._loop_locks_guard = threading.Lock()

    def __repr__(self) -> str:
        creds = self._refresh.credentials
        expiry = creds.expiration.isoformat() if creds and creds.expiration else None
        return f"RefreshingCredentialsProvider(source={self._source.name!r}, expiration={expiry!r})"

    # -- shared by the shells --------------------------------------------------------

    def _translate(self, exc: Exception) -> Exception:
        from ._awsconfig import ProfileNotFoundError

        if isinstance(exc, (CredentialsError, ProfileNotFoundError, ValueError)):
            return exc
        return CredentialsRetrievalError(self._source.name, _describe(exc))

    def _timed_out(self) -> CredentialsRetrievalError:
        return CredentialsRetrievalError(
            self._source.name, f"timed out after {self._wait_timeout} s waiting for a refresh"
        )

    # -- sync shell --------------------------------------------------------------------

    def _fetch_sync(self) -> Credentials:
        client = _OnDemandClient(self._prepare)
        try:
            return run_sync(self._source.fetch(), client)
        except Exception as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from exc
        finally:
            client.close()

    def get_credentials(self) -> Credentials:
        plan = self._refresh.plan()
        if isinstance(plan, _Use):
            return plan.credentials
        if isinstance(plan, _TryAdvisory):
            if not self._lock.acquire(blocking=False):
                return plan.current  # another caller is refreshing
        elif not self._lock.acquire(timeout=self._wait_timeout):
            raise self._timed_out()
        return self._refresh_holding_lock(plan)

    def _refresh_holding_lock(self, plan: _TryAdvisory | _WaitAndRefresh) -> Credentials:
        try:
            step = self._refresh.begin(plan)
            if isinstance(step, Credentials):
                return step
            try:
                creds = self._fetch_sync()
            except Exception as exc:
                return self._refresh.failed(step, exc)
            return self._refresh.succeeded(step, creds)
        finally:
            self._lock.release()

    # -- async shell -------------------------------------------------------------------

    async def _fetch_async(self) -> Credentials:
        client = _AsyncOnDemandClient(self._prepare)
        try:
            return await run_async(self._source.fetch(), client)
        except Exception as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from exc
        finally:
            await client.aclose()

    def _loop_lock(self) -> anyio.Lock:
        import anyio

        key = _loop_key()
        with self._loop_locks_guard:
            lock = self._loop_locks.get(key)
            if lock is None:
                lock = self._loop_locks[key] = anyio.Lock()
            return lock

    async def _acquire_thread_lock(self) -> None:
        if self._lock.acquire(blocking=False):
            return
        # A sync caller or another event loop is refreshing: wait in a worker thread.
        # The wait is not abandoned on cancellation, so a lock taken is always released.
        import anyio.to_thread

        acquired = await anyio.to_thread.run_sync(self._lock.acquire, True, self._wait_timeout)
        if not acquired:
            raise self._timed_out()

    async def aget_credentials(self) -> Credentials:
        plan = self._refresh.plan()
        if isinstance(plan, _Use):
            return plan.credentials
        if isinstance(plan, _TryAdvisory):
            if not self._lock.acquire(blocking=False):
                return plan.current  # another caller is refreshing
            return await self._arefresh_holding_lock(plan)
        async with self._loop_lock():
            # One task per event loop goes on to the thread lock; the tasks queued
            # behind it here find its credentials without touching the thread lock.
            current = self._refresh.usable()
            if current is not None:
                return current
            await self._acquire_thread_lock()
            return await self._arefresh_holding_lock(plan)

    async def _arefresh_holding_lock(self, plan: _TryAdvisory | _WaitAndRefresh) -> Credentials:
        try:
            step = self._refresh.begin(plan)
            if isinstance(step, Credentials):
                return step
            try:
                creds = await self._fetch_async()
            except Exception as exc:
                return self._refresh.failed(step, exc)
            return self._refresh.succeeded(step, creds)
        finally:
            self._lock.release()


class ChainSource:
    """The default chain as one source: resolved on first fetch, then the winner refetched.

    :meth:`prepare` reads the config files once (blocking) and builds the TLS context
    from ``AWS_CA_BUNDLE`` / ``ca_bundle``.
    """

    def __init__(
        self,
        profile_name: str | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Clock = _utcnow,
        container_retry_delay: float = 1.0,
    ) -> None:
        self._profile_name = profile_name
        self._environ = environ
        self._clock = clock
        self._container_retry_delay = container_retry_delay
        self._context: ChainContext | None = None
        self._ssl: ssl.SSLContext | None = None
        self.chosen: Source | None = None

    @property
    def name(self) -> str:
        return self.chosen.name if self.chosen is not None else "the default credential chain"

    def prepare(self) -> ssl.SSLContext:
        """The TLS context for the chain's HTTP requests (reads the config files first)."""
        if self._ssl is None:
            from ._credentials_chain import ca_bundle

            self._ssl = _ssl_context(ca_bundle(self._load_context()))
        return self._ssl

    def _load_context(self) -> ChainContext:
        """Read the config files once (blocking: a flow asks for it through ``Call``)."""
        if self._context is None:
            from ._awsconfig import ProfileNotFoundError, load_aws_config, select_profile
            from ._credentials_chain import ChainContext

            environ = os.environ if self._environ is None else self._environ
            name, explicit = select_profile(self._profile_name, environ)
            config = load_aws_config(environ)
            if explicit and not config.has_profile(name):
                raise ProfileNotFoundError(name, config.config_file, config.credentials_file)
            context = ChainContext(
                environ=environ,
                config=config,
                profile_name=name,
                profile_from_argument=self._profile_name is not None,
                clock=self._clock,
                container_retry_delay=self._container_retry_delay,
            )
            self._context = context
        return self._context

    def fetch(self) -> Flow[Credentials]:
        if self.chosen is not None:
            return (yield from self.chosen.fetch())
        context = self._context
        if context is None:
            context = yield Call(self._load_context)
        from ._credentials_chain import resolve_chain

        source, creds = yield from resolve_chain(context)
        self.chosen = source
        return creds


def default_credentials_provider(
    profile_name: str | None = None, environ: Mapping[str, str] | None = None
) -> CredentialsProvider:
    """The default chain (botocore's order), resolved lazily on first use.

    ``profile_name`` overrides ``AWS_PROFILE`` / ``AWS_DEFAULT_PROFILE`` and, as in
    botocore, skips the environment-variable step. ``environ`` replaces ``os.environ``
    (it is read live, so a changed ``AWS_CREDENTIAL_EXPIRATION`` is seen on refresh).
    Nothing is read until credentials are first asked for.
    """
    chain = ChainSource(profile_name, environ)
    return RefreshingCredentialsProvider(chain, prepare=chain.prepare)
