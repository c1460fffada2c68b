"""Step 1 of SigV4: the canonical request.

The canonical request is six parts joined by ``\\n``::

    HTTPMethod
    CanonicalURI            the path, normalized and URI-encoded
    CanonicalQueryString    key=value pairs, URI-encoded, sorted by key then value
    CanonicalHeaders        one "name:value" line per signed header, sorted, then an empty line
    SignedHeaders           the signed header names, ";"-separated
    HashedPayload           hex SHA-256 of the body (or UNSIGNED-PAYLOAD, ...)

For example, for ``GET /?Param2=value2&Param1=value1`` to ``example.amazonaws.com``::

    GET
    /
    Param1=value1&Param2=value2
    host:example.amazonaws.com
    x-amz-date:20150830T123600Z

    host;x-amz-date
    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote_to_bytes

from ._errors import SigningError
from ._record import field, record
from ._settings import PathNormalization, PercentEncoding, SigningSettings

__all__ = [
    "CanonicalRequest",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "normalize_path",
    "split_url",
    "uri_encode",
]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_OBS_FOLD_OK = re.compile(r"(?:[^\r\n]|\r?\n[ \t])*\Z")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def uri_encode(text: str | bytes, *, keep_slash: bool = False) -> str:
    """Percent-encode every byte except the unreserved ``A-Z a-z 0-9 - _ . ~`` (and ``/``
    when ``keep_slash``), with upper-case hex, as the spec's UriEncode()."""
    try:
        return quote(text, safe="/~" if keep_slash else "~")
    except UnicodeEncodeError as exc:
        raise SigningError("url", "contains characters that cannot be encoded as UTF-8") from exc


def split_url(url: str) -> tuple[str, str, str]:
    """Split an absolute URL or an origin-form target (``/path?query``) into
    ``(host, path, query)``. The path and query are kept exactly as given; the fragment is
    dropped; ``host`` is the authority without user info or the scheme's default port."""
    if not isinstance(url, str) or not url:
        raise SigningError("url", "must be a non-empty string")
    url = url.split("#", 1)[0]
    host = ""
    if url.startswith("/"):
        target = url
    else:
        scheme, sep, rest = url.partition("://")
        if not sep or not scheme:
            raise SigningError("url", "must be an absolute URL or start with '/'")
        end = len(rest)
        for stop in "/?":
            index = rest.find(stop)
            if index != -1 and index < end:
                end = index
        host = rest[:end].rpartition("@")[2]
        default_port = _DEFAULT_PORTS.get(scheme.lower())
        if default_port and host.endswith(default_port):
            host = host[: -len(default_port)]
        target = rest[end:]
    path, _, query = target.partition("?")
    return host, path, query


def normalize_path(path: str) -> str:
    """Remove dot segments (RFC 3986, section 5.2.4) and empty segments, as AWS services do.

    ``/a/./b/../c//d/`` becomes ``/a/c/d/``; a ``..`` above the root stays at the root.
    """
    if not path:
        return "/"
    output: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and output else ""
    return first + "/".join(output) + last


def canonical_uri(path: str, normalization: PathNormalization, encoding: PercentEncoding) -> str:
    """The CanonicalURI line from the path as sent on the wire."""
    if not path:
        path = "/"
    if normalization is PathNormalization.NORMALIZE:
        path = normalize_path(path)
    if encoding is PercentEncoding.DOUBLE:
        return uri_encode(path, keep_slash=True)
    # SINGLE: the wire path is already encoded; encode only what is not.
    try:
        return _BARE_PERCENT.sub("%25", quote(path, safe="/~%"))
    except UnicodeEncodeError as exc:
        raise SigningError("url", "contains characters that cannot be encoded as UTF-8") from exc


def _requote(text: str) -> str:
    # Decode percent-escapes to bytes (a '+' is a space, as in form encoding), then encode
    # again with the spec's rules: pre-encoded and raw input give the same canonical form.
    if "%" not in text and "+" not in text:
        return uri_encode(text)
    return uri_encode(unquote_to_bytes(text.replace("+", " ")))


