"""Fixtures of the local endpoint tests: running endpoints (echo, a token streamer) and a
raw httpx client that signs with SigV4Auth."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from runtime_client.local import (
    LocalEndpoint,
    serve,
)
from tests.local.emulator import (
    ACCEPTED,
    Failing,
    auth,
)


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEndpoint]:
    data = tmp_path_factory.mktemp("echo-data")
    with serve(model="echo", credentials=ACCEPTED, data_dir=data) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def streamer() -> Iterator[LocalEndpoint]:
    with serve(model="stream", credentials=ACCEPTED) as endpoint:
        yield endpoint


@pytest.fixture
def client(echo: LocalEndpoint) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo.url, auth=auth(), timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEndpoint]:
    data = tmp_path_factory.mktemp("failing-data")
    with serve(model=Failing(), credentials=ACCEPTED, data_dir=data) as endpoint:
        yield endpoint
