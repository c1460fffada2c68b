"""The default trust store, loaded lazily (issue 17), and as strict as ever: OpenSSL's
environment (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``) where set, else the system's hashed
certificate folder (nothing parsed until a handshake asks), else certifi's bundle.
Verification still fails for an unknown CA and for a wrong host name with the lazy store
and with each explicit option (a CA file, a hashed folder)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime_client import SageMakerRuntime, SSLError
from runtime_client._config import Config
from runtime_client.http import TLSSettings
from runtime_client.http._tls import default_trust
from tests.support.tls_server import PKI, TLSRawServer, make_pki, server_context

PATH = "/endpoints/ep/invocations"
ONCE = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=3)
KEYS: dict[str, Any] = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def hashed(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hashed certificate folder holding the test CA, as ``c_rehash`` makes one."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not here: it names the hashed certificate file")
    digest = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(pki.ca)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    folder = tmp_path_factory.mktemp("hashed")
    shutil.copy(pki.ca, folder / f"{digest}.0")
    return folder


@pytest.fixture
def serve(pki: PKI) -> Iterator[Callable[..., TLSRawServer]]:
    made: list[TLSRawServer] = []

    def factory(cert: tuple[Path, Path] | None = None) -> TLSRawServer:
        srv = TLSRawServer(context=server_context(cert or pki.server)).start()  # echoes
        made.append(srv)
        return srv

    yield factory
    for srv in made:
        srv.close()


@pytest.fixture
def no_trust_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _call(url: str, **options: Any) -> bytes:
    with SageMakerRuntime(
        region_name="us-east-1", endpoint_url=url, config=ONCE, **KEYS, **options
    ) as client:
        body: bytes = client.invoke_endpoint(EndpointName="ep", Body=b"x")["Body"].read()
        return body


# --------------------------------------------------------------------- which store


def test_the_environment_names_the_store_first(no_trust_env: pytest.MonkeyPatch) -> None:
    assert default_trust({"SSL_CERT_FILE": "/f.pem"}) == ("/f.pem", None)
    assert default_trust({"SSL_CERT_DIR": "/d"}) == (None, "/d")


def test_the_system_hashed_folder_then_certifi(
    no_trust_env: pytest.MonkeyPatch, hashed: Path, tmp_path: Path
) -> None:
    def paths(folder: Path) -> Any:
        missing = str(folder / "absent")  # no bundle file: only the folder counts
        return ssl.DefaultVerifyPaths(
            missing, str(folder), "SSL_CERT_FILE", missing, "SSL_CERT_DIR", str(folder)
        )

    no_trust_env.setattr(ssl, "get_default_verify_paths", lambda: paths(hashed))
    assert default_trust({}) == (None, str(hashed))
    empty = tmp_path / "not-hashed"
    empty.mkdir()
    (empty / "readme.txt").write_text("no certificates here")
    no_trust_env.setattr(ssl, "get_default_verify_paths", lambda: paths(empty))
    import certifi

    assert default_trust({}) == (certifi.where(), None)


def test_a_hashed_folder_is_read_only_when_a_handshake_asks(
    no_trust_env: pytest.MonkeyPatch, hashed: Path
) -> None:
    no_trust_env.setenv("SSL_CERT_DIR", str(hashed))
    context = TLSSettings().context()
    assert context.cert_store_stats()["x509_ca"] == 0  # nothing parsed up front
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


# --------------------------------------------------------------------- still strict

REFUSED = [
    ("stranger", "127.0.0.1", "unable to get local issuer certificate"),
    ("wrong_name", "localhost", "Hostname mismatch"),
    ("wrong_name", "127.0.0.1", "IP address mismatch"),
]


@pytest.mark.parametrize("option", ["lazy default", "verify=<hashed folder>", "verify=<CA file>"])
def test_the_server_of_the_trusted_ca_answers(
    no_trust_env: pytest.MonkeyPatch,
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    hashed: Path,
    option: str,
) -> None:
    srv = serve()
    url = f"https://127.0.0.1:{srv.port}"
    if option == "lazy default":
        no_trust_env.setenv("SSL_CERT_DIR", str(hashed))
        assert _call(url) == b"x"
    elif option == "verify=<hashed folder>":
        assert _call(url, verify=str(hashed)) == b"x"
    else:
        assert _call(url, verify=str(pki.ca)) == b"x"


@pytest.mark.parametrize("option", ["lazy default", "verify=<hashed folder>", "verify=<CA file>"])
@pytest.mark.parametrize(("cert", "host", "reason"), REFUSED, ids=["unknown-ca", "name", "ip"])
def test_an_unknown_ca_or_a_wrong_name_is_refused(
    no_trust_env: pytest.MonkeyPatch,
    serve: Callable[..., TLSRawServer],
    pki: PKI,
    hashed: Path,
    option: str,
    cert: str,
    host: str,
    reason: str,
) -> None:
    srv = serve(getattr(pki, cert))
    url = f"https://{host}:{srv.port}"
    options: dict[str, Any] = {}
    if option == "lazy default":
        no_trust_env.setenv("SSL_CERT_DIR", str(hashed))
    elif option == "verify=<hashed folder>":
        options["verify"] = str(hashed)
    else:
        options["verify"] = str(pki.ca)
    with pytest.raises(SSLError) as info:
        _call(url, **options)
    assert f"(CERTIFICATE_VERIFY_FAILED): {reason}" in str(info.value)
    assert srv.requests == []


def test_the_real_default_store_refuses_the_test_ca(
    no_trust_env: pytest.MonkeyPatch, serve: Callable[..., TLSRawServer]
) -> None:
    srv = serve()
    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _call(f"https://127.0.0.1:{srv.port}")
