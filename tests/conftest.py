"""Fixtures for every test: the machine's own settings stay out, and async tests run under
both asyncio and trio unless a module says otherwise.

Proxy variables would send loopback traffic elsewhere; the machine's AWS settings (keys,
region, profile, config files) would change what the clients do; and a test that falls
through to the default credential chain must never reach the real instance metadata
service. Loopback servers and client drivers shared by several test packages are in
``tests.support``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Async tests run under both libraries (a module may narrow this with its own)."""
    backend: str = request.param
    return backend
