"""TLS for the local endpoint: a certificate made at start, or the user's own.

``tls=True`` makes a throwaway certificate authority and, signed by it, a server
certificate for ``localhost``, ``127.0.0.1``, ``::1`` and the bound host, valid for 30
days, with ``cryptography`` (the ``sigv4a`` extra). The CA is written to
``data_dir/tls/ca.pem`` for clients to trust (``AWS_CA_BUNDLE``, ``--ca-bundle``,
``verify=``); the server's key never leaves ``data_dir/tls`` (mode 0600). Both HTTP/1.1
and HTTP/2 are offered by ALPN on the one port.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path
from typing import Any

__all__ = ["TLSFiles", "make_certificates"]

_CA_NAME = "sagemaker-runtime-lite local CA"


class TLSFiles:
    """The certificate chain and key the server presents, and the CA to trust (None for
    the user's own certificate)."""

    def __init__(self, cert: Path, key: Path, ca: Path | None) -> None:
        self.cert, self.key, self.ca = cert, key, ca


def make_certificates(folder: Path, host: str) -> TLSFiles:
    """A CA and a server certificate for ``host`` (and loopback) in ``folder``."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "tls=True needs cryptography to make a certificate: pip install "
            "'sagemaker-runtime-lite[sigv4a]', or give your own certificate and key"
        ) from None
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "key.pem"
    ca_path.write_bytes(_certificate(ca_key, ca_key, None).public_bytes(pem))
    cert_path.write_bytes(_certificate(server_key, ca_key, host).public_bytes(pem))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(
            server_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return TLSFiles(cert_path, key_path, ca_path)


def _certificate(key: Any, ca_key: Any, host: str | None) -> Any:
    """The CA's own certificate (``host`` None), or the server's for ``host``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = host is None
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _CA_NAME)])
    subject = issuer if ca else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(_key_usage(x509, ca=ca), critical=True)
    )
    if host is not None:
        names: list[x509.GeneralName] = [x509.DNSName("localhost")]
        for address in sorted({"127.0.0.1", "::1", host.strip("[]")}):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(address)))
            except ValueError:
                names.append(x509.DNSName(address))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
        )
    return builder.sign(ca_key, hashes.SHA256())


def _key_usage(x509: Any, *, ca: bool) -> Any:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
