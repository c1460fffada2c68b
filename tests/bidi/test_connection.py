"""The sans-IO parts of the bidirectional stream, without a socket: the signed request, the
event chain as our client signs it, answers and exceptions, flow-control windows, a write
error after an early answer."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from runtime_client import _errors
from runtime_client.bidi._connection import NEED_DATA, BidiConnection
from runtime_client.bidi._events import (
    build_bidi_request,
    event_from_message,
)
from runtime_client.eventstream import EventStreamMessage, decode_message
from sigv4 import EventChainVerifier, SignatureCheckError, verify_event_chain
from tests.bidi.helpers import (
    answered_early,
    bidi_call,
    chain_parts,
    creds,
    outer_messages,
    part,
)
from tests.support.h2_server import REGION

# --------------------------------------------------------------------- pure parts


def test_request_keeps_port_and_encodes_label() -> None:
    request = build_bidi_request(
        "https://runtime.sagemaker.us-east-1.amazonaws.com:8443",
        bidi_call(
            {"EndpointName": "ep-1", "ModelInvocationPath": "v1/chat", "ModelQueryString": "a=1"}
        ),
        credentials=creds(),
        region=REGION,
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    )
    assert request.authority == "runtime.sagemaker.us-east-1.amazonaws.com:8443"
    assert request.path == "/endpoints/ep-1/invocations-bidirectional-stream"
    headers = dict(request.headers)
    assert headers["x-amzn-sagemaker-model-invocation-path"] == "v1/chat"
    assert headers["x-amzn-sagemaker-model-query-string"] == "a=1"
    assert "/us-east-1/sagemaker/aws4_request" in headers["authorization"]
    assert request.signature not in repr(request)


def test_the_client_chain_verifies_and_tampering_does_not() -> None:
    seed, messages = outer_messages(3)
    inner, ended = verify_event_chain(
        seed, [chain_parts(m) for m in messages], creds(), REGION, "sagemaker"
    )
    assert ended
    assert [decode_message(m).payload for m in inner] == [b"0", b"1", b"2"]
    # Out of order: the chain breaks at the swapped message.
    swapped = [messages[1], messages[0], *messages[2:]]
    with pytest.raises(SignatureCheckError, match="message 0 does not match"):
        verify_event_chain(seed, [chain_parts(m) for m in swapped], creds(), REGION, "sagemaker")
    # Tampered payload.
    date, signature, payload = chain_parts(messages[0])
    with pytest.raises(SignatureCheckError) as info:
        verify_event_chain(
            seed, [(date, signature, payload.replace(b"0", b"9"))], creds(), REGION, "sagemaker"
        )
    assert info.value.code == "InvalidSignatureException"
    # Nothing may follow the end.
    verifier = EventChainVerifier(seed, creds(), REGION, "sagemaker")
    for message in messages:
        verifier.verify(*chain_parts(message))
    with pytest.raises(SignatureCheckError, match="followed the end"):
        verifier.verify(*chain_parts(messages[0]))


def test_response_events_and_exceptions() -> None:
    metadata = {"HTTPStatusCode": 200}
    event = event_from_message(
        EventStreamMessage(
            headers={
                ":message-type": "event",
                ":event-type": "PayloadPart",
                "CompletionState": "COMPLETE",
            },
            payload=b"hi",
        ),
        metadata,
    )
    assert event == {"PayloadPart": {"Bytes": b"hi", "CompletionState": "COMPLETE"}}
    unknown = EventStreamMessage(
        headers={":message-type": "event", ":event-type": "New"}, payload=b""
    )
    assert event_from_message(unknown, metadata) is None
    failure = event_from_message(
        EventStreamMessage(
            headers={":message-type": "exception", ":exception-type": "InternalStreamFailure"},
            payload=b'{"Message": "down"}',
        ),
        metadata,
    )
    assert isinstance(failure, _errors.InternalStreamFailure)


def test_connection_sends_only_within_the_window() -> None:
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
    conn.data_to_send()
    conn.send_event(part(b"z" * 200_000), now)
    conn.flush_input()
    sent = len(conn.data_to_send())
    # The default window is 65535 bytes; the frames' 9-byte headers come on top.
    assert 65535 <= sent < 65535 + 9 * 8
    assert conn.input_pending > 100_000
    assert conn.next_event() is NEED_DATA


def test_an_answer_read_after_a_write_error_is_the_error() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    conn = answered_early(answer=True)
    with pytest.raises(_errors.ModelError) as info:
        conn.flush_input()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    with pytest.raises(_errors.ModelError):
        conn.send_event(part(b"more"), now)
    # Without an answer, the write error stands.
    conn = answered_early(answer=False)
    with pytest.raises(_errors.ResponseStreamingError):
        conn.flush_input()
