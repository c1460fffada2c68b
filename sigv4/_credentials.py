"""AWS credentials as a value whose repr never shows a secret, and the interface of an
object that hands them out (and refreshes them)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from ._errors import SigningError
from ._record import field, record

__all__ = ["Credentials", "CredentialsProvider"]


@record(frozen=True)
class Credentials:
    """An access key pair, optionally with a session token and an expiry time.

    ``repr`` and ``str`` show the access key id only; the secret and the token are
    masked so that credentials can be logged or appear in tracebacks safely.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.access_key_id, str) or not self.access_key_id:
            raise SigningError("access_key_id", "must be a non-empty string")
        if not isinstance(self.secret_access_key, str) or not self.secret_access_key:
            raise SigningError("secret_access_key", "must be a non-empty string")
        if self.session_token is not None and not isinstance(self.session_token, str):
            raise SigningError("session_token", "must be a string or None")
        if self.session_token == "":
            object.__setattr__(self, "session_token", None)
        if self.expiration is not None and self.expiration.tzinfo is None:
            raise SigningError("expiration", "must be a timezone-aware datetime")

    def __repr__(self) -> str:
        token = ", session_token='***'" if self.session_token else ""
        expiry = f", expiration={self.expiration.isoformat()}" if self.expiration else ""
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, "
            f"secret_access_key='***'{token}{expiry})"
        )

    __str__ = __repr__


@runtime_checkable
class CredentialsProvider(Protocol):
    """An object that hands out (possibly refreshed) credentials, sync and async.

    The one interface for ``SigV4Auth`` and the ``runtime_client`` clients: implement
    both methods (``aget_credentials`` must not block the event loop).
    """

    def get_credentials(self) -> Credentials:
        """Current credentials (thread-safe; may block while refreshing)."""
        ...

    async def aget_credentials(self) -> Credentials:
        """Current credentials, without blocking the event loop (asyncio or trio)."""
        ...
