"""Starting and stopping the local endpoint: serve() and run(), its settings, its data folder."""

from __future__ import annotations

import importlib
import pkgutil
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

import runtime_client.local as local
from runtime_client.local import (
    LocalEndpoint,
    serve,
)
from sigv4 import Credentials
from tests.local.emulator import (
    INVOKE,
    auth,
)

# ----------------------------------------------------------------------------- the server


def test_serve_binds_loopback_on_an_ephemeral_port_and_closes(tmp_path: Path) -> None:
    endpoint = serve(data_dir=tmp_path)
    assert endpoint.host == "127.0.0.1"
    assert endpoint.port > 0
    assert endpoint.url == f"http://127.0.0.1:{endpoint.port}"
    assert endpoint.credentials.access_key_id == local.DEMO_ACCESS_KEY_ID
    assert local.DEMO_SECRET_ACCESS_KEY not in repr(endpoint.credentials)
    with httpx.Client(auth=auth(endpoint.credentials)) as c:
        assert c.post(endpoint.url + INVOKE, content=b"x").status_code == 200
    endpoint.close()
    endpoint.close()  # idempotent
    assert endpoint.closed
    with pytest.raises(httpx.ConnectError):
        httpx.post(endpoint.url + INVOKE, content=b"x", timeout=2)


def test_a_temporary_data_dir_is_removed_at_close() -> None:
    with serve() as endpoint:
        folder = endpoint.data_dir
        assert folder.is_dir()
    assert not folder.exists()


def test_bad_arguments_are_refused_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="model must be 'echo', 'stream'"):
        serve(model="parrot")
    with pytest.raises(ValueError, match="port must be"):
        serve(port=70000)
    with pytest.raises(ValueError, match="credentials must"):
        serve(credentials={})
    with pytest.raises(ValueError, match="reachable from other machines: give credentials"):
        serve(host="0.0.0.0")
    with pytest.raises(ValueError, match="output_locations must be 'file' or 's3', not 'ftp'"):
        serve(output_locations="ftp")
    with pytest.raises(ValueError, match="ping_timeout must be a number of seconds > 0"):
        serve(ping_timeout=0)
    with pytest.raises(TypeError, match=r"unknown local endpoint option.* mdoel; valid: .*model"):
        serve(mdoel="echo")


def test_one_settings_value_serves_and_keywords_replace_its_options(tmp_path: Path) -> None:
    settings = local.EndpointSettings(model="stream", region="eu-west-1", data_dir=tmp_path)
    assert "secret" not in repr(settings)  # the accepted keys are never shown
    with serve(settings, region="eu-central-1") as endpoint:
        assert endpoint.region == "eu-central-1"
        assert endpoint.data_dir == tmp_path
    assert settings.region == "eu-west-1"  # a frozen value: replaced, never changed


def test_a_port_in_use_is_an_error(echo: LocalEndpoint) -> None:
    with pytest.raises(OSError):
        serve(port=echo.port)


def test_the_public_surface_is_all() -> None:
    public = {name for name in dir(local) if not name.startswith("_")}
    assert public == set(local.__all__)
    for info in pkgutil.iter_modules(local.__path__):
        module = importlib.import_module(f"{local.__name__}.{info.name}")
        declared = module.__all__
        assert [name for name in declared if not hasattr(module, name)] == [], info.name


def test_run_serves_until_interrupted() -> None:
    code = (
        "from runtime_client.local import run\n"
        "run(port=0, access_log=False, on_ready=lambda info: print(info.url, flush=True))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        out = child.stdout
        assert out is not None
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        url = lines.get(timeout=20).strip()
        assert url.startswith("http://127.0.0.1:"), child.stderr.read() if child.stderr else ""
        demo = Credentials(local.DEMO_ACCESS_KEY_ID, local.DEMO_SECRET_ACCESS_KEY)
        response = httpx.post(url + INVOKE, content=b"ping", auth=auth(demo), timeout=10)
        assert response.content == b"ping"
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
