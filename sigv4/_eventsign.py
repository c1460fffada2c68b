"""Event-stream message signing and its verification: the ``AWS4-HMAC-SHA256-PAYLOAD`` chain.

A request whose payload-hash line is ``STREAMING-AWS4-HMAC-SHA256-EVENTS`` sends its body as
event-stream messages, each wrapped in an outer message that carries two headers, ``:date``
(a timestamp, in milliseconds on the wire) and ``:chunk-signature`` (the 32 raw bytes of an
HMAC), and whose payload is the encoded inner message. The end of input is one more outer
message with an empty payload.

Each signature covers the one before it, starting from the request's own ``Signature=``
value (the *seed*), so messages must be signed, and verified, in the order they are sent.
The string to sign, joined by ``\\n``::

    AWS4-HMAC-SHA256-PAYLOAD
    20150830T123600Z                                   the event time, whole seconds, UTC
    20150830/us-east-1/sagemaker/aws4_request          the credential scope of that date
    <prior signature, hex>                             the seed for the first message
    <hex SHA-256 of the encoded :date header alone>    its milliseconds included
    <hex SHA-256 of the outer payload>                 the encoded inner message, or b""

and the signature is ``HMAC-SHA256(kSigning, string to sign)``, with the same signing key
chain as SigV4 (``derive_signing_key``) for the event's date.

The encoded ``:date`` header is 15 bytes, as in the event-stream header encoding::

    0x05 ":date"  0x08 (timestamp)  int64 big-endian milliseconds since the epoch

The second line has whole seconds but the fifth hashes the header with its milliseconds:
AWS's own signers (smithy-python, aws-c-auth) send ``:date`` with real milliseconds, so a
verifier must hash the header exactly as received, never a re-encoding of a truncated time.
Our signer sends whole seconds unless told ``milliseconds=True``; ``EventChainVerifier``
accepts both.

Everything here is pure (no clock, no I/O, no locks): ``EventSigner`` and
``EventChainVerifier`` work the same from sync and async code, as long as one chain is used
by one sender (or one receiver), in order.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from ._credentials import Credentials
from ._errors import SignatureCheckError, SigningError
from ._record import field, record
from ._settings import SigningParams
from ._signer import credential_scope, derive_signing_key, format_amz_date

__all__ = [
    "EVENT_ALGORITHM",
    "EventChainVerifier",
    "EventSigner",
    "SignedEvent",
    "encode_date_header",
    "event_signature",
    "event_string_to_sign",
    "sign_event",
    "verify_event_chain",
]

EVENT_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"

_SIGNATURE = re.compile(r"[0-9a-f]{64}\Z")
_DATE_HEADER_PREFIX = b"\x05:date\x08"  # name length, name, type 8 (timestamp)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)


def _event_time(time: datetime, milliseconds: bool = False) -> datetime:
    """``time`` in UTC, as ``:date`` carries it: to the millisecond, or with its sub-second
    part dropped (the default, whole seconds)."""
    if not isinstance(time, datetime):
        raise SigningError("time", "must be a datetime")
    if time.tzinfo is None or time.utcoffset() is None:
        raise SigningError(
            "time", "must be timezone-aware (for example datetime.now(timezone.utc))"
        )
    utc = time.astimezone(timezone.utc)
    if milliseconds:
        return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    return utc.replace(microsecond=0)


def _date_header(time: datetime) -> bytes:
    """The 15 bytes of ``:date`` for ``time`` (sub-millisecond digits dropped)."""
    millis = (time - _EPOCH) // _MILLISECOND  # fits an int64 for any datetime
    return _DATE_HEADER_PREFIX + millis.to_bytes(8, "big", signed=True)


def encode_date_header(time: datetime, *, milliseconds: bool = False) -> bytes:
    """The ``:date`` header as the event-stream codec writes it: 15 bytes. Whole seconds
    (sub-seconds truncated) unless ``milliseconds``, which keeps the milliseconds (as AWS's
    SDKs send them)."""
    return _date_header(_event_time(time, milliseconds))


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
    header alone, as sent: ``encode_date_header(time)``); ``payload`` the outer payload.
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


def _chain_step(
    date_header: bytes,
    time: datetime,
    payload: bytes | bytearray | memoryview,
    prior_signature: str,
    credentials: Credentials,
    region: str,
    service: str,
) -> tuple[bytes, str]:
    """The signature of one message and its string to sign: the step signing and
    verification share. ``date_header`` is hashed as given; ``time`` is the instant it
    encodes, whose whole seconds and date make the second and third lines."""
    amz_date = format_amz_date(time)
    date = amz_date[:8]
    text = event_string_to_sign(
        amz_date, credential_scope(date, region, service), prior_signature, date_header, payload
    )
    key = derive_signing_key(credentials, date, region, service)
    return event_signature(key, text), text


@record(frozen=True)
class SignedEvent:
    """One signed message of the chain.

    ``headers`` are the outer message's headers, ``(":chunk-signature", 32 bytes)`` and
    ``(":date", time)``, in the form the event-stream encoder takes (bytes as a bytes
    header, a datetime as a timestamp header, in milliseconds). ``time`` is the event time
    in UTC, in whole seconds or milliseconds as signed; ``date_header`` its 15 encoded
    bytes, exactly as hashed. The outer message's payload is the payload that was signed.
    ``signature`` is the raw HMAC and ``signature_hex`` its hex, the prior signature of the
    next message. Neither the signature nor the headers appear in ``repr``.
    """

    time: datetime
    signature: bytes = field(repr=False)
    string_to_sign: str = field(repr=False)

    @property
    def signature_hex(self) -> str:
        return self.signature.hex()

    @property
    def date_header(self) -> bytes:
        return _date_header(self.time)

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
    milliseconds: bool,
) -> SignedEvent:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise SigningError("payload", f"must be bytes, got {type(payload).__name__}")
    event_time = _event_time(time, milliseconds)
    signature, text = _chain_step(
        _date_header(event_time), event_time, payload, prior_signature, credentials, region, service
    )
    return SignedEvent(time=event_time, signature=signature, string_to_sign=text)


def sign_event(
    payload: bytes | bytearray | memoryview,
    prior_signature: str,
    params: SigningParams,
    *,
    milliseconds: bool = False,
) -> SignedEvent:
    """Sign one outer-message ``payload`` (an encoded inner message, or ``b""`` to end the
    stream) that follows ``prior_signature``, at ``params.time`` (truncated to whole
    seconds, or to milliseconds with ``milliseconds``), with the credentials, region and
    service of ``params``."""
    if not isinstance(params, SigningParams):
        raise SigningError("params", "must be a sigv4.SigningParams")
    return _sign(
        payload,
        prior_signature,
        params.credentials,
        params.region,
        params.service,
        params.time,
        milliseconds,
    )


def _check_chain_inputs(
    seed_signature: str, credentials: Credentials, region: str, service: str
) -> None:
    _check_prior(seed_signature)
    if not isinstance(credentials, Credentials):
        raise SigningError("credentials", "must be a sigv4.Credentials")
    for name, value in (("region", region), ("service", service)):
        if not isinstance(value, str) or not value:
            raise SigningError(name, "must be a non-empty string")


class EventSigner:
    """The signature chain of one event stream, on the sending side.

    Seed it with the signature of the HTTP request that opened the stream (the
    ``SigningResult.signature`` of ``sign``) and the same credentials, region and service;
    then call ``sign(payload, time)`` for each outer message, in sending order, and finally
    ``sign(b"", time)`` for the end-of-input message. Each call advances the chain.
    ``:date`` carries whole seconds, or milliseconds with ``milliseconds=True`` (as AWS's
    SDKs do).

    No I/O, no clock and no lock: it can be driven from sync or async code alike, but one
    chain belongs to one sender, which signs and sends messages one after the other.
    """

    __slots__ = ("_credentials", "_milliseconds", "_prior", "_region", "_service")

    def __init__(
        self,
        seed_signature: str,
        credentials: Credentials,
        region: str,
        service: str,
        *,
        milliseconds: bool = False,
    ) -> None:
        _check_chain_inputs(seed_signature, credentials, region, service)
        self._prior = seed_signature
        self._credentials = credentials
        self._region = region
        self._service = service
        self._milliseconds = milliseconds

    @classmethod
    def from_request(cls, params: SigningParams, request_signature: str) -> EventSigner:
        """The chain (whole-second dates) of a request signed with ``params`` whose
        signature is ``request_signature``."""
        if not isinstance(params, SigningParams):
            raise SigningError("params", "must be a sigv4.SigningParams")
        return cls(request_signature, params.credentials, params.region, params.service)

    @property
    def prior_signature(self) -> str:
        """The hex signature the next message will follow."""
        return self._prior

    def sign(self, payload: bytes | bytearray | memoryview, time: datetime) -> SignedEvent:
        """Sign the next outer message and advance the chain."""
        signed = _sign(
            payload,
            self._prior,
            self._credentials,
            self._region,
            self._service,
            time,
            self._milliseconds,
        )
        self._prior = signed.signature_hex
        return signed

    def __repr__(self) -> str:
        return f"EventSigner(region={self._region!r}, service={self._service!r})"


# ----------------------------------------------------------------------------- receiving


def _incomplete(message: str) -> SignatureCheckError:
    return SignatureCheckError("IncompleteSignatureException", message, 400)


def _received_date(value: object, number: int) -> tuple[bytes, datetime]:
    """The ``:date`` header of message ``number`` as received (its 15 encoded bytes, or the
    decoded timestamp) -> the bytes to hash and the instant they encode."""
    if isinstance(value, datetime) and value.utcoffset() is not None:
        encoded = _date_header(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        encoded = bytes(value)
        if len(encoded) != len(_DATE_HEADER_PREFIX) + 8 or not encoded.startswith(
            _DATE_HEADER_PREFIX
        ):
            raise _incomplete(
                f"message {number}: the :date header must be encoded as 15 bytes, "
                "0x05 ':date' 0x08 and an int64 of milliseconds"
            )
    else:
        if value is None:
            kind = "missing"
        elif isinstance(value, datetime):
            kind = "a datetime without a time zone"
        else:
            kind = f"of type {type(value).__name__}"
        raise _incomplete(
            f"message {number} lacks a timestamp :date header (it is {kind}); "
            "give its encoded bytes or a timezone-aware datetime"
        )
    millis = int.from_bytes(encoded[len(_DATE_HEADER_PREFIX) :], "big", signed=True)
    try:
        time = _EPOCH + millis * _MILLISECOND
    except OverflowError:
        raise _incomplete(f"message {number}: the :date {millis} ms is out of range") from None
    return encoded, time


def _received_signature(value: object, number: int) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 32:
        return bytes(value)
    if value is None:
        kind = "missing"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        kind = f"{len(value)} bytes"
    else:
        kind = f"of type {type(value).__name__}"
    raise _incomplete(f"message {number} lacks a :chunk-signature of 32 bytes (it is {kind})")


class EventChainVerifier:
    """The receiving end of the signature chain: a service's check of each input message.

    Seed it with the signature of the verified request that opened the stream
    (``VerifiedRequest.signature``), the sender's credentials (the secret the verifier
    holds for the access key id), region and service. Then ``verify`` the parts of each
    received outer message, in order: its ``:date`` header (the 15 encoded bytes as
    received, or the decoded timestamp, a datetime with its milliseconds), its
    ``:chunk-signature`` (32 bytes) and its payload. It returns the payload (the encoded
    inner message, for the caller to decode), or None for the final empty message, after
    which ``ended`` is True. ``count`` is the number of messages verified.

    A bad message raises ``SignatureCheckError`` (``code`` and ``status`` as a service
    answers) and does not advance the chain. No I/O, no clock, no lock.
    """

    __slots__ = ("_credentials", "_prior", "_region", "_service", "count", "ended")

    def __init__(
        self, seed_signature: str, credentials: Credentials, region: str, service: str
    ) -> None:
        _check_chain_inputs(seed_signature, credentials, region, service)
        self._prior = seed_signature
        self._credentials = credentials
        self._region = region
        self._service = service
        self.ended = False
        self.count = 0

    @property
    def prior_signature(self) -> str:
        """The hex signature the next message must follow."""
        return self._prior

    def verify(
        self,
        date_header: object,
        chunk_signature: object,
        payload: bytes | bytearray | memoryview,
        *,
        now: datetime | None = None,
        tolerance: timedelta = timedelta(minutes=5),
    ) -> bytes | None:
        """Verify the next message and advance the chain; ``now``, if given, bounds its
        ``:date`` to within ``tolerance``. ``date_header`` and ``chunk_signature`` are the
        header values as received (None if absent); anything else is refused."""
        number = self.count
        if self.ended:
            raise SignatureCheckError(
                "InvalidSignatureException",
                f"message {number} followed the end of the stream (the empty message)",
                400,
            )
        encoded, time = _received_date(date_header, number)
        signature = _received_signature(chunk_signature, number)
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise SigningError("payload", f"must be bytes, got {type(payload).__name__}")
        if now is not None:
            _check_event_clock(time, now, tolerance, number)
        expected, text = _chain_step(
            encoded, time, payload, self._prior, self._credentials, self._region, self._service
        )
        if not hmac.compare_digest(expected, signature):
            raise SignatureCheckError(
                "InvalidSignatureException",
                f"the :chunk-signature of message {number} does not match. "
                f"The String-to-Sign should have been\n'{text}'\n",
            )
        self._prior = expected.hex()
        self.count += 1
        if not payload:
            self.ended = True
            return None
        return bytes(payload)

    def __repr__(self) -> str:
        return (
            f"EventChainVerifier(region={self._region!r}, service={self._service!r}, "
            f"count={self.count}, ended={self.ended})"
        )


def _check_event_clock(time: datetime, now: datetime, tolerance: timedelta, number: int) -> None:
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise SigningError("now", "must be a timezone-aware datetime")
    if abs(now - time) <= tolerance:
        return
    dated, clock = format_amz_date(time), format_amz_date(now)
    problem = "Signature expired" if time < now else "Signature not yet current"
    raise SignatureCheckError(
        "InvalidSignatureException",
        f"{problem}: message {number} is dated {dated}, the server's time is {clock} "
        f"(tolerance {int(tolerance.total_seconds())} s)",
    )


def verify_event_chain(
    seed_signature: str,
    messages: Iterable[tuple[object, object, bytes | bytearray | memoryview]],
    credentials: Credentials,
    region: str,
    service: str,
) -> tuple[list[bytes], bool]:
    """Verify a whole chain at once: ``messages`` are ``(:date, :chunk-signature,
    payload)`` triples, as ``EventChainVerifier.verify`` takes them. Returns the verified
    payloads and whether the final empty message was seen; raises
    ``SignatureCheckError``."""
    verifier = EventChainVerifier(seed_signature, credentials, region, service)
    payloads = []
    for date_header, chunk_signature, payload in messages:
        verified = verifier.verify(date_header, chunk_signature, payload)
        if verified is not None:
            payloads.append(verified)
    return payloads, verifier.ended
