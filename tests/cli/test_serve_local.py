"""``serve-local`` and ``demo`` as subprocesses: a container fronted until interrupted, your
own key never printed, the demo key refused beyond loopback, the demo on a fresh machine."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import shlex
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_client.local import (
    DEMO_ACCESS_KEY_ID,
    DEMO_SECRET_ACCESS_KEY,
)
from tests.cli.helpers import (
    CLI,
    KEY_ID,
    REGION,
    SECRET,
    TIMEOUT,
    assert_clean_error,
    clean_env,
    run_cli,
)
from tests.support.container_server import ContainerServer

# ----------------------------------------------------------------------------- serve-local, demo


@contextlib.contextmanager
def serve_local(command: str, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``serve-local``; yield the process and its banner (read up to "Press Ctrl+C").
    The process is killed at exit if the test did not stop it."""
    child = subprocess.Popen(
        [*CLI, "serve-local", *shlex.split(command)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out = child.stdout
        assert out is not None
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in out:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        banner = [lines.get(timeout=TIMEOUT)]
        while not banner[-1].startswith("Press Ctrl+C"):
            banner.append(lines.get(timeout=TIMEOUT))
        yield child, "".join(banner)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=TIMEOUT)


def test_serve_local_fronts_a_container_until_interrupted(aws_files: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with (
        ContainerServer() as container,
        serve_local(
            f"--model {container.url} --port 0 --data-dir {data}", clean_env(aws_files)
        ) as (child, banner),
    ):
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner)
        assert url is not None, banner
        assert f"export AWS_ACCESS_KEY_ID={DEMO_ACCESS_KEY_ID}" in banner
        assert f"export AWS_SECRET_ACCESS_KEY={DEMO_SECRET_ACCESS_KEY}" in banner
        assert str(data) in banner
        env = clean_env(aws_files, keys=(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY))
        result = run_cli(
            f"--endpoint-url {url.group(1)} --region {REGION} invoke-endpoint "
            "--endpoint-name ep --body 'via serve-local' -",
            env=env,
        )
        assert result.code == 0, result.stderr
        assert json.loads(result.stdout)["body"] == "via serve-local"
        assert container.requests[-1]["body"] == b"via serve-local"
        child.send_signal(signal.SIGINT)
        _, errors = child.communicate(timeout=TIMEOUT)
        assert child.returncode == 0, errors
        assert "POST /endpoints/ep/invocations" in errors  # the access log, on stderr
        assert "Traceback" not in errors


def test_serve_local_with_your_own_key_never_prints_the_secret(aws_files: Path) -> None:
    env = clean_env(aws_files, keys=(KEY_ID, SECRET))
    with serve_local("--port 0 --credentials-from-env --no-access-log", env) as (child, banner):
        assert KEY_ID in banner
        assert SECRET not in banner
        assert DEMO_SECRET_ACCESS_KEY not in banner
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner)
        assert url is not None, banner
        result = run_cli(
            f"--endpoint-url {url.group(1)} --region {REGION} invoke-endpoint "
            "--endpoint-name ep --body mine -",
            env=env,
        )
        assert result.code == 0, result.stderr
        assert result.stdout == b"mine"
        child.send_signal(signal.SIGINT)
        _, errors = child.communicate(timeout=TIMEOUT)
        assert child.returncode == 0, errors
        assert SECRET not in errors


def test_serve_local_refuses_the_demo_key_beyond_loopback(aws_files: Path) -> None:
    result = run_cli("serve-local --host 0.0.0.0 --port 0", env=clean_env(aws_files))
    assert_clean_error(result, 2)
    assert "credentials" in result.stderr


