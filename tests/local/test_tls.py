"""The local endpoint over TLS: a certificate made at start whose CA clients are given
(boto3 through verify=, ours through verify= and AWS_CA_BUNDLE's equivalent), HTTP/1.1
and HTTP/2 offered by ALPN on one port (our bidirectional client over h2), the user's
own certificate, and refusal by a client that does not trust the CA."""

from __future__ import annotations

import importlib.util
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime_client import SageMakerRuntime, SSLError
from runtime_client._config import Config
from runtime_client.local import EndpointSettings, LocalEndpoint, serve
from tests.local.bidi_helpers import TIMEOUT, part
from tests.local.emulator import ACCEPTED, CREDS, REGION, SECRET

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="tls=True makes its certificate with the optional 'cryptography' package",
)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEndpoint]:
    data = tmp_path_factory.mktemp("tls-data")
    with serve(credentials=ACCEPTED, data_dir=data, tls=True) as endpoint:
        yield endpoint


def _client(endpoint: LocalEndpoint, **options: Any) -> SageMakerRuntime:
    return SageMakerRuntime(
        region_name=REGION,
        endpoint_url=endpoint.url,
        aws_access_key_id=CREDS.access_key_id,
        aws_secret_access_key=SECRET,
        **options,
    )


def test_the_made_ca_is_written_and_the_key_kept_private(secure: LocalEndpoint) -> None:
    assert secure.url.startswith("https://127.0.0.1:")
    ca = secure.info.ca_bundle
    assert ca is not None
    assert ca == secure.data_dir / "tls" / "ca.pem"
    assert b"BEGIN CERTIFICATE" in ca.read_bytes()
    assert (secure.data_dir / "tls" / "key.pem").stat().st_mode & 0o077 == 0


def test_boto3_over_https_verified_with_the_written_ca(secure: LocalEndpoint) -> None:
    boto3 = pytest.importorskip("boto3", reason="boto3 is the oracle of this test")
    client = boto3.client(
        "sagemaker-runtime",
        region_name=REGION,
        endpoint_url=secure.url,
        aws_access_key_id=CREDS.access_key_id,
        aws_secret_access_key=SECRET,
        verify=str(secure.info.ca_bundle),
    )
    answer = client.invoke_endpoint(EndpointName="my-endpoint", Body=b"over https")
    assert answer["Body"].read() == b"over https"
    client.close()


@pytest.mark.parametrize("http2", [False, True])
def test_our_client_over_https_on_either_protocol(secure: LocalEndpoint, http2: bool) -> None:
    config = Config(http2=http2)
    with _client(secure, verify=str(secure.info.ca_bundle), config=config) as client:
        answer = client.invoke_endpoint(EndpointName="my-endpoint", Body=b"ours over https")
        assert answer["Body"].read() == b"ours over https"


def test_our_bidirectional_client_over_tls_with_alpn_h2(secure: LocalEndpoint) -> None:
    config = Config(read_timeout=TIMEOUT, connect_timeout=TIMEOUT)
    with (
        _client(secure, verify=str(secure.info.ca_bundle), config=config) as client,
        client.invoke_endpoint_with_bidirectional_stream(EndpointName="my-endpoint") as stream,
    ):
        stream.input_stream.send(part(b"duplex over h2"))
        event = stream.receive()
        assert event is not None
        assert event["PayloadPart"]["Bytes"] == b"duplex over h2"
        stream.input_stream.close()
        assert list(stream) == []


def test_a_client_that_does_not_trust_the_ca_is_refused(secure: LocalEndpoint) -> None:
    with (
        _client(secure, config=Config(retries={"total_max_attempts": 1})) as client,
        pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.invoke_endpoint(EndpointName="my-endpoint", Body=b"x")


def test_your_own_certificate_and_key(secure: LocalEndpoint, tmp_path: Path) -> None:
    tls = secure.data_dir / "tls"  # a certificate made elsewhere, given as files
    with serve(credentials=ACCEPTED, tls=(tls / "server.pem", tls / "key.pem")) as own:
        assert own.url.startswith("https://")
        assert own.info.ca_bundle is None
        context = ssl.create_default_context(cafile=str(tls / "ca.pem"))
        with _client(own, verify=str(tls / "ca.pem")) as client:
            answer = client.invoke_endpoint(EndpointName="e", Body=b"mine")
            assert answer["Body"].read() == b"mine"
        assert context.verify_mode == ssl.CERT_REQUIRED


def test_tls_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"the certificate file .* does not exist"):
        EndpointSettings(tls=(tmp_path / "no.pem", tmp_path / "no-key.pem"))
    with pytest.raises(ValueError, match=r"tls must be True, False or \(certificate file"):
        EndpointSettings(tls="yes")  # type: ignore[arg-type]
