"""A small, fast, exact client for Amazon SageMaker Runtime, with boto3's shape.

>>> from runtime_client import SageMakerRuntime
>>> client = SageMakerRuntime(region_name="us-east-1")  # doctest: +SKIP
>>> client.invoke_endpoint(EndpointName="my-ep", Body=b"{}")["Body"].read()  # doctest: +SKIP

The exception tree is documented in ``runtime_client._errors``. Subpackages:
``runtime_client.credentials`` (providers, the default chain), ``runtime_client.eventstream``
(the event-stream codec), ``runtime_client.bidi`` (InvokeEndpointWithBidirectionalStream),
``runtime_client.local`` (a local endpoint) and ``runtime_client.cli`` (the command line).

Importing the package is cheap: each public name loads its private module on first
access (PEP 562 ``__getattr__``), so ``from runtime_client import SageMakerRuntime``
imports only what the blocking client needs.
"""

import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._client import AsyncSageMakerRuntime, SageMakerRuntime
    from ._config import Config, InvalidConfigError, NoRegionError
    from ._config_files import ConfigFileError, ProfileNotFoundError, load_profile_config
    from ._endpoints import EndpointResolutionError
    from ._errors import (
        AccessDeniedException,
        AuthError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ExpiredTokenException,
        HTTPClientError,
        IncompleteReadError,
        InputValidationError,
        InternalDependencyException,
        InternalFailure,
        InternalServerError,
        InternalStreamFailure,
        InvalidSignatureException,
        ModelError,
        ModelNotReadyException,
        ModelStreamError,
        ParamValidationError,
        ProxyConnectionError,
        ReadTimeoutError,
        ResponseStreamingError,
        SageMakerRuntimeError,
        ServiceUnavailable,
        ServiceUnavailableError,
        SSLError,
        ThrottlingException,
        UnrecognizedClientException,
        ValidationError,
    )
    from ._response_body import AsyncStreamingBody, StreamingBody
    from ._response_stream import AsyncEventStream, EventStream
    from .bidi import (
        AsyncBidirectionalInputStream,
        AsyncBidirectionalStream,
        BidirectionalInputStream,
        BidirectionalStream,
        SyncBidirectionalInputStream,
    )
    from .credentials import (
        CredentialsConfigError,
        CredentialsError,
        CredentialsProvider,
        CredentialsRetrievalError,
        NoCredentialsError,
        PartialCredentialsError,
        default_credentials_provider,
        static_credentials_provider,
    )

#: Public names that load their module on first access: name -> private module.
_LAZY = {
    **dict.fromkeys(
        ("ConfigFileError", "ProfileNotFoundError", "load_profile_config"), "._config_files"
    ),
    **dict.fromkeys(
        (
            "AsyncBidirectionalInputStream",
            "AsyncBidirectionalStream",
            "BidirectionalInputStream",
            "BidirectionalStream",
            "SyncBidirectionalInputStream",
        ),
        ".bidi",
    ),
    **dict.fromkeys(("AsyncSageMakerRuntime", "SageMakerRuntime"), "._client"),
    **dict.fromkeys(("Config", "InvalidConfigError", "NoRegionError"), "._config"),
    **dict.fromkeys(
        (
            "CredentialsConfigError",
            "CredentialsError",
            "CredentialsProvider",
            "CredentialsRetrievalError",
            "NoCredentialsError",
            "PartialCredentialsError",
            "default_credentials_provider",
            "static_credentials_provider",
        ),
        ".credentials",
    ),
    "EndpointResolutionError": "._endpoints",
    **dict.fromkeys(
        (
            "AccessDeniedException",
            "AuthError",
            "ClientError",
            "ConnectionClosedError",
            "ConnectTimeoutError",
            "EndpointConnectionError",
            "ExpiredTokenException",
            "HTTPClientError",
            "IncompleteReadError",
            "InputValidationError",
            "InternalDependencyException",
            "InternalFailure",
            "InternalServerError",
            "InternalStreamFailure",
            "InvalidSignatureException",
            "ModelError",
            "ModelNotReadyException",
            "ModelStreamError",
            "ParamValidationError",
            "ProxyConnectionError",
            "ReadTimeoutError",
            "ResponseStreamingError",
            "SageMakerRuntimeError",
            "SSLError",
            "ServiceUnavailable",
            "ServiceUnavailableError",
            "ThrottlingException",
            "UnrecognizedClientException",
            "ValidationError",
        ),
        "._errors",
    ),
    **dict.fromkeys(("AsyncEventStream", "EventStream"), "._response_stream"),
    **dict.fromkeys(("AsyncStreamingBody", "StreamingBody"), "._response_body"),
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # __import__, not importlib.import_module: -X importtime lists only what it loads
    value = getattr(__import__(module[1:], globals(), None, (name,), 1), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AccessDeniedException",
    "AsyncBidirectionalInputStream",
    "AsyncBidirectionalStream",
    "AsyncEventStream",
    "AsyncSageMakerRuntime",
    "AsyncStreamingBody",
    "AuthError",
    "BidirectionalInputStream",
    "BidirectionalStream",
    "ClientError",
    "Config",
    "ConfigFileError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "CredentialsConfigError",
    "CredentialsError",
    "CredentialsProvider",
    "CredentialsRetrievalError",
    "EndpointConnectionError",
    "EventStream",
    "EndpointResolutionError",
    "ExpiredTokenException",
    "HTTPClientError",
    "IncompleteReadError",
    "InputValidationError",
    "InternalDependencyException",
    "InternalFailure",
    "InternalServerError",
    "InternalStreamFailure",
    "InvalidConfigError",
    "InvalidSignatureException",
    "ModelError",
    "ModelNotReadyException",
    "ModelStreamError",
    "NoCredentialsError",
    "NoRegionError",
    "ParamValidationError",
    "ProxyConnectionError",
    "PartialCredentialsError",
    "ProfileNotFoundError",
    "ReadTimeoutError",
    "SSLError",
    "ResponseStreamingError",
    "SageMakerRuntimeError",
    "SageMakerRuntime",
    "ServiceUnavailable",
    "ServiceUnavailableError",
    "StreamingBody",
    "SyncBidirectionalInputStream",
    "ThrottlingException",
    "UnrecognizedClientException",
    "ValidationError",
    "__version__",
    "default_credentials_provider",
    "load_profile_config",
    "static_credentials_provider",
]
