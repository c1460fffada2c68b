"""The shells: :class:`SageMakerRuntime` (blocking) and :class:`AsyncSageMakerRuntime`.

Both take the keyword arguments of ``boto3.client("sagemaker-runtime", ...)`` and do only
what differs between blocking and async code: own their transport (``runtime_client.http``:
ours by default, or a lent httpx client behind an adapter), fetch credentials
(``get_credentials`` vs ``await aget_credentials``), and drive the one operation flow
(``run_sync`` vs ``run_async``). Configuration, validation, signing, retries and parsing
are shared and written once. httpx is imported only for a lent httpx client.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from sigv4 import Credentials

from . import _errors
from ._closing import AsyncClosesOnExit, ClosesOnExit
from ._config import Config, InvalidConfigError, as_config
from ._flow import run_async, run_sync
from ._model import (
    INVOKE_ENDPOINT,
    INVOKE_ENDPOINT_ASYNC,
    INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM,
    INVOKE_ENDPOINT_WITH_RESPONSE_STREAM,
    Operation,
)
from ._operation import ClockSkew, FlowContext, operation_flow
from ._resolve import ClientMeta, resolve_client_config
from ._response_body import AsyncStreamingBody, StreamingBody
from ._restjson import SerializedRequest, serialize_request
from ._retry import RetryPolicy, new_invocation_id
from .credentials._provider import (
    CredentialsProvider,
    default_credentials_provider,
    static_credentials_provider,
)
from .http._models import Timeouts
from .http._sync import SyncTransport
from .http._tls import TLSSettings

if TYPE_CHECKING:
    import botocore.config
    import httpx
    from typing_extensions import Unpack

    from ._flow import AsyncAnswer, AsyncSender, SyncAnswer, SyncSender
    from ._response_stream import ResponseStreamDecoder
    from .batch._async import AsyncBatchResults
    from .batch._sync import BatchResults
    from .bidi._async import AsyncBidirectionalStream
    from .bidi._call import BidiCall, BidiSettings
    from .bidi._sync import BidirectionalStream
    from .http._async import AsyncTransport
    from .type_defs import (
        AsyncInvokeEndpointResponse,
        AsyncInvokeEndpointWithBidirectionalStreamRequest,
        AsyncInvokeEndpointWithResponseStreamResponse,
        InvokeEndpointAsyncRequest,
        InvokeEndpointAsyncResponse,
        InvokeEndpointBatchRequest,
        InvokeEndpointRequest,
        InvokeEndpointResponse,
        InvokeEndpointWithBidirectionalStreamRequest,
        InvokeEndpointWithResponseStreamRequest,
        InvokeEndpointWithResponseStreamResponse,
    )

#: ``Config(tcp_keepalive=True)``: TCP keep-alive probes on every connection, as botocore.
_KEEPALIVE = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]

__all__ = ["AsyncSageMakerRuntime", "ClientMeta", "SageMakerRuntime"]

H = TypeVar("H", "httpx.Client", "httpx.AsyncClient")

#: ``client.exceptions``: every error class by name, as boto3's ``client.exceptions``.
EXCEPTIONS = SimpleNamespace(
    ClientError=_errors.ClientError,
    **{name: cls for name, (cls, _) in _errors.MODELED_ERRORS.items()},
    ThrottlingException=_errors.ThrottlingException,
    AuthError=_errors.AuthError,
    InvalidSignatureException=_errors.InvalidSignatureException,
    UnrecognizedClientException=_errors.UnrecognizedClientException,
    ExpiredTokenException=_errors.ExpiredTokenException,
    AccessDeniedException=_errors.AccessDeniedException,
)


def _explicit_credentials(
    key: str | None, secret: str | None, token: str | None
) -> Credentials | None:
    if key is None and secret is None:
        if token is not None:
            raise _errors.ParamValidationError(
                [("aws_session_token", "given without aws_access_key_id and aws_secret_access_key")]
            )
        return None
    if not key or not secret:
        missing = "aws_secret_access_key" if key else "aws_access_key_id"
        raise _errors.ParamValidationError([(missing, "both keys must be given together")])
    return Credentials(key, secret, session_token=token)


class _Shell(Generic[H]):
    """What both shells share: configuration and request preparation (no I/O).

    Arguments are boto3's: ``region_name``, ``endpoint_url``, ``aws_access_key_id``,
    ``aws_secret_access_key``, ``aws_session_token``, ``config`` (:class:`Config`),
    ``verify`` (False, or a CA bundle path) and, from ``boto3.Session``, ``profile_name``.
    ``http_client`` lends an httpx client; its own timeouts then apply unless ``config``
    sets ``connect_timeout``/``read_timeout``. Without keys, credentials come from the
    default chain (environment, profile, SSO, web identity, container, IMDS).
    """

    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        config: Config | botocore.config.Config | None = None,
        verify: bool | str | None = None,
        profile_name: str | None = None,
        http_client: H | None = None,
    ) -> None:
        self._settings = {k: v for k, v in locals().items() if k not in ("self", "http_client")}
        self._settings["config"] = config = self._check_arguments(config, http_client)
        resolved = resolve_client_config(
            region_name=region_name,
            endpoint_url=endpoint_url,
            config=config,
            profile_name=profile_name,
        )
        self._resolved = resolved
        self.meta = ClientMeta(resolved, config)
        self.exceptions = EXCEPTIONS
        explicit = _explicit_credentials(
            aws_access_key_id, aws_secret_access_key, aws_session_token
        )
        self._credentials: CredentialsProvider = (
            static_credentials_provider(explicit)
            if explicit is not None
            else default_credentials_provider(profile_name)
        )
        given = config.user_provided_options if config is not None else {}
        explicit_timeouts = "connect_timeout" in given or "read_timeout" in given
        lent = http_client is not None
        self._timeouts = Timeouts(
            connect=resolved.connect_timeout,
            read=resolved.read_timeout,
            write=resolved.read_timeout,
        )
        self._ctx = FlowContext(
            endpoint_url=resolved.endpoint_url,
            region=resolved.region,
            user_agent=resolved.user_agent,
            retry_policy=RetryPolicy.from_config(resolved),
            timeouts=self._timeouts if not lent or explicit_timeouts else None,
            read_timeout=(
                resolved.read_timeout
                if http_client is None or explicit_timeouts
                else http_client.timeout.read
            ),
            skew=ClockSkew(),
        )
        self._verify = verify if verify is not None else (resolved.ca_bundle or True)
        self._tls = TLSSettings(self._verify, resolved.client_cert)
        self._socket_options = _KEEPALIVE if resolved.tcp_keepalive else []
        self._closed = False
        self._bidi: BidiSettings | None = None
        self._http: H | None = http_client  # the lent httpx client, if any
        self._open_sender()

    def _check_arguments(self, config: object, http_client: object) -> Config | None:
        """``config`` as our Config (botocore's is read by its attributes); an
        ``InvalidConfigError`` unless ``http_client`` is the httpx client this shell drives
        (httpx.Client for the blocking client, httpx.AsyncClient for the async one)."""
        if http_client is None:
            return None if config is None else as_config(config)
        import httpx

        sync = not isinstance(self, AsyncClosesOnExit)
        wanted = httpx.Client if sync else httpx.AsyncClient
        if not isinstance(http_client, wanted):
            hint = {
                (True, httpx.AsyncClient): ": use AsyncSageMakerRuntime with an httpx.AsyncClient",
                (False, httpx.Client): ": use SageMakerRuntime with an httpx.Client",
            }.get((sync, type(http_client)), "")
            raise InvalidConfigError(
                f"http_client must be an httpx.{wanted.__name__} for {type(self).__name__}, "
                f"got {type(http_client).__name__}{hint}"
            )
        return None if config is None else as_config(config)

    def _open_sender(self) -> None:
        """Make ``self._sender``: over the lent httpx client, or our own transport."""
        raise NotImplementedError

    def _prepare_bidi(
        self, serialized: SerializedRequest, body: Any, credentials: Credentials
    ) -> BidiCall:
        """The signed, started call of InvokeEndpointWithBidirectionalStream (no I/O)."""
        from .bidi._call import prepare_bidi_call

        return prepare_bidi_call(self._bidi_settings(), serialized, body, credentials)

    def _bidi_settings(self) -> BidiSettings:
        settings = self._bidi
        if settings is None:
            from .bidi._call import BidiSettings

            ctx = self._ctx

            def clock() -> datetime:
                return ctx.clock() + ctx.skew.offset

            resolved = self._resolved
            settings = self._bidi = BidiSettings(
                endpoint_url=resolved.http2_endpoint_url,
                region=resolved.region,
                user_agent=resolved.user_agent,
                clock=clock,
                tls=self._tls.with_alpn(("h2",)),  # the transport's trust, HTTP/2 only
                connect_timeout=resolved.connect_timeout,
                read_timeout=resolved.read_timeout,
                proxies=resolved.proxies,
                socket_options=self._socket_options,
            )
        return settings

    def _serialize(self, operation: Operation, params: Mapping[str, Any]) -> SerializedRequest:
        if self._closed:
            raise RuntimeError("the client has been closed")
        return serialize_request(operation, params, strict=self._resolved.parameter_validation)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its settings (``self._settings``: the arguments, with our Config;
        explicit keys included, connections not): the copy opens its own pool and resolves
        its own credentials, in whatever process it lands."""
        if self._http is not None:
            raise TypeError("a client with a lent http_client cannot be pickled")
        return (_unpickle, (type(self), self._settings))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(region_name={self.meta.region_name!r}, "
            f"endpoint_url={self.meta.endpoint_url!r})"
        )


def _unpickle(cls: type[_Shell[Any]], settings: dict[str, Any]) -> _Shell[Any]:
    return cls(**settings)


def _event_stream(response: SyncAnswer, decoder: ResponseStreamDecoder) -> Any:
    from ._response_stream import EventStream

    return EventStream(response, decoder)


def _async_event_stream(response: AsyncAnswer, decoder: ResponseStreamDecoder) -> Any:
    from ._response_stream import AsyncEventStream

    return AsyncEventStream(response, decoder)


class SageMakerRuntime(_Shell["httpx.Client"], ClosesOnExit):
    """A blocking SageMaker Runtime client, used like ``boto3.client("sagemaker-runtime")``.

    ``http_client`` lends an ``httpx.Client`` (proxies, mTLS, a shared pool); the client is
    then not closed by :meth:`close`. Use it as a context manager, or call :meth:`close`.
    """

    _transport: SyncTransport | None = None
    _sender: SyncSender

    def _open_sender(self) -> None:
        if self._http is not None:
            from ._httpx import HttpxSender

            self._sender = HttpxSender(self._http)
        else:
            resolved = self._resolved
            self._sender = self._transport = SyncTransport(
                max_idle=resolved.max_pool_connections,
                tls=self._tls,
                proxies=resolved.proxies,
                socket_options=self._socket_options,
                http2=resolved.http2,
            )

    def _call(self, operation: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
        serialized = self._serialize(operation, params)
        credentials = self._credentials.get_credentials()
        flow = operation_flow(
            self._ctx,
            operation,
            serialized,
            credentials=credentials,
            invocation_id=new_invocation_id(),
            wrap_body=StreamingBody,
            wrap_events=_event_stream,
        )
        return run_sync(flow, self._sender)

    def invoke_endpoint(self, **kwargs: Unpack[InvokeEndpointRequest]) -> InvokeEndpointResponse:
        """InvokeEndpoint: ``Body`` of the answer is a :class:`StreamingBody`."""
        return cast("InvokeEndpointResponse", self._call(INVOKE_ENDPOINT, kwargs))

    def invoke_endpoint_async(
        self, **kwargs: Unpack[InvokeEndpointAsyncRequest]
    ) -> InvokeEndpointAsyncResponse:
        """InvokeEndpointAsync: queue an inference; answers ``InferenceId`` and locations."""
        return cast("InvokeEndpointAsyncResponse", self._call(INVOKE_ENDPOINT_ASYNC, kwargs))

    def invoke_endpoint_with_response_stream(
        self, **kwargs: Unpack[InvokeEndpointWithResponseStreamRequest]
    ) -> InvokeEndpointWithResponseStreamResponse:
        """InvokeEndpointWithResponseStream: returns once the answer's headers are in.

        ``Body`` is an :class:`EventStream`: iterate it for ``{'PayloadPart': {'Bytes':
        b'...'}}`` events as they arrive, or use ``iter_lines()`` / ``iter_text()``; close it
        (or use ``with``) to hang up early. Errors in the stream (``ModelStreamError``,
        ``InternalStreamFailure``, a broken connection) are raised while iterating, after
        the parts before them, and are never retried.
        """
        answer = self._call(INVOKE_ENDPOINT_WITH_RESPONSE_STREAM, kwargs)
        return cast("InvokeEndpointWithResponseStreamResponse", answer)

    def invoke_endpoint_with_bidirectional_stream(
        self, **kwargs: Unpack[InvokeEndpointWithBidirectionalStreamRequest]
    ) -> BidirectionalStream:
        """InvokeEndpointWithBidirectionalStream over HTTP/2 (the ``http2`` extra), blocking
        form: returns a :class:`BidirectionalStream` to use with ``with``; send with
        ``stream.input_stream.send(...)``, read with ``stream.receive()`` or iteration.
        ``Body``, if given, is an iterable of events. One thread drives it; nothing is
        retried. The parameters are those of the async form
        (:meth:`AsyncSageMakerRuntime.invoke_endpoint_with_bidirectional_stream`)."""
        serialized = self._serialize(INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM, kwargs)
        body = kwargs.get("Body")
        if body is not None and not isinstance(body, Iterable):
            raise _errors.ParamValidationError(
                [("Body", "the blocking client takes an iterable of events, not an async iterable")]
            )
        from .bidi._sync import open_bidirectional_stream

        credentials = self._credentials.get_credentials()
        return open_bidirectional_stream(self._prepare_bidi(serialized, body, credentials))

    def invoke_endpoint_batch(
        self, records: Iterable[Any], /, **options: Unpack[InvokeEndpointBatchRequest]
    ) -> BatchResults:
        """InvokeEndpoint for each of ``records``, ``concurrency`` at once (see
        :mod:`runtime_client.batch`); iterate the results, in input order or as completed."""
        from .batch._sync import invoke_batch

        return invoke_batch(self, records, **options)

    def close(self) -> None:
        """Close the client's connections (a lent httpx client stays open)."""
        self._closed = True
        if self._transport is not None:
            self._transport.close()


class AsyncSageMakerRuntime(_Shell["httpx.AsyncClient"], AsyncClosesOnExit):
    """The async twin of :class:`SageMakerRuntime` (asyncio or trio); methods are awaited.

    ``Body`` of an InvokeEndpoint answer is an :class:`AsyncStreamingBody`.
    """

    _transport: AsyncTransport | None = None
    _sender: AsyncSender

    def _open_sender(self) -> None:
        if self._http is not None:
            from ._httpx import AsyncHttpxSender

            self._sender = AsyncHttpxSender(self._http)
        else:
            from .http._async import AsyncTransport

            resolved = self._resolved
            self._sender = self._transport = AsyncTransport(
                max_idle=resolved.max_pool_connections,
                tls=self._tls,
                proxies=resolved.proxies,
                socket_options=self._socket_options,
                http2=resolved.http2,
            )

    async def _call(self, operation: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
        serialized = self._serialize(operation, params)
        credentials = await self._credentials.aget_credentials()
        flow = operation_flow(
            self._ctx,
            operation,
            serialized,
            credentials=credentials,
            invocation_id=new_invocation_id(),
            wrap_body=AsyncStreamingBody,
            wrap_events=_async_event_stream,
        )
        return await run_async(flow, self._sender)

    async def invoke_endpoint(
        self, **kwargs: Unpack[InvokeEndpointRequest]
    ) -> AsyncInvokeEndpointResponse:
        """InvokeEndpoint: ``Body`` of the answer is an :class:`AsyncStreamingBody`."""
        return cast("AsyncInvokeEndpointResponse", await self._call(INVOKE_ENDPOINT, kwargs))

    async def invoke_endpoint_async(
        self, **kwargs: Unpack[InvokeEndpointAsyncRequest]
    ) -> InvokeEndpointAsyncResponse:
        """InvokeEndpointAsync: queue an inference; answers ``InferenceId`` and locations."""
        answer = await self._call(INVOKE_ENDPOINT_ASYNC, kwargs)
        return cast("InvokeEndpointAsyncResponse", answer)

    async def invoke_endpoint_with_response_stream(
        self, **kwargs: Unpack[InvokeEndpointWithResponseStreamRequest]
    ) -> AsyncInvokeEndpointWithResponseStreamResponse:
        """InvokeEndpointWithResponseStream; ``Body`` is an :class:`AsyncEventStream`
        (``async for event in body``, ``aiter_lines()``, ``aiter_text()``, ``aclose()``)."""
        answer = await self._call(INVOKE_ENDPOINT_WITH_RESPONSE_STREAM, kwargs)
        return cast("AsyncInvokeEndpointWithResponseStreamResponse", answer)

    async def invoke_endpoint_with_bidirectional_stream(
        self, **kwargs: Unpack[AsyncInvokeEndpointWithBidirectionalStreamRequest]
    ) -> AsyncBidirectionalStream:
        """InvokeEndpointWithBidirectionalStream: open a full-duplex HTTP/2 stream (the
        ``http2`` extra).

        Parameters: ``EndpointName`` (required), ``Body`` (optional: an async iterable or
        an iterable of ``{'PayloadPart': {...}}`` events, sent by a task of the stream,
        which then closes the input), ``TargetVariant``, ``ModelInvocationPath`` (<= 100
        characters), ``ModelQueryString`` (<= 2048). Without ``Body``, send with
        ``stream.input_stream``.

        The endpoint is the client's HTTP/2 endpoint (``runtime.sagemaker.{region}...:8443``,
        or the custom ``endpoint_url``; ``http://`` means cleartext h2c with prior
        knowledge). Returns an :class:`AsyncBidirectionalStream` to use with ``async with``::

            stream = await client.invoke_endpoint_with_bidirectional_stream(EndpointName="ep")
            async with stream:
                await stream.input_stream.send({"PayloadPart": {"Bytes": b"hi"}})
                print(await stream.receive())
                await stream.input_stream.close()
                async for event in stream:
                    ...

        The call returns once the request is on the wire; nothing is retried.
        """
        serialized = self._serialize(INVOKE_ENDPOINT_WITH_BIDIRECTIONAL_STREAM, kwargs)
        from .bidi._async import open_bidirectional_stream

        credentials = await self._credentials.aget_credentials()
        call = self._prepare_bidi(serialized, kwargs.get("Body"), credentials)
        return await open_bidirectional_stream(call)

    def invoke_endpoint_batch(
        self,
        records: Iterable[Any] | AsyncIterable[Any],
        /,
        **options: Unpack[InvokeEndpointBatchRequest],
    ) -> AbstractAsyncContextManager[AsyncBatchResults]:
        """:meth:`SageMakerRuntime.invoke_endpoint_batch`, as ``async with ... as results:``
        then ``async for result in results``; leaving the block cancels what is in flight."""
        from .batch._async import ainvoke_batch

        return ainvoke_batch(self, records, **options)

    async def aclose(self) -> None:
        """Close the client's connections (a lent httpx client stays open)."""
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    close = aclose
