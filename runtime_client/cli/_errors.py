"""What the command line says when something fails: the exit code of each kind of error
(the AWS CLI's where it has one) and one clean message, with secrets masked.

Exit codes::

    0    success
    1    another local failure: an OUTFILE that cannot be written, a missing extra
    2    usage: bad options, a parameter the service model refuses, an unreadable --body file
    130  interrupted (Ctrl+C)
    253  configuration: no region, no credentials, a bad profile, config file or endpoint
    254  the service answered with an error (a ClientError, also one inside a response stream)
    255  transport: could not connect, timed out, the connection broke
"""

from __future__ import annotations

import os
import re
import sys

__all__ = [
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_LOCAL",
    "EXIT_OK",
    "EXIT_SERVICE",
    "EXIT_TRANSPORT",
    "EXIT_USAGE",
    "classify_error",
    "redact",
]


EXIT_OK = 0
EXIT_LOCAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_CONFIG = 253
EXIT_SERVICE = 254
EXIT_TRANSPORT = 255


def classify_error(exc: BaseException) -> tuple[int, str]:
    """The exit code for ``exc`` and the one message to print (never a secret: the
    project's exceptions keep secrets out of their text)."""
    from .. import _errors
    from .._config import InvalidConfigError, NoRegionError
    from .._config_files import ConfigFileError, ProfileNotFoundError
    from .._endpoints import EndpointResolutionError
    from ..credentials._errors import CredentialsError

    if isinstance(exc, _errors.ParamValidationError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, NoRegionError):
        return EXIT_CONFIG, (
            "You must specify a region: pass --region REGION, set the AWS_DEFAULT_REGION (or "
            "AWS_REGION) environment variable, or set 'region' in your AWS profile."
        )
    if isinstance(
        exc,
        (
            NoRegionError,
            InvalidConfigError,
            ProfileNotFoundError,
            ConfigFileError,
            CredentialsError,
            EndpointResolutionError,
        ),
    ):
        return EXIT_CONFIG, str(exc)
    if isinstance(exc, _errors.ClientError):
        return EXIT_SERVICE, str(exc)
    if isinstance(exc, _errors.HTTPClientError):
        return EXIT_TRANSPORT, str(exc)
    if isinstance(exc, ImportError):
        return EXIT_LOCAL, str(exc)
    local = sys.modules.get("runtime_client.local._server")  # loaded if serve-local ran
    if local is not None and isinstance(exc, local.ModelStartError):
        return EXIT_LOCAL, str(exc)
    if isinstance(exc, ValueError):  # e.g. serve-local's arguments
        return EXIT_USAGE, str(exc)
    if isinstance(exc, OSError):
        return EXIT_LOCAL, str(exc)
    return EXIT_LOCAL, f"{type(exc).__name__}: {exc}"


_TOKEN_IN_TEXT = re.compile(r"(x-amz-security-token\s*[:=]\s*)[^\s'\"&]+", re.IGNORECASE)


_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def redact(text: str) -> str:
    """Mask secrets a message may quote: a session token in an echoed canonical request
    (the service quotes it in InvalidSignatureException) and the values of the secret
    environment variables."""
    text = _TOKEN_IN_TEXT.sub(r"\1***", text)
    for name in _SECRET_VARIABLES:
        value = os.environ.get(name, "")
        if len(value) >= 8:
            text = text.replace(value, "***")
    return text
