"""Fixtures of the command-line tests: empty AWS files, emulators in this process (the echo
model, and one in front of a small container), the environment of an invoke command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_client.local import (
    LocalEndpoint,
    serve,
)
from tests.cli.helpers import (
    ACCEPTED,
    KEY_ID,
    SECRET,
    clean_env,
)
from tests.support.container_server import ContainerServer


@pytest.fixture(scope="module")
def aws_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("aws")
    (folder / "config").write_text("")
    (folder / "credentials").write_text("")
    return folder


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEndpoint]:
    data = tmp_path_factory.mktemp("echo-data")
    with serve(model="echo", credentials=ACCEPTED, data_dir=data) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def container() -> Iterator[ContainerServer]:
    with ContainerServer() as server:
        yield server


@pytest.fixture(scope="module")
def fronted(container: ContainerServer) -> Iterator[LocalEndpoint]:
    with serve(model=container.url, credentials=ACCEPTED) as endpoint:
        yield endpoint


@pytest.fixture
def invoke_env(aws_files: Path) -> dict[str, str]:
    return clean_env(aws_files, keys=(KEY_ID, SECRET))
