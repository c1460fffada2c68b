"""The one exception tree of ``runtime_client``, and error parsing from responses.

Exception tree::

    Exception
     └── SageMakerRuntimeError                 base of everything raised here
          ├── ParamValidationError (ValueError) bad parameters; raised before any traffic
          ├── InvalidConfigError (ValueError)   a bad Config / env / profile value  (_config)
          ├── NoRegionError (ValueError)        no region configured                (_config)
          ├── EndpointResolutionError (ValueError) no endpoint for these options (_endpoints)
          ├── ClientError                       the service answered with an error
          │    ├── ValidationError              400, modeled
          │    ├── ModelError                   424, modeled (OriginalStatusCode, OriginalMessage,
          │    │                                LogStreamArn at the top level of .response)
          │    ├── ModelNotReadyException       429, modeled
          │    ├── InternalFailure              500, modeled
          │    ├── ServiceUnavailable           503, modeled
          │    ├── InternalDependencyException  530, modeled
          │    ├── ModelStreamError             in an event stream, modeled (ErrorCode at
          │    │                                the top level of .response)
          │    ├── InternalStreamFailure        in an event stream, modeled
          │    ├── InputValidationError         400, modeled (HTTP/2 bidirectional stream)
          │    ├── InternalServerError          500, modeled (HTTP/2 bidirectional stream)
          │    ├── ServiceUnavailableError      503, modeled (HTTP/2 bidirectional stream)
          │    ├── ThrottlingException          throttled (not in the model; 400)
          │    └── AuthError                    403-family authentication / signing failures
          │         ├── InvalidSignatureException
          │         ├── UnrecognizedClientException
          │         ├── ExpiredTokenException
          │         └── AccessDeniedException
          ├── CredentialsError                  finding or refreshing credentials failed
          │    ├── NoCredentialsError           no source had credentials (lists them)
          │    ├── PartialCredentialsError
          │    ├── CredentialsConfigError (ValueError)
          │    └── CredentialsRetrievalError
          ├── ProfileNotFoundError (ValueError) a named profile is in no config file
          ├── ConfigFileError (ValueError)      a config file cannot be parsed
          └── HTTPClientError                   the transport failed; no usable response
               ├── EndpointConnectionError      could not connect
               │    └── ConnectTimeoutError     connecting timed out
               ├── ConnectionClosedError        the peer closed before a full response
               ├── ReadTimeoutError             waiting for response bytes timed out
               └── ResponseStreamingError       failed while reading a streaming body or an
                    │                           event stream (a cut, corrupt event bytes)
                    └── IncompleteReadError     fewer body bytes than Content-Length said

``ClientError`` behaves like botocore's: ``e.response`` is a dict with ``Error`` (``Code``,
``Message``), ``ResponseMetadata`` (``RequestId``, ``HTTPStatusCode``, ``HTTPHeaders``,
``RetryAttempts``) and, for a modeled error, its members at the top level; ``str(e)`` reads
``An error occurred (Code) when calling the Op operation: message``. The configuration and
credential errors live in their own modules and are re-exported by the package; they are
listed here so that the tree is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ._json import json_or_text, member_value

__all__ = [
    "AccessDeniedException",
    "AuthError",
    "ClientError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "EndpointConnectionError",
    "ExpiredTokenException",
    "HTTPClientError",
    "IncompleteReadError",
    "InternalDependencyException",
    "InternalFailure",
    "InputValidationError",
    "InternalServerError",
    "InternalStreamFailure",
    "InvalidSignatureException",
    "MODELED_ERRORS",
    "ModelError",
    "ModelNotReadyException",
    "ModelStreamError",
    "ParamValidationError",
    "ProxyConnectionError",
    "ResponseStreamingError",
    "SageMakerRuntimeError",
    "ServiceUnavailable",
    "ServiceUnavailableError",
    "ThrottlingException",
    "UnrecognizedClientException",
    "ValidationError",
    "error_class_for_code",
    "parse_error_response",
]


class SageMakerRuntimeError(Exception):
    """Base of every exception raised by ``runtime_client``."""


class ParamValidationError(SageMakerRuntimeError, ValueError):
    """Parameters failed validation; nothing was sent.

    ``errors`` lists one ``(parameter, rule)`` pair per problem; the message reads like
    botocore's ``Parameter validation failed:`` report.
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        report = "\n".join(f"{name}: {rule}" for name, rule in self.errors)
        super().__init__(f"Parameter validation failed:\n{report}")


