"""The operation flow: one generator per call, driven by the sync or the async shell.

``operation_flow`` is written once and knows nothing of sockets, threads or event loops::

    hash the body (a file body through a Call step: blocking disk reads)
    for each attempt:
        read the clock (shell-supplied) + the learned clock-skew offset
        build the request, sign it afresh (a new X-Amz-Date and signature every attempt)
        yield Send(request, stream=True)            <- a transport failure is thrown in here
        success  -> parse headers (and the JSON body through Read), return boto3's dict
        error    -> yield Read(response), parse the error (``_errors.parse_error_response``)
        skewed   -> learn the offset from the Date header, retry once, outside the budget
        otherwise ask the retry policy: a delay -> yield Sleep(delay) and go again,
                   None -> raise the modeled ClientError / the transport error

Everything the flow needs from the outside comes in explicitly: the credentials (resolved by
the shell, which knows whether to block or await), the clock, the retry policy, the body
wrappers (``StreamingBody`` or ``AsyncStreamingBody``; ``EventStream`` or
``AsyncEventStream`` for the response-stream operation) and the invocation id. A streamed
answer is returned as soon as its headers arrive: from then on nothing is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sigv4 import (
    Credentials,
    HeaderSigner,
    SigningSettings,
    canonical_uri,
    format_amz_date,
    hash_payload,
)
from sigv4._record import field, record

from ._clock_skew import ClockSkew, is_clock_skew_error, skew_from_date_header
from ._diagnostics import (
    DEBUG,
    LOGGER,
    SIGNATURE_CODES,
    debugging,
    explain_signature,
    log,
    log_attempt,
)
from ._errors import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
    error_class_for_code,
    parse_error_response,
)
from ._flow import Call, Flow, Read, Send, Sleep
from ._model import SIGNING_NAME, Operation
from ._restjson import (
    SerializedRequest,
    parse_header_members,
    parse_json_output,
    response_metadata,
)
from ._retry import AttemptOutcome, RetryKind, RetryPolicy, TransportFailure
from .http._exceptions import (
    ConnectError,
    ConnectTimeout,
    ProxyError,
    ReadTimeout,
    ServerDisconnectedError,
    TLSError,
    TransportError,
    WriteTimeout,
)
from .http._models import HTTPResponse, Origin, Request, Timeouts

if TYPE_CHECKING:
    from ._response_stream import ResponseStreamDecoder

__all__ = [
    "ClockSkew",
    "FlowContext",
    "classify_transport_error",
    "is_clock_skew_error",
    "operation_flow",
    "skew_from_date_header",
]


# Headers that go on the wire but are not signed (proxies and the HTTP stack may touch them,
# and the retry headers change per attempt without meaning anything to the service).
_UNSIGNED = frozenset({"user-agent", "content-length", "amz-sdk-invocation-id", "amz-sdk-request"})


@record(frozen=True)
class FlowContext:
    """What every call of a client shares (set up once by the shell)."""

    endpoint_url: str
    region: str
    user_agent: str
    retry_policy: RetryPolicy
    #: None: the sender's own timeouts (a lent httpx client's).
    timeouts: Timeouts | None = None
    #: Seconds the transport waits for an answer; with the server's clock it gives the
    #: ``ttl=`` of ``amz-sdk-request`` on retries (as botocore). None: no ttl.
    read_timeout: float | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    skew: ClockSkew = field(default_factory=ClockSkew)
    #: Derived once per client, so that no call parses a URL: the ``Host`` header value,
    #: the origin, the endpoint's path prefix, and per request path the absolute URL (as
    #: signed) and the request target (as sent).
    host: str = field(init=False, repr=False, compare=False)
    origin: Origin = field(init=False, repr=False, compare=False)
    _prefix: str = field(init=False, repr=False, compare=False)
    _urls: dict[str, tuple[str, str, str]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: The signer of the credentials last used (replaced when they change).
    _signer: list[HeaderSigner] = field(init=False, repr=False, compare=False, default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint_url)
        object.__setattr__(self, "host", parts.netloc.rpartition("@")[2].lower())
        object.__setattr__(self, "origin", Origin.from_url(self.endpoint_url))
        object.__setattr__(self, "_prefix", parts.path.rstrip("/"))

    def url_for(self, path: str) -> tuple[str, str, str]:
        """``(absolute URL, request target, canonical URI)`` of ``path`` on the endpoint,
        cached (the canonical URI is SigV4's, from the target as sent)."""
        found = self._urls.get(path)
        if found is None:
            target = self._prefix + path
            settings = _SIGNING_SETTINGS
            canonical = canonical_uri(
                target, settings.path_normalization, settings.percent_encoding
            )
            found = (f"{self.endpoint_url.rstrip('/')}{path}", target, canonical)
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()  # many endpoint names: start over rather than grow
            self._urls[path] = found
        return found

    def signer(self, credentials: Credentials) -> HeaderSigner:
        """The header signer of ``credentials`` for this client's region (one is kept)."""
        kept = self._signer
        if kept and kept[0].credentials is credentials:
            return kept[0]
        signer = HeaderSigner(credentials, self.region, SIGNING_NAME)
        kept[:] = [signer]
        return signer


_SIGNING_SETTINGS = SigningSettings()

#: Request paths (one per endpoint name and operation) whose parsed URL a client keeps.
_URL_CACHE_SIZE = 256


def classify_transport_error(
    exc: Exception, endpoint_url: str
) -> tuple[TransportFailure, HTTPClientError]:
    """``(kind, error)``: the retry kind of a transport failure and the error a user sees.

    Kinds: ``CONNECT`` (nothing reached the service), ``READ_TIMEOUT`` and ``AFTER_SEND``
    (the whole request may have been sent: the model may be running it; retried only on
    opt-in, see ``_retry``), ``OTHER`` (the connection broke before the request was
    complete: a write timeout, a stale connection found closed before sending).
    """
    if isinstance(exc, ConnectTimeout):
        return TransportFailure.CONNECT, ConnectTimeoutError(endpoint_url, exc)
    if isinstance(exc, ConnectError):
        if isinstance(exc, TLSError):
            return TransportFailure.CONNECT, SSLError(endpoint_url, exc)
        if isinstance(exc, ProxyError):
            return TransportFailure.CONNECT, ProxyConnectionError(endpoint_url, exc)
        return TransportFailure.CONNECT, EndpointConnectionError(endpoint_url, exc)
    if isinstance(exc, ReadTimeout):
        return TransportFailure.READ_TIMEOUT, ReadTimeoutError(endpoint_url, exc)
    if isinstance(exc, WriteTimeout):
        return TransportFailure.OTHER, ReadTimeoutError(endpoint_url, exc)
    sent = getattr(exc, "request_sent", True)
    # A kept-alive connection closed, with no byte of an answer, as we reused it: the
    # server's idle close crossing our request, which it never read (not "after send").
    stale = isinstance(exc, ServerDisconnectedError) and exc.connection_reused
    kind = TransportFailure.AFTER_SEND if sent and not stale else TransportFailure.OTHER
    return kind, ConnectionClosedError(endpoint_url, exc)


class _Attempts:
    """Where a call stands in its retries: the attempt number on the wire (amz-sdk-request,
    RetryAttempts), the one clock-skew correction it may take outside the retry budget, the
    server's clock as last seen, and the retry policy's state for the call."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.state = policy.start()
        self.number = 1
        self.skew_retries = 0
        self.server_skew: timedelta | None = None

    @property
    def counted(self) -> int:
        """The attempt number as the retry budget counts it (the skew retry is free)."""
        return self.number - self.skew_retries

    @property
    def max_attempts(self) -> int:
        return max(self.policy.total_max_attempts + self.skew_retries, self.number)

    def outcome(self, **kwargs: Any) -> AttemptOutcome:
        return AttemptOutcome(attempt=self.counted, **kwargs)

    def next(self) -> None:
        self.number += 1

    def max_reached(self, *, retryable: bool) -> bool:
        """botocore's ``MaxAttemptsReached`` metadata: standard and adaptive modes set it on
        any answer to the last allowed attempt (even a success); legacy mode only when a
        retryable answer could not be retried."""
        if self.counted < self.policy.total_max_attempts:
            return False
        return retryable or self.policy.mode != "legacy"


def signed_headers(ctx: FlowContext, serialized: SerializedRequest) -> list[tuple[str, str]]:
    """The headers an attempt signs (before the token and date the signer adds): ``Host``
    and every header member; none is one of _UNSIGNED (a model test checks it)."""
    return [("Host", ctx.host), *serialized.headers]


def _signed_request(
    ctx: FlowContext,
    operation: Operation,
    serialized: SerializedRequest,
    attempts: _Attempts,
    *,
    credentials: Credentials,
    payload_hash: str,
    invocation_id: str,
) -> Request:
    """The request of one attempt, signed afresh (a new X-Amz-Date and signature)."""
    url, target, canonical = ctx.url_for(serialized.path)
    signed = signed_headers(ctx, serialized)
    # The ttl reads the clock before the signature does (tests count the clock's calls).
    sdk_request = (
        f"{_ttl(ctx, attempts.server_skew)}attempt={attempts.number}; max={attempts.max_attempts}"
    )
    amz_date = format_amz_date(ctx.clock() + ctx.skew.offset)
    added = ctx.signer(credentials).sign(
        operation.method, canonical, signed, payload_hash, amz_date
    )
    headers = [
        ("Host", ctx.host),
        *serialized.headers,
        ("Content-Length", str(serialized.body.length)),
        ("User-Agent", ctx.user_agent),
        ("amz-sdk-invocation-id", invocation_id),
        ("amz-sdk-request", sdk_request),
        *added,
    ]
    return Request(
        operation.method,
        ctx.origin,
        target,
        headers,
        serialized.body.transport_body(),
        ctx.timeouts,
        url,
    )


def operation_flow(
    ctx: FlowContext,
    operation: Operation,
    serialized: SerializedRequest,
    *,
    credentials: Credentials,
    invocation_id: str,
    wrap_body: Callable[[Any, str], Any],
    wrap_events: Callable[[Any, ResponseStreamDecoder], Any] | None = None,
) -> Flow[dict[str, Any]]:
    """Run one call of ``operation`` (already validated and serialized) to its parsed result.

    A streamed answer's ``Body`` is ``wrap_body(response, endpoint_url)`` for a blob and
    ``wrap_events(response, decoder)`` for an event stream, where ``decoder`` is the pure
    :class:`~._response_stream.ResponseStreamDecoder` of this call (it knows the operation
    and the ``ResponseMetadata`` that its in-stream errors carry).
    """
    body = serialized.body
    if body.file is not None:
        payload_hash: str = yield Call(hash_payload, (body.file,))
    else:
        payload_hash = hash_payload(body.data or b"")
    attempts = _Attempts(ctx.retry_policy)
    while True:
        wait = attempts.state.send_delay()
        if wait > 0:
            yield Sleep(wait)
        request = _signed_request(
            ctx,
            operation,
            serialized,
            attempts,
            credentials=credentials,
            payload_hash=payload_hash,
            invocation_id=invocation_id,
        )
        started = perf_counter() if debugging() else None
        try:
            response: HTTPResponse = yield Send(request, stream=True)
        except TransportError as exc:
            delay = _after_transport_error(ctx, attempts, exc, request.url, operation, started)
        else:
            if 200 <= response.status_code < 300:
                if started is not None:
                    log_attempt(operation, request.url, attempts, started, response, None)
                return (
                    yield from _success(
                        ctx, operation, response, attempts, wrap_body, wrap_events, request.url
                    )
                )
            signing = (request, serialized, credentials, payload_hash)
            delay = yield from _after_error_answer(
                ctx, operation, response, attempts, signing, started
            )
        if delay:
            yield Sleep(delay)
        attempts.next()


def _after_transport_error(
    ctx: FlowContext,
    attempts: _Attempts,
    exc: TransportError,
    url: str,
    operation: Operation,
    started: float | None,
) -> float:
    """The delay before retrying after a transport failure, or raise the user's error
    (naming the request's URL, as botocore's messages do)."""
    failure, error = classify_transport_error(exc, url)
    delay = attempts.state.decide(attempts.outcome(transport_failure=failure))
    if started is not None:
        log_attempt(operation, url, attempts, started, type(error).__name__, delay)
    if delay is None:
        raise error from exc
    return delay


def _success(
    ctx: FlowContext,
    operation: Operation,
    response: HTTPResponse,
    attempts: _Attempts,
    wrap_body: Callable[[Any, str], Any],
    wrap_events: Callable[[Any, ResponseStreamDecoder], Any] | None,
    url: str,
) -> Flow[dict[str, Any]]:
    """boto3's answer dict. A streamed body is returned unread: from here on nothing is
    retried, and the stream's errors reach the user (naming the request's ``url``)."""
    attempts.state.answered()
    metadata = response_metadata(response.status_code, response.headers, attempts.number - 1)
    # HTTPHeaders: the answer's headers once, lower-cased (no more case-blind lookups).
    parsed = parse_header_members(operation, metadata["HTTPHeaders"])
    if attempts.max_reached(retryable=False):
        metadata["MaxAttemptsReached"] = True
    if operation.output_payload == "blob":
        parsed["Body"] = wrap_body(response, url)
    elif operation.output_payload == "eventstream":
        if wrap_events is None:
            raise TypeError(f"{operation.name} needs wrap_events (an event stream reader)")
        from ._response_stream import ResponseStreamDecoder

        decoder = ResponseStreamDecoder(operation.name, url, metadata)
        parsed["Body"] = wrap_events(response, decoder)
    else:
        response = yield from _read(response, url)
        parsed.update(parse_json_output(operation, response.content))
    parsed["ResponseMetadata"] = metadata
    return parsed


def _after_error_answer(
    ctx: FlowContext,
    operation: Operation,
    response: HTTPResponse,
    attempts: _Attempts,
    signing: tuple[Request, SerializedRequest, Credentials, str],
    started: float | None,
) -> Flow[float]:
    """Read and parse an error answer; the delay before the next attempt (0 for the one
    clock-skew correction, which learns the server's clock from ``Date``), or raise the
    modeled ``ClientError``."""
    url = signing[0].url
    received_at = ctx.clock()
    attempts.server_skew = skew_from_date_header(response.headers.get("date"), received_at)
    response = yield from _read(response, url)
    error = parse_error_response(response.status_code, response.headers, response.content)
    if (
        not attempts.skew_retries
        and attempts.server_skew is not None
        and is_clock_skew_error(response.status_code, error)
    ):
        ctx.skew.offset = attempts.server_skew
        attempts.skew_retries = 1
        if started is not None:
            log_attempt(operation, url, attempts, started, response, 0.0)
        log(
            LOGGER,
            DEBUG,
            "clock skew corrected: the server's clock is %+.1f s from ours",
            attempts.server_skew.total_seconds(),
        )
        return 0.0
    code = error["Error"]["Code"]
    outcome = attempts.outcome(
        status=response.status_code,
        error_code=code,
        retry_after=response.headers.get("x-amz-retry-after"),
    )
    delay = attempts.state.decide(outcome)
    if started is not None:
        log_attempt(operation, url, attempts, started, response, delay)
    if delay is not None:
        return delay
    full = dict(error)
    full["ResponseMetadata"] = {
        **response_metadata(response.status_code, response.headers, attempts.number - 1),
        **error["ResponseMetadata"],
    }
    retryable = attempts.policy.classify(outcome) in (RetryKind.THROTTLING, RetryKind.TRANSIENT)
    if attempts.max_reached(retryable=retryable):
        full["ResponseMetadata"]["MaxAttemptsReached"] = True
    failure = error_class_for_code(code)(full, operation.name)
    if code in SIGNATURE_CODES:
        failure.explanation = explain_signature(ctx, operation, error, signing)
    raise failure


def _ttl(ctx: FlowContext, server_skew: timedelta | None) -> str:
    """``ttl=...; `` for amz-sdk-request: when the caller stops waiting, in server time."""
    if server_skew is None or ctx.read_timeout is None:
        return ""
    ttl = ctx.clock() + timedelta(seconds=ctx.read_timeout) + server_skew
    return f"ttl={ttl.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}; "


def _read(response: HTTPResponse, endpoint_url: str) -> Flow[HTTPResponse]:
    """Read a streamed response's body, translating a transport failure."""
    try:
        result: HTTPResponse = yield Read(response)
    except TransportError as exc:
        raise classify_transport_error(exc, endpoint_url)[1] from exc
    return result
