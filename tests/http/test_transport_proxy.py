"""Proxies as a user meets them: our transports and the clients through a loopback proxy.

The proxy (``tests.support.proxy_server.LoopbackProxy``) records the head it was sent on
each connection, tunnels ``CONNECT`` and forwards absolute-form requests as they came
(so ``RawServer`` records what the client wrote); it may require credentials (407) or
refuse everything (403). Blocking, asyncio and trio:

* an ``http://`` target goes to the proxy in absolute form (``POST http://host:port/path``)
  with the origin's ``Host``; an ``https://`` target goes through a ``CONNECT host:port``
  tunnel with TLS inside (the TLS server of ``test_transport_tls.py``), and the tunnel is
  pooled like any connection; a certificate refused inside the tunnel names the origin;
* credentials in the proxy URL (percent-decoded) become ``Proxy-Authorization: Basic``
  on the CONNECT and on each absolute-form request;
* a proxy that answers CONNECT with 407 or 403 is a :class:`ProxyError` naming the proxy
  and its answer, never the password (nor does any repr show it); the clients raise it as
  ``ProxyConnectionError`` (an ``EndpointConnectionError``, as botocore's);
* the clients take ``HTTP(S)_PROXY`` (either case) from the environment unless
  ``NO_PROXY``/``no_proxy`` covers the endpoint, and ``Config(proxies=...)`` wins over it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime_client import Config, EndpointConnectionError, ProxyConnectionError
from runtime_client.http import ConnectError, ProxyError, TLSSettings
from tests.support import raw_client, transport_driver
from tests.support.proxy_server import LoopbackProxy
from tests.support.raw_client import Driver
from tests.support.raw_server import RawServer
from tests.support.tls_server import PKI, TLSRawServer, make_pki, server_context
from tests.support.transport_driver import TransportDriver

pytestmark = pytest.mark.anyio

mode = raw_client.mode
anyio_backend = raw_client.anyio_backend
server = raw_client.server
make = raw_client.make
transports = transport_driver.transports

PATH = "/endpoints/ep/invocations"
USER = "proxy-user"
PASSWORD = "s3cr/t:pw"  # percent-encoded in the URL
QUOTED = "s3cr%2Ft%3Apw"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
ONCE = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=3)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_server(pki: PKI) -> Iterator[TLSRawServer]:
    with TLSRawServer(context=server_context(pki.server)) as srv:
        yield srv


@pytest.fixture
def proxies() -> Iterator[Callable[..., LoopbackProxy]]:
    """``proxies(auth=..., refuse=...)``: a started loopback proxy, closed after the test."""
    made: list[LoopbackProxy] = []

    def factory(**options: Any) -> LoopbackProxy:
        proxy = LoopbackProxy(**options).start()
        made.append(proxy)
        return proxy

    yield factory
    for proxy in made:
        proxy.close()


def _with_credentials(proxy: LoopbackProxy, password: str = QUOTED) -> str:
    return proxy.url_with(USER, password)


def _secret_free(*texts: object) -> None:
    for text in texts:
        assert PASSWORD not in str(text), text
        assert QUOTED not in str(text), text
        assert BASIC.split()[1] not in str(text), text


def _chain(exc: BaseException) -> list[str]:
    """The str and repr of an error and of each cause and context under it."""
    found: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        found += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return found


# --- the transport ------------------------------------------------------------------------


async def test_an_http_target_goes_to_the_proxy_in_absolute_form(
    transports: Callable[..., TransportDriver],
    proxies: Callable[..., LoopbackProxy],
    server: RawServer,
) -> None:
    proxy = proxies()
    client = transports(proxies={"http": proxy.url})
    for body in (b"first", b"second"):
        answer = await client.post(server.url + PATH, body)
        assert answer.body == body
    [seen] = proxy.seen()  # one connection to the proxy, kept alive
    assert (seen.method, seen.target) == ("POST", server.url + PATH)
    assert [r.path for r in server.requests] == [server.url + PATH] * 2
    assert [r.header("Host") for r in server.requests] == [f"127.0.0.1:{server.port}"] * 2
    assert all(r.header("Proxy-Authorization") is None for r in server.requests)


async def test_an_https_target_goes_through_a_connect_tunnel(
    transports: Callable[..., TransportDriver],
    proxies: Callable[..., LoopbackProxy],
    tls_server: TLSRawServer,
    pki: PKI,
) -> None:
    proxy = proxies()
    client = transports(proxies={"https": proxy.url}, tls=TLSSettings(str(pki.ca)))
    for body in (b"tunnelled", b"again"):
        answer = await client.post(tls_server.url + PATH, body)
        assert answer.body == body
    authority = f"127.0.0.1:{tls_server.port}"
    [seen] = proxy.seen()  # the tunnel is pooled: one CONNECT for both calls
    assert (seen.method, seen.target, seen.header("Host")) == ("CONNECT", authority, authority)
    assert [r.path for r in tls_server.requests] == [PATH, PATH]  # origin form, inside
    assert tls_server.accepted == 1
    assert tls_server.failed_handshakes == []


async def test_credentials_in_the_proxy_url_become_proxy_authorization(
    transports: Callable[..., TransportDriver],
    proxies: Callable[..., LoopbackProxy],
    server: RawServer,
    tls_server: TLSRawServer,
    pki: PKI,
) -> None:
    proxy = proxies(auth=f"{USER}:{PASSWORD}")
    url = _with_credentials(proxy)
    client = transports(proxies={"http": url, "https": url}, tls=TLSSettings(str(pki.ca)))
    assert (await client.post(tls_server.url + PATH, b"tunnel")).body == b"tunnel"
    assert (await client.post(server.url + PATH, b"forward")).body == b"forward"
    assert (await client.post(server.url + PATH, b"again")).body == b"again"
    assert [(r.method, r.header("Proxy-Authorization")) for r in proxy.seen()] == [
        ("CONNECT", BASIC),
        ("POST", BASIC),
    ]
    # Each absolute-form request carries it (the proxy may check every one of them).
    assert [r.header("Proxy-Authorization") for r in server.requests] == [BASIC, BASIC]
    assert tls_server.requests[0].header("Proxy-Authorization") is None  # not in the tunnel
    _secret_free(repr(client.transport))


REFUSED = [
    ({"auth": f"{USER}:other"}, "407 Proxy Authentication Required"),
    ({"refuse": 403}, "403 Forbidden"),
]


@pytest.mark.parametrize(("options", "answer"), REFUSED, ids=["407", "403"])
async def test_a_refused_tunnel_is_a_proxy_error_without_the_password(
    transports: Callable[..., TransportDriver],
    proxies: Callable[..., LoopbackProxy],
    tls_server: TLSRawServer,
    pki: PKI,
    options: dict[str, Any],
    answer: str,
) -> None:
    proxy = proxies(**options)
    url = _with_credentials(proxy)
    client = transports(proxies={"https": url}, tls=TLSSettings(str(pki.ca)))
    with pytest.raises(ProxyError) as info:
        await client.post(tls_server.url + PATH, b"never")
    message = str(info.value)
    assert proxy.url in message, message
    assert answer in message, message
    assert info.value.request_sent is False
    _secret_free(*_chain(info.value), repr(client.transport))
    assert tls_server.accepted == 0


async def test_a_certificate_refused_inside_the_tunnel_names_the_origin(
    transports: Callable[..., TransportDriver],
    proxies: Callable[..., LoopbackProxy],
    pki: PKI,
) -> None:
    """The origin's certificate (for another name) is refused inside the tunnel: the
    error names the origin (``localhost``), not the proxy (``127.0.0.1``)."""
    proxy = proxies()
    client = transports(proxies={"https": proxy.url}, tls=TLSSettings(str(pki.ca)))
    with (
        TLSRawServer(context=server_context(pki.wrong_name)) as srv,
        pytest.raises(ConnectError) as info,
    ):
        await client.post(f"https://localhost:{srv.port}{PATH}", b"never")
    message = str(info.value)
    refused = "the certificate of localhost was refused (CERTIFICATE_VERIFY_FAILED)"
    assert f"{refused}: Hostname mismatch" in message, message
    assert [r.method for r in proxy.seen()] == ["CONNECT"]


# --- through the clients ------------------------------------------------------------------


async def _invoke(client: Driver, body: bytes) -> bytes:
    answer = await client.invoke(EndpointName="ep", Body=body)
    return await client.read(answer["Body"])


async def test_client_config_proxies(
    make: Callable[..., Driver], proxies: Callable[..., LoopbackProxy], server: RawServer
) -> None:
    proxy = proxies(auth=f"{USER}:{PASSWORD}")
    url = _with_credentials(proxy)
    client = make(config=Config(proxies={"http": url}, retries={"total_max_attempts": 1}))
    assert await _invoke(client, b"via config") == b"via config"
    assert [r.path for r in server.requests] == [server.url + PATH]
    assert proxy.seen()[0].header("Proxy-Authorization") == BASIC
    _secret_free(repr(client.client), repr(client.client.meta.config))
    _secret_free(repr(client.client.meta.resolved_config))


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy"])
async def test_client_takes_the_proxy_from_the_environment(
    make: Callable[..., Driver],
    proxies: Callable[..., LoopbackProxy],
    server: RawServer,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    proxy = proxies()
    monkeypatch.setenv(name, proxy.url)
    client = make(config=ONCE)
    assert await _invoke(client, b"via env") == b"via env"
    assert [r.target for r in proxy.seen()] == [server.url + PATH]


@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
@pytest.mark.parametrize("value", ["127.0.0.1", "example.com, 127.0.0.1", "*"])
async def test_client_no_proxy_covering_the_endpoint_goes_direct(
    make: Callable[..., Driver],
    proxies: Callable[..., LoopbackProxy],
    server: RawServer,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
) -> None:
    proxy = proxies()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv(name, value)
    client = make(config=ONCE)
    assert await _invoke(client, b"direct") == b"direct"
    assert proxy.seen() == []
    assert [r.path for r in server.requests] == [PATH]


async def test_client_no_proxy_for_another_host_keeps_the_proxy(
    make: Callable[..., Driver],
    proxies: Callable[..., LoopbackProxy],
    server: RawServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The premise of the test above: NO_PROXY that does not cover the endpoint."""
    proxy = proxies()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.2,example.com")
    client = make(config=ONCE)
    assert await _invoke(client, b"proxied") == b"proxied"
    assert len(proxy.seen()) == 1


