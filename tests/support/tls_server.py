"""TLS on loopback: a throwaway certificate authority, and ``RawServer`` over TLS.

:func:`make_pki` writes, into a folder, a CA and the certificates the TLS tests need
(:class:`PKI`): a server certificate for ``127.0.0.1`` and ``localhost``, one for another
name only, one from a second CA that no client trusts, and a client certificate (as a
``(cert, key)`` pair and as one PEM file holding both). :func:`server_context` makes the
server's ``SSLContext`` (optionally requiring a client certificate, or capped at TLS 1.2).

:class:`TLSRawServer` is :class:`~tests.support.raw_server.RawServer` with a TLS handshake
first on every connection (in the connection's thread, so a slow client holds up no one),
then the same byte scripts and counters. Each handshake is recorded (:class:`Handshake`:
the name the client sent by SNI, the ALPN protocol chosen, the client certificate's
subject, or the error that ended it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import select
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from tests.support.raw_server import IO_TIMEOUT, Connection, RawServer

__all__ = ["PKI", "Handshake", "TLSRawServer", "make_pki", "server_context"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost")
#: Seconds a server waits for the client to hang up after a failed handshake.
LINGER = 2.0


@dataclass(frozen=True)
class PKI:
    """Paths of the files :func:`make_pki` wrote."""

    ca: Path  # the CA the clients are told to trust
    server: tuple[Path, Path]  # for 127.0.0.1 and localhost, issued by ``ca``
    wrong_name: tuple[Path, Path]  # for other.example only, issued by ``ca``
    stranger: tuple[Path, Path]  # for 127.0.0.1 and localhost, issued by an unknown CA
    client: tuple[Path, Path]  # a client certificate issued by ``ca``
    client_combined: Path  # the client certificate and its key in one PEM file


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    names: Sequence[str],
    issuer: tuple[Any, Any] | None,
    *,
    ca: bool = False,
    client: bool = False,
) -> tuple[Any, Any]:
    """A certificate and its key; self-signed when ``issuer`` (cert, key) is None."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = (
        (_name(subject), key) if issuer is None else (issuer[0].subject, issuer[1])
    )
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        # What Python 3.13's default context (VERIFY_X509_STRICT) requires
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if names:
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    if not ca:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return data


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def _write_pair(directory: Path, stem: str, pair: tuple[Any, Any]) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(_pem(pair[0]))
    key_path.write_bytes(_key_pem(pair[1]))
    return cert_path, key_path


def make_pki(directory: Path) -> PKI:
    """Write the CA and certificates of :class:`PKI` into ``directory``."""
    root = _issue("loopback test CA", (), None, ca=True)
    other_root = _issue("unknown test CA", (), None, ca=True)
    (directory / "ca.pem").write_bytes(_pem(root[0]))
    client = _issue("loopback client", (), root, client=True)
    combined = directory / "client-combined.pem"
    combined.write_bytes(_pem(client[0]) + _key_pem(client[1]))
    return PKI(
        ca=directory / "ca.pem",
        server=_write_pair(directory, "server", _issue("server", LOOPBACK_NAMES, root)),
        wrong_name=_write_pair(directory, "wrong", _issue("wrong", ["other.example"], root)),
        stranger=_write_pair(directory, "stranger", _issue("stranger", LOOPBACK_NAMES, other_root)),
        client=_write_pair(directory, "client", client),
        client_combined=combined,
    )


def server_context(
    cert: tuple[Path, Path],
    *,
    client_ca: Path | None = None,
    alpn: Sequence[str] = ("http/1.1",),
    max_version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A server context for ``cert``; with ``client_ca``, a client certificate issued by
    it is required. ``alpn`` is the server's preference order."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
    if alpn:
        context.set_alpn_protocols(list(alpn))
    if max_version is not None:
        context.maximum_version = max_version
    return context


def _linger(sock: socket.socket) -> None:
    """Close after a failed handshake the way a careful server does: FIN first, then read
    until the client hangs up (bounded), so that the client reads the alert the server
    sent instead of a reset (closing with unread bytes would send a RST, and a RST may
    discard the alert before the client reads it)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER
        while time.monotonic() < deadline:
            ready, _, _ = select.select([sock], [], [], 0.02)
            if ready and not sock.recv(65536):
                break
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class Handshake:
    """One connection's TLS handshake as the server saw it."""

    server_name: str | None = None  # sent by SNI (None: no SNI, as for an IP address)
    alpn: str | None = None  # the protocol chosen (None: the client offered none we take)
    client_subject: str | None = None  # the client certificate's common name
    error: str | None = None  # why the handshake failed


@dataclass
class TLSRawServer(RawServer):
    """``RawServer`` behind TLS (``context`` from :func:`server_context`); ``url`` is
    ``https://127.0.0.1:PORT``. ``handshakes`` maps a connection id to its handshake."""

    context: ssl.SSLContext | None = None
    handshakes: dict[int, Handshake] = field(default_factory=dict)
    _names: dict[int, str | None] = field(default_factory=dict)

    def start(self) -> TLSRawServer:
        assert self.context is not None, "TLSRawServer needs a context"
        self.context.sni_callback = self._sni
        super().start()
        return self

    def __enter__(self) -> TLSRawServer:
        return self.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def handshake(self, connection_id: int) -> Handshake:
        with self._lock:
            return self.handshakes[connection_id]

    @property
    def failed_handshakes(self) -> list[str]:
        with self._lock:
            return [h.error for h in self.handshakes.values() if h.error is not None]

    def _sni(self, sock: Any, name: str | None, context: ssl.SSLContext) -> None:
        with self._lock:
            self._names[id(sock)] = name

    def _serve(self, sock: socket.socket, conn: Connection) -> None:
        assert self.context is not None
        seen = Handshake()
        with self._lock:
            self.handshakes[conn.id] = seen
        # The TLS socket takes over the descriptor: it is the one to close.
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        try:
            tls.settimeout(IO_TIMEOUT)
            tls.do_handshake()
        except (OSError, ssl.SSLError) as exc:
            with self._lock:
                seen.error = f"{type(exc).__name__}: {exc}"
                conn.closed_by = "server"
            _linger(tls)
            return
        peer = tls.getpeercert()
        with self._lock:
            seen.server_name = self._names.pop(id(tls), None)
            seen.alpn = tls.selected_alpn_protocol()
            subject = cast(tuple[tuple[tuple[str, str], ...], ...], (peer or {}).get("subject", ()))
            names = [pair for rdn in subject for pair in rdn]
            common = [str(value) for key, value in names if key == "commonName"]
            seen.client_subject = common[0] if common else None
        super()._serve(tls, conn)

    def _recv(self, sock: socket.socket, conn: Connection, wait: float) -> bytes | None:
        # Bytes TLS has already decrypted are not seen by select(): read them first.
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            try:
                return sock.recv(65536)
            except (ConnectionError, OSError):
                return b""
        try:
            return super()._recv(sock, conn, wait)
        except ssl.SSLError:
            return b""
