"""Where the local endpoint listens and how much it holds: the HTTP/2-only port (the
stand-in for the service's :8443 endpoint), in cleartext and over TLS with ALPN ``h2``
only, and the cap on open connections across both ports (503 beyond it, the count going
down as connections close)."""

from __future__ import annotations

import importlib.util
import json
import socket
import ssl
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from runtime_client import ClientError, SageMakerRuntime
from runtime_client._config import Config
from runtime_client.local import LocalEndpoint, serve
from tests.local.bidi_helpers import TIMEOUT, options, part
from tests.local.emulator import ACCEPTED, INVOKE, auth

needs_cryptography = pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="tls=True makes its certificate with the optional 'cryptography' package",
)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def _bidi_echo(client: SageMakerRuntime, text: bytes) -> bytes:
    with client.invoke_endpoint_with_bidirectional_stream(EndpointName="my-endpoint") as stream:
        stream.input_stream.send(part(text))
        event = stream.receive()
        stream.input_stream.close()
        assert list(stream) == []
    assert event is not None
    data: bytes = event["PayloadPart"]["Bytes"]
    return data


# ------------------------------------------------------------------ the HTTP/2-only port


@pytest.fixture(scope="module")
def two_ports() -> Iterator[LocalEndpoint]:
    with serve(credentials=ACCEPTED, http2_port=0) as endpoint:
        yield endpoint


def test_the_http2_port_is_its_own_and_serves_the_bidirectional_stream(
    two_ports: LocalEndpoint,
) -> None:
    assert two_ports.http2_url is not None
    assert two_ports.http2_url != two_ports.url
    assert _address(two_ports.http2_url)[1] != two_ports.port
    with SageMakerRuntime(**options(two_ports.http2_url)) as client:
        assert _bidi_echo(client, b"on the h2 port") == b"on the h2 port"
    with SageMakerRuntime(**options(two_ports.url)) as client:  # the main port: both
        assert _bidi_echo(client, b"on the main port") == b"on the main port"


def test_http1_on_the_http2_port_is_answered_505_naming_the_main_url(
    two_ports: LocalEndpoint,
) -> None:
    assert two_ports.http2_url is not None
    with httpx.Client(auth=auth()) as http1:
        answer = http1.post(two_ports.http2_url + INVOKE, content=b"x")
    assert answer.status_code == 505
    assert answer.headers["x-amzn-errortype"] == "HttpVersionNotSupported"
    message = answer.json()["message"]
    assert "HTTP/2 only" in message
    assert two_ports.url in message


def test_our_client_over_http1_on_the_http2_port_is_told_where_to_go(
    two_ports: LocalEndpoint,
) -> None:
    assert two_ports.http2_url is not None
    with (
        SageMakerRuntime(**options(two_ports.http2_url)) as client,  # cleartext: HTTP/1.1
        pytest.raises(ClientError, match=f"HTTP/2 only.*{two_ports.url}") as info,
    ):
        client.invoke_endpoint(EndpointName="my-endpoint", Body=b"h1")
    assert info.value.response["Error"]["Code"] == "HttpVersionNotSupported"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 505


def test_without_http2_port_there_is_one_url() -> None:
    with serve(credentials=ACCEPTED) as endpoint:
        assert endpoint.http2_url is None
        assert endpoint.info.http2_url is None


def test_http2_port_settings_are_checked(two_ports: LocalEndpoint) -> None:
    for bad in (-1, 70000, "8443", True):
        with pytest.raises(ValueError, match="http2_port must be an int from 0 to 65535"):
            serve(http2_port=bad)
    with pytest.raises(ValueError, match=r"http2_port must differ from port \(8080\)"):
        serve(port=8080, http2_port=8080)
    with pytest.raises(OSError, match=r"already in use.*--http2-port, or http2_port="):
        serve(http2_port=two_ports.port)


@needs_cryptography
def test_over_tls_the_http2_port_offers_only_h2_by_alpn() -> None:
    with serve(credentials=ACCEPTED, tls=True, http2_port=0) as endpoint:
        assert endpoint.http2_url is not None
        assert endpoint.http2_url.startswith("https://")
        ca = str(endpoint.info.ca_bundle)

        def negotiated(url: str, offered: list[str]) -> str | None:
            context = ssl.create_default_context(cafile=ca)
            context.set_alpn_protocols(offered)
            with (
                socket.create_connection(_address(url), timeout=TIMEOUT) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
            ):
                return tls.selected_alpn_protocol()

        assert negotiated(endpoint.http2_url, ["h2", "http/1.1"]) == "h2"
        assert negotiated(endpoint.http2_url, ["http/1.1"]) is None
        assert negotiated(endpoint.url, ["http/1.1"]) == "http/1.1"
        assert negotiated(endpoint.url, ["h2", "http/1.1"]) == "h2"
        settings = options(endpoint.http2_url)
        with SageMakerRuntime(**settings, verify=ca) as client:
            assert _bidi_echo(client, b"h2 over tls") == b"h2 over tls"
        settings["config"] = Config(http2=True, read_timeout=TIMEOUT)
        with SageMakerRuntime(**settings, verify=ca) as client:
            answer = client.invoke_endpoint(EndpointName="my-endpoint", Body=b"h2 only")
            assert answer["Body"].read() == b"h2 only"


# ------------------------------------------------------------------ the connection cap


def _idle_connection(url: str) -> socket.socket:
    connection = socket.create_connection(_address(url), timeout=TIMEOUT)
    # One request answered: the server has accepted and counted the connection.
    connection.sendall(b"GET /ping HTTP/1.1\r\nHost: local\r\n\r\n")
    assert connection.recv(65536).startswith(b"HTTP/1.1 ")
    return connection


def _post(url: str) -> httpx.Response:
    with httpx.Client(auth=auth(), timeout=TIMEOUT) as client:
        return client.post(url + INVOKE, content=b"capped?")


def test_a_connection_beyond_the_cap_is_answered_503_and_the_count_recovers() -> None:
    with serve(credentials=ACCEPTED, max_connections=2, http2_port=0) as endpoint:
        assert endpoint.http2_url is not None
        first = _idle_connection(endpoint.url)
        second = _idle_connection(endpoint.url)
        try:
            refused = _post(endpoint.url)
            assert refused.status_code == 503
            assert refused.headers["x-amzn-errortype"] == "ServiceUnavailable"
            assert refused.headers["connection"] == "close"
            assert "maximum of 2 open connections" in json.loads(refused.content)["Message"]
            # The HTTP/2-only port counts against the same cap.
            with httpx.Client(http1=False, http2=True, auth=auth(), timeout=TIMEOUT) as h2:
                over_h2 = h2.post(endpoint.http2_url + INVOKE, content=b"x")
            assert over_h2.status_code == 503
        finally:
            first.close()
        deadline = time.monotonic() + TIMEOUT
        # hypercorn sees an idle connection's close at its keep-alive timeout (5 s)
        while (answer := _post(endpoint.url)).status_code == 503:
            assert time.monotonic() < deadline, "the closed connection was never uncounted"
            time.sleep(0.05)
        assert answer.status_code == 200
        assert answer.content == b"capped?"
        second.close()


def test_max_connections_is_checked() -> None:
    for bad in (0, -5, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_connections must be an int >= 1"):
            serve(max_connections=bad)
