"""The command line's help, options made from the service model, global options, and usage
errors (exit code 2)."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from runtime_client._model import OPERATIONS
from runtime_client.cli._main import build_parser, make_client
from runtime_client.local import (
    LocalEndpoint,
)
from tests.cli.helpers import (
    TIMEOUT,
    assert_clean_error,
    at,
    clean_env,
    run_cli,
)

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
