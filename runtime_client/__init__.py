"""A small, fast, exact client for Amazon SageMaker Runtime, with boto3's shape.

>>> from runtime_client import SageMakerRuntime
>>> client = SageMakerRuntime(region_name="us-east-1")  # doctest: +SKIP
>>> client.invoke_endpoint(EndpointName="my-ep", Body=b"{}")["Body"].read()  # doctest: +SKIP

The exception tree is documented in ``runtime_client._errors``.
"""

from ._awsconfig import ConfigFileError, ProfileNotFoundError, load_profile_config
from ._client import AsyncSageMakerRuntime, SageMakerRuntime
from ._config import Config, InvalidConfigError, NoRegionError
from ._credentials import (
    CredentialsProvider,
    default_credentials_provider,
    static_credentials_provider,
)
from ._credentials_errors import (
    CredentialsConfigError,
    CredentialsError,
    CredentialsRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)
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
    ReadTimeoutError,
    ResponseStreamingError,
    SageMakerRuntimeError,
    ServiceUnavailable,
    ServiceUnavailableError,
    ThrottlingException,
    UnrecognizedClientException,
    ValidationError,
)
from ._response_stream import AsyncEventStream, EventStream
from ._streaming import AsyncStreamingBody, StreamingBody
from ._version import __version__

__all__ = [
    "AccessDeniedException",
    "AsyncEventStream",
    "AsyncSageMakerRuntime",
    "AsyncStreamingBody",
    "AuthError",
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
    "PartialCredentialsError",
    "ProfileNotFoundError",
    "ReadTimeoutError",
    "ResponseStreamingError",
    "SageMakerRuntimeError",
    "SageMakerRuntime",
    "ServiceUnavailable",
    "ServiceUnavailableError",
    "StreamingBody",
    "ThrottlingException",
    "UnrecognizedClientException",
    "ValidationError",
    "__version__",
    "default_credentials_provider",
    "load_profile_config",
    "static_credentials_provider",
]
