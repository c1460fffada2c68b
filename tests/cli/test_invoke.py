"""The invoke commands against the local emulator, as a user runs them: bodies, output files,
the printed JSON, exit codes for service, configuration and transport errors, secrets never
printed, response streams written part by part, async invocations."""

from __future__ import annotations

import asyncio
import json
import queue
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import pytest

from runtime_client.cli._errors import redact
from runtime_client.local import (
    LocalEndpoint,
    ModelRequest,
    ModelResponse,
    ModelStream,
    serve,
)
from tests.cli.helpers import (
    ACCEPTED,
    CLI,
    KEY_ID,
    REGION,
    SECRET,
    TIMEOUT,
    assert_clean_error,
    at,
    clean_env,
    run_cli,
)

# ----------------------------------------------------------------------------- invoke-endpoint


def test_invoke_endpoint_writes_the_body_and_prints_the_metadata(
    echo: LocalEndpoint, invoke_env: dict[str, str], tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 3
    (tmp_path / "in.bin").write_bytes(payload)
    result = run_cli(
        f"{at(echo)} invoke-endpoint --endpoint-name my-endpoint --body fileb://in.bin "
        "--content-type application/x-test --custom-attributes trace=1 out.bin",
        env=invoke_env,
        cwd=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert (tmp_path / "out.bin").read_bytes() == payload
    assert result.json() == {
        "ContentType": "application/x-test",
        "InvokedProductionVariant": "AllTraffic",
        "CustomAttributes": "trace=1",
    }
    assert result.stdout.startswith(b'{\n    "')  # indented as the AWS CLI prints it
    assert result.stderr == ""


def test_outfile_dash_puts_the_body_alone_on_stdout(
    echo: LocalEndpoint, invoke_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "prompt.txt").write_text("héllo from a text file", encoding="utf-8")
    # Global options may also follow the command, as in the AWS CLI.
    result = run_cli(
        f"invoke-endpoint {at(echo)} --endpoint-name ep --body file://prompt.txt -",
        env=invoke_env,
        cwd=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert result.stdout == "héllo from a text file".encode()
    assert json.loads(result.stderr)["InvokedProductionVariant"] == "AllTraffic"


def test_a_literal_body_is_sent_as_utf8_text(
    fronted: LocalEndpoint, invoke_env: dict[str, str]
) -> None:
    body = shlex.quote('{"ask": "ünïcode"}')
    result = run_cli(
        f"{at(fronted)} invoke-endpoint --endpoint-name ep --body {body} "
        "--content-type application/json --accept application/json --custom-attributes k=v -",
        env=invoke_env,
    )
    assert result.code == 0, result.stderr
    assert result.json() == {
        "body": '{"ask": "ünïcode"}',
        "content_type": "application/json",
        "accept": "application/json",
        "target_model": None,
        "inference_id": None,
    }
    assert json.loads(result.stderr)["CustomAttributes"] == "seen=k=v"


def test_a_model_error_exits_254_with_the_service_message(
    fronted: LocalEndpoint, invoke_env: dict[str, str], tmp_path: Path
) -> None:
    body = shlex.quote('{"status": 400, "message": "the input is bad"}')
    result = run_cli(
        f"{at(fronted)} invoke-endpoint --endpoint-name ep --body {body} out.json",
        env=invoke_env,
        cwd=tmp_path,
    )
    assert_clean_error(result, 254)
    assert "An error occurred (ModelError) when calling the InvokeEndpoint operation" in (
        result.stderr
    )
    assert "the input is bad" in result.stderr
    assert result.stdout == b""
    assert not (tmp_path / "out.json").exists()


def test_a_wrong_secret_exits_254_and_the_secret_is_never_printed(
    echo: LocalEndpoint, aws_files: Path
) -> None:
    token = "session-token-never-printed"
    env = clean_env(aws_files, keys=(KEY_ID, SECRET + "-wrong"), AWS_SESSION_TOKEN=token)
    for debug in ("", "--debug"):
        result = run_cli(
            f"{at(echo)} {debug} invoke-endpoint --endpoint-name ep --body x -", env=env
        )
        assert result.code == 254
        assert "InvalidSignatureException" in result.stderr
        assert SECRET not in result.stderr
        assert token not in result.stderr
        assert ("Traceback" in result.stderr) == bool(debug)


def test_a_session_token_quoted_by_the_service_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The service quotes the canonical request (signed headers included) in
    # InvalidSignatureException; the emulator masks the token itself, AWS may not.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-environment")
    quoted = (
        "The Canonical String for this request should have been\n'POST\n/\n\n"
        "x-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE\n' and X-Amz-Security-Token=Q%2Fabc&x=1; "
        "secret-from-the-environment"
    )
    masked = redact(quoted)
    assert "IQoJb3JpZ2luX2VjEXAMPLE" not in masked
    assert "Q%2Fabc" not in masked
    assert "secret-from-the-environment" not in masked
    assert "x-amz-security-token:***" in masked


def test_missing_configuration_exits_253(echo: LocalEndpoint, aws_files: Path) -> None:
    invoke = "invoke-endpoint --endpoint-name ep --body x -"
    no_keys = run_cli(f"{at(echo)} {invoke}", env=clean_env(aws_files))
    assert_clean_error(no_keys, 253)
    assert "credentials" in no_keys.stderr.lower()
    env = clean_env(aws_files, keys=(KEY_ID, SECRET))
    no_region = run_cli(f"--endpoint-url {echo.url} {invoke}", env=env)
    assert_clean_error(no_region, 253)
    assert "--region" in no_region.stderr
    no_profile = run_cli(f"{at(echo)} --profile nowhere {invoke}", env=env)
    assert_clean_error(no_profile, 253)
    assert "nowhere" in no_profile.stderr


def test_transport_errors_exit_255(
    fronted: LocalEndpoint, invoke_env: dict[str, str], aws_files: Path
) -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = clean_env(aws_files, keys=(KEY_ID, SECRET), AWS_MAX_ATTEMPTS="1")
    refused = run_cli(
        f"--endpoint-url http://127.0.0.1:{port} --region {REGION} "
        "invoke-endpoint --endpoint-name ep --body x -",
        env=env,
    )
    assert_clean_error(refused, 255)
    assert "Could not connect to the endpoint URL" in refused.stderr
    slow = run_cli(
        f"{at(fronted)} --cli-read-timeout 0.3 invoke-endpoint --endpoint-name ep "
        """--body '{"sleep": 1.5}' -""",
        env=invoke_env,
    )
    assert_clean_error(slow, 255)
    assert "timeout" in slow.stderr.lower()


# ----------------------------------------------------------------------------- response stream


def test_the_stream_is_written_part_by_part(
    fronted: LocalEndpoint, invoke_env: dict[str, str], tmp_path: Path
) -> None:
    body = shlex.quote(json.dumps({"stream": ["data: one\n\n", "data: two\n\n", "data: 3\n\n"]}))
    result = run_cli(
        f"{at(fronted)} invoke-endpoint-with-response-stream --endpoint-name ep --body {body} "
        "--custom-attributes s=1 out.txt",
        env=invoke_env,
        cwd=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert (tmp_path / "out.txt").read_bytes() == b"data: one\n\ndata: two\n\ndata: 3\n\n"
    metadata = result.json()
    assert metadata["ContentType"] == "text/event-stream"
    assert metadata["CustomAttributes"] == "seen=s=1"


def test_a_broken_stream_keeps_the_parts_before_it_and_exits_254(
    fronted: LocalEndpoint, invoke_env: dict[str, str], tmp_path: Path
) -> None:
    body = shlex.quote(json.dumps({"stream": ["alpha ", "beta "], "break": True}))
    result = run_cli(
        f"{at(fronted)} invoke-endpoint-with-response-stream --endpoint-name ep --body {body} "
        "out.txt",
        env=invoke_env,
        cwd=tmp_path,
    )
    assert_clean_error(result, 254)
    assert "ModelStreamError" in result.stderr
    assert (tmp_path / "out.txt").read_bytes() == b"alpha beta "


class GatedStream:
    """Streams ``first ``, then waits for the test (at most 5 s) before ``second``."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.timed_out = False

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def invoke(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(request.body)

    async def stream(self, request: ModelRequest) -> ModelStream:
        async def parts() -> AsyncIterator[bytes]:
            yield b"first "
            for _ in range(500):  # bounded: 5 s
                if self.gate.is_set():
                    break
                await asyncio.sleep(0.01)
            else:
                self.timed_out = True
            yield b"second"

        return ModelStream(parts(), "text/plain")


def _read_exactly(stream: IO[bytes], size: int, timeout: float) -> bytes:
    box: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: box.put(stream.read(size)), daemon=True).start()
    return box.get(timeout=timeout)


def test_each_part_reaches_stdout_as_it_arrives(invoke_env: dict[str, str]) -> None:
    model = GatedStream()
    with serve(model=model, credentials=ACCEPTED) as endpoint:
        child = subprocess.Popen(
            [
                *CLI,
                *shlex.split(
                    f"{at(endpoint)} invoke-endpoint-with-response-stream "
                    "--endpoint-name ep --body go -"
                ),
            ],
            env=invoke_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert child.stdout is not None
            first = _read_exactly(child.stdout, len(b"first "), timeout=TIMEOUT)
            assert first == b"first "
            assert not model.timed_out  # it came while the model was still holding the rest
            model.gate.set()
            rest, _ = child.communicate(timeout=TIMEOUT)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=TIMEOUT)
    assert child.returncode == 0
    assert rest == b"second"
    assert not model.timed_out


# ----------------------------------------------------------------------------- async


def test_invoke_endpoint_async_prints_the_locations_and_the_result_lands_there(
    echo: LocalEndpoint, invoke_env: dict[str, str]
) -> None:
    stored = echo.data_dir / "s3" / "inputs" / "job.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(b'{"job": 7}')
    result = run_cli(
        f"{at(echo)} invoke-endpoint-async --endpoint-name ep --input-location "
        "s3://inputs/job.json --content-type application/json --inference-id job-7 "
        "--filename job7.out",
        env=invoke_env,
    )
    assert result.code == 0, result.stderr
    answer = result.json()
    assert answer["InferenceId"] == "job-7"
    assert answer["OutputLocation"].endswith("/async-output/job7.out")
    assert answer["FailureLocation"].endswith("/async-failures/job7-error.out")
    output = echo.data_dir / "s3" / "sagemaker-local" / "async-output" / "job7.out"
    deadline = time.monotonic() + 10
    while not output.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert output.read_bytes() == b'{"job": 7}'
