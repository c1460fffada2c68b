"""InvokeEndpointWithBidirectionalStream, client side, against a loopback HTTP/2 server.

The server (tests/_h2_server.py) verifies the request's SigV4 signature and the chain of
event signatures, echoes each part back at once, and can answer early errors, exception
events and held-back headers. Each async test runs under asyncio and trio.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import h2.config
import h2.connection
import h2.events
import pytest
from _h2_server import KEYS, REGION, H2BidiServer, Script, make_tls_files

from runtime_client import _errors
from runtime_client._client import AsyncSageMakerRuntime, SageMakerRuntime
from runtime_client._config import Config
from runtime_client._model import INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM
from runtime_client._restjson import SerializedRequest, serialize_request
from runtime_client.bidi._async import (
    AsyncBidirectionalStream,
)
from runtime_client.bidi._connection import NEED_DATA, BidiConnection
from runtime_client.bidi._events import (
    build_bidi_request,
    event_from_message,
)
from runtime_client.bidi._sync import (
    BidirectionalStream,
)
from runtime_client.eventstream import EventStreamDecoder, EventStreamMessage, decode_message
from sigv4 import Credentials, EventChainVerifier, SignatureCheckError, verify_event_chain

TIMEOUT = 10.0
MiB = 1024 * 1024


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


@pytest.fixture
def server() -> Iterator[H2BidiServer]:
    with H2BidiServer() as srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return make_tls_files(tmp_path)


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


# --------------------------------------------------------------------- end to end


async def _interleave(url: str) -> None:
    stream = await call(url, EndpointName="my-endpoint", TargetVariant="v1")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"first", "PARTIAL"))
            first = await stream.receive()
            assert first == {
                "PayloadPart": {"Bytes": b"first", "DataType": "UTF8", "CompletionState": "PARTIAL"}
            }
            # Message 2 is sent only after the answer to message 1 has arrived.
            await stream.input_stream.send(part(b"\x00\x01", kind="BINARY"))
            second = await stream.receive()
            assert second is not None
            assert second["PayloadPart"]["Bytes"] == b"\x00\x01"
            assert second["PayloadPart"]["DataType"] == "BINARY"
            output = await stream.await_output()
            assert output["InvokedProductionVariant"] == "AllTraffic"
            assert output["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert output["ResponseMetadata"]["RequestId"] == "req-bidi-1"
            await stream.input_stream.close()
            assert [event async for event in stream] == []
            assert await stream.receive() is None


@pytest.mark.anyio
async def test_interleaved_send_and_receive_h2c(server: H2BidiServer) -> None:
    await _interleave(server.url)
    (log,) = server.logs
    assert log.signature_ok
    assert log.chain_error is None
    assert log.ended  # the signed empty message arrived, and verified
    assert [m.payload for m in log.inner] == [b"first", b"\x00\x01"]
    assert log.inner[0].headers["CompletionState"] == "PARTIAL"
    assert log.inner[0].headers[":content-type"] == "application/octet-stream"
    headers = log.headers
    assert headers[":path"] == "/endpoints/my-endpoint/invocations-bidirectional-stream"
    assert headers[":authority"] == f"127.0.0.1:{server.port}"
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amz-content-sha256"] == "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    assert headers["x-amzn-sagemaker-target-variant"] == "v1"
    assert "content-length" not in headers
    assert "x-amz-content-sha256" in headers["authorization"].split("SignedHeaders=")[1]


@pytest.mark.anyio
async def test_tls_with_alpn_h2_and_a_custom_ca(tls_files: tuple[Path, Path]) -> None:
    with H2BidiServer(tls=tls_files) as srv:
        stream = await call(srv.url, EndpointName="ep", client_kwargs={"verify": str(tls_files[0])})
        with anyio.fail_after(TIMEOUT):
            async with stream:
                await stream.input_stream.send(part(b"over tls"))
                event = await stream.receive()
                assert event is not None
                assert event["PayloadPart"]["Bytes"] == b"over tls"
                await stream.input_stream.close()
                assert await stream.receive() is None
    assert srv.errors == []
    assert srv.logs[0].ended


@pytest.mark.anyio
async def test_tls_verify_false_and_untrusted_certificate(tls_files: tuple[Path, Path]) -> None:
    with H2BidiServer(tls=tls_files) as srv:
        stream = await call(srv.url, EndpointName="ep", client_kwargs={"verify": False})
        with anyio.fail_after(TIMEOUT):
            async with stream:
                await stream.input_stream.send(part(b"x"))
                assert await stream.receive() is not None
        with pytest.raises(_errors.EndpointConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await call(srv.url, EndpointName="ep")


@pytest.mark.anyio
async def test_body_iterable_is_sent_and_closed(server: H2BidiServer) -> None:
    async def body() -> AsyncIterator[dict[str, Any]]:
        for i in range(3):
            yield part(f"part {i}".encode(), "PARTIAL" if i < 2 else "COMPLETE")

    stream = await call(server.url, EndpointName="ep", Body=body())
    with anyio.fail_after(TIMEOUT):
        async with stream:
            got = [event["PayloadPart"]["Bytes"] async for event in stream]
    assert got == [b"part 0", b"part 1", b"part 2"]
    assert server.logs[0].ended


@pytest.mark.anyio
async def test_no_deadlock_when_headers_wait_for_input(server: H2BidiServer) -> None:
    server.scripts["lazy"] = Script(lazy_headers=True)
    stream = await call(server.url, EndpointName="lazy")  # returns before any answer
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"wake up"))
            output = await stream.await_output()
            assert output["InvokedProductionVariant"] == "AllTraffic"
            event = await stream.receive()
            assert event is not None
            assert event["PayloadPart"]["Bytes"] == b"wake up"


@pytest.mark.anyio
async def test_early_model_error_while_input_is_open(server: H2BidiServer) -> None:
    server.scripts["broken"] = Script(
        error_status=424,
        error_body={
            "Message": "container failed",
            "OriginalStatusCode": 500,
            "OriginalMessage": "boom",
            "LogStreamArn": "arn:aws:logs:us-east-1:1:log-group:x",
            "ErrorCode": "ModelFailure",
        },
    )
    stream = await call(server.url, EndpointName="broken")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            # The input stays open: nothing is sent, nothing closed.
            with pytest.raises(_errors.ModelError) as info:
                await stream.await_output()
            response = info.value.response
            assert response["Error"] == {"Code": "ModelError", "Message": "container failed"}
            assert response["OriginalStatusCode"] == 500
            assert response["OriginalMessage"] == "boom"
            assert response["ErrorCode"] == "ModelFailure"
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
            assert "InvokeEndpointWithBidirectionalStream" in str(info.value)
            with pytest.raises(_errors.ModelError):
                await stream.input_stream.send(part(b"too late"))
            with pytest.raises(_errors.ModelError):
                await stream.receive()
    assert not server.logs[0].ended


@pytest.mark.anyio
async def test_early_error_reaches_a_sender(server: H2BidiServer) -> None:
    server.scripts["broken"] = Script(error_status=424, error_body={"Message": "no"})
    stream = await call(server.url, EndpointName="broken")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            sent = 0
            error: Exception | None = None
            while error is None and sent < 200:  # bounded: the error arrives within a few
                try:
                    await stream.input_stream.send(part(b"x" * 1024))
                except _errors.ModelError as exc:
                    error = exc
                sent += 1
                await anyio.sleep(0.01)
    assert isinstance(error, _errors.ModelError)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "InputValidationError", _errors.InputValidationError),
        (500, "InternalServerError", _errors.InternalServerError),
        (503, "ServiceUnavailableError", _errors.ServiceUnavailableError),
    ],
)
async def test_initial_errors_are_modeled(
    server: H2BidiServer, status: int, code: str, cls: type[_errors.ClientError]
) -> None:
    server.scripts["e"] = Script(
        error_status=status, error_code=code, error_body={"Message": "m", "ErrorCode": "X1"}
    )
    stream = await call(server.url, EndpointName="e")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            with pytest.raises(cls) as info:
                await stream.receive()
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ErrorCode"] == "X1"


@pytest.mark.anyio
async def test_model_stream_error_event_after_parts(server: H2BidiServer) -> None:
    server.scripts["flaky"] = Script(
        exception_after=1,
        exception_body={"Message": "too slow", "ErrorCode": "ModelInvocationTimeExceeded"},
    )
    stream = await call(server.url, EndpointName="flaky")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"one"))
            assert await stream.receive() is not None
            await stream.input_stream.send(part(b"two"))
            with pytest.raises(_errors.ModelStreamError) as info:
                await stream.receive()
    assert info.value.response["ErrorCode"] == "ModelInvocationTimeExceeded"
    assert info.value.response["Error"]["Message"] == "too slow"


@pytest.mark.anyio
async def test_large_payloads_cross_flow_control_windows(server: H2BidiServer) -> None:
    # 6 MiB out through the server's 64 KiB window; 6 MiB back through our 4 MiB window.
    big = os.urandom(6 * MiB)
    stream = await call(server.url, EndpointName="ep")
    with anyio.fail_after(TIMEOUT * 2):
        async with stream:
            await stream.input_stream.send(part(big, kind="BINARY"))
            await stream.input_stream.send(part(big[: 3 * MiB], kind="BINARY"))
            await stream.input_stream.close()
            got = [event["PayloadPart"]["Bytes"] async for event in stream]
    assert got == [big, big[: 3 * MiB]]
    assert server.logs[0].ended
    assert server.logs[0].chain_error is None


@pytest.mark.anyio
async def test_receiver_back_pressure_holds_the_server(server: H2BidiServer) -> None:
    """Unread events are not acknowledged, so the server cannot run more than about a
    window (4 MiB) plus the low-water mark (2 MiB) ahead of a reader that does not read."""
    count = 10
    stream = await call(server.url, EndpointName="ep")
    with anyio.fail_after(TIMEOUT * 2):
        async with stream:
            for _ in range(count):
                await stream.input_stream.send(part(b"y" * MiB))
            await stream.input_stream.close()
            await wait_for(lambda: server.logs[0].ended)  # every input is in and echoed
            await anyio.sleep(0.3)  # let the server push what the windows allow
            held_back = server.logs[0].bytes_sent
            got = [event async for event in stream]
    assert 4 * MiB <= held_back <= 7 * MiB + 1024
    assert len(got) == count
    assert server.logs[0].bytes_sent > count * MiB


@pytest.mark.anyio
async def test_session_token_is_signed(server: H2BidiServer) -> None:
    stream = await call(
        server.url, EndpointName="ep", client_kwargs={"aws_session_token": "token-1"}
    )
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"t"))
            assert await stream.receive() is not None
    log = server.logs[0]
    assert log.signature_ok
    assert log.headers["x-amz-security-token"] == "token-1"
    assert "x-amz-security-token" in log.headers["authorization"]


# --------------------------------------------------------------------- failures


@pytest.mark.anyio
async def test_parameters_are_validated_before_connecting(server: H2BidiServer) -> None:
    sm = client(server.url)
    with pytest.raises(_errors.ParamValidationError) as info:
        await sm.invoke_endpoint_with_bidirectional_stream(
            EndpointName="bad_name", ModelInvocationPath="p" * 101, Nope=1
        )
    names = [name for name, _ in info.value.errors]
    assert names == ["Nope", "EndpointName", "ModelInvocationPath"]
    assert "valid max length: 100" in str(info.value)
    with pytest.raises(_errors.ParamValidationError, match="ModelQueryString"):
        await sm.invoke_endpoint_with_bidirectional_stream(
            EndpointName="ep", ModelQueryString="a=b\r\nx"
        )
    assert server.connections == 0


@pytest.mark.anyio
async def test_a_bad_event_is_refused_before_sending(server: H2BidiServer) -> None:
    stream = await call(server.url, EndpointName="ep")
    with anyio.fail_after(TIMEOUT):
        async with stream:
            with pytest.raises(_errors.ParamValidationError, match="DataType"):
                await stream.input_stream.send({"PayloadPart": {"Bytes": b"x", "DataType": "TEXT"}})
            with pytest.raises(_errors.ParamValidationError, match="PayloadPart"):
                await stream.input_stream.send({"Bytes": b"x"})
            # The chain did not advance: a good event still verifies.
            await stream.input_stream.send(part(b"ok"))
            assert await stream.receive() is not None
            await stream.input_stream.close()
            assert await stream.receive() is None
    assert server.logs[0].chain_error is None
    assert [m.payload for m in server.logs[0].inner] == [b"ok"]


@pytest.mark.anyio
async def test_a_bad_body_event_is_raised_to_the_reader(server: H2BidiServer) -> None:
    stream = await call(server.url, EndpointName="ep", Body=[{"Oops": {}}, part(b"a")])
    with anyio.fail_after(TIMEOUT):
        async with stream:
            with pytest.raises(_errors.ParamValidationError, match="PayloadPart"):
                await stream.receive()
            with pytest.raises(_errors.ParamValidationError):  # the stream is dead
                await stream.input_stream.send(part(b"b"))
    await wait_for(lambda: bool(server.logs))
    assert server.logs[0].inner == []


@pytest.mark.anyio
async def test_the_stream_must_be_entered(server: H2BidiServer) -> None:
    stream = await call(server.url, EndpointName="ep")
    try:
        with pytest.raises(RuntimeError, match="async with"):
            await stream.input_stream.send(part(b"x"))
    finally:
        await stream.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await stream.receive()


@pytest.mark.anyio
async def test_connection_refused() -> None:
    with H2BidiServer() as srv:
        url = srv.url
    with pytest.raises(_errors.EndpointConnectionError):
        await call(url, EndpointName="ep")


@pytest.mark.anyio
async def test_read_timeout_when_the_service_is_silent(server: H2BidiServer) -> None:
    server.scripts["mute"] = Script(silent=True)
    stream = await call(
        server.url, EndpointName="mute", client_kwargs={"config": Config(read_timeout=0.3)}
    )
    with anyio.fail_after(TIMEOUT):
        async with stream:
            await stream.input_stream.send(part(b"anyone?"))
            with pytest.raises(_errors.ReadTimeoutError):
                await stream.receive()


@pytest.mark.anyio
async def test_exit_tears_down_even_on_error(server: H2BidiServer) -> None:
    stream = await call(server.url, EndpointName="ep")

    async def fail_inside() -> None:
        async with stream:
            await stream.input_stream.send(part(b"x"))
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail_inside()
    await wait_for(lambda: bool(server.logs) and server.logs[0].reset)


# --------------------------------------------------------------------- pure parts


def _creds() -> Credentials:
    return Credentials("AKIDEXAMPLE", KEYS["AKIDEXAMPLE"])


def _outer_messages(count: int) -> tuple[str, list[EventStreamMessage]]:
    """Drive the sans-IO client through its public API and read its bytes back with an
    h2 server connection: (seed signature, outer messages as sent)."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    request = build_bidi_request(
        "https://runtime.sagemaker.us-east-1.amazonaws.com:8443",
        _bidi_call({"EndpointName": "ep"}),
        credentials=_creds(),
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


