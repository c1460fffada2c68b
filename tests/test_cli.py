"""The ``sagemaker-runtime`` command line, run as a user runs it: a subprocess
(``python -m runtime_client ...``) against the local emulator on 127.0.0.1.

Every run gets a clean environment: no ``AWS_*`` variables from the machine, empty AWS
config and credentials files, IMDS disabled; the invoke commands get the emulator's key
pair through ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``. The emulators run in
this process (threads), one with the echo model, one in front of a small container
(``_container_server.ContainerServer``); ``serve-local`` and ``demo`` run as subprocesses.
Every subprocess is bounded by a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from _container_server import ContainerServer

from runtime_client._model import OPERATIONS
from runtime_client.cli._errors import redact
from runtime_client.cli._main import build_parser, make_client
from runtime_client.local import (
    DEMO_ACCESS_KEY_ID,
    DEMO_SECRET_ACCESS_KEY,
    LocalEndpoint,
    ModelRequest,
    ModelResponse,
    ModelStream,
    serve,
)

CLI = [sys.executable, "-m", "runtime_client"]
TIMEOUT = 30.0
REGION = "us-east-1"
SECRET = "cli-test-secret-do-not-print"
KEY_ID = "AKIDCLITEST"
ACCEPTED = {KEY_ID: SECRET, DEMO_ACCESS_KEY_ID: DEMO_SECRET_ACCESS_KEY}


@dataclass(frozen=True)
class Result:
    code: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8")

    def json(self) -> dict[str, Any]:
        document = json.loads(self.stdout)
        assert isinstance(document, dict), document
        return document


@pytest.fixture(scope="module")
def aws_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("aws")
    (folder / "config").write_text("")
    (folder / "credentials").write_text("")
    return folder


def clean_env(
    aws_files: Path, *, keys: tuple[str, str] | None = None, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("PYTHONUNBUFFERED", None)  # the CLI must flush by itself
    env["AWS_CONFIG_FILE"] = str(aws_files / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(aws_files / "credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    if keys is not None:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = keys
    env.update(extra)
    return env


def run_cli(command: str, *, env: dict[str, str], cwd: Path | None = None) -> Result:
    """Run ``sagemaker-runtime COMMAND`` (split as a POSIX shell would) and wait for it."""
    done = subprocess.run(
        [*CLI, *shlex.split(command)],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr.decode("utf-8", errors="replace"))


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


def at(endpoint: LocalEndpoint) -> str:
    """The global options that point the CLI at an emulator."""
    return f"--endpoint-url {endpoint.url} --region {REGION}"


def assert_clean_error(result: Result, code: int) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr
    assert SECRET not in result.text


# ----------------------------------------------------------------------------- help, startup


def test_help_lists_the_commands_and_exit_codes(aws_files: Path) -> None:
    result = run_cli("--help", env=clean_env(aws_files))
    assert result.code == 0
    for command in (
        "invoke-endpoint",
        "invoke-endpoint-with-response-stream",
        "invoke-endpoint-async",
        "serve-local",
        "demo",
    ):
        assert command in result.text
    assert "254 service error" in " ".join(result.text.split())


#: The operations ``aws sagemaker-runtime`` has (the CLI's shape); the HTTP/2 service's
#: bidirectional stream has no command there.
CLASSIC_OPERATIONS = sorted(name for name, op in OPERATIONS.items() if not op.http2)


def test_the_classic_operations_are_three() -> None:
    assert CLASSIC_OPERATIONS == [
        "InvokeEndpoint",
        "InvokeEndpointAsync",
        "InvokeEndpointWithResponseStream",
    ]


@pytest.mark.parametrize("operation", CLASSIC_OPERATIONS)
def test_every_input_of_the_operation_is_an_option(aws_files: Path, operation: str) -> None:
    command = re.sub(r"(?<!^)(?=[A-Z])", "-", operation).lower()
    result = run_cli(f"{command} --help", env=clean_env(aws_files))
    assert result.code == 0
    expected = {
        "EndpointName": "--endpoint-name",
        "S3OutputPathExtension": "--s3-output-path-extension",
        "RequestTTLSeconds": "--request-ttl-seconds",
        "InvocationTimeoutSeconds": "--invocation-timeout-seconds",
        "TargetContainerHostname": "--target-container-hostname",
    }
    for member in OPERATIONS[operation].inputs:
        flag = expected.get(member.name)
        if flag is None:
            flag = "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", member.name).lower()
        assert flag in result.text, (operation, member.name)


def _imported(*args: str, env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_help_imports_no_server_and_nothing_beyond_the_package(aws_files: Path) -> None:
    env = clean_env(aws_files)
    help_modules = _imported("-m", "runtime_client", "--help", env=env)
    package_modules = _imported("-c", "import runtime_client", env=env)
    assert "runtime_client.cli._main" in help_modules
    loaded_servers = {
        m for m in help_modules if m.split(".")[0] in ("hypercorn", "h2", "h11", "wsproto")
    }
    assert loaded_servers == set()
    assert not any(
        m.startswith(("runtime_client.local", "runtime_client.cli._local")) for m in help_modules
    )
    added_by_cli = {m.split(".")[0] for m in help_modules - package_modules}
    assert added_by_cli & {"anyio", "httpx", "httpcore", "sniffio", "asyncio"} == set()


def parse(command: str) -> argparse.Namespace:
    return build_parser().parse_args(shlex.split(command))


def test_global_options_configure_the_client(
    aws_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = clean_env(aws_files)
    for name in [n for n in os.environ if n.startswith("AWS_") and n not in clean]:
        monkeypatch.delenv(name)
    for name, value in clean.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    args = parse(
        "--region eu-west-1 --cli-read-timeout 0 --cli-connect-timeout 2.5 "
        "invoke-endpoint --endpoint-name ep --body x -"
    )
    with make_client(args) as client:
        resolved = client.meta.resolved_config
        assert client.meta.region_name == "eu-west-1"
        assert client.meta.endpoint_url == "https://runtime.sagemaker.eu-west-1.amazonaws.com"
        assert resolved.read_timeout is None  # 0: no limit, as in the AWS CLI
        assert resolved.connect_timeout == 2.5
    assert parse("--region eu-west-1 demo").region == "eu-west-1"
    assert parse("invoke-endpoint --endpoint-name e --body x - --region r").region == "r"


# ----------------------------------------------------------------------------- usage errors


def test_usage_errors_exit_2(aws_files: Path, tmp_path: Path) -> None:
    env = clean_env(aws_files)
    missing = run_cli("invoke-endpoint --body x -", env=env)
    assert_clean_error(missing, 2)
    assert "--endpoint-name" in missing.stderr
    assert_clean_error(run_cli("no-such-command", env=env), 2)
    assert_clean_error(run_cli("", env=env), 2)
    unreadable = run_cli(
        f"invoke-endpoint --endpoint-name ep --body fileb://{tmp_path}/none -", env=env
    )
    assert_clean_error(unreadable, 2)
    assert "Unable to load paramfile fileb://" in unreadable.stderr
    not_int = run_cli(
        "invoke-endpoint-async --endpoint-name ep --request-ttl-seconds soon", env=env
    )
    assert_clean_error(not_int, 2)
    assert "--request-ttl-seconds" in not_int.stderr
    assert_clean_error(run_cli("--cli-read-timeout -1 demo", env=env), 2)


def test_parameters_the_model_refuses_are_usage_errors(
    echo: LocalEndpoint, invoke_env: dict[str, str]
) -> None:
    bad_name = run_cli(
        f"{at(echo)} invoke-endpoint --endpoint-name no_underscores --body x -", env=invoke_env
    )
    assert_clean_error(bad_name, 2)
    assert "Parameter validation failed" in bad_name.stderr
    assert "EndpointName" in bad_name.stderr
    short_ttl = run_cli(
        f"{at(echo)} invoke-endpoint-async --endpoint-name ep --input-location s3://b/k "
        "--request-ttl-seconds 10",
        env=invoke_env,
    )
    assert_clean_error(short_ttl, 2)
    assert "RequestTTLSeconds" in short_ttl.stderr


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
