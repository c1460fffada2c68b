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

import os
import re
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
# Nor by any call: httpx and its stack (our own transport is the default), dataclasses and
# what it imports (sigv4._record makes our record classes), logging (until something
# imports it, nothing is configured), json (a successful answer is not JSON).
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
    "runtime_client.credentials._roles",
    "runtime_client.credentials._metadata",
    "runtime_client._response_stream",
    "runtime_client.eventstream",
    "sigv4._sigv4a",
    "sigv4._eventsign",
    "sigv4._verify",
    "sigv4._auth",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "certifi",
    "dataclasses",
    "inspect",
    "ast",
    "logging",
    "json",
]
#: And over plain HTTP, no TLS at all.
NOT_OVER_PLAIN_HTTP = ["ssl", "_ssl"]

# The modules are read from ``python -X importtime``, the figures a user looks at: each
# line names a module the process imported, with its own and its cumulative microseconds.
# What was loaded before the script ran (site, coverage's .pth under CI) is left out.
_SCRIPT = """
import sys
print(" ".join(sys.modules))  # loaded before the script (site, a coverage .pth, ...)
keys = dict(arg.split("=", 1) for arg in sys.argv[2:])
from runtime_client import SageMakerRuntime
client = SageMakerRuntime(region_name="us-east-1", endpoint_url=sys.argv[1], **keys)
answer = client.invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
assert answer["Body"].read() == b"{}", "the echo server answers the body back"
client.close()
"""


@pytest.fixture(scope="module")
def server() -> Iterator[SigV4Server]:
    with SigV4Server() as srv:
        yield srv


def _imported(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """Module -> cumulative microseconds, from ``-X importtime``'s lines on stderr."""
    found = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
        if match:
            found[match.group(2)] = int(match.group(1))
    return found


def _loaded_after_one_call(url: str, keys: dict[str, str], env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            _SCRIPT,
            url,
            *(f"{k}={v}" for k, v in keys.items()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = set(_imported(result)) - set(result.stdout.split())
    assert "runtime_client._client" in imported, "importtime's lines were read"
    unwanted = NOT_FOR_A_PLAIN_CALL + (NOT_OVER_PLAIN_HTTP if url.startswith("http:") else [])
    return sorted(name for name in unwanted if name in imported)


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


_LOGGING_SCRIPT = """
import sys
print("logging loaded before the client:", "logging" in sys.modules)  # e.g. by a .pth
from runtime_client import SageMakerRuntime
client = SageMakerRuntime(
    region_name="us-east-1", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
    aws_secret_access_key=sys.argv[3],
)
client.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read()
print("logging loaded after a call:", "logging" in sys.modules)
import logging
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(name)s %(message)s")
client.invoke_endpoint(EndpointName="ep", Body=b"{}")["Body"].read()
logging.shutdown()
del sys.modules["logging"]
from runtime_client._diagnostics import WARNING, log
log("runtime_client.credentials", WARNING, "a warning without configuration: %s", "printed")
"""


def test_logging_is_loaded_by_whoever_configures_it_and_then_used(
    server: SigV4Server, tmp_path: os.PathLike[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOGGING_SCRIPT, server.url, AKID, SECRET],
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    before, *lines = result.stdout.splitlines()
    assert lines[0] == "logging loaded after a call: " + before.rsplit(" ", 1)[1]
    assert re.fullmatch(
        r"runtime_client InvokeEndpoint attempt 1/3 http://\S+/endpoints/ep/invocations: "
        r"200 in [0-9.]+ ms \(request id \S+\); done",
        lines[1],
    ), lines
    assert result.stderr.strip() == "a warning without configuration: printed"


def test_the_names_checked_are_real_modules() -> None:
    # Guards the lists above against a typo that would make them pass vacuously.
    import importlib.util

    names = NOT_FOR_A_PLAIN_CALL + NOT_OVER_PLAIN_HTTP
    missing = [name for name in names if importlib.util.find_spec(name) is None]
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
