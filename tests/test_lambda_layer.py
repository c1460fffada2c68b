"""The README's Lambda recipe, run: ``pip install --target layer/python`` of this package,
zipped with ``python -m zipfile``; the layer unpacked elsewhere (as Lambda unpacks it in
/opt) and a handler run from it alone (``python -S``: no site-packages, only the layer),
twice in one process with one module-level client, against the local endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from runtime_client.local import DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, serve
from tests.support.venvs import skip_if_installed_once

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024

HANDLER = """
import json, sys
from runtime_client import SageMakerRuntime

client = SageMakerRuntime()  # region, credentials and endpoint from the environment

def handler(event, context):
    answer = client.invoke_endpoint(EndpointName=event["endpoint"], Body=event["body"])
    return answer["Body"].read().decode()

print(json.dumps({
    "answers": [handler({"endpoint": "e", "body": f"call {n}"}, None) for n in (1, 2)],
    "from": sys.modules["runtime_client"].__file__,
    "botocore": "botocore" in sys.modules or "boto3" in sys.modules,
}))
"""


@pytest.fixture(scope="module")
def layer_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    skip_if_installed_once()
    build = tmp_path_factory.mktemp("layer-build")
    target = build / "layer" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if install.returncode != 0:
        last = (install.stderr.strip().splitlines() or ["(no output)"])[-1]
        pytest.skip(f"could not build the layer (pip install --target): {last}")
    archive = build / "layer.zip"
    subprocess.run(
        [sys.executable, "-m", "zipfile", "-c", str(archive), "python"],
        cwd=target.parent, check=True, timeout=120,
    )  # fmt: skip
    return archive


def test_the_layer_is_small_and_holds_no_boto(layer_zip: Path) -> None:
    size = layer_zip.stat().st_size
    print(f"layer: {size / MiB:.2f} MiB zipped")
    assert size < 4 * MiB
    with zipfile.ZipFile(layer_zip) as archive:
        tops = {name.split("/")[1] for name in archive.namelist() if name.count("/") >= 2}
    assert {"runtime_client", "sigv4", "httpx"} <= tops
    assert not tops & {"boto3", "botocore", "s3transfer", "urllib3"}


def test_a_handler_runs_from_the_layer_alone(layer_zip: Path, tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    with zipfile.ZipFile(layer_zip) as archive:
        archive.extractall(opt)
    (tmp_path / "handler.py").write_text(textwrap.dedent(HANDLER))
    base = getattr(sys, "_base_executable", sys.executable)
    with serve() as endpoint:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(opt / "python"),
            "AWS_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DEMO_SECRET_ACCESS_KEY,
            "AWS_REGION": "us-east-1",  # Lambda sets both
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint.url,
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        ran = subprocess.run(
            [base, "-S", "handler.py"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen["answers"] == ["call 1", "call 2"]
    assert seen["from"].startswith(str(opt / "python"))
    assert seen["botocore"] is False