class ClientError(SageMakerRuntimeError):
    """The service answered with an error; ``response`` is shaped like boto3's."""

    MSG_TEMPLATE: ClassVar[str] = (
        "An error occurred ({code}) when calling the {operation} operation{retry}: {message}"
    )

    def __init__(self, error_response: dict[str, Any], operation_name: str) -> None:
        self.response = error_response
        self.operation_name = operation_name
        error = error_response.get("Error", {})
        meta = error_response.get("ResponseMetadata", {})
        retry = ""
        if meta.get("MaxAttemptsReached") and "RetryAttempts" in meta:
            retry = f" (reached max retries: {meta['RetryAttempts']})"
        super().__init__(
            self.MSG_TEMPLATE.format(
                code=error.get("Code", "Unknown"),
                operation=operation_name,
                retry=retry,
                message=error.get("Message", "Unknown"),
            )
        )

    #: For a refused signature whose message quotes what AWS computed: where the texts this
    #: client signed first differ from it (see ``sigv4.explain_mismatch``). Shown by str().
    explanation: str | None = None

    def __str__(self) -> str:
        text = super().__str__()
        return text if self.explanation is None else f"{text}\n\n{self.explanation}"

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.response, self.operation_name)


class ValidationError(ClientError):
    """400: the service rejected the request's parameters."""


class ModelError(ClientError):
    """424: the model container answered with an error (see ``OriginalStatusCode``)."""


class ModelNotReadyException(ClientError):
    """429: the model is not ready to serve (retried)."""


class InternalFailure(ClientError):
    """500: the service failed."""


class ServiceUnavailable(ClientError):
    """503: the service is unavailable."""


class InternalDependencyException(ClientError):
    """530: a dependency of the service failed."""


class ModelStreamError(ClientError):
    """An error event inside a response stream (``ErrorCode`` names it)."""


class InternalStreamFailure(ClientError):
    """The response stream failed inside the service."""


class InputValidationError(ClientError):
    """400 from the HTTP/2 service: the request's parameters are invalid (``ErrorCode``)."""


class InternalServerError(ClientError):
    """500 from the HTTP/2 service (``ErrorCode``)."""


class ServiceUnavailableError(ClientError):
    """503 from the HTTP/2 service (``ErrorCode``)."""


class ThrottlingException(ClientError):
    """The request was throttled (retried)."""


class AuthError(ClientError):
    """The service refused the request's authentication (HTTP 403 family)."""


class InvalidSignatureException(AuthError):
    """The signature did not match, or the clock was too far off."""


class UnrecognizedClientException(AuthError):
    """The access key id is not known."""


class ExpiredTokenException(AuthError):
    """The session token has expired."""


class AccessDeniedException(AuthError):
    """The identity may not call this operation."""


