"""What the bidirectional-stream tests of the local endpoint share: clients for it, input
events, a model that refuses, a signer that tampers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anyio

from runtime_client._client import AsyncSageMakerRuntime, SageMakerRuntime
from runtime_client._config import Config
from runtime_client._model import INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM
from runtime_client._restjson import SerializedRequest, serialize_request
from runtime_client.bidi._async import (
    AsyncBidirectionalStream,
)
from runtime_client.bidi._sync import (
    BidirectionalStream,
)
from runtime_client.local import EchoModel, LocalEndpoint, ModelFailure
from runtime_client.local._bidi_models import BidiInvocation, BidiPart
from sigv4 import EventSigner, SignedEvent
from sigv4._record import replace
from tests.local.emulator import CREDS, REGION, SECRET

TIMEOUT = 15.0


MiB = 1024 * 1024


def part(data: bytes, state: str = "COMPLETE", kind: str = "UTF8") -> dict[str, Any]:
    return {"PayloadPart": {"Bytes": data, "DataType": kind, "CompletionState": state}}


def options(url: str) -> dict[str, Any]:
    return {
        "region_name": REGION,
        "endpoint_url": url,
        "aws_access_key_id": CREDS.access_key_id,
        "aws_secret_access_key": SECRET,
        "config": Config(read_timeout=TIMEOUT, connect_timeout=TIMEOUT),
    }


async def call(endpoint: LocalEndpoint, **params: Any) -> AsyncBidirectionalStream:
    client = AsyncSageMakerRuntime(**options(endpoint.url))
    with anyio.fail_after(TIMEOUT):
        return await client.invoke_endpoint_with_bidirectional_stream(**params)


def sync_call(endpoint: LocalEndpoint, **params: Any) -> BidirectionalStream:
    client = SageMakerRuntime(**options(endpoint.url))
    return client.invoke_endpoint_with_bidirectional_stream(**params)


class RefusingModel(EchoModel):
    """Refuses at once, or (``after_first``) once it has read the first part."""

    def __init__(self, after_first: bool = False) -> None:
        super().__init__()
        self.after_first = after_first

    async def open_bidirectional(
        self, invocation: BidiInvocation, parts: AsyncIterator[BidiPart]
    ) -> AsyncIterator[BidiPart]:
        if self.after_first:
            first = await parts.__anext__()
            message = f"cannot handle {first.data.decode()}"
        else:
            message = "model is not ready for streams"
        raise ModelFailure(message, status_code=400)


class TamperingSigner(EventSigner):
    """Signs as usual but flips a bit of the signature of message number ``bad``."""

    bad = 1

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.count = 0

    def sign(self, payload: bytes | bytearray | memoryview, time: datetime) -> SignedEvent:
        signed = super().sign(payload, time)
        self.count += 1
        if self.count - 1 != self.bad:
            return signed
        broken = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
        return replace(signed, signature=broken)


def bidi_call(params: dict[str, str]) -> SerializedRequest:
    """The operation's parameters laid out as the client sends them."""
    return serialize_request(INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM, params)
