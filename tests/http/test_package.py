"""The ``runtime_client.http`` package: its public names are exactly ``__all__`` (and each
``_h1_*`` part of the connection declares what it holds), the exception tree, and
importing it stays cheap (no ssl, asyncio, httpx, h11, h2 or socket).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys

import runtime_client.http
from runtime_client.http import (
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    ServerDisconnectedError,
    _exceptions,
    _h1,
)


def test_public_names_are_exactly_all() -> None:
    package = runtime_client.http
    public = {name for name in dir(package) if not name.startswith("_")}
    assert public == set(package.__all__)
    assert len(package.__all__) == len(set(package.__all__))
    for module in (_h1, _exceptions):
        assert all(hasattr(module, name) for name in module.__all__)
        assert set(module.__all__) <= set(package.__all__)
    # the connection's parts: each says what it holds, and holds what its __all__ names
    parts = [info.name for info in pkgutil.iter_modules(package.__path__)]
    parts = [name for name in parts if name.startswith("_h1_")]
    assert parts, "no _h1_* modules: the check below would be empty"
    for name in parts:
        module = importlib.import_module(f"{package.__name__}.{name}")
        assert module.__doc__, name
        assert [item for item in module.__all__ if not hasattr(module, item)] == [], name


def test_exception_tree() -> None:
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(ServerDisconnectedError, RemoteProtocolError)
    assert not issubclass(ServerDisconnectedError, LocalProtocolError)


def test_importing_the_connection_is_cheap() -> None:
    script = (
        "import sys; import runtime_client.http; "
        "print(sorted(m for m in ('ssl', 'asyncio', 'httpx', 'httpcore', 'h11', 'h2', 'socket') "
        "if m in sys.modules))"
    )
    # Not measured by coverage, which imports socket itself (for its data file's name)
    env = {k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_START"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert result.stdout.strip() == "[]"
