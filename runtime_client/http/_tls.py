"""TLS settings of a transport, and the one ``ssl.SSLContext`` made from them, lazily.

A client that only ever speaks plain HTTP never builds a context (loading a CA bundle
costs tens of milliseconds). The context is built once, on the first TLS connection, and
shared by every connection of the transport; ``ssl.SSLContext`` is thread-safe to share.

``verify``: True (the default trust store, see :func:`default_trust`), False (no
certificate or host name checks), or the path of a CA bundle file or of a hashed
certificate folder, used exactly as given.

The default trust store is loaded lazily: where OpenSSL's environment names one
(``SSL_CERT_FILE``, ``SSL_CERT_DIR``), that; else the system's hashed certificate folder
(``/etc/ssl/certs`` and the like), from which OpenSSL reads only the CA a handshake
needs, when it asks (parsing a whole bundle of ~120 certificates costs ~30 ms at the
first connection); else certifi's bundle (what httpx and botocore use). Verification is
as strict whichever it is: the chain must end at a trusted CA and name the host.
``client_cert``: a PEM file with the key, or ``(cert, key)``.
``alpn``: the protocols offered (``["http/1.1"]``; ``["h2"]`` for the HTTP/2 stream).
An ``SSLContext`` offers one list, so :meth:`TLSSettings.with_alpn` gives the settings for
another list: the same trust and identity, a context of its own (made once, lazily).

:mod:`ssl` itself (4-9 ms to import, with OpenSSL's library) is imported by the first
context: :func:`is_tls` and :func:`is_ssl_error` answer without it, since no TLS socket or
TLS error can exist before it is imported.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

__all__ = ["TLSSettings", "default_trust", "is_ssl_error", "is_tls", "tls_closed"]


def _is_ssl(value: object, class_name: str) -> bool:
    """Whether ``value`` is an instance of ``ssl.<class_name>``, without importing ssl."""
    module = sys.modules.get("ssl")
    return module is not None and isinstance(value, getattr(module, class_name))


def is_tls(sock: object) -> bool:
    """Whether ``sock`` is an ``ssl.SSLSocket``."""
    return _is_ssl(sock, "SSLSocket")


def is_ssl_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an ``ssl.SSLError``."""
    return _is_ssl(exc, "SSLError")


def tls_closed(exc: BaseException) -> bool:
    """Whether ``exc`` says the peer closed TLS cleanly (``close_notify``): the end of data."""
    return _is_ssl(exc, "SSLZeroReturnError")


class TLSSettings:
    """How to verify servers and who we are; :meth:`context` builds the context once."""

    def __init__(
        self,
        verify: bool | str = True,
        client_cert: str | tuple[str, str] | None = None,
        alpn: Sequence[str] = ("http/1.1",),
        *,
        factory: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        self.verify = verify
        self.client_cert = client_cert
        self.alpn = tuple(alpn)
        #: Makes the context elsewhere (e.g. from a profile's ca_bundle); used as it is.
        self._factory = factory
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._siblings: dict[tuple[str, ...], TLSSettings] = {}
        self._alpn_on_factory = False  # a factory's context is used as it is

    def with_alpn(self, alpn: Sequence[str]) -> TLSSettings:
        """These settings offering ``alpn`` instead (the same object if they already do);
        one sibling per list, so that its context is built once."""
        key = tuple(alpn)
        if key == self.alpn:
            return self
        with self._lock:
            sibling = self._siblings.get(key)
            if sibling is None:
                sibling = TLSSettings(self.verify, self.client_cert, key, factory=self._factory)
                sibling._alpn_on_factory = True
                self._siblings[key] = sibling
        return sibling

    def __repr__(self) -> str:
        return f"TLSSettings(verify={self.verify!r}, alpn={list(self.alpn)!r})"

    def context(self) -> ssl.SSLContext:
        context = self._context
        if context is None:
            with self._lock:
                if self._context is None:
                    self._context = self._build()
                context = self._context
        return context

    @property
    def built(self) -> bool:
        """The context exists: :meth:`context` will not block (no file to read)."""
        return self._context is not None

    def _build(self) -> ssl.SSLContext:
        import ssl

        if self._factory is not None:
            made = self._factory()
            if self._alpn_on_factory and self.alpn:
                made.set_alpn_protocols(list(self.alpn))
            return made
        verify = self.verify
        if verify is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif isinstance(verify, str):
            directory = os.path.isdir(verify)
            context = ssl.create_default_context(
                cafile=None if directory else verify, capath=verify if directory else None
            )
        else:
            cafile, capath = default_trust()
            context = ssl.create_default_context(cafile=cafile, capath=capath)
        cert = self.client_cert
        if cert is not None:
            if isinstance(cert, tuple):
                context.load_cert_chain(cert[0], cert[1])
            else:
                context.load_cert_chain(cert)
        if self.alpn:
            context.set_alpn_protocols(list(self.alpn))
        return context


_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")


def _is_hashed_folder(path: str | None) -> bool:
    """``path`` is a folder holding at least one OpenSSL-hashed certificate name."""
    if not path or not os.path.isdir(path):
        return False
    try:
        with os.scandir(path) as entries:
            return any(_HASHED_NAME.fullmatch(entry.name) for entry in entries)
    except OSError:
        return False


def default_trust(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """``(cafile, capath)`` of the default trust store (see the module docstring)."""
    env = os.environ if environ is None else environ
    cafile, capath = env.get("SSL_CERT_FILE") or None, env.get("SSL_CERT_DIR") or None
    if cafile or capath:
        return cafile, capath
    import ssl

    paths = ssl.get_default_verify_paths()
    for folder in (paths.capath, paths.openssl_capath):
        if _is_hashed_folder(folder):
            return None, folder
    return _default_bundle(), None


def _default_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # pragma: no cover - httpx brings certifi
        return None
    return certifi.where()