def canonical_query(query: str, extra: Iterable[tuple[str, str]] = ()) -> str:
    """The CanonicalQueryString line from the wire query plus already-encoded ``extra`` pairs.

    Each key and value is decoded and URI-encoded again, then the pairs are sorted by key and
    then by value; a key without ``=`` gets an empty value.
    """
    pairs = [
        (_requote(key), _requote(value))
        for key, _, value in (piece.partition("=") for piece in query.split("&") if piece)
    ]
    pairs.extend(extra)
    pairs.sort()
    return "&".join(f"{key}={value}" for key, value in pairs)


_LOWER_NAMES: dict[str, str] = {}  # valid header names seen, to their lower case


def _checked_lower_name(name: str) -> str:
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise SigningError("headers", f"header name {name!r} is not a valid HTTP token")
    lower = name.lower()
    if len(_LOWER_NAMES) < 4096:
        _LOWER_NAMES[name] = lower
    return lower


def canonical_headers(
    headers: Iterable[tuple[str, str]], excluded: frozenset[str]
) -> tuple[tuple[tuple[str, str], ...], str]:
    """The CanonicalHeaders lines and the SignedHeaders line.

    Names are lower-cased; each value is trimmed and its runs of whitespace (folded lines
    included) become one space; repeated headers are joined with ``,`` in their order.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        lower = _LOWER_NAMES.get(name)
        if lower is None:
            lower = _checked_lower_name(name)
        if not isinstance(value, str):
            raise SigningError("headers", f"value of {name!r} must be a str")
        if lower in excluded:
            continue
        if ("\n" in value or "\r" in value) and not _OBS_FOLD_OK.match(value):
            raise SigningError("headers", f"value of {name!r} contains CR or LF")
        values = grouped.get(lower)
        folded = " ".join(value.split())
        if values is None:
            grouped[lower] = [folded]
        else:
            values.append(folded)
    names = sorted(grouped)
    lines = tuple((name, ",".join(grouped[name])) for name in names)
    return lines, ";".join(names)


@record(frozen=True)
class CanonicalRequest:
    """The canonical request. :attr:`text` is the exact text that is hashed; ``str()``
    (and ``redacted()``) the same text with the session token masked, for logs and
    messages, so that printing it never shows the token."""

    method: str
    uri: str
    query: str
    headers: tuple[tuple[str, str], ...]
    signed_headers: str
    payload_hash: str
    _text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lines = "".join(f"{name}:{value}\n" for name, value in self.headers)
        text = (
            f"{self.method}\n{self.uri}\n{self.query}\n{lines}\n"
            f"{self.signed_headers}\n{self.payload_hash}"
        )
        object.__setattr__(self, "_text", text)

    @property
    def text(self) -> str:
        """The exact canonical request, the session token included (what is hashed)."""
        return self._text

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"CanonicalRequest({self.redacted()!r})"

    def redacted(self) -> str:
        """The canonical request with the session token (header or query) replaced by ``***``."""
        headers = "".join(
            f"{name}:{'***' if name == 'x-amz-security-token' else value}\n"
            for name, value in self.headers
        )
        query = re.sub(r"(X-Amz-Security-Token=)[^&]*", r"\1***", self.query)
        return (
            f"{self.method}\n{self.uri}\n{query}\n{headers}\n"
            f"{self.signed_headers}\n{self.payload_hash}"
        )


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: tuple[tuple[str, str], ...],
    signed_headers: str,
    payload_hash: str,
    settings: SigningSettings,
) -> CanonicalRequest:
    """Step 1 put together: the canonical request of ``method`` and the wire ``path``, from
    the CanonicalQueryString ``query``, the CanonicalHeaders lines and SignedHeaders line
    of ``canonical_headers`` and the payload hash (see the module docstring)."""
    return CanonicalRequest(
        method=method,
        uri=canonical_uri(path, settings.path_normalization, settings.percent_encoding),
        query=query,
        headers=headers,
        signed_headers=signed_headers,
        payload_hash=payload_hash,
    )
