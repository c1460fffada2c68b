"""Credentials providers: static credentials, and the holder that refreshes them.

A provider (:class:`sigv4.CredentialsProvider`, the one interface for the signer and the
clients) hands out :class:`sigv4.Credentials` from sync code (``get_credentials``,
thread-safe) and async code (``aget_credentials``, asyncio or trio, never blocking the
event loop). When to refresh is decided by :class:`~._refresh.RefreshState` (no locks, no
I/O); :class:`RefreshingCredentialsProvider` only takes the locks and fetches.

A single refresh serves all concurrent callers. Threads meet on one ``threading.Lock``.
Async tasks first meet on a lock of their own event loop (an asyncio or trio lock
cannot be shared across loops), so one task per loop goes on to take the thread lock,
which it waits for in a worker thread when a sync caller holds it. The fetch itself is
a flow (see :mod:`runtime_client._flow`) driven by ``run_sync`` or ``run_async`` with a
client made for that fetch and closed after it, so nothing is ever shared between event
loops.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sigv4 import Credentials, CredentialsProvider

from .._flow import run_async, run_sync
from ..http._models import Request
from ..http._sync import SyncResponse, SyncTransport
from ..http._tls import TLSSettings
from ._errors import CredentialsConfigError, CredentialsError, CredentialsRetrievalError
from ._refresh import (
    ADVISORY_REFRESH,
    MANDATORY_REFRESH,
    RefreshState,
    TryAdvisory,
    Use,
    WaitAndRefresh,
)
from ._source import describe, utcnow

if TYPE_CHECKING:
    import ssl

    import anyio

    from ..http._async import AsyncResponse, AsyncTransport
    from ._source import Clock, Source

# Only a client without explicit keys needs the chain (config files, STS, SSO, IMDS,
# container, process) and only async callers need anyio/asyncio: those modules are
# imported where they are first used, so that a client with static keys starts fast.

__all__ = [
    "CredentialsProvider",
    "RefreshingCredentialsProvider",
    "default_credentials_provider",
    "ssl_context",
    "static_credentials_provider",
]


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


def ssl_context(cafile: str | None) -> ssl.SSLContext:
    import ssl

    import certifi

    try:
        return ssl.create_default_context(cafile=cafile or certifi.where())
    except (OSError, ssl.SSLError) as exc:
        raise CredentialsConfigError(
            f"the CA bundle {cafile!r} (AWS_CA_BUNDLE / ca_bundle) cannot be loaded: "
            f"{type(exc).__name__}"
        ) from None


# What a caller does next, as decided by RefreshState.plan() and .begin(). The shells
# (get_credentials, aget_credentials) only take the locks and fetch.


def _loop_key() -> object:
    """The running event loop (asyncio) or trio run, to key per-loop locks."""
    import asyncio  # only reached by async callers, which have imported it already

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        import trio  # only reached under trio

        return trio.lowlevel.current_trio_token()


class _OnDemandClient:
    """The transport of one fetch, made on its first request with ``prepare()``'s TLS
    context (built only for an https request). Most fetches make none (environment
    variables, a profile's keys, a process), and the TLS context loads a CA bundle: tens
    of milliseconds saved."""

    def __init__(self, prepare: Callable[[], ssl.SSLContext]) -> None:
        self._prepare = prepare
        self._transport: SyncTransport | None = None

    def send(self, request: Request) -> SyncResponse:
        if self._transport is None:
            self._transport = SyncTransport(max_idle=1, tls=TLSSettings(factory=self._prepare))
        return self._transport.send(request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _AsyncOnDemandClient:
    """The async form of :class:`_OnDemandClient` (the TLS context is made in a worker
    thread: ``prepare`` may read files)."""

    def __init__(self, prepare: Callable[[], ssl.SSLContext]) -> None:
        self._prepare = prepare
        self._transport: AsyncTransport | None = None

    async def send(self, request: Request) -> AsyncResponse:
        if self._transport is None:
            from ..http._async import AsyncTransport

            tls = TLSSettings(factory=self._prepare)
            self._transport = AsyncTransport(max_idle=1, tls=tls)
        return await self._transport.send(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


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
        clock: Clock = utcnow,
        advisory_window: timedelta = ADVISORY_REFRESH,
        mandatory_window: timedelta = MANDATORY_REFRESH,
        advisory_retry: timedelta = timedelta(seconds=30),
        wait_timeout: float = 300.0,
    ) -> None:
        if mandatory_window > advisory_window:
            raise ValueError("mandatory_window: must not be longer than advisory_window")
        self._source = source
        self._prepare = prepare or (lambda: ssl_context(None))
        self._wait_timeout = wait_timeout
        self._refresh = RefreshState(
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
        from .._config_files import ProfileNotFoundError

        if isinstance(exc, (CredentialsError, ProfileNotFoundError, ValueError)):
            return exc
        return CredentialsRetrievalError(self._source.name, describe(exc))

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
        if isinstance(plan, Use):
            return plan.credentials
        if isinstance(plan, TryAdvisory):
            if not self._lock.acquire(blocking=False):
                return plan.current  # another caller is refreshing
        elif not self._lock.acquire(timeout=self._wait_timeout):
            raise self._timed_out()
        return self._refresh_holding_lock(plan)

    def _refresh_holding_lock(self, plan: TryAdvisory | WaitAndRefresh) -> Credentials:
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
        if isinstance(plan, Use):
            return plan.credentials
        if isinstance(plan, TryAdvisory):
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

    async def _arefresh_holding_lock(self, plan: TryAdvisory | WaitAndRefresh) -> Credentials:
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


def default_credentials_provider(
    profile_name: str | None = None, environ: Mapping[str, str] | None = None
) -> CredentialsProvider:
    """The default chain (botocore's order), resolved lazily on first use.

    ``profile_name`` overrides ``AWS_PROFILE`` / ``AWS_DEFAULT_PROFILE`` and, as in
    botocore, skips the environment-variable step. ``environ`` replaces ``os.environ``
    (it is read live, so a changed ``AWS_CREDENTIAL_EXPIRATION`` is seen on refresh).
    Nothing is read until credentials are first asked for.
    """
    from ._chain import ChainSource

    chain = ChainSource(profile_name, environ)
    return RefreshingCredentialsProvider(chain, prepare=chain.prepare)