def test_demo_shows_the_three_operations_on_a_fresh_machine(aws_files: Path) -> None:
    result = run_cli("demo", env=clean_env(aws_files))  # no keys, no region, no profile
    assert result.code == 0, result.stderr
    transcript = result.text
    assert "Emulator   http://127.0.0.1:" in transcript
    # 1. the echo answer of InvokeEndpoint
    assert "received  200 application/json from variant AllTraffic" in transcript
    assert 'answer    [{"generated_text": "What is Amazon SageMaker?"}]' in transcript
    # 2. the streamed tokens, joined back into the prompt, and how many there were
    assert "tokens    Tokens arrive one by one, as the model writes them.\n" in transcript
    assert "received  10 tokens as text/event-stream" in transcript
    # 3. the async answer and the content of its output file
    assert re.search(r"received  202 InferenceId [0-9a-f-]{36}", transcript)
    assert "output at file://" in transcript
    assert 'output    [{"generated_text": "Queued now, answered later, in a file."}]' in transcript
    assert "Starting a local SageMaker Runtime endpoint" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_local_names_a_busy_port_in_one_line(aws_files: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_cli(f"serve-local --port {port}", env=clean_env(aws_files))
    assert_clean_error(result, 1)
    assert result.stderr.strip() == (
        f"port {port} on 127.0.0.1 is already in use: stop what listens there, or choose "
        "another port (--port, or port=; 0 picks a free one)"
    )


def test_serve_local_says_in_one_line_that_a_container_never_answered(aws_files: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]  # nothing listens there once it is closed
    result = run_cli(
        f"serve-local --port 0 --model http://127.0.0.1:{port} --ping-timeout 0.5 --no-access-log",
        env=clean_env(aws_files),
    )
    assert_clean_error(result, 1)
    assert result.stderr.strip() == (
        f"the model did not start: the container at http://127.0.0.1:{port} did not answer "
        "GET /ping with 200 within 0.5 s (last: ConnectError)"
    )


def test_serve_local_passes_every_endpoint_option(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import runtime_client.local
    from runtime_client.cli._main import main

    seen: dict[str, object] = {}
    monkeypatch.setattr(runtime_client.local, "run", lambda **options: seen.update(options))
    assert main(
        [
            "serve-local", "--port", "0", "--data-dir", str(tmp_path), "--allow-read",
            str(tmp_path), "--variant", "Blue", "--output-locations", "s3",
            "--invocation-timeout", "5", "--ping-timeout", "2", "--account-id", "123456789012",
            "--no-access-log", "--tls", "--http2-port", "0", "--max-connections", "9",
        ]
    ) == 0  # fmt: skip
    expected = {
        "variant": "Blue",
        "output_locations": "s3",
        "invocation_timeout": 5.0,
        "ping_timeout": 2.0,
        "account_id": "123456789012",
        "readable_dirs": (str(tmp_path),),
        "tls": True,
        "http2_port": 0,
        "max_connections": 9,
    }
    assert {name: seen[name] for name in expected} == expected
    # ...and each is a field of the settings run() and serve() take
    from runtime_client.local import EndpointSettings

    EndpointSettings(**{k: v for k, v in seen.items() if k != "on_ready"})  # type: ignore[arg-type]


def test_serve_local_over_tls_prints_the_ca_to_trust(aws_files: Path) -> None:
    env = clean_env(aws_files)
    with serve_local("--port 0 --tls --http2-port 0 --no-access-log", env) as (child, banner):
        url = re.search(r"listening on (https://127\.0\.0\.1:\d+)", banner)
        h2 = re.search(r"HTTP/2 only \(the :8443 endpoint's stand-in\): (https://\S+)", banner)
        ca = re.search(r"export AWS_CA_BUNDLE=(\S+)", banner)
        assert url is not None, banner
        assert h2 is not None, banner
        assert h2.group(1) != url.group(1)
        assert ca is not None, banner
        keys = clean_env(aws_files, keys=(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY))
        result = run_cli(
            f"--endpoint-url {url.group(1)} --region {REGION} invoke-endpoint "
            "--endpoint-name ep --body 'over tls' -",
            env={**keys, "AWS_CA_BUNDLE": ca.group(1)},
        )
        assert result.code == 0, result.stderr
        assert result.stdout == b"over tls"
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=TIMEOUT)


def test_serve_local_cert_needs_key(aws_files: Path, tmp_path: Path) -> None:
    result = run_cli(f"serve-local --cert {tmp_path / 'c.pem'}", env=clean_env(aws_files))
    assert_clean_error(result, 2)
    assert "--cert and --key go together" in result.stderr
