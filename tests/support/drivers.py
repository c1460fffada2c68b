"""Running one client scenario three ways: the blocking client (called directly), and the
async client under asyncio and under trio, against the SigV4-checking loopback server.

With ``RUNTIME_CLIENT_TESTS_LEND_HTTPX=1`` in the environment every driver's client is
given a user's own ``httpx.Client`` / ``httpx.AsyncClient`` (``http_client=``) instead of
using our transport: CI runs the scenarios that way too.

A test module shares the fixtures by binding them to module names (``server =
_drivers.server``; importing them by name would read as unused), subclasses
``ClientDriver`` with the awaitable calls its scenarios need, and makes its ``make``
fixture with ``make_fixture``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from runtime_client._client import AsyncSageMakerRuntime, SageMakerRuntime
from tests.support.sigv4_server import KEYS, SigV4Server

__all__ = [
    "MODES",
    "LEND_HTTPX",
    "MODE_IDS",
    "ClientDriver",
    "anyio_backend",
    "client",
    "make_fixture",
    "mode",
    "reset_environment",
    "server",
]

MODES = [("sync", "asyncio"), ("async", "asyncio"), ("async", "trio")]
MODE_IDS = ["sync", "async-asyncio", "async-trio"]

# Settings of the machine that would change what the clients do.
_CLIENT_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
)

D = TypeVar("D", bound="ClientDriver")

#: Whether the drivers lend their clients an httpx client (see the module docstring).
LEND_HTTPX = os.environ.get("RUNTIME_CLIENT_TESTS_LEND_HTTPX") == "1"


@pytest.fixture(scope="module")
def server() -> Iterator[SigV4Server]:
    with SigV4Server() as srv:
        yield srv


@pytest.fixture(params=MODES, ids=MODE_IDS)
def mode(request: pytest.FixtureRequest) -> tuple[str, str]:
    value: tuple[str, str] = request.param
    return value


@pytest.fixture
def anyio_backend(mode: tuple[str, str]) -> str:
    return mode[1]


@pytest.fixture
def client(make: Callable[[], ClientDriver]) -> ClientDriver:
    """A driver made with the defaults (closed after the test by ``make``)."""
    return make()


def reset_environment(
    server: SigV4Server,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    extra_variables: Iterable[str] = (),
) -> None:
    """Forget what the server recorded and keep the machine's AWS settings (those of
    ``_CLIENT_VARIABLES`` and ``extra_variables``, and the config files) away from the
    clients."""
    server.reset()
    for name in (*_CLIENT_VARIABLES, *extra_variables):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


class ClientDriver:
    """One client of either kind behind one awaitable API."""

    def __init__(self, kind: str, server: SigV4Server, **kwargs: Any) -> None:
        self.kind = kind
        options: dict[str, Any] = {
            "region_name": "us-east-1",
            "endpoint_url": server.url,
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": KEYS["AKIDEXAMPLE"][0],
            **kwargs,
        }
        self._lent: Any = None
        if LEND_HTTPX and "http_client" not in options:
            import httpx

            self._lent = options["http_client"] = (
                httpx.Client() if kind == "sync" else httpx.AsyncClient()
            )
        cls = SageMakerRuntime if kind == "sync" else AsyncSageMakerRuntime
        self.client: Any = cls(**options)
        # Retries without waiting (the backoff itself is tested in test_retry.py).
        self.client._ctx.retry_policy._random = lambda: 0.0

    async def close(self) -> None:
        if self.kind == "sync":
            self.client.close()
            if self._lent is not None:
                self._lent.close()
        else:
            await self.client.aclose()
            if self._lent is not None:
                await self._lent.aclose()


def make_fixture(cls: type[D]) -> Any:
    """A ``make`` fixture: a factory of ``cls`` drivers of the test's mode (keyword
    arguments go to the client), all closed after the test."""

    @pytest.fixture
    async def make(mode: tuple[str, str], server: SigV4Server) -> AsyncIterator[Callable[..., D]]:
        made: list[D] = []

        def factory(**kwargs: Any) -> D:
            driver = cls(mode[0], server, **kwargs)
            made.append(driver)
            return driver

        yield factory
        for driver in made:
            await driver.close()

    return make
