"""What the local endpoint tests share: the accepted key, the paths of the operations, and
small readers of answers (event streams, rest-json errors, async result files)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from runtime_client.eventstream import EventStreamDecoder, EventStreamMessage
from runtime_client.local import ModelFailure, ModelRequest, ModelResponse, ModelStream
from sigv4 import Credentials, SigV4Auth

SECRET = "emulator-test-secret"


CREDS = Credentials("AKIDEMULATORTEST", SECRET)


ACCEPTED = {CREDS.access_key_id: SECRET}


REGION = "us-east-1"


INVOKE = "/endpoints/my-endpoint/invocations"


STREAM = "/endpoints/my-endpoint/invocations-response-stream"


ASYNC = "/endpoints/my-endpoint/async-invocations"


POLL_SECONDS = 5.0


def auth(creds: Credentials = CREDS, **kwargs: Any) -> SigV4Auth:
    return SigV4Auth(
        creds, kwargs.pop("region", REGION), kwargs.pop("service", "sagemaker"), **kwargs
    )


def decode(body: bytes) -> list[EventStreamMessage]:
    decoder = EventStreamDecoder()
    messages = decoder.feed(body)
    decoder.end()
    return messages


def error_of(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    assert response.headers["x-amzn-RequestId"]
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.headers["x-amzn-ErrorType"], response.json()


def wait_for_file(*paths: Path) -> Path:
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        for path in paths:
            if path.exists():
                return path
        time.sleep(0.02)
    raise AssertionError(f"none of {paths} appeared within {POLL_SECONDS} s")


def local_path(location: str) -> Path:
    assert location.startswith("file://"), location
    return Path(location.removeprefix("file://"))


class Failing:
    """A model that streams two parts, then fails as told by the request body."""

    name = "failing"

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def invoke(self, request: ModelRequest) -> ModelResponse:
        if request.body == b"crash":
            raise RuntimeError("model crashed")
        raise ModelFailure("cannot answer that", status_code=422)

    async def stream(self, request: ModelRequest) -> ModelStream:
        async def parts() -> AsyncIterator[bytes]:
            yield b"first "
            yield b"second "
            if request.body == b"timeout":
                raise ModelFailure("too slow", stream_error_code="ModelInvocationTimeExceeded")
            raise RuntimeError("internal")

        return ModelStream(parts(), "text/plain")
