"""The bidirectional stream against the local endpoint on raw HTTP/2 frames (h2, no client):
what the endpoint does with requests and events our client would never send."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import anyio
import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from runtime_client import _errors
from runtime_client.bidi import _connection as _bidi
from runtime_client.bidi._events import build_bidi_request
from runtime_client.eventstream import EventStreamDecoder, EventStreamMessage, encode_message
from runtime_client.local import LocalEndpoint, serve
from sigv4 import EventSigner
from tests.local.bidi_helpers import (
    TIMEOUT,
    RefusingModel,
    TamperingSigner,
    bidi_call,
    call,
    part,
    sync_call,
)
from tests.local.emulator import ACCEPTED, CREDS, REGION

# --------------------------------------------------------------------- raw HTTP/2


def test_sync_tampered_first_message_before_the_answer_is_a_403(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This model waits for the first part before it answers, so the emulator has sent
    # no headers yet when the bad signature arrives: the answer is a rest-json 403.
    monkeypatch.setattr(TamperingSigner, "bad", 0)
    monkeypatch.setattr(_bidi, "EventSigner", TamperingSigner)
    with (
        serve(model=RefusingModel(after_first=True), credentials=ACCEPTED) as endpoint,
        sync_call(endpoint, EndpointName="picky") as stream,
    ):
        stream.input_stream.send(part(b"forged"))
        with pytest.raises(_errors.InvalidSignatureException) as info:
            stream.output()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def raw_call(
    endpoint: LocalEndpoint,
    inputs: list[tuple[bytes, datetime]],
    *,
    signed: bool = True,
    milliseconds: bool = False,
) -> tuple[int, list[EventStreamMessage], bytes]:
    """Send the request and ``inputs`` (outer payloads, each signed at its time) on raw h2
    frames, then END_STREAM; return the status, the decoded events (200) or the body.
    ``milliseconds``: the ``:date`` headers carry milliseconds, as AWS's own signers send."""
    now = datetime.now(timezone.utc)
    request = build_bidi_request(
        endpoint.url, bidi_call({"EndpointName": "ep"}), credentials=CREDS, region=REGION, time=now
    )
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    headers = request.h2_headers
    if not signed:
        headers = [(k, v) for k, v in headers if k != "authorization"]
    conn.send_headers(1, headers)
    params = request.params
    signer = EventSigner(
        request.signature,
        params.credentials,
        params.region,
        params.service,
        milliseconds=milliseconds,
    )
    for payload, time in inputs:
        signed_event = signer.sign(payload, time)
        conn.send_data(1, encode_message(signed_event.headers, payload))
    conn.end_stream(1)
    status, body = 0, bytearray()
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=TIMEOUT) as sock:
        sock.sendall(conn.data_to_send())
        done = False
        while not done:  # bounded by the socket timeout and the server's END_STREAM
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    fields = {str(k): str(v) for k, v in event.headers}  # str: utf-8 decoding
                    status = int(fields[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            sock.sendall(conn.data_to_send())
    if status != 200:
        return status, [], bytes(body)
    decoder = EventStreamDecoder()
    messages = decoder.feed(bytes(body))
    decoder.end()
    return status, messages, b""


def inner(data: bytes, event_type: str = "PayloadPart") -> bytes:
    return encode_message([(":message-type", "event"), (":event-type", event_type)], data)


def test_raw_end_of_stream_without_the_final_signed_message(echo: LocalEndpoint) -> None:
    now = datetime.now(timezone.utc)
    status, messages, _ = raw_call(echo, [(inner(b"only"), now)])  # no empty message
    assert status == 200
    echoed, error = messages
    assert echoed.payload == b"only"
    assert error.message_type == "error"
    assert error.error_code == "IncompleteSignatureException"
    assert "final signed empty message" in (error.error_message or "")


def test_event_dates_with_milliseconds_verify_as_sent(echo: LocalEndpoint) -> None:
    # smithy-python and aws-c-auth sign the :date header with its milliseconds.
    now = datetime.now(timezone.utc).replace(microsecond=123_000)
    inputs = [(inner(b"one"), now), (inner(b"two"), now + timedelta(milliseconds=7)), (b"", now)]
    status, messages, _ = raw_call(echo, inputs, milliseconds=True)
    assert status == 200
    assert [(m.message_type, m.payload) for m in messages] == [("event", b"one"), ("event", b"two")]


def test_raw_stale_event_date_and_unknown_event_are_refused(echo: LocalEndpoint) -> None:
    now = datetime.now(timezone.utc)
    stale = now - timedelta(minutes=10)
    _, messages, _ = raw_call(echo, [(inner(b"late"), stale), (b"", now)])
    assert [(m.message_type, m.error_code) for m in messages] == [
        ("error", "InvalidSignatureException")
    ]
    assert "Signature expired" in (messages[0].error_message or "")
    _, messages, _ = raw_call(echo, [(inner(b"?", "Mystery"), now), (b"", now)])
    assert [m.error_code for m in messages] == ["InputValidationError"]


def test_raw_unsigned_request_and_http1_are_refused(echo: LocalEndpoint) -> None:
    status, _, body = raw_call(echo, [], signed=False)
    assert status == 403
    assert b"Missing Authentication Token" in body
    response = httpx.post(f"{echo.url}/endpoints/ep/invocations-bidirectional-stream")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InputValidationError"
    assert "needs HTTP/2" in response.json()["Message"]


@pytest.mark.anyio
async def test_early_rejection_reaches_a_flooding_sender_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # DATA that arrives after the complete 424 makes hypercorn drop the connection; the
    # caller already has its answer, and the emulator does not log it as an error.
    with serve(model=RefusingModel(), credentials=ACCEPTED) as endpoint:
        stream = await call(endpoint, EndpointName="picky")
        error: Exception | None = None
        with anyio.fail_after(TIMEOUT):
            async with stream:
                for _ in range(200):  # bounded: the 424 arrives within a few sends
                    try:
                        await stream.input_stream.send(part(b"x" * 20000))
                    except _errors.ModelError as exc:
                        error = exc
                        break
        assert isinstance(error, _errors.ModelError)
        stream = await call(endpoint, EndpointName="picky")  # the endpoint still serves
        with anyio.fail_after(TIMEOUT):
            async with stream:
                with pytest.raises(_errors.ModelError):
                    await stream.await_output()
    assert [r for r in caplog.records if r.levelno >= 40] == []
