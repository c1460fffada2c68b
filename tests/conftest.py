"""Keep the machine's own settings out of the tests: they talk to 127.0.0.1 only.

Proxy variables would send loopback traffic elsewhere, and a test that falls through to
the default credential chain must never reach the real instance metadata service.
"""

from __future__ import annotations

import pytest

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
