"""Errors raised while finding or refreshing AWS credentials.

The tree is in the package's docstring (:mod:`runtime_client.credentials`). Messages name
the source, the setting and the rule; they never carry a secret key, a session token or a
bearer token.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import SageMakerRuntimeError

__all__ = [
    "CredentialsConfigError",
    "CredentialsError",
    "CredentialsRetrievalError",
    "NoCredentialsError",
    "PartialCredentialsError",
]


class CredentialsError(SageMakerRuntimeError):
    """Base class of every error about finding or refreshing credentials."""


class NoCredentialsError(CredentialsError):
    """No source in the chain had credentials.

    ``tried`` holds ``(source, reason)`` pairs in the order the chain tried them.
    """

    def __init__(self, tried: Sequence[tuple[str, str]]) -> None:
        self.tried = tuple(tried)
        lines = "".join(f"\n  - {name}: {reason}" for name, reason in self.tried)
        super().__init__(f"Unable to locate AWS credentials. Sources tried, in order:{lines}")


class PartialCredentialsError(CredentialsError):
    """A source sets some of the credential keys but not all of them."""

    def __init__(self, source: str, missing: str) -> None:
        self.source = source
        self.missing = missing
        super().__init__(f"{source}: partial credentials found, missing {missing}")


class CredentialsConfigError(CredentialsError, ValueError):
    """The credential settings are inconsistent or not allowed."""


class CredentialsRetrievalError(CredentialsError):
    """A configured source was asked for credentials and failed."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")
