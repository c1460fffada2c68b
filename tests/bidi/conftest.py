"""Fixtures of the bidirectional-stream tests: a loopback HTTP/2 server (h2c) that verifies
the request and every event signature, and TLS files for one over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.h2_server import H2BidiServer, make_tls_files


@pytest.fixture
def server() -> Iterator[H2BidiServer]:
    with H2BidiServer() as srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return make_tls_files(tmp_path)