async def test_client_config_proxies_win_over_the_environment(
    make: Callable[..., Driver],
    proxies: Callable[..., LoopbackProxy],
    server: RawServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen, ignored = proxies(), proxies(refuse=403)
    monkeypatch.setenv("HTTP_PROXY", ignored.url)
    monkeypatch.setenv("HTTPS_PROXY", ignored.url)
    config = Config(proxies={"http": chosen.url}, retries={"total_max_attempts": 1})
    client = make(config=config)
    assert await _invoke(client, b"config wins") == b"config wins"
    assert (len(chosen.seen()), ignored.seen()) == (1, [])


async def test_client_refused_tunnel_names_the_proxy_not_the_password(
    make: Callable[..., Driver],
    proxies: Callable[..., LoopbackProxy],
    tls_server: TLSRawServer,
    pki: PKI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = proxies(auth=f"{USER}:other")
    monkeypatch.setenv("HTTPS_PROXY", _with_credentials(proxy))
    client = make(endpoint_url=tls_server.url, verify=str(pki.ca), config=ONCE)
    with pytest.raises(ProxyConnectionError) as info:
        await _invoke(client, b"never")
    assert isinstance(info.value, EndpointConnectionError)
    message = str(info.value)
    request_url = f"{tls_server.url}/endpoints/ep/invocations"
    assert message.startswith(f'Failed to connect to the proxy for endpoint URL "{request_url}"')
    assert proxy.url in message, message
    assert "407 Proxy Authentication Required" in message, message
    _secret_free(*_chain(info.value), repr(client.client.meta.resolved_config))
    assert tls_server.accepted == 0


async def test_client_https_through_an_authenticated_proxy(
    make: Callable[..., Driver],
    proxies: Callable[..., LoopbackProxy],
    tls_server: TLSRawServer,
    pki: PKI,
) -> None:
    proxy = proxies(auth=f"{USER}:{PASSWORD}")
    config = Config(proxies={"https": _with_credentials(proxy)}, retries={"total_max_attempts": 1})
    client = make(endpoint_url=tls_server.url, verify=str(pki.ca), config=config)
    assert await _invoke(client, b"one") == b"one"
    assert await _invoke(client, b"two") == b"two"
    assert [(r.method, r.header("Proxy-Authorization")) for r in proxy.seen()] == [
        ("CONNECT", BASIC)
    ]
    assert [r.path for r in tls_server.requests] == [PATH, PATH]