class HTTPClientError(SageMakerRuntimeError):
    """The transport failed; ``endpoint_url`` names where, ``error`` is the cause."""

    fmt: ClassVar[str] = 'An HTTP client error occurred on endpoint URL "{endpoint_url}": {error}'

    def __init__(self, endpoint_url: str, error: BaseException | str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.error = error
        super().__init__(self.fmt.format(endpoint_url=endpoint_url, error=error))


class EndpointConnectionError(HTTPClientError):
    fmt = 'Could not connect to the endpoint URL: "{endpoint_url}" ({error})'


class SSLError(EndpointConnectionError):
    """The TLS handshake failed: the endpoint's certificate was refused (``verify``), or the
    endpoint refused ours (``Config(client_cert=...)``). botocore's ``SSLError``."""

    fmt = "SSL validation failed for {endpoint_url} {error}"


class ProxyConnectionError(EndpointConnectionError):
    """The proxy could not be reached, or refused the tunnel (``Config(proxies=...)``,
    ``HTTPS_PROXY``). The message names the proxy, never its credentials."""

    fmt = 'Failed to connect to the proxy for endpoint URL "{endpoint_url}": {error}'


class ConnectTimeoutError(EndpointConnectionError):
    fmt = 'Connect timeout on endpoint URL: "{endpoint_url}"'


class ConnectionClosedError(HTTPClientError):
    fmt = (
        "Connection was closed before we received a valid response from endpoint URL: "
        '"{endpoint_url}" ({error})'
    )


class ReadTimeoutError(HTTPClientError):
    fmt = 'Read timeout on endpoint URL: "{endpoint_url}"'


class ResponseStreamingError(HTTPClientError):
    fmt = 'An error occurred while reading from the response stream of "{endpoint_url}": {error}'


class IncompleteReadError(ResponseStreamingError):
    """The body ended before ``Content-Length`` bytes arrived."""

    def __init__(self, endpoint_url: str, actual_bytes: int, expected_bytes: int) -> None:
        self.actual_bytes = actual_bytes
        self.expected_bytes = expected_bytes
        super().__init__(
            endpoint_url, f"{actual_bytes} read, but total bytes expected is {expected_bytes}."
        )


#: Error shapes of the service model: code -> (class, top-level members parsed from the body).
MODELED_ERRORS: Mapping[str, tuple[type[ClientError], Mapping[str, str]]] = {
    "ValidationError": (ValidationError, {"Message": "string"}),
    "ModelError": (
        ModelError,
        {
            "Message": "string",
            "OriginalStatusCode": "integer",
            "OriginalMessage": "string",
            "LogStreamArn": "string",
        },
    ),
    "ModelNotReadyException": (ModelNotReadyException, {"Message": "string"}),
    "InternalFailure": (InternalFailure, {"Message": "string"}),
    "ServiceUnavailable": (ServiceUnavailable, {"Message": "string"}),
    "InternalDependencyException": (InternalDependencyException, {"Message": "string"}),
    "ModelStreamError": (ModelStreamError, {"Message": "string", "ErrorCode": "string"}),
    "InternalStreamFailure": (InternalStreamFailure, {"Message": "string"}),
    # The bidirectional-stream service (SageMaker Runtime HTTP2, 2025-10-01).
    "InputValidationError": (InputValidationError, {"Message": "string", "ErrorCode": "string"}),
    "InternalServerError": (InternalServerError, {"Message": "string", "ErrorCode": "string"}),
    "ServiceUnavailableError": (
        ServiceUnavailableError,
        {"Message": "string", "ErrorCode": "string"},
    ),
}

_UNMODELED: Mapping[str, type[ClientError]] = {
    "ThrottlingException": ThrottlingException,
    "InvalidSignatureException": InvalidSignatureException,
    "SignatureDoesNotMatch": InvalidSignatureException,
    "UnrecognizedClientException": UnrecognizedClientException,
    "InvalidClientTokenId": UnrecognizedClientException,
    "ExpiredTokenException": ExpiredTokenException,
    "ExpiredToken": ExpiredTokenException,
    "AccessDeniedException": AccessDeniedException,
    "IncompleteSignature": AuthError,
    "MissingAuthenticationToken": AuthError,
    "RequestTimeTooSkewed": AuthError,
}


def error_class_for_code(code: str) -> type[ClientError]:
    """The exception class for an error code (``ClientError`` when unknown)."""
    modeled = MODELED_ERRORS.get(code)
    if modeled is not None:
        return modeled[0]
    return _UNMODELED.get(code, ClientError)


def _clean_code(code: str) -> str:
    # "com.amazon.coral#ModelError:http://internal..." -> "ModelError"
    return code.split(":", 1)[0].rsplit("#", 1)[-1]


def _reason_phrase(status_code: int) -> str:
    """The standard reason phrase of a status code ("" if unknown), as ``http.client.responses``.

    ``http.HTTPStatus`` is imported here, on an error answer, because importing
    ``http.client`` for its table costs several milliseconds at start-up.
    """
    from http import HTTPStatus

    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""


def parse_error_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Parse an error answer into boto3's ``e.response`` shape (without retry metadata).

    ``headers`` must be looked up case-insensitively (``httpx.Headers``); the rules are
    PROTOCOL.md's: the code from ``x-amzn-ErrorType``, else the body's ``code``/``Code``,
    else ``__type``, else the status code; the message from ``message``/``Message``. A 5xx
    answer whose body is empty or HTML gets the status code and its reason phrase.
    Modeled error members found in the body are copied to the top level, as boto3 does.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    metadata: dict[str, Any] = {}
    if "x-amzn-requestid" in lowered:
        metadata["RequestId"] = lowered["x-amzn-requestid"]
    stripped = body.strip()
    if status_code >= 500 and (not stripped or stripped.startswith(b"<html>")):
        return {
            "Error": {
                "Code": str(status_code),
                "Message": _reason_phrase(status_code),
            },
            "ResponseMetadata": metadata,
        }
    parsed = json_or_text(body, "message")
    message = parsed.get("message", parsed.get("Message", ""))
    code: Any = parsed.get("__type", str(status_code))
    if "x-amzn-errortype" in lowered:
        code = lowered["x-amzn-errortype"]
    elif "code" in parsed or "Code" in parsed:
        code = parsed.get("code", parsed.get("Code", ""))
    # Only strings are kept: a nested value printed would recurse (see _json.py).
    code = _clean_code(code) if isinstance(code, str) else str(status_code)
    if not isinstance(message, str):
        message = ""
    elif "security-token" in message.lower():  # AWS may quote the signed canonical request
        from sigv4._explain import mask_tokens

        message = mask_tokens(message)
    result: dict[str, Any] = {
        "Error": {"Message": message, "Code": code},
        "ResponseMetadata": metadata,
    }
    modeled = MODELED_ERRORS.get(code)
    if modeled is not None:
        for member, kind in modeled[1].items():
            value = member_value(parsed.get(member), kind)
            if value is not None:
                result[member] = value
    return result
