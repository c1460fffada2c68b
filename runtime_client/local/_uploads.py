"""Reading request bodies for the local endpoint: each no longer than its operation's
limit (400 ``ValidationError`` beyond it), hashed as it arrives (the signature is then
checked against the SHA-256, without hashing the body again), and no more bytes held at
once, across the requests being read, than the endpoint's cap (503 ``ServiceUnavailable``
beyond it). The app checks all of a signature but the body's hash before it reads a
body, so an unauthenticated upload never gets here."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._responses import Reply, error_reply
from ._validation import Fault, RequestValidationError

if TYPE_CHECKING:
    from .._model import Operation
    from ._app import Receive

__all__ = ["Disconnected", "Reject", "Uploads", "body_limit"]

_DEFAULT_BODY_LIMIT = 6 * 1024 * 1024  # the service's 6 MiB, for paths no operation has


class Disconnected(Exception):
    """The client went away before its request was read."""


class Reject(Exception):
    """Stop handling a request and send ``reply``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def body_limit(operation: Operation | None) -> int:
    """The most body bytes ``operation`` takes (its payload member's maximum)."""
    if operation is not None:
        for member in operation.inputs:
            if member.location == "payload" and member.max is not None:
                return member.max
    return _DEFAULT_BODY_LIMIT


class Uploads:
    """The bodies being read, and the bytes they hold (at most ``cap``)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.in_flight = 0

    async def read(
        self, receive: Receive, headers: Mapping[str, str], limit: int, request_id: str
    ) -> tuple[bytes, str]:
        """The body and its SHA-256 (hex); raise :class:`Reject` or :class:`Disconnected`."""
        rule = f"Member must have length less than or equal to {limit}"
        fault = RequestValidationError([Fault("Body", None, rule, sensitive=True)])
        too_large = Reject(error_reply(400, "ValidationError", str(fault), request_id))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        body = bytearray()
        digest = hashlib.sha256()
        try:
            while True:  # bounded by the limit: each message adds bytes or ends the body
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise Disconnected
                chunk = message.get("body", b"")
                self._take(len(chunk), request_id)
                body += chunk
                digest.update(chunk)
                if len(body) > limit:
                    raise too_large
                if not message.get("more_body", False):
                    return bytes(body), digest.hexdigest()
        finally:
            self.in_flight -= len(body)

    def _take(self, size: int, request_id: str) -> None:
        if self.in_flight + size > self.cap:
            raise Reject(
                error_reply(
                    503,
                    "ServiceUnavailable",
                    f"The endpoint is receiving more than {self.cap} request body bytes at "
                    "once; retry later.",
                    request_id,
                )
            )
        self.in_flight += size
