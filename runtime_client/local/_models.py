"""The models behind the local endpoint: what the emulator calls once a request is checked.

A model is any object with the four methods of :class:`Model`. Two demo models are built
in, and :class:`~runtime_client.local.ContainerModel` (in ``_container.py``) forwards to a
server speaking SageMaker's container contract::

    "echo"    EchoModel         answers with the request body and content type; streams the
                                body back in small parts
    "stream"  TokenStreamModel  a text-generation stand-in: streams its input back word by
                                word as server-sent events, TGI style:
                                data: {"token": {"text": "word "}}\\n\\n
    URL       ContainerModel    GET {URL}/ping, POST {URL}/invocations

How failures travel::

    raise ModelFailure(message, status_code=400)   before the answer starts: ModelError (424)
                                                   with OriginalStatusCode and OriginalMessage
    raise ModelFailure(message)                    no status: ModelError without them (timeouts,
                                                   connection failures)
    any other exception before the answer starts   ModelError as if the container answered
                                                   500 (the exception's type and text)
    raise ModelFailure(...) while streaming        a ModelStreamError event, ErrorCode from
                                                   ``stream_error_code`` (StreamBroken,
                                                   ModelInvocationTimeExceeded)
    any other exception while streaming            an InternalStreamFailure event
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = [
    "EchoModel",
    "Model",
    "ModelFailure",
    "ModelRequest",
    "ModelResponse",
    "ModelStream",
    "TokenStreamModel",
]


@dataclass(frozen=True)
class ModelRequest:
    """One invocation as the model sees it (the container contract's view of a request).

    ``accept`` is the Accept the caller gave (``X-Amzn-SageMaker-Accept`` for the stream and
    async operations). ``body`` is never shown in the repr.
    """

    body: bytes = field(repr=False)
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    target_model: str | None = None
    inference_id: str | None = None
    session_id: str | None = None
    endpoint_name: str = ""
    streaming: bool = False


@dataclass(frozen=True)
class ModelResponse:
    """A whole answer from a model."""

    body: bytes = field(repr=False)
    content_type: str = "application/octet-stream"
    custom_attributes: str | None = None
    new_session_id: str | None = None
    closed_session_id: str | None = None


@dataclass
class ModelStream:
    """A streamed answer: its metadata first, then ``parts`` (an async iterator of bytes).

    The emulator sends one ``PayloadPart`` event per non-empty item of ``parts``.
    """

    parts: AsyncIterator[bytes] = field(repr=False)
    content_type: str = "application/octet-stream"
    custom_attributes: str | None = None


class ModelFailure(Exception):
    """The model failed; see the module docstring for how each case reaches the caller.

    ``status_code`` is what the container answered (``OriginalStatusCode``), ``message``
    what it said (``OriginalMessage``), or a description of what went wrong when the
    container gave no answer. ``stream_error_code`` is the ``ErrorCode`` of the
    ``ModelStreamError`` event when the failure happens mid-stream.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        stream_error_code: str = "StreamBroken",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.stream_error_code = stream_error_code


@runtime_checkable
class Model(Protocol):
    """What the emulator calls. ``start`` runs once when the server starts (it may raise to
    refuse to start, e.g. a container that never answers ``/ping``), ``aclose`` once at
    shutdown."""

    name: str

    async def start(self) -> None: ...

    async def invoke(self, request: ModelRequest) -> ModelResponse: ...

    async def stream(self, request: ModelRequest) -> ModelStream: ...

    async def aclose(self) -> None: ...


async def _iterate(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class EchoModel:
    """Answers with the request body and its content type; custom attributes come back
    as they went. Streams the body back in parts of ``part_size`` bytes."""

    name = "echo"

    def __init__(self, part_size: int = 16) -> None:
        if isinstance(part_size, bool) or not isinstance(part_size, int) or part_size < 1:
            raise ValueError(f"part_size must be a positive int, not {part_size!r}")
        self.part_size = part_size

    def __repr__(self) -> str:
        return f"EchoModel(part_size={self.part_size})"

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def invoke(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(
            request.body,
            request.content_type or "application/octet-stream",
            request.custom_attributes,
        )

    async def stream(self, request: ModelRequest) -> ModelStream:
        body, size = request.body, self.part_size
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        return ModelStream(
            _iterate(parts),
            request.content_type or "application/octet-stream",
            request.custom_attributes,
        )


_WORD = re.compile(r"\s*\S+\s*")


class TokenStreamModel:
    """A stand-in for a text-generation container (TGI's wire format).

    The prompt is ``inputs`` of a JSON object body (``{"inputs": "...", "parameters":
    {...}}``) or else the whole body as UTF-8 text. Streaming sends one server-sent event
    per word, the word keeping its trailing whitespace so the texts join back to the
    prompt::

        data: {"token": {"text": "Hello "}}\\n\\n
        data: {"token": {"text": "world"}}\\n\\n

    A whole answer (``InvokeEndpoint``) is ``[{"generated_text": prompt}]``. A body that is
    not UTF-8 is a client error (400) from the model, as a real container would answer.
    """

    name = "stream"

    def __repr__(self) -> str:
        return "TokenStreamModel()"

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    @staticmethod
    def prompt(body: bytes) -> str:
        """The text to echo back (see the class docstring)."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelFailure(
                '{"error": "Input payload must be valid UTF-8", "error_type": "validation"}',
                status_code=400,
            ) from None
        try:
            document = json.loads(text)
        except ValueError:
            return text
        if isinstance(document, dict) and isinstance(document.get("inputs"), str):
            return str(document["inputs"])
        return text

    async def invoke(self, request: ModelRequest) -> ModelResponse:
        text = self.prompt(request.body)
        answer = json.dumps([{"generated_text": text}]).encode()
        return ModelResponse(answer, "application/json", request.custom_attributes)

    async def stream(self, request: ModelRequest) -> ModelStream:
        text = self.prompt(request.body)
        events = [
            b"data: " + json.dumps({"token": {"text": word}}).encode() + b"\n\n"
            for word in _WORD.findall(text)
        ]
        return ModelStream(_iterate(events), "text/event-stream", request.custom_attributes)
