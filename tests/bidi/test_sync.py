"""The blocking form of the bidirectional stream against the loopback HTTP/2 server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime_client import _errors
from tests.bidi.helpers import (
    MiB,
    part,
    sync_call,
)
from tests.support.h2_server import H2BidiServer, Script

# --------------------------------------------------------------------- blocking form


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
