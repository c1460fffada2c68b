"""What the command-line tests share: running ``python -m runtime_client ...`` as a user runs
it (a subprocess, a clean environment, a timeout) and reading what it printed.

Every run gets a clean environment: no ``AWS_*`` variables from the machine, empty AWS
config and credentials files, IMDS disabled; the invoke commands get the emulator's key
pair through ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime_client.local import (
    DEMO_ACCESS_KEY_ID,
    DEMO_SECRET_ACCESS_KEY,
    LocalEndpoint,
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


def at(endpoint: LocalEndpoint) -> str:
    """The global options that point the CLI at an emulator."""
    return f"--endpoint-url {endpoint.url} --region {REGION}"


def assert_clean_error(result: Result, code: int) -> None:
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr
    assert SECRET not in result.text
