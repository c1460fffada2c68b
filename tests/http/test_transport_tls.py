"""TLS as a user meets it: our transports and the clients against a loopback TLS server.

The server (``tests.support.tls_server.TLSRawServer``) is ``RawServer`` behind TLS, with
certificates from a throwaway CA (``make_pki``); it records each handshake (SNI name,
ALPN protocol, client certificate). Every scenario runs three ways: blocking, asyncio,
trio.

* **Transport** (:class:`SyncTransport` / :class:`AsyncTransport` with
  :class:`TLSSettings`): a server verified by the CA file answers; a certificate from an
  unknown CA, or for another name, is refused with a :class:`ConnectError` that says
  why, before any request byte is sent; ``verify=False`` answers anyway; a server that
  requires a client certificate answers one given as ``(cert, key)`` or as one file, and
  refuses a client without one (TLS 1.2 and 1.3, where the refusal comes after the
  handshake); the host name goes out by SNI (an IP address is not sent, RFC 6066 §3);
  ALPN offers ``http/1.1`` and not ``h2`` (a server that prefers h2 still picks
  http/1.1); TLS connections are pooled and reused; the ``SSLContext`` is built once, on
  the first TLS connection, and never for plain HTTP.
* **Clients** (``verify=<ca file>`` / ``verify=False``, ``Config(client_cert=...)``): the
  same outcomes, as the user's errors (``SSLError``, an ``EndpointConnectionError`` as
  botocore's, naming the refused certificate).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime_client import Config, EndpointConnectionError, HTTPClientError, SSLError
from runtime_client.http import ConnectError, NetworkError, TLSError, TLSSettings, TransportError
from tests.support import raw_client, transport_driver
from tests.support.raw_client import Driver
from tests.support.raw_server import Close, Pause, RawServer, Reply, head, response
from tests.support.tls_server import PKI, TLSRawServer, make_pki, server_context
from tests.support.transport_driver import TransportDriver

pytestmark = pytest.mark.anyio

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make
transports = transport_driver.transports

PATH = "/endpoints/ep/invocations"
ONCE = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=3)
#: What the client sees of each refused certificate (the start of OpenSSL's reason).
REFUSALS = [
    ("stranger", "127.0.0.1", "unable to get local issuer certificate"),
    ("wrong_name", "127.0.0.1", "IP address mismatch"),
    ("wrong_name", "localhost", "Hostname mismatch"),
]
REFUSAL_IDS = ["unknown-ca", "wrong-ip", "wrong-name"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def serve(pki: PKI) -> Iterator[Callable[..., TLSRawServer]]:
    """``serve(cert=pki.server, **server_context options)``: a started TLS server."""
    made: list[TLSRawServer] = []

    def factory(cert: tuple[Path, Path] | None = None, **options: Any) -> TLSRawServer:
        srv = TLSRawServer(context=server_context(cert or pki.server, **options)).start()
        made.append(srv)
        return srv

    yield factory
    for srv in made:
        srv.close()


def _url(srv: TLSRawServer, host: str = "127.0.0.1") -> str:
    return f"https://{host}:{srv.port}{PATH}"


# --- the transport ------------------------------------------------------------------------


async def test_a_server_verified_by_the_ca_file_answers(
    transports: Callable[..., TransportDriver], serve: Callable[..., TLSRawServer], pki: PKI
) -> None:
    srv = serve()
    client = transports(tls=TLSSettings(str(pki.ca)))
    answer = await client.post(_url(srv), b"over tls")
    assert (answer.status, answer.body) == (200, b"over tls")
    assert srv.failed_handshakes == []


@pytest.mark.parametrize(("cert", "host", "reason"), REFUSALS, ids=REFUSAL_IDS)
async def test_a_certificate_that_fails_verification_is_refused(
    transports: Callable[..., TransportDriver],
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    cert: str,
    host: str,
    reason: str,
) -> None:
    srv = serve(getattr(pki, cert))
    client = transports(tls=TLSSettings(str(pki.ca)))
    with pytest.raises(TLSError) as info:
        await client.post(_url(srv, host), b"never sent")
    assert isinstance(info.value, ConnectError)
    refused = f"the certificate of {host} was refused (CERTIFICATE_VERIFY_FAILED)"
    assert f"{refused}: {reason}" in str(info.value)
    assert info.value.request_sent is False
    assert srv.requests == []


@pytest.mark.parametrize(("cert", "host", "reason"), REFUSALS, ids=REFUSAL_IDS)
async def test_verify_false_answers_whatever_the_certificate(
    transports: Callable[..., TransportDriver],
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    cert: str,
    host: str,
    reason: str,
) -> None:
    srv = serve(getattr(pki, cert))
    client = transports(tls=TLSSettings(False))
    answer = await client.post(_url(srv, host), b"unverified")
    assert (answer.status, answer.body) == (200, b"unverified")


@pytest.mark.parametrize("form", ["cert-and-key", "one-file"])
async def test_a_client_certificate_is_presented(
    transports: Callable[..., TransportDriver],
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    form: str,
) -> None:
    srv = serve(client_ca=pki.ca)
    cert: str | tuple[str, str] = (
        (str(pki.client[0]), str(pki.client[1]))
        if form == "cert-and-key"
        else str(pki.client_combined)
    )
    client = transports(tls=TLSSettings(str(pki.ca), cert))
    answer = await client.post(_url(srv), b"mutual")
    assert (answer.status, answer.body) == (200, b"mutual")
    assert srv.handshake(0).client_subject == "loopback client"


#: What a client without a certificate hears: under TLS 1.2 the server's handshake alert
#: (OpenSSL names no reason); under TLS 1.3 the client's handshake ends before the server
#: checks, and the refusal is an alert on the first read, which must still say so.
NO_CLIENT_CERT = [
    (ssl.TLSVersion.TLSv1_2, "alert handshake failure"),
    (ssl.TLSVersion.TLSv1_3, "alert certificate required"),
]


@pytest.mark.parametrize(("version", "alert"), NO_CLIENT_CERT, ids=["tls1.2", "tls1.3"])
async def test_without_a_client_certificate_it_is_refused(
    transports: Callable[..., TransportDriver],
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    version: ssl.TLSVersion,
    alert: str,
) -> None:
    srv = serve(client_ca=pki.ca, max_version=version)
    client = transports(tls=TLSSettings(str(pki.ca)))
    with pytest.raises(TransportError) as info:
        await client.post(_url(srv), b"who am i")
    message = str(info.value)
    if version is ssl.TLSVersion.TLSv1_2:
        assert isinstance(info.value, ConnectError)
    assert alert in message, message
    assert "EPERM" not in message  # an SSL error code is not an errno
    assert srv.wait_for(lambda: len(srv.failed_handshakes) == 1)
    assert srv.requests == []


async def test_the_host_name_goes_out_by_sni(
    transports: Callable[..., TransportDriver], serve: Callable[..., TLSRawServer], pki: PKI
) -> None:
    srv = serve()
    client = transports(tls=TLSSettings(str(pki.ca)))
    await client.post(_url(srv, "localhost"), b"by name")
    await client.post(_url(srv, "127.0.0.1"), b"by address")
    assert srv.handshake(0).server_name == "localhost"
    assert srv.handshake(1).server_name is None  # no SNI for an IP address (RFC 6066 §3)


async def test_alpn_offers_http11_not_h2(
    transports: Callable[..., TransportDriver], serve: Callable[..., TLSRawServer], pki: PKI
) -> None:
    srv = serve(alpn=("h2", "http/1.1"))  # the server picks h2 whenever it is offered
    client = transports(tls=TLSSettings(str(pki.ca)))
    await client.post(_url(srv), b"alpn")
    assert srv.handshake(0).alpn == "http/1.1"
    # The premise: a client offering h2 gets it from this server.
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", srv.port), timeout=3) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"


async def test_tls_connections_are_pooled_and_reused(
    transports: Callable[..., TransportDriver], serve: Callable[..., TLSRawServer], pki: PKI
) -> None:
    srv = serve()
    client = transports(tls=TLSSettings(str(pki.ca)))
    for i in range(4):
        answer = await client.post(_url(srv), f"pooled-{i}".encode())
        assert answer.body == f"pooled-{i}".encode()
    assert [r.connection for r in srv.requests] == [0, 0, 0, 0]
    assert (srv.accepted, len(srv.handshakes)) == (1, 1)
    assert len(client.idle_connections()) == 1


async def test_a_reset_mid_answer_names_the_reset(
    transports: Callable[..., TransportDriver], server: RawServer
) -> None:
    """A reset while the body is read is a :class:`NetworkError` that says so (anyio
    wraps it in a ``BrokenResourceError`` with no text of its own; found while testing
    the TLS refusals above). Plain HTTP: under TLS, OpenSSL reports a reset after a
    partial record as an unexpected end of file, which is the cut-body error instead."""
    server.play(
        Reply((head(200, (("Content-Length", "100"),)), b"x" * 10, Pause(0.1), Close(True)))
    )
    client = transports()
    with pytest.raises(NetworkError) as info:
        await client.post(server.url + PATH, b"cut")
    message = str(info.value)
    assert message.startswith(f"reading from {server.url} failed: "), message
    assert "Connection reset by peer" in message, message


def _count_contexts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record each ``ssl.create_default_context`` call (how ``TLSSettings`` builds)."""
    built: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args or kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    return built


