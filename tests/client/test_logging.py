"""What the client logs: one DEBUG line per attempt under ``runtime_client`` (operation,
request URL, status or error, attempt, elapsed, request id, what happens next), the
clock-skew correction, and never a secret, by any logger (ours, hpack's, h2's) at any
level; transport errors name the request's URL, as botocore's do."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from runtime_client import ConnectionClosedError, EndpointConnectionError, SageMakerRuntime
from runtime_client._config import Config
from tests.support.sigv4_server import KEYS, REGION, Drop, Reply, SigV4Server

KEY_ID = "ASIATEMPORARY"
SECRET, _TOKEN = KEYS[KEY_ID]
assert _TOKEN is not None
TOKEN: str = _TOKEN


@pytest.fixture
def server() -> Iterator[SigV4Server]:
    with SigV4Server() as srv:
        yield srv


def _client(url: str, **config: object) -> SageMakerRuntime:
    return SageMakerRuntime(
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=Config(**config),  # type: ignore[arg-type]
    )


def _ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "runtime_client"]


def _no_secret_anywhere(caplog: pytest.LogCaptureFixture, signatures: list[str]) -> None:
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (SECRET, TOKEN, *signatures):
        assert secret not in text


def _signatures(server: SigV4Server) -> list[str]:
    found = []
    for recorded in server.requests:
        match = re.search(r"Signature=([0-9a-f]{64})", recorded.header("authorization") or "")
        if match:
            found.append(match.group(1))
    assert found
    return found


def test_one_debug_line_per_attempt_with_retries_and_no_secret(
    server: SigV4Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, ours and the libraries'
    server.play(
        Reply.error(503, "ServiceUnavailable", "busy", request_id="req-503"),
        Reply(200, (("x-amzn-RequestId", "req-ok"),), b"fine"),
    )
    with _client(server.url) as client:
        answer = client.invoke_endpoint(EndpointName="my-endpoint", Body=b"x")
        assert answer["Body"].read() == b"fine"
    lines = _ours(caplog)
    url = f"{server.url}/endpoints/my-endpoint/invocations"
    assert len(lines) == 2, lines
    first = re.fullmatch(
        rf"InvokeEndpoint attempt 1/3 {re.escape(url)}: 503 in [\d.]+ ms "
        r"\(request id req-503\); retrying in [\d.]+ s",
        lines[0],
    )
    assert first is not None, lines[0]
    second = re.fullmatch(
        rf"InvokeEndpoint attempt 2/3 {re.escape(url)}: 200 in [\d.]+ ms "
        r"\(request id req-ok\); done",
        lines[1],
    )
    assert second is not None, lines[1]
    _no_secret_anywhere(caplog, _signatures(server))


def test_nothing_is_logged_above_debug(
    server: SigV4Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runtime_client")
    with _client(server.url) as client:
        client.invoke_endpoint(EndpointName="my-endpoint", Body=b"x")["Body"].read()
    assert _ours(caplog) == []


def test_the_clock_skew_correction_is_logged(
    server: SigV4Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="runtime_client")
    server.clock_offset = timedelta(minutes=20)
    with _client(server.url) as client:
        client.invoke_endpoint(EndpointName="my-endpoint", Body=b"x")["Body"].read()
    lines = _ours(caplog)
    assert any(
        re.fullmatch(r"clock skew corrected: .* \+1[12]\d\d\.\d s from ours", x) for x in lines
    ), lines
    assert lines[-1].endswith("; done")


def test_a_transport_error_is_logged_and_names_the_request_url(
    server: SigV4Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="runtime_client")
    server.play(Drop(), Drop(), Drop())
    url = f"{server.url}/endpoints/my-endpoint/invocations"
    with (
        _client(server.url, retries={"total_max_attempts": 2}, retry_after_send=True) as client,
        pytest.raises(ConnectionClosedError) as info,
    ):
        client.invoke_endpoint(EndpointName="my-endpoint", Body=b"x")
    assert url in str(info.value)
    lines = _ours(caplog)
    assert len(lines) == 2
    assert lines[0].startswith(f"InvokeEndpoint attempt 1/2 {url}: ")
    assert lines[-1].endswith("; done")


def test_a_connection_refused_names_the_request_url() -> None:
    with SigV4Server() as gone:
        url = gone.url
    with (
        _client(url, retries={"total_max_attempts": 1}) as client,
        pytest.raises(EndpointConnectionError) as info,
    ):
        client.invoke_endpoint(EndpointName="e", Body=b"x")
    expected = f'Could not connect to the endpoint URL: "{url}/endpoints/e/invocations" ('
    assert str(info.value).startswith(expected)


def test_http2_never_logs_the_session_token(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("cryptography", reason="the local endpoint's TLS needs cryptography")
    from runtime_client.local import serve

    caplog.set_level(logging.DEBUG)
    with serve(credentials={KEY_ID: SECRET}, tls=True) as endpoint:
        client = SageMakerRuntime(
            region_name=REGION,
            endpoint_url=endpoint.url,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            aws_session_token=TOKEN,
            verify=str(endpoint.info.ca_bundle),
            config=Config(http2=True),
        )
        with client:
            answer = client.invoke_endpoint(EndpointName="my-endpoint", Body=b"x")
            assert answer["Body"].read() == b"x"
    # What the client's thread logged (the endpoint's server decodes in its own thread).
    client_side = [r for r in caplog.records if r.threadName == threading.current_thread().name]
    hpack_lines = [r.getMessage() for r in client_side if r.name.startswith("hpack")]
    assert hpack_lines, "hpack logged nothing: the test would prove nothing"
    assert any("SENSITIVE_REDACTED" in line for line in hpack_lines)
    text = "\n".join(r.getMessage() for r in client_side)
    assert TOKEN not in text
    assert SECRET not in text
