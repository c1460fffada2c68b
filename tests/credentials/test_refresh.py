"""Refresh windows and single-flight refresh under threads, asyncio tasks and trio tasks."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import trio

from runtime_client._flow import Flow
from runtime_client.credentials._errors import CredentialsRetrievalError, NoCredentialsError
from runtime_client.credentials._provider import (
    RefreshingCredentialsProvider,
    default_credentials_provider,
    static_credentials_provider,
)
from sigv4 import Credentials
from tests.support.credential_servers import ContainerApp, ImdsApp, aws_env, creds_json, serve

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)
_TLS = ssl.create_default_context()


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ScriptedSource:
    """Answers each fetch with the next item: credentials, or an exception to raise."""

    answers: list[Credentials | Exception]
    name: str = "scripted"
    calls: int = 0
    history: list[int] = field(default_factory=list)

    def fetch(self) -> Flow[Credentials]:
        yield from ()
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _creds(key: str, expires: datetime | None) -> Credentials:
    return Credentials(key, "secret-" + key, "token-" + key, expires)


def _holder(source: ScriptedSource, clock: Clock) -> RefreshingCredentialsProvider:
    return RefreshingCredentialsProvider(source, prepare=lambda: _TLS, clock=clock)


# --- windows, with a scripted source and an injected clock ---------------------------------


def test_fresh_credentials_are_not_refetched() -> None:
    clock = Clock()
    source = ScriptedSource([_creds("A", T0 + timedelta(hours=1))])
    holder = _holder(source, clock)
    assert holder.get_credentials().access_key_id == "A"
    clock.now = T0 + timedelta(minutes=44)  # 16 min left: still fresh
    assert holder.get_credentials().access_key_id == "A"
    assert source.calls == 1


def test_credentials_without_expiry_are_fetched_once() -> None:
    source = ScriptedSource([_creds("A", None)])
    holder = _holder(source, Clock())
    assert [holder.get_credentials().access_key_id for _ in range(3)] == ["A"] * 3


def test_advisory_window_refreshes() -> None:
    clock = Clock()
    source = ScriptedSource(
        [_creds("A", T0 + timedelta(hours=1)), _creds("B", T0 + timedelta(hours=2))]
    )
    holder = _holder(source, clock)
    holder.get_credentials()
    clock.now = T0 + timedelta(minutes=46)  # 14 min left
    assert holder.get_credentials().access_key_id == "B"


def test_advisory_failure_keeps_the_old_credentials_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    failure = CredentialsRetrievalError("scripted", "HTTP 500")
    source = ScriptedSource(
        [_creds("A", T0 + timedelta(hours=1)), failure, _creds("B", T0 + timedelta(hours=2))]
    )
    holder = _holder(source, clock)
    holder.get_credentials()
    clock.now = T0 + timedelta(minutes=46)
    with caplog.at_level(logging.WARNING, logger="runtime_client.credentials"):
        assert holder.get_credentials().access_key_id == "A"
    (record,) = caplog.records
    assert "scripted" in record.getMessage()
    assert "HTTP 500" in record.getMessage()
    assert "secret-A" not in record.getMessage()
    assert "token-A" not in record.getMessage()
    clock.now += timedelta(seconds=10)  # no retry for 30 s
    assert holder.get_credentials().access_key_id == "A"
    assert source.calls == 2
    clock.now += timedelta(seconds=30)
    assert holder.get_credentials().access_key_id == "B"


def test_mandatory_window_refreshes_and_raises_on_failure() -> None:
    clock = Clock()
    failure = CredentialsRetrievalError("scripted", "HTTP 500")
    source = ScriptedSource(
        [_creds("A", T0 + timedelta(hours=1)), failure, _creds("B", T0 + timedelta(hours=2))]
    )
    holder = _holder(source, clock)
    holder.get_credentials()
    clock.now = T0 + timedelta(minutes=51)  # 9 min left
    with pytest.raises(CredentialsRetrievalError, match="HTTP 500"):
        holder.get_credentials()
    assert holder.get_credentials().access_key_id == "B"  # a later caller tries again


def test_already_expired_credentials_are_refused() -> None:
    source = ScriptedSource([_creds("A", T0 - timedelta(seconds=1))])
    with pytest.raises(CredentialsRetrievalError, match="expired at 2029-12-31T23:59:59"):
        _holder(source, Clock()).get_credentials()


def test_async_windows_match_the_sync_ones() -> None:
    clock = Clock()
    failure = CredentialsRetrievalError("scripted", "HTTP 500")
    source = ScriptedSource(
        [
            _creds("A", T0 + timedelta(hours=1)),
            failure,
            failure,
            _creds("B", T0 + timedelta(hours=2)),
        ]
    )
    holder = _holder(source, clock)

    async def main() -> None:
        assert (await holder.aget_credentials()).access_key_id == "A"
        clock.now = T0 + timedelta(minutes=46)  # advisory: failure is swallowed
        assert (await holder.aget_credentials()).access_key_id == "A"
        clock.now = T0 + timedelta(minutes=51)  # mandatory: failure is raised
        with pytest.raises(CredentialsRetrievalError):
            await holder.aget_credentials()
        assert (await holder.aget_credentials()).access_key_id == "B"

    asyncio.run(main())


def test_static_provider() -> None:
    creds = _creds("S", None)
    provider = static_credentials_provider(creds)
    assert provider.get_credentials() is creds
    assert asyncio.run(provider.aget_credentials()) is creds
    assert "secret-S" not in repr(provider)


# --- single flight against a real loopback container endpoint --------------------------------


class Rotating:
    """First answer expires in 5 min (inside the mandatory window); then one hour, slowly."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> dict[str, str]:
        with self.lock:
            self.calls += 1
            n = self.calls
        if n == 1:
            return creds_json("OLD", timedelta(minutes=5))
        return creds_json(f"NEW{n}", timedelta(hours=1))


