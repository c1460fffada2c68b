"""The operations' parameters and answers as typed dictionaries (the names mypy-boto3 users
know), so a type checker and an editor see what boto3's service model says.

The client methods take their parameters as ``**kwargs: Unpack[...Request]``: a misspelled
name or a value of the wrong type is a type error, and an editor completes the names. At
run time nothing changes (the service model's rules are checked as before, and a wrong
name is a ``ParamValidationError``). Answers are the ``...Response`` dictionaries.
``tests/client/test_type_defs.py`` checks every one against the service model
(``runtime_client._model``): the names, which are required, and the types of their kinds.

Blocking and async answers differ only in their ``Body`` (``StreamingBody`` /
``AsyncStreamingBody``, ``EventStream`` / ``AsyncEventStream``); so does the
bidirectional stream's ``Body`` parameter (an iterable of events, or for the async client
an async iterable too).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Container, Iterable
from typing import IO, TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from ._response_body import AsyncStreamingBody, StreamingBody
    from ._response_stream import AsyncEventStream, EventStream

__all__ = [
    "AsyncInvokeEndpointResponse",
    "AsyncInvokeEndpointWithBidirectionalStreamRequest",
    "AsyncInvokeEndpointWithResponseStreamResponse",
    "BlobInput",
    "InvokeEndpointAsyncRequest",
    "InvokeEndpointBatchRequest",
    "InvokeEndpointAsyncResponse",
    "InvokeEndpointRequest",
    "InvokeEndpointResponse",
    "InvokeEndpointWithBidirectionalStreamRequest",
    "InvokeEndpointWithResponseStreamRequest",
    "InvokeEndpointWithResponseStreamResponse",
    "RequestPayloadPart",
    "RequestStreamEvent",
    "ResponseMetadata",
]

#: A request body: bytes, text (sent as UTF-8) or a seekable binary file.
BlobInput = bytes | bytearray | str | IO[bytes]


class _ResponseMetadataRequired(TypedDict):
    HTTPStatusCode: int
    HTTPHeaders: dict[str, str]
    RetryAttempts: int


class ResponseMetadata(_ResponseMetadataRequired, total=False):
    """boto3's ``ResponseMetadata``; ``HTTPHeaders`` names are lower-case."""

    RequestId: str


# --------------------------------------------------------------------- InvokeEndpoint


class _InvokeEndpointRequired(TypedDict):
    EndpointName: str
    Body: BlobInput


class _InvokeEndpointOptional(TypedDict, total=False):
    ContentType: str
    Accept: str
    CustomAttributes: str
    TargetModel: str
    TargetVariant: str
    TargetContainerHostname: str
    InferenceId: str
    EnableExplanations: str
    InferenceComponentName: str
    SessionId: str
    PrefixAwareId: str


class InvokeEndpointRequest(_InvokeEndpointRequired, _InvokeEndpointOptional, total=False):
    pass


class _InvokeEndpointBatchRequired(TypedDict):
    EndpointName: str


class InvokeEndpointBatchRequest(
    _InvokeEndpointBatchRequired, _InvokeEndpointOptional, total=False
):
    """``invoke_endpoint_batch``'s options: InvokeEndpoint's parameters but ``Body`` (each
    record's own), shared by every record, and the batch's own (``runtime_client.batch``)."""

    concurrency: int
    ordered: bool
    max_rounds: int
    skip: Container[int]
    total: int | None


class _InvokeEndpointResponseRequired(TypedDict):
    Body: StreamingBody
    ResponseMetadata: ResponseMetadata


class InvokeEndpointResponse(_InvokeEndpointResponseRequired, total=False):
    ContentType: str
    InvokedProductionVariant: str
    CustomAttributes: str
    NewSessionId: str
    ClosedSessionId: str


class _AsyncInvokeEndpointResponseRequired(TypedDict):
    Body: AsyncStreamingBody
    ResponseMetadata: ResponseMetadata


class AsyncInvokeEndpointResponse(_AsyncInvokeEndpointResponseRequired, total=False):
    ContentType: str
    InvokedProductionVariant: str
    CustomAttributes: str
    NewSessionId: str
    ClosedSessionId: str


# --------------------------------------------------------------------- InvokeEndpointAsync


class _InvokeEndpointAsyncRequired(TypedDict):
    EndpointName: str


class InvokeEndpointAsyncRequest(_InvokeEndpointAsyncRequired, total=False):
    ContentType: str
    Accept: str
    CustomAttributes: str
    InferenceId: str
    InputLocation: str
    S3OutputPathExtension: str
    Filename: str
    RequestTTLSeconds: int
    InvocationTimeoutSeconds: int
    Body: BlobInput


class _InvokeEndpointAsyncResponseRequired(TypedDict):
    ResponseMetadata: ResponseMetadata


class InvokeEndpointAsyncResponse(_InvokeEndpointAsyncResponseRequired, total=False):
    InferenceId: str
    OutputLocation: str
    FailureLocation: str


# ------------------------------------------------------------ InvokeEndpointWithResponseStream


class _InvokeEndpointWithResponseStreamRequired(TypedDict):
    EndpointName: str
    Body: BlobInput


class InvokeEndpointWithResponseStreamRequest(
    _InvokeEndpointWithResponseStreamRequired, total=False
):
    ContentType: str
    Accept: str
    CustomAttributes: str
    TargetVariant: str
    TargetContainerHostname: str
    InferenceId: str
    InferenceComponentName: str
    SessionId: str
    PrefixAwareId: str


class _InvokeEndpointWithResponseStreamResponseRequired(TypedDict):
    Body: EventStream
    ResponseMetadata: ResponseMetadata


class InvokeEndpointWithResponseStreamResponse(
    _InvokeEndpointWithResponseStreamResponseRequired, total=False
):
    ContentType: str
    InvokedProductionVariant: str
    CustomAttributes: str


class _AsyncInvokeEndpointWithResponseStreamResponseRequired(TypedDict):
    Body: AsyncEventStream
    ResponseMetadata: ResponseMetadata


class AsyncInvokeEndpointWithResponseStreamResponse(
    _AsyncInvokeEndpointWithResponseStreamResponseRequired, total=False
):
    ContentType: str
    InvokedProductionVariant: str
    CustomAttributes: str


# -------------------------------------------------------- InvokeEndpointWithBidirectionalStream


class _RequestPayloadPartRequired(TypedDict):
    Bytes: bytes | bytearray | memoryview


class RequestPayloadPart(_RequestPayloadPartRequired, total=False):
    DataType: str  # "UTF8" or "BINARY"
    CompletionState: str  # "PARTIAL" or "COMPLETE"
    P: str  # padding, ignored by the service


class RequestStreamEvent(TypedDict):
    """One event of the bidirectional stream's input."""

    PayloadPart: RequestPayloadPart


class _InvokeEndpointWithBidirectionalStreamRequired(TypedDict):
    EndpointName: str


class InvokeEndpointWithBidirectionalStreamRequest(
    _InvokeEndpointWithBidirectionalStreamRequired, total=False
):
    Body: Iterable[RequestStreamEvent]
    TargetVariant: str
    ModelInvocationPath: str
    ModelQueryString: str


class AsyncInvokeEndpointWithBidirectionalStreamRequest(
    _InvokeEndpointWithBidirectionalStreamRequired, total=False
):
    Body: AsyncIterable[RequestStreamEvent] | Iterable[RequestStreamEvent]
    TargetVariant: str
    ModelInvocationPath: str
    ModelQueryString: str
