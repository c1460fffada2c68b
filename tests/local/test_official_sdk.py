"""AWS's own HTTP/2 SDK against the local endpoint: ``aws-sdk-sagemaker-runtime-http2`` with
its awscrt client, over TLS with ALPN ``h2`` on the HTTP/2-only port, signing its events as
AWS's signers do (``:date`` with milliseconds). The SDK needs Python >= 3.12: the test run
makes a virtual environment with one (this interpreter, or pyenv's, or ``python3.1x`` on
PATH) and installs the SDK from the package index; where either is missing the test skips
and says why. What the SDK does runs in ``official_sdk_client.py`` in that environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime_client.local import EchoModel, ModelFailure, serve
from runtime_client.local._bidi_models import BidiInvocation, BidiPart
from tests.local.emulator import ACCEPTED, CREDS, REGION, SECRET
from tests.support.venvs import python_at_least, skip_if_installed_once, venv_with

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="the SDK speaks HTTP/2 over TLS only; tls=True needs the optional 'cryptography'",
)

_CLIENT = Path(__file__).with_name("official_sdk_client.py")
_PACKAGES = ("aws-sdk-sagemaker-runtime-http2", "smithy-http[awscrt]")


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The interpreter of a new virtual environment holding the SDK."""
    skip_if_installed_once()
    base = python_at_least(12)
    if base is None:
        pytest.skip("no Python >= 3.12 here (interpreter, pyenv or PATH): the SDK needs one")
    return str(venv_with(tmp_path_factory.mktemp("official-sdk"), base, _PACKAGES) / "python")


class _ScenarioModel(EchoModel):
    """``echo`` echoes; ``refuse`` fails before answering (424 ModelError); ``break``
    answers one part, then fails mid-stream (a ModelStreamError event)."""

    async def open_bidirectional(
        self, invocation: BidiInvocation, parts: AsyncIterator[BidiPart]
    ) -> AsyncIterator[BidiPart]:
        if invocation.endpoint_name == "refuse":
            raise ModelFailure("the model refused the stream", status_code=400)

        async def answer() -> AsyncIterator[BidiPart]:
            async for part in parts:
                yield part
                if invocation.endpoint_name == "break":
                    raise ModelFailure("the model broke", stream_error_code="ModelBroke")

        return answer()


def test_the_official_http2_sdk_duplex_model_error_and_stream_error(
    sdk_python: str, tmp_path: Path
) -> None:
    with serve(
        model=_ScenarioModel(), credentials=ACCEPTED, tls=True, http2_port=0, data_dir=tmp_path
    ) as endpoint:
        assert endpoint.http2_url is not None
        ran = subprocess.run(
            [
                sdk_python,
                str(_CLIENT),
                endpoint.http2_url,
                str(endpoint.info.ca_bundle),
                CREDS.access_key_id,
                SECRET,
                REGION,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )
    assert ran.returncode == 0, ran.stderr[-4000:]
    seen = json.loads(ran.stdout)
    assert seen["duplex"] == ["first", "second", "third"]
    assert "the model refused the stream" in seen["model_error"].pop("message")
    assert seen["model_error"] == {
        "raised": "ModelError",
        "original_status_code": 400,
        "original_message": "the model refused the stream",
        "error_code": "CLIENT_ERROR_FROM_MODEL",
    }
    assert seen["stream_error"][0] == {"part": "one"}
    failure = seen["stream_error"][1]
    assert failure["message"] == "the model broke"
    assert failure["error_code"] == "ModelBroke"
    assert "ModelStreamError" in (failure.get("raised", "") + failure.get("event", ""))
    assert len(seen["stream_error"]) == 2
