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


class _State(Enum):
    FRESH = "fresh"
    ADVISORY = "advisory"
    MANDATORY = "mandatory"


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
        self._clock = clock
        self._advisory = advisory_window
        self._mandatory = mandatory_window
        self._advisory_retry = advisory_retry
        self._wait_timeout = wait_timeout
        self._credentials: Credentials | None = None
        self._attempts = 0  # mandatory refreshes tried, to share a failure with waiters
        self._failure: Exception | None = None
        self._next_advisory_attempt = datetime.min.replace(tzinfo=timezone.utc)
        self._lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[Any, anyio.Lock] = weakref.WeakKeyDictionary()
        self._loop_locks_guard = threading.Lock()

    def __repr__(self) -> str:
        creds = self._credentials
        expiry = creds.expiration.isoformat() if creds and creds.expiration else None
        return f"RefreshingCredentialsProvider(source={self._source.name!r}, expiration={expiry!r})"

    # -- state -------------------------------------------------------------------------

    def _state(self, creds: Credentials | None) -> _State:
        if creds is None:
            return _State.MANDATORY
        if creds.expiration is None:
            return _State.FRESH
        left = creds.expiration - self._clock()
        if left <= self._mandatory:
            return _State.MANDATORY
        if left <= self._advisory:
            return _State.ADVISORY
        return _State.FRESH

    def _may_try_advisory(self) -> bool:
        return self._clock() >= self._next_advisory_attempt

    def _store(self, creds: Credentials) -> Credentials:
        if creds.expiration is not None and creds.expiration <= self._clock():
            raise CredentialsRetrievalError(
                self._source.name,
                f"returned credentials that expired at {creds.expiration.isoformat()}",
            )
        self._credentials = creds
        expiry = creds.expiration.isoformat() if creds.expiration else "never"
        logger.debug("credentials loaded from %s (expire: %s)", self._source.name, expiry)
        return creds

    def _advisory_failed(self, current: Credentials, exc: Exception) -> Credentials:
        self._next_advisory_attempt = self._clock() + self._advisory_retry
        expiry = current.expiration.isoformat() if current.expiration else "?"
        logger.warning(
            "refreshing credentials from %s failed; keeping the current ones (expire %s): %s",
            self._source.name,
            expiry,
            _describe(exc),
        )
        return current

    def _usable_after_wait(self, seen: int) -> Credentials | None:
        """Under the lock: credentials someone else just got, or their failure, raised.

        Callers that waited through a failed mandatory refresh get that same error
        instead of each trying again in turn (as asyncio futures hand one exception to
        every awaiter); callers that arrive later try afresh.
        """
        current = self._credentials
        if current is not None and self._state(current) is not _State.MANDATORY:
            return current
        if self._attempts != seen and self._failure is not None:
            raise self._failure
        return None

    def _record_attempt(self, failure: Exception | None) -> None:
        self._attempts += 1
        self._failure = failure

    def _finish(self, fetch: Callable[[], Credentials]) -> Credentials:
        try:
            creds = self._store(fetch())
        except Exception as exc:
            self._record_attempt(exc)
            raise
        self._record_attempt(None)
        return creds

    def _translate(self, exc: Exception) -> Exception:
        from ._awsconfig import ProfileNotFoundError

        if isinstance(exc, (CredentialsError, ProfileNotFoundError, ValueError)):
            return exc
        return CredentialsRetrievalError(self._source.name, _describe(exc))

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
        creds = self._credentials
        state = self._state(creds)
        if state is _State.FRESH and creds is not None:
            return creds
        if state is _State.ADVISORY and creds is not None:
            if not self._may_try_advisory() or not self._lock.acquire(blocking=False):
                return creds
            try:
                latest = self._credentials or creds
                if self._state(latest) is not _State.ADVISORY:
                    return latest
                try:
                    return self._store(self._fetch_sync())
                except Exception as exc:
                    return self._advisory_failed(latest, exc)
            finally:
                self._lock.release()
        seen = self._attempts
        if not self._lock.acquire(timeout=self._wait_timeout):
            raise CredentialsRetrievalError(
                self._source.name, f"timed out after {self._wait_timeout} s waiting for a refresh"
            )
        try:
            current = self._usable_after_wait(seen)
            if current is not None:
                return current
            return self._finish(self._fetch_sync)
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
            raise CredentialsRetrievalError(
                self._source.name, f"timed out after {self._wait_timeout} s waiting for a refresh"
            )

    async def aget_credentials(self) -> Credentials:
        creds = self._credentials
        state = self._state(creds)
        if state is _State.FRESH and creds is not None:
            return creds
        if state is _State.ADVISORY and creds is not None:
            if not self._may_try_advisory() or not self._lock.acquire(blocking=False):
                return creds
            try:
                latest = self._credentials or creds
                if self._state(latest) is not _State.ADVISORY:
                    return latest
                try:
                    return self._store(await self._fetch_async())
                except Exception as exc:
                    return self._advisory_failed(latest, exc)
            finally:
                self._lock.release()
        seen = self._attempts
        async with self._loop_lock():
            waited = self._credentials
            if waited is not None and self._state(waited) is not _State.MANDATORY:
                return waited
            await self._acquire_thread_lock()
            try:
                held = self._usable_after_wait(seen)
                if held is not None:
                    return held
                try:
                    creds = self._store(await self._fetch_async())
                except Exception as exc:
                    self._record_attempt(exc)
                    raise
                self._record_attempt(None)
                return creds
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
