"""SigV4 header signing for a hot path: a signer bound to one credential scope.

:func:`sigv4.sign` is the reference: it takes any request, checks every input and keeps
every step's text for debugging. A client that signs many requests to one service knows
more: the credentials, region and service stay the same, the canonical URI of a path can
be computed once, and the headers it builds are already valid. :class:`HeaderSigner`
takes that as given and does only the steps, in order::

    1. canonical request   METHOD \\n canonical URI \\n (no query) \\n canonical headers \\n
                           \\n signed headers \\n payload hash
    2. string to sign      AWS4-HMAC-SHA256 \\n amz-date \\n scope \\n hex(SHA-256(1))
    3. signing key         kSigning for the date (cached, see ``_signer._signing_key``)
    4. signature           hex(HMAC-SHA256(3, 2))

Step 4 is HMAC (RFC 2104) written out: ``H((K ^ opad) || H((K ^ ipad) || text))``. The
two hashes that have taken in the padded key are kept for the day's key, so a signature
costs two hash copies and updates, not a keyed HMAC set up afresh.

Its result is exactly :func:`sigv4.sign`'s for the same request with the default
settings (a test compares them): the same headers to add, in the same order. What it does
not do is refuse bad input: a header name is checked the first time it is seen, but a
value holding CR or LF (which ``sign`` refuses) is signed as trimmed; the HTTP layer
refuses to send it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from ._canonical import canonical_headers
from ._credentials import Credentials
from ._settings import DEFAULT_EXCLUDED_HEADERS
from ._signer import ALGORITHM, _signing_key, credential_scope

__all__ = ["HeaderSigner"]


class HeaderSigner:
    """Signs requests without a query string in the ``Authorization`` header, for one
    ``credentials``/``region``/``service``, with the default settings (the session token
    signed, no ``x-amz-content-sha256`` header)."""

    __slots__ = ("_credentials", "_keyed", "_layouts", "_prefix", "_region", "_service")

    def __init__(self, credentials: Credentials, region: str, service: str) -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._prefix = f"{ALGORITHM} Credential={credentials.access_key_id}/"
        # (date, inner hash, outer hash) of step 4's HMAC for that date's signing key
        self._keyed: tuple[str, Any, Any] = ("", None, None)
        # header names in the order given -> how their canonical lines are laid out
        self._layouts: dict[tuple[str, ...], _Layout | None] = {}

    @property
    def credentials(self) -> Credentials:
        return self._credentials

    def __repr__(self) -> str:
        return f"HeaderSigner({self._credentials!r}, {self._region!r}, {self._service!r})"

    def sign(
        self,
        method: str,
        canonical_uri: str,
        headers: Sequence[tuple[str, str]],
        payload_hash: str,
        amz_date: str,
    ) -> list[tuple[str, str]]:
        """The headers to add to a request whose ``headers`` (``Host`` included) are all
        signed: ``X-Amz-Security-Token`` (with temporary credentials), ``X-Amz-Date`` and
        ``Authorization``. ``canonical_uri`` is the CanonicalURI line of the request's path
        (``canonical_uri(path, ...)``), ``amz_date`` the time as ``YYYYMMDDTHHMMSSZ``."""
        # 1. The canonical request; 2. the string to sign.
        added, _, signed, scope, text = self._texts(
            method, canonical_uri, headers, payload_hash, amz_date
        )
        date = amz_date[:8]
        # 3. The signing key (its HMAC pads, hashed once per date).
        keyed = self._keyed
        if keyed[0] != date:
            keyed = self._keyed = self._key_hashes(date)
        # 4. The signature: HMAC-SHA256(kSigning, string to sign).
        inner = keyed[1].copy()
        inner.update(text.encode())
        outer = keyed[2].copy()
        outer.update(inner.digest())
        signature = outer.hexdigest()
        authorization = f"{self._prefix}{scope}, SignedHeaders={signed}, Signature={signature}"
        added.append(("Authorization", authorization))
        return added

    def signing_texts(self, *request: Any) -> tuple[str, str]:
        """The exact canonical request and string to sign that :meth:`sign` signs for
        the same arguments (``method, canonical_uri, headers, payload_hash, amz_date``).
        The session token is in them (mask before showing); they are for comparing with
        what a service quotes when it refuses a signature (``explain_mismatch``)."""
        _, canonical, _, _, text = self._texts(*request)
        return canonical, text

    def _texts(
        self,
        method: str,
        canonical_uri: str,
        headers: Sequence[tuple[str, str]],
        payload_hash: str,
        amz_date: str,
    ) -> tuple[list[tuple[str, str]], str, str, str, str]:
        """The headers added before signing (token, date), the canonical request, the
        signed headers, the scope and the string to sign."""
        token = self._credentials.session_token
        added = [("X-Amz-Security-Token", token)] if token is not None else []
        added.append(("X-Amz-Date", amz_date))
        header_text, signed = self._canonical_headers([*headers, *added])
        canonical = f"{method}\n{canonical_uri}\n\n{header_text}\n{signed}\n{payload_hash}"
        scope = credential_scope(amz_date[:8], self._region, self._service)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return added, canonical, signed, scope, f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"

    def _canonical_headers(self, headers: list[tuple[str, str]]) -> tuple[str, str]:
        """The CanonicalHeaders text and the SignedHeaders line. A client sends the same
        header names again and again: their sorted, lower-cased layout is worked out once
        (by ``canonical_headers``) and each call only trims the values into it. Names that
        repeat or are excluded from signing take ``canonical_headers`` every time."""
        names = tuple([name for name, _ in headers])
        layout = self._layouts.get(names, _UNKNOWN)
        if layout is _UNKNOWN:
            layout = _layout(headers)
            if len(self._layouts) >= _LAYOUTS_KEPT:
                self._layouts.clear()  # many shapes: start over rather than grow
            self._layouts[names] = layout
        if layout is None:
            lines, signed = canonical_headers(headers, DEFAULT_EXCLUDED_HEADERS)
            return "".join(f"{name}:{value}\n" for name, value in lines), signed
        order, signed = layout
        # each value trimmed, its runs of whitespace one space (canonical_headers' rule)
        return "".join(
            [prefix + " ".join(headers[i][1].split()) + "\n" for i, prefix in order]
        ), signed

    def _key_hashes(self, date: str) -> tuple[str, Any, Any]:
        key = _signing_key(self._credentials.secret_access_key, date, self._region, self._service)
        block = key.ljust(_BLOCK, b"\0")  # kSigning is 32 bytes: shorter than a block
        inner = hashlib.sha256(block.translate(_IPAD))
        outer = hashlib.sha256(block.translate(_OPAD))
        return date, inner, outer


#: (index of the header, "name:") in canonical order, and the SignedHeaders line
_Layout = tuple[tuple[tuple[int, str], ...], str]
_UNKNOWN: Any = object()
_LAYOUTS_KEPT = 64


def _layout(headers: list[tuple[str, str]]) -> _Layout | None:
    """The layout of these names, or None when they need the general path (a name
    repeated or excluded from signing)."""
    lines, signed = canonical_headers(headers, DEFAULT_EXCLUDED_HEADERS)
    if len(lines) != len(headers):
        return None
    where = {name.lower(): index for index, (name, _) in enumerate(headers)}
    return tuple((where[name], f"{name}:") for name, _ in lines), signed


_BLOCK = 64  # SHA-256's block size, the HMAC key length
# Each byte XOR 0x36 (ipad) and XOR 0x5C (opad), as tables for bytes.translate
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
