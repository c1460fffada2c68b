"""Virtual environments a test run makes for software that is not ours (AWS's HTTP/2 SDK,
the AWS CLI), installed from the package index; a test that needs one skips, saying why,
where the interpreter or the index is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["python_at_least", "skip_if_installed_once", "venv_with"]

_INSTALL_SECONDS = 600
#: Set by ``.ci/run`` for its extra runs under other Pythons: the tests that install other
#: software (into a venv or a layer folder) ran once already, in its main run.
SKIP_VARIABLE = "RUNTIME_CLIENT_TESTS_SKIP_INSTALLS"


def skip_if_installed_once() -> None:
    """Skip, saying why, in a run where ``SKIP_VARIABLE`` says installs were tested."""
    if os.environ.get(SKIP_VARIABLE):
        pytest.skip(f"tests that install software ran once in this CI's main run ({SKIP_VARIABLE})")


def python_at_least(minor: int) -> str | None:
    """An interpreter of Python 3.MINOR or later: this one, pyenv's, or ``python3.1x``."""
    if sys.version_info >= (3, minor):
        return sys.executable
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        listed = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, timeout=60
        )
        for version in sorted(listed.stdout.split(), reverse=True):
            parts = version.split(".")
            if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] == "3":
                if int(parts[1]) < minor:
                    continue
                prefix = subprocess.run(
                    [pyenv, "prefix", version], capture_output=True, text=True, timeout=60
                ).stdout.strip()
                candidate = Path(prefix, "bin", "python3")
                if candidate.is_file():
                    return str(candidate)
    for found_minor in range(14, minor - 1, -1):
        found = shutil.which(f"python3.{found_minor}")
        if found is not None:
            return found
    return None


def venv_with(folder: Path, base: str, packages: tuple[str, ...]) -> Path:
    """A new virtual environment in ``folder`` made by ``base`` with ``packages``; its
    ``bin`` folder. Skips the calling test, naming why, when the install fails."""
    skip_if_installed_once()
    venv = folder / "venv"
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
        capture_output=True,
        text=True,
        timeout=_INSTALL_SECONDS,
    )
    if install.returncode != 0:
        last = (install.stderr.strip().splitlines() or ["(no output)"])[-1]
        pytest.skip(f"could not install {' '.join(packages)} from the package index: {last}")
    return venv / "bin"
