"""Event-stream message signing: the ``AWS4-HMAC-SHA256-PAYLOAD`` chain.

A request whose payload-hash line is ``STREAMING-AWS4-HMAC-SHA256-EVENTS`` sends its body as
event-stream messages, each wrapped in an outer message that carries two headers, ``:date``
(a timestamp in whole seconds) and ``:chunk-signature`` (the 32 raw bytes of an HMAC), and
whose payload is the encoded inner message. The end of input is one more outer message with
an empty payload.

Each signature covers the one before it, starting from the request's own ``Signature=``
value (the *seed*), so messages must be signed in the order they are sent. The string to
sign, joined by ``\\n``::

    AWS4-HMAC-SHA256-PAYLOAD
    20150830T123600Z                                   the event time, whole seconds, UTC
    20150830/us-east-1/sagemaker/aws4_request          the credential scope of that date
    <prior signature, hex>                             the seed for the first message
    <hex SHA-256 of the encoded :date header alone>
    <hex SHA-256 of the outer payload>                 the encoded inner message, or b""

and the signature is ``HMAC-SHA256(kSigning, string to sign)``, with the same signing key
chain as SigV4 (``derive_signing_key``) for the event's date.

The encoded ``:date`` header is 15 bytes, as in the event-stream header encoding::

    0x05 ":date"  0x08 (timestamp)  int64 big-endian milliseconds since the epoch

Everything here is pure (no clock, no I/O, no locks): ``EventSigner`` works the same from
sync and async code, as long as one chain is used by one sender, in order.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ._credentials import Credentials
from ._errors import SigningError
from ._settings import SigningParams
from ._signer import credential_scope, derive_signing_key, format_amz_date

__all__ = [
    "EVENT_ALGORITHM",
    "EventSigner",
    "SignedEvent",
    "encode_date_header",
    "event_signature",
    "event_string_to_sign",
    "sign_event",
]

EVENT_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"

_SIGNATURE = re.compile(r"[0-9a-f]{64}\Z")
_DATE_HEADER_PREFIX = b"\x05:date\x08"  # name length, name, type 8 (timestamp)


def _event_time(time: datetime) -> datetime:
    """``time`` in UTC with its sub-second part dropped: ``:date`` and the string to sign
    must name the same instant, and the string to sign has whole seconds."""
    if not isinstance(time, datetime):
        raise SigningError("time", "must be a datetime")
    if time.tzinfo is None or time.utcoffset() is None:
        raise SigningError(
            "time", "must be timezone-aware (for example datetime.now(timezone.utc))"
        )
    return time.astimezone(timezone.utc).replace(microsecond=0)


def encode_date_header(time: datetime) -> bytes:
    """The ``:date`` header as the event-stream codec writes it, in whole seconds
    (sub-seconds are truncated): 15 bytes."""
    millis = int(_event_time(time).timestamp()) * 1000  # fits an int64 for any datetime
    return _DATE_HEADER_PREFIX + millis.to_bytes(8, "big", signed=True)


def _check_prior(prior_signature: str) -> None:
    if not isinstance(prior_signature, str) or not _SIGNATURE.match(prior_signature):
        # Never echo the value: it is a signature.
        raise SigningError("prior_signature", "must be 64 lower-case hex digits")


def event_string_to_sign(
    amz_date: str,
    scope: str,
    prior_signature: str,
    headers: bytes | bytearray | memoryview,
    payload: bytes | bytearray | memoryview,
) -> str:
    """The six-line string to sign of one message (see the module docstring).

    ``headers`` are the encoded headers that are signed (for event streams, the ``:date``
    header alone, ``encode_date_header(time)``); ``payload`` the outer payload.
    """
    _check_prior(prior_signature)
    return "\n".join(
        (
            EVENT_ALGORITHM,
            amz_date,
            scope,
            prior_signature,
            hashlib.sha256(headers).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
        )
    )


def event_signature(signing_key: bytes, string_to_sign: str) -> bytes:
    """``HMAC-SHA256(kSigning, string to sign)``: the 32 raw bytes that go in
    ``:chunk-signature`` (their hex is the next message's prior signature)."""
    return hmac.digest(signing_key, string_to_sign.encode(), "sha256")


@dataclass(frozen=True)
class SignedEvent:
    """One signed message of the chain.

    ``headers`` are the outer message's headers, ``(":chunk-signature", 32 bytes)`` and
    ``(":date", the event time in whole seconds, UTC)``, in the form the event-stream
    encoder takes (bytes as a bytes header, a datetime as a timestamp header). The outer
    message's payload is the payload that was signed. ``signature`` is the raw HMAC and
    ``signature_hex`` its hex, the prior signature of the next message. Neither the
    signature nor the headers appear in ``repr``.
    """

    time: datetime
    signature: bytes = field(repr=False)
    string_to_sign: str = field(repr=False)

    @property
    def signature_hex(self) -> str:
        return self.signature.hex()

    @property
    def headers(self) -> tuple[tuple[str, bytes | datetime], ...]:
        return ((":chunk-signature", self.signature), (":date", self.time))


def _sign(
    payload: bytes | bytearray | memoryview,
    prior_signature: str,
    credentials: Credentials,
    region: str,
    service: str,
    time: datetime,
) -> SignedEvent:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise SigningError("payload", f"must be bytes, got {type(payload).__name__}")
    event_time = _event_time(time)
    amz_date = format_amz_date(event_time)
    date = amz_date[:8]
    text = event_string_to_sign(
        amz_date,
        credential_scope(date, region, service),
        prior_signature,
        encode_date_header(event_time),
        payload,
    )
    key = derive_signing_key(credentials, date, region, service)
    return SignedEvent(time=event_time, signature=event_signature(key, text), string_to_sign=text)


def sign_event(
    payload: bytes | bytearray | memoryview, prior_signature: str, params: SigningParams
) -> SignedEvent:
    """Sign one outer-message ``payload`` (an encoded inner message, or ``b""`` to end the
    stream) that follows ``prior_signature``, at ``params.time`` (truncated to whole
    seconds), with the credentials, region and service of ``params``."""
    if not isinstance(params, SigningParams):
        raise SigningError("params", "must be a sigv4.SigningParams")
    return _sign(
        payload,
        prior_signature,
        params.credentials,
        params.region,
        params.service,
        params.time,
    )


class EventSigner:
    """The signature chain of one event stream.

    Seed it with the signature of the HTTP request that opened the stream (the
    ``SigningResult.signature`` of ``sign``) and the same credentials, region and service;
    then call ``sign(payload, time)`` for each outer message, in sending order, and finally
    ``sign(b"", time)`` for the end-of-input message. Each call advances the chain.

    No I/O, no clock and no lock: it can be driven from sync or async code alike, but one
    chain belongs to one sender, which signs and sends messages one after the other.
    """

    __slots__ = ("_credentials", "_prior", "_region", "_service")

    def __init__(
        self, seed_signature: str, credentials: Credentials, region: str, service: str
    ) -> None:
        _check_prior(seed_signature)
        if not isinstance(credentials, Credentials):
            raise SigningError("credentials", "must be a sigv4.Credentials")
        for name, value in (("region", region), ("service", service)):
            if not isinstance(value, str) or not value:
                raise SigningError(name, "must be a non-empty string")
        self._prior = seed_signature
        self._credentials = credentials
        self._region = region
        self._service = service

    @classmethod
    def from_request(cls, params: SigningParams, request_signature: str) -> EventSigner:
        """The chain of a request signed with ``params`` whose signature is
        ``request_signature``."""
        if not isinstance(params, SigningParams):
            raise SigningError("params", "must be a sigv4.SigningParams")
        return cls(request_signature, params.credentials, params.region, params.service)

    @property
    def prior_signature(self) -> str:
        """The hex signature the next message will follow."""
        return self._prior

    def sign(self, payload: bytes | bytearray | memoryview, time: datetime) -> SignedEvent:
        """Sign the next outer message and advance the chain."""
        signed = _sign(payload, self._prior, self._credentials, self._region, self._service, time)
        self._prior = signed.signature_hex
        return signed

    def __repr__(self) -> str:
        return f"EventSigner(region={self._region!r}, service={self._service!r})"
