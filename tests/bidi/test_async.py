"""InvokeEndpointWithBidirectionalStream through the async client, against the loopback HTTP/2
server (under asyncio and trio): duplex exchanges over h2c and TLS, early errors, exception
events, flow control both ways, and failures before and during the stream."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime_client import _errors
from runtime_client._config import Config
from tests.bidi.helpers import (
    TIMEOUT,
    MiB,
    call,
    client,
    part,
    wait_for,
)
from tests.support.h2_server import H2BidiServer, Script

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
            EndpointName="bad_name",
            ModelInvocationPath="p" * 101,
            Nope=1,  # type: ignore[call-arg]
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


class _BodyBroke(Exception):
    pass


async def _late_bad_event() -> AsyncIterator[dict[str, Any]]:
    await anyio.sleep(0.3)  # receive() is waiting on the socket by then
    yield {"Oops": {}}


async def _late_failure() -> AsyncIterator[dict[str, Any]]:
    yield part(b"a", "PARTIAL")
    await anyio.sleep(0.3)
    raise _BodyBroke("the caller's source failed")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "error"),
    [(_late_bad_event, _errors.ParamValidationError), (_late_failure, _BodyBroke)],
    ids=["bad-event", "source-fails"],
)
async def test_a_body_failing_later_wakes_a_waiting_receive(
    server: H2BidiServer, body: Callable[[], AsyncIterator[dict[str, Any]]], error: type
) -> None:
    # Once the service has answered what came, nothing more comes on the socket to wake
    # the caller: the Body's failure itself must (receive() hung until read_timeout).
    stream = await call(server.url, EndpointName="ep", Body=body())
    with anyio.fail_after(TIMEOUT / 2):
        async with stream:
            with pytest.raises(error):  # noqa: PT012 (raised by whichever receive() waits)
                while await stream.receive() is not None:
                    pass


@pytest.mark.anyio
async def test_a_body_failing_later_over_tls_ends_cleanly(tls_files: tuple[Path, Path]) -> None:
    # The failure interrupts a read of the TLS stream; the teardown after it still says
    # goodbye in whole TLS records (the server sees a reset, not a broken connection).
    with H2BidiServer(tls=tls_files) as srv:
        stream = await call(
            srv.url, EndpointName="ep", Body=_late_failure(), client_kwargs={"verify": False}
        )
        with anyio.fail_after(TIMEOUT / 2):
            async with stream:
                with pytest.raises(_BodyBroke):  # noqa: PT012 (raised by whichever receive() waits)
                    while await stream.receive() is not None:
                        pass
        await wait_for(lambda: bool(srv.logs) and srv.logs[0].reset)
    assert srv.errors == []
