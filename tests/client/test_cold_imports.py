"""A fresh process that makes one InvokeEndpoint call loads only what that call needs.

Cold start (import + client + first call) is what a Lambda function pays on every new
instance, so the modules that a plain call never uses are imported on first use. These
tests run a fresh interpreter against a loopback server and check which modules it
loaded: they fail when an eager import creeps back, not when the machine is slow (no
timing here; the figures are in benchmarks/bench_client.py).

A client for an ``http://`` endpoint also skips loading a CA bundle (tens of
milliseconds); the last tests check that this never weakens TLS where TLS is used.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.sigv4_server import KEYS, SigV4Server

AKID = "AKIDEXAMPLE"
SECRET = KEYS[AKID][0]

# Loaded only by what a plain InvokeEndpoint does not do: other credential sources, the
# response-stream operation, async clients, config files with content, SigV4a, event
# signing and verification, the platform module (user agent), uuid (invocation ids), and
# HTTP/2 (h2 and our connection on it: only for Config(http2=True) and the bidi stream).
NOT_FOR_A_PLAIN_CALL = [
    "asyncio",
    "h2",
    "runtime_client.http._h2",
    "configparser",
    "shlex",
    "subprocess",
    "xml.etree.ElementTree",
    "uuid",
    "platform",
    "runtime_client.credentials._sts",
    "runtime_client._response_stream",
    "runtime_client.eventstream",
    "runtime_client.eventstream",
    "sigv4._sigv4a",
    "sigv4._eventsign",
    "sigv4._verify",
    "sigv4._auth",
]

# The HTTP stack is loaded first and whatever it loads itself is left out of the check
# (httpcore imports trio when it is installed, and trio imports platform and subprocess).
_SCRIPT = """
import json, sys
import httpx
httpx.Client().close()
stack = set(sys.modules)
from runtime_client import SageMakerRuntime
keys = json.loads(sys.argv[2])
client = SageMakerRuntime(region_name="us-east-1", endpoint_url=sys.argv[1], **keys)
answer = client.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
assert answer["Body"].read() == b"{}", "the echo server answers the body back"
client.close()
names = json.loads(sys.argv[3])
print(json.dumps(sorted(name for name in names if name in sys.modules and name not in stack)))
"""


@pytest.fixture(scope="module")
def server() -> Iterator[SigV4Server]:
    with SigV4Server() as srv:
        yield srv


def _loaded_after_one_call(url: str, keys: dict[str, str], env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, url, json.dumps(keys), json.dumps(NOT_FOR_A_PLAIN_CALL)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def _clean_env(tmp_path: os.PathLike[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.path.join(tmp_path, "no-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(tmp_path, "no-credentials")
    return env


def test_explicit_keys_load_nothing_a_plain_call_does_not_need(
    server: SigV4Server, tmp_path: os.PathLike[str]
) -> None:
    keys = {"aws_access_key_id": AKID, "aws_secret_access_key": SECRET}
    assert _loaded_after_one_call(server.url, keys, _clean_env(tmp_path)) == []


def test_environment_credentials_load_no_other_credential_source(
    server: SigV4Server, tmp_path: os.PathLike[str]
) -> None:
    env = _clean_env(tmp_path)
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = AKID, SECRET
    assert _loaded_after_one_call(server.url, {}, env) == []


def test_the_names_checked_are_real_modules() -> None:
    # Guards the lists above against a typo that would make them pass vacuously.
    import importlib.util

    missing = [name for name in NOT_FOR_A_PLAIN_CALL if importlib.util.find_spec(name) is None]
    assert missing == []


# The client builds no CA store until a TLS connection needs one, and keeps every check.


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.path.join(tmp_path, "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.path.join(tmp_path, "no-credentials"))


def _client(**kwargs: Any) -> Any:
    from runtime_client import SageMakerRuntime

    return SageMakerRuntime(
        region_name="us-east-1", aws_access_key_id=AKID, aws_secret_access_key=SECRET, **kwargs
    )


@pytest.mark.usefixtures("no_aws_env")
def test_a_plain_http_endpoint_loads_no_ca_bundle(server: SigV4Server) -> None:
    with _client(endpoint_url=server.url) as client:
        answer = client.invoke_endpoint(EndpointName="ep", Body=b"{}")
        assert answer["Body"].read() == b"{}"
        assert client._tls.built is False  # no TLS connection: no context, no CA bundle


@pytest.mark.usefixtures("no_aws_env")
def test_https_endpoints_keep_full_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    with _client(endpoint_url="https://127.0.0.1:9") as client:
        assert client._tls.built is False  # made on the first TLS connection
        context = client._tls.context()
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert context.cert_store_stats()["x509_ca"] > 0  # certifi's bundle
    with _client(endpoint_url="https://127.0.0.1:9", verify=False) as client:
        assert client._tls.context().verify_mode == ssl.CERT_NONE  # only when asked for
    import certifi

    monkeypatch.setenv("AWS_CA_BUNDLE", certifi.where())
    with _client(endpoint_url="https://127.0.0.1:9") as client:
        bundle = client._tls.context()
        assert bundle.verify_mode == ssl.CERT_REQUIRED
        assert bundle.cert_store_stats()["x509_ca"] > 0