def _container_provider(tmp_path: Path, url: str) -> RefreshingCredentialsProvider:
    env = aws_env(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=url + "/v2/credentials")
    provider = default_credentials_provider(environ=env)
    assert isinstance(provider, RefreshingCredentialsProvider)
    return provider


def _threads(n: int, target: Callable[[], object], results: list[object]) -> list[threading.Thread]:
    def run() -> None:
        try:
            results.append(target())
        except Exception as exc:
            results.append(exc)

    return [threading.Thread(target=run) for _ in range(n)]


def test_1000_tasks_in_the_mandatory_window_make_one_refresh(tmp_path: Path) -> None:
    answers = Rotating()
    with serve(ContainerApp(answers, delay=0.2)) as server:
        provider = _container_provider(tmp_path, server.url)
        assert provider.get_credentials().access_key_id == "OLD"

        async def main() -> list[Credentials]:
            return await asyncio.wait_for(
                asyncio.gather(*(provider.aget_credentials() for _ in range(1000))), 30
            )

        results = asyncio.run(main())
    assert {c.access_key_id for c in results} == {"NEW2"}
    assert server.count() == 2  # the first load and exactly one refresh


def test_50_threads_in_the_mandatory_window_make_one_refresh(tmp_path: Path) -> None:
    answers = Rotating()
    with serve(ContainerApp(answers, delay=0.2)) as server:
        provider = _container_provider(tmp_path, server.url)
        provider.get_credentials()
        results: list[object] = []
        threads = _threads(50, provider.get_credentials, results)
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert {getattr(c, "access_key_id", c) for c in results} == {"NEW2"}
    assert len(results) == 50
    assert server.count() == 2


def test_threads_and_two_event_loops_together_make_one_refresh(tmp_path: Path) -> None:
    answers = Rotating()
    with serve(ContainerApp(answers, delay=0.3)) as server:
        provider = _container_provider(tmp_path, server.url)
        provider.get_credentials()
        go = threading.Event()
        results: list[object] = []
        threads = _threads(50, lambda: go.wait(10) and provider.get_credentials(), results)

        async def asyncio_tasks() -> None:
            go.wait(10)
            got = await asyncio.gather(*(provider.aget_credentials() for _ in range(1000)))
            results.extend(got)

        async def trio_tasks() -> None:
            go.wait(10)
            async with trio.open_nursery() as nursery:
                for _ in range(300):
                    nursery.start_soon(lambda: _collect(provider, results))

        threads.append(threading.Thread(target=lambda: asyncio.run(asyncio_tasks())))
        threads.append(threading.Thread(target=lambda: trio.run(trio_tasks)))
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join(timeout=30)
    assert len(results) == 50 + 1000 + 300
    assert {getattr(c, "access_key_id", c) for c in results} == {"NEW2"}
    assert server.count() == 2