def test_request_keeps_port_and_encodes_label() -> None:
    request = build_bidi_request(
        "https://runtime.sagemaker.us-east-1.amazonaws.com:8443",
        _bidi_call(
            {"EndpointName": "ep-1", "ModelInvocationPath": "v1/chat", "ModelQueryString": "a=1"}
        ),
        credentials=_creds(),
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


def _parts(message: EventStreamMessage) -> tuple[object, object, bytes]:
    return message.headers.get(":date"), message.headers.get(":chunk-signature"), message.payload


def test_the_client_chain_verifies_and_tampering_does_not() -> None:
    seed, messages = _outer_messages(3)
    inner, ended = verify_event_chain(
        seed, [_parts(m) for m in messages], _creds(), REGION, "sagemaker"
    )
    assert ended
    assert [decode_message(m).payload for m in inner] == [b"0", b"1", b"2"]
    # Out of order: the chain breaks at the swapped message.
    swapped = [messages[1], messages[0], *messages[2:]]
    with pytest.raises(SignatureCheckError, match="message 0 does not match"):
        verify_event_chain(seed, [_parts(m) for m in swapped], _creds(), REGION, "sagemaker")
    # Tampered payload.
    date, signature, payload = _parts(messages[0])
    with pytest.raises(SignatureCheckError) as info:
        verify_event_chain(
            seed, [(date, signature, payload.replace(b"0", b"9"))], _creds(), REGION, "sagemaker"
        )
    assert info.value.code == "InvalidSignatureException"
    # Nothing may follow the end.
    verifier = EventChainVerifier(seed, _creds(), REGION, "sagemaker")
    for message in messages:
        verifier.verify(*_parts(message))
    with pytest.raises(SignatureCheckError, match="followed the end"):
        verifier.verify(*_parts(messages[0]))


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
        _bidi_call({"EndpointName": "ep"}),
        credentials=_creds(),
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


def _answered_early(answer: bool) -> BidiConnection:
    """A connection whose server answered 424 (when ``answer``) and closed the connection
    while the input was open, seen through a write that failed first: the answer is still
    in the socket when the sender learns that writing broke."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    request = build_bidi_request(
        "http://127.0.0.1:1",
        _bidi_call({"EndpointName": "ep"}),
        credentials=_creds(),
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


def test_an_answer_read_after_a_write_error_is_the_error() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    conn = _answered_early(answer=True)
    with pytest.raises(_errors.ModelError) as info:
        conn.flush_input()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    with pytest.raises(_errors.ModelError):
        conn.send_event(part(b"more"), now)
    # Without an answer, the write error stands.
    conn = _answered_early(answer=False)
    with pytest.raises(_errors.ResponseStreamingError):
        conn.flush_input()


# --------------------------------------------------------------------- blocking form


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


def test_sync_interleaved_send_and_receive(server: H2BidiServer) -> None:
    with sync_call(server.url, EndpointName="ep") as stream:
        stream.input_stream.send(part(b"one", "PARTIAL"))
        assert stream.receive() == {
            "PayloadPart": {"Bytes": b"one", "DataType": "UTF8", "CompletionState": "PARTIAL"}
        }
        stream.input_stream.send(part(b"two"))  # only after the answer to "one"
        event = stream.receive()
        assert event is not None
        assert event["PayloadPart"]["Bytes"] == b"two"
        assert stream.output()["InvokedProductionVariant"] == "AllTraffic"
        stream.input_stream.close()
        assert list(stream) == []
    log = server.logs[0]
    assert log.signature_ok
    assert log.ended
    assert log.chain_error is None


def test_sync_tls_body_and_large_payloads(tls_files: tuple[Path, Path]) -> None:
    big = os.urandom(5 * MiB)
    with (
        H2BidiServer(tls=tls_files) as srv,
        sync_call(
            srv.url,
            EndpointName="ep",
            Body=[part(b"small"), part(big, kind="BINARY")],
            client_kwargs={"verify": str(tls_files[0])},
        ) as stream,
    ):
        got = [event["PayloadPart"]["Bytes"] for event in stream]
    assert got == [b"small", big]
    assert srv.errors == []
    assert srv.logs[0].ended


def test_sync_early_error_and_stream_error(server: H2BidiServer) -> None:
    server.scripts["broken"] = Script(error_status=424, error_body={"Message": "no"})
    with sync_call(server.url, EndpointName="broken") as stream:
        with pytest.raises(_errors.ModelError):
            stream.output()
        with pytest.raises(_errors.ModelError):
            stream.input_stream.send(part(b"late"))
    server.scripts["flaky"] = Script(
        exception_after=0, exception_body={"ErrorCode": "StreamBroken"}
    )
    with sync_call(server.url, EndpointName="flaky") as stream:
        stream.input_stream.send(part(b"x"))
        with pytest.raises(_errors.ModelStreamError) as info:
            stream.receive()
    assert info.value.response["ErrorCode"] == "StreamBroken"


def test_sync_refuses_an_async_body(server: H2BidiServer) -> None:
    async def body() -> AsyncIterator[dict[str, Any]]:
        yield part(b"x")  # pragma: no cover - never iterated

    with pytest.raises(_errors.ParamValidationError, match="async iterable"):
        sync_call(server.url, EndpointName="ep", Body=body())
    assert server.connections == 0


def _bidi_call(params: dict[str, str]) -> SerializedRequest:
    """The operation's parameters laid out as the client sends them."""
    return serialize_request(INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM, params)
