"""What the emulator's bidirectional endpoint talks to: a model *session* fed part by part.

InvokeEndpointWithBidirectionalStream gives the model a stream of input parts and takes a
stream of output parts back, both at once. Here that is one coroutine::

    output = await model.open_bidirectional(invocation, parts)
        invocation  BidiInvocation: endpoint name, variant, ModelInvocationPath,
                    ModelQueryString of the call
        parts       async iterator of BidiPart, the caller's PayloadParts as they arrive
                    (verified, unwrapped); it ends when the caller closes its input
        output      async iterator of BidiPart, each sent at once as a PayloadPart event

How failures travel (as for the other operations, see ``_models.py``)::

    raise ModelFailure(...) in open_bidirectional   ModelError (424) before the answer starts,
                                                    even while the caller's input is open
    raise ModelFailure(...) while iterating output  a ModelStreamError event, then the end
    any other exception while iterating output      an InternalStreamFailure event

A :class:`~runtime_client.local.Model` with an ``open_bidirectional`` method of that shape
serves the operation itself. The built-in models get one here (:func:`bidi_session_for`):

    "echo"    each part goes back as soon as it arrives, with its DataType and
              CompletionState (the output ends when the input does)
    "stream"  each whole message (parts up to one whose CompletionState is not PARTIAL)
              comes back word by word as ``{"token": {"text": "word "}}`` parts, UTF8,
              the last of each message COMPLETE
    URL       the container bridge (``_bidi_container.py``)
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from ._models import EchoModel, Model, ModelFailure, TokenStreamModel

__all__ = [
    "BidiInvocation",
    "BidiOpener",
    "BidiPart",
    "bidi_session_for",
    "echo_session",
    "token_session",
]


@dataclass(frozen=True)
class BidiPart:
    """One PayloadPart: its bytes and the optional ``DataType`` (``UTF8``/``BINARY``) and
    ``CompletionState`` (``PARTIAL``/``COMPLETE``) headers. ``data`` is kept out of repr."""

    data: bytes = field(repr=False)
    data_type: str | None = None
    completion_state: str | None = None

    @property
    def ends_message(self) -> bool:
        """True unless the part says more of its message follows (``PARTIAL``)."""
        return self.completion_state != "PARTIAL"


@dataclass(frozen=True)
class BidiInvocation:
    """One bidirectional call as the model sees it."""

    endpoint_name: str
    target_variant: str | None = None
    invocation_path: str | None = None
    query_string: str | None = None


BidiOpener = Callable[[BidiInvocation, AsyncIterator[BidiPart]], Awaitable[AsyncIterator[BidiPart]]]
"""The shape of ``open_bidirectional``."""


async def _echo(parts: AsyncIterator[BidiPart]) -> AsyncIterator[BidiPart]:
    async for part in parts:
        yield part


async def echo_session(
    invocation: BidiInvocation, parts: AsyncIterator[BidiPart]
) -> AsyncIterator[BidiPart]:
    """The echo model's session: every part straight back, as soon as it arrives."""
    return _echo(parts)


async def _messages(parts: AsyncIterator[BidiPart], limit: int) -> AsyncIterator[bytes]:
    """Join parts into whole messages (a message ends with a part that is not PARTIAL)."""
    pending = bytearray()
    async for part in parts:
        pending += part.data
        if len(pending) > limit:
            raise ModelFailure(
                f"A message is larger than {limit} bytes.", stream_error_code="StreamBroken"
            )
        if part.ends_message:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


_MESSAGE_LIMIT = 16 * 1024 * 1024
_WORD = re.compile(r"\s*\S+\s*")


async def _tokens(parts: AsyncIterator[BidiPart]) -> AsyncIterator[BidiPart]:
    async for message in _messages(parts, _MESSAGE_LIMIT):
        words = _WORD.findall(TokenStreamModel.prompt(message)) or [""]
        for index, word in enumerate(words):
            last = index == len(words) - 1
            yield BidiPart(
                json.dumps({"token": {"text": word}}).encode(),
                "UTF8",
                "COMPLETE" if last else "PARTIAL",
            )


async def token_session(
    invocation: BidiInvocation, parts: AsyncIterator[BidiPart]
) -> AsyncIterator[BidiPart]:
    """The token streamer's session (see the module docstring). A message that is not
    UTF-8 ends the stream with a ModelStreamError, as a container's error would."""
    return _tokens(parts)


def bidi_session_for(model: Model) -> BidiOpener | None:
    """How ``model`` serves the bidirectional operation, or None when it cannot.

    Its own ``open_bidirectional`` wins; then the built-in models' sessions; a
    :class:`~runtime_client.local.ContainerModel` is bridged to its container."""
    own: Any = getattr(model, "open_bidirectional", None)
    if callable(own):
        return cast(BidiOpener, own)
    if isinstance(model, EchoModel):
        return echo_session
    if isinstance(model, TokenStreamModel):
        return token_session
    from ._container import ContainerModel

    if isinstance(model, ContainerModel):
        from ._bidi_container import ContainerBridge

        return ContainerBridge(model).open
    return None