async def _collect(provider: RefreshingCredentialsProvider, results: list[object]) -> None:
    results.append(await provider.aget_credentials())


def test_trio_tasks_make_one_refresh(tmp_path: Path) -> None:
    answers = Rotating()
    with serve(ContainerApp(answers, delay=0.2)) as server:
        provider = _container_provider(tmp_path, server.url)
        provider.get_credentials()
        results: list[object] = []

        async def main() -> None:
            with trio.fail_after(30):
                async with trio.open_nursery() as nursery:
                    for _ in range(500):
                        nursery.start_soon(_collect, provider, results)

        trio.run(main)
    assert {getattr(c, "access_key_id", c) for c in results} == {"NEW2"}
    assert server.count() == 2


def _imds_env(tmp_path: Path, url: str) -> dict[str, str]:
    env = aws_env(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=url)
    del env["AWS_EC2_METADATA_DISABLED"]
    return env


def _is_creds_request(r: object) -> bool:
    return str(getattr(r, "path", "")).endswith("/security-credentials/test-role")


def test_advisory_failure_does_not_fail_1000_tasks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answers: list[dict[str, str] | None] = [creds_json("OLD", timedelta(minutes=12))]
    with serve(ImdsApp(lambda: answers.pop(0) if answers else None, delay=0.1)) as server:
        provider = default_credentials_provider(environ=_imds_env(tmp_path, server.url))
        assert provider.get_credentials().access_key_id == "OLD"

        async def main() -> list[Credentials]:
            return await asyncio.gather(*(provider.aget_credentials() for _ in range(1000)))

        with caplog.at_level(logging.WARNING, logger="runtime_client.credentials"):
            results = asyncio.run(main())
            assert provider.get_credentials().access_key_id == "OLD"  # sync callers too
    assert {c.access_key_id for c in results} == {"OLD"}
    assert server.count(_is_creds_request) == 2  # the first load and one failed refresh
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "iam-role" in caplog.records[0].getMessage()
    assert "SECRET-OLD" not in caplog.text
    assert "TOKEN-OLD" not in caplog.text


def test_a_failed_mandatory_refresh_is_shared_by_its_waiters(tmp_path: Path) -> None:
    answers: list[dict[str, str] | None] = [creds_json("OLD", timedelta(minutes=5))]
    with serve(ImdsApp(lambda: answers.pop(0) if answers else None, delay=0.2)) as server:
        provider = default_credentials_provider(environ=_imds_env(tmp_path, server.url))
        provider.get_credentials()

        async def main() -> list[Credentials | BaseException]:
            return await asyncio.gather(
                *(provider.aget_credentials() for _ in range(1000)), return_exceptions=True
            )

        results = asyncio.run(main())
    assert all(isinstance(r, CredentialsRetrievalError) for r in results)
    assert "HTTP 500" in str(results[0])
    assert server.count(_is_creds_request) == 2


def test_no_credentials_is_looked_for_once_for_many_waiters() -> None:
    # A second look would pop from the empty script and fail differently.
    source = ScriptedSource([NoCredentialsError([("env", "AWS_ACCESS_KEY_ID is not set")])])
    holder = _holder(source, Clock())

    async def main() -> list[Credentials | BaseException]:
        return await asyncio.gather(
            *(holder.aget_credentials() for _ in range(200)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert all(isinstance(r, NoCredentialsError) for r in results)
    assert source.calls == 1


def test_credential_process_runs_off_the_event_loop(tmp_path: Path) -> None:
    import sys

    script = tmp_path / "slow.py"
    script.write_text(
        "import json, time\ntime.sleep(0.4)\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': 'SLOW', 'SecretAccessKey': 's'}))\n"
    )
    env = aws_env(
        tmp_path, config=f'[default]\ncredential_process = "{sys.executable}" "{script}"\n'
    )
    provider = default_credentials_provider(environ=env)

    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = loop.time()
            while not done and len(gaps) < 1000:  # bounded
                await asyncio.sleep(0.01)
                now = loop.time()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        creds = await provider.aget_credentials()
        done = True
        await tick
        return creds.access_key_id, max(gaps)

    key, longest_gap = asyncio.run(main())
    assert key == "SLOW"
    assert longest_gap < 0.2  # the loop kept running while the 0.4 s process ran