async def test_the_context_is_built_once_on_the_first_tls_connection(
    transports: Callable[..., TransportDriver],
    serve: Callable[..., TLSRawServer],
    server: RawServer,
    pki: PKI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = _count_contexts(monkeypatch)
    tls = TLSSettings(str(pki.ca))
    client = transports(tls=tls)
    await client.post(server.url + PATH, b"plain http")
    assert (built, tls.built) == ([], False)  # plain HTTP never builds one
    srv = serve()
    closing = Reply((response(200, (("Connection", "close"),), b"ok"), Close()))
    srv.play(closing, closing, closing)
    for _ in range(3):
        assert (await client.post(_url(srv), b"x")).body == b"ok"
    assert srv.accepted == 3  # three connections, three handshakes
    assert len(built) == 1
    assert tls.built


# --- through the clients ------------------------------------------------------------------


async def _invoke(client: Driver, body: bytes) -> bytes:
    answer = await client.invoke(EndpointName="ep", Body=body)
    return await client.read(answer["Body"])


async def test_client_verify_with_a_ca_file_answers_and_builds_one_context(
    make: Callable[..., Driver],
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = _count_contexts(monkeypatch)
    srv = serve()
    closing = Reply((response(200, (("Connection", "close"),), b"closing"), Close()))
    srv.play(closing)
    client = make(endpoint_url=srv.url, verify=str(pki.ca), config=ONCE)
    assert built == []  # nothing is built before the first https call
    assert await _invoke(client, b"first") == b"closing"
    assert await _invoke(client, b"second") == b"second"
    assert await _invoke(client, b"third") == b"third"
    assert srv.accepted == 2
    assert len(built) == 1


@pytest.mark.parametrize(("cert", "host", "reason"), REFUSALS, ids=REFUSAL_IDS)
async def test_client_refuses_a_certificate_that_fails_verification(
    make: Callable[..., Driver],
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    cert: str,
    host: str,
    reason: str,
) -> None:
    srv = serve(getattr(pki, cert))
    url = f"https://{host}:{srv.port}"
    client = make(endpoint_url=url, verify=str(pki.ca), config=ONCE)
    with pytest.raises(SSLError) as info:
        await client.invoke(EndpointName="ep", Body=b"never sent")
    assert isinstance(info.value, EndpointConnectionError)
    message = str(info.value)
    assert message.startswith(f"SSL validation failed for {url}/endpoints/ep/invocations ")
    assert f"the certificate of {host} was refused (CERTIFICATE_VERIFY_FAILED): {reason}" in message
    assert srv.requests == []


async def test_client_verify_false_answers(
    make: Callable[..., Driver], serve: Callable[..., TLSRawServer], pki: PKI
) -> None:
    srv = serve(pki.stranger)
    client = make(endpoint_url=srv.url, verify=False, config=ONCE)
    assert await _invoke(client, b"trusting") == b"trusting"


@pytest.mark.parametrize("form", ["cert-and-key", "one-file", "none"])
async def test_client_cert_from_config(
    make: Callable[..., Driver],
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    form: str,
) -> None:
    srv = serve(client_ca=pki.ca)
    cert: str | tuple[str, str] | None = {
        "cert-and-key": (str(pki.client[0]), str(pki.client[1])),
        "one-file": str(pki.client_combined),
        "none": None,
    }[form]
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=3, client_cert=cert)
    client = make(endpoint_url=srv.url, verify=str(pki.ca), config=config)
    if cert is None:
        with pytest.raises(HTTPClientError) as info:
            await _invoke(client, b"anonymous")
        assert "certificate" in str(info.value).lower(), str(info.value)
        assert srv.requests == []
    else:
        assert await _invoke(client, b"mutual") == b"mutual"
        assert srv.handshake(0).client_subject == "loopback client"
