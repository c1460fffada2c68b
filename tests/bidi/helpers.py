"""What the bidirectional-stream tests share: clients for the loopback server, input events,
and the sans-IO connection driven by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import anyio
import h2.config
import h2.connection
import h2.events

from runtime_client._client import AsyncSageMakerRuntime, SageMakerRuntime
from runtime_client._config import Config
from runtime_client._model import INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM
from runtime_client._restjson import SerializedRequest, serialize_request
from runtime_client.bidi._async import (
    AsyncBidirectionalStream,
)
from runtime_client.bidi._connection import BidiConnection
from runtime_client.bidi._events import (
    build_bidi_request,
)
from runtime_client.bidi._sync import (
    BidirectionalStream,
)
from runtime_client.eventstream import EventStreamDecoder, EventStreamMessage
from sigv4 import Credentials
from tests.support.h2_server import KEYS, REGION

TIMEOUT = 10.0


MiB = 1024 * 1024


def client(url: str, **kwargs: Any) -> AsyncSageMakerRuntime:
    return AsyncSageMakerRuntime(
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=KEYS["AKIDEXAMPLE"],
        **kwargs,
    )


def part(data: bytes, state: str = "COMPLETE", kind: str = "UTF8") -> dict[str, Any]:
    return {"PayloadPart": {"Bytes": data, "DataType": kind, "CompletionState": state}}


async def wait_for(condition: Callable[[], bool]) -> None:
    """Poll a condition on the server thread's records, for at most TIMEOUT seconds."""
    with anyio.fail_after(TIMEOUT):
        while not condition():
            await anyio.sleep(0.02)


async def call(url: str, **params: Any) -> AsyncBidirectionalStream:
    sm = client(url, **params.pop("client_kwargs", {}))
    with anyio.fail_after(TIMEOUT):
        return await sm.invoke_endpoint_with_bidirectional_stream(**params)


def creds() -> Credentials:
    return Credentials("AKIDEXAMPLE", KEYS["AKIDEXAMPLE"])


def outer_messages(count: int) -> tuple[str, list[EventStreamMessage]]:
    """Drive the sans-IO client through its public API and read its bytes back with an
    h2 server connection: (seed signature, outer messages as sent)."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    request = build_bidi_request(
        "https://runtime.sagemaker.us-east-1.amazonaws.com:8443",
        bidi_call({"EndpointName": "ep"}),
        credentials=creds(),
        region=REGION,
        time=now,
    )
    conn = BidiConnection(request, endpoint_url="https://x:8443")
    conn.start()
    for i in range(count):
        conn.send_event(part(str(i).encode()), now)
    conn.close_input(now)
    conn.flush_input()
    assert conn.input_pending == 0
    peer = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    peer.initiate_connection()
    decoder = EventStreamDecoder()
    messages: list[EventStreamMessage] = []
    ended = False
    for event in peer.receive_data(conn.data_to_send()):
        if isinstance(event, h2.events.DataReceived):
            messages.extend(decoder.feed(event.data))
        ended = ended or isinstance(event, h2.events.StreamEnded)
    assert ended  # END_STREAM after the signed empty message
    return request.signature, messages


def chain_parts(message: EventStreamMessage) -> tuple[object, object, bytes]:
    return message.headers.get(":date"), message.headers.get(":chunk-signature"), message.payload


def answered_early(answer: bool) -> BidiConnection:
    """A connection whose server answered 424 (when ``answer``) and closed the connection
    while the input was open, seen through a write that failed first: the answer is still
    in the socket when the sender learns that writing broke."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    request = build_bidi_request(
        "http://127.0.0.1:1",
        bidi_call({"EndpointName": "ep"}),
        credentials=creds(),
        region=REGION,
        time=now,
    )
    conn = BidiConnection(request, endpoint_url="http://127.0.0.1:1")
    conn.start()
    conn.send_event(part(b"x" * 20000), now)
    conn.flush_input()
    peer = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    peer.initiate_connection()
    peer.receive_data(conn.data_to_send())
    if answer:
        body = b'{"Message": "model is not ready for streams"}'
        headers = [(":status", "424"), ("x-amzn-errortype", "ModelError")]
        peer.send_headers(1, [*headers, ("content-length", str(len(body)))])
        peer.send_data(1, body, end_stream=True)
    conn.send_event(part(b"x" * 20000), now)
    conn.flush_input()
    conn.receive_write_error(BrokenPipeError(32, "Broken pipe"))  # the server hung up
    assert conn.input_stalled  # not failed yet: the answer may still be read
    assert conn.data_to_send() == b""
    conn.flush_input()  # nothing to do, nothing raised while the reader reads on
    conn.receive_data(peer.data_to_send())
    conn.receive_eof()
    assert conn.finished  # reading is over: no longer stalled
    return conn


def sync_call(url: str, **params: Any) -> BidirectionalStream:
    options: dict[str, Any] = {
        "region_name": REGION,
        "endpoint_url": url,
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": KEYS["AKIDEXAMPLE"],
        "config": Config(read_timeout=TIMEOUT, connect_timeout=TIMEOUT),
        **params.pop("client_kwargs", {}),
    }
    return SageMakerRuntime(**options).invoke_endpoint_with_bidirectional_stream(**params)


def bidi_call(params: dict[str, str]) -> SerializedRequest:
    """The operation's parameters laid out as the client sends them."""
    return serialize_request(INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM, params)
