"""The emulator's answers on the wire, shaped like the service's.

An error is rest-json: the code in the ``x-amzn-ErrorType`` header, a JSON body with the
message, and ``x-amzn-RequestId``::

    HTTP/1.1 400 Bad Request
    x-amzn-RequestId: 4c1f...
    x-amzn-ErrorType: ValidationError
    Content-Type: application/json

    {"Message": "1 validation error detected: ..."}

The message goes under the member the error's shape names (``Message`` for every error
shape of the service models, which is what the smithy-based SDKs read); errors outside
the models (the signature and authentication errors, ``UnknownOperationException``)
carry ``message``, as AWS's common errors do. botocore reads either.

A model's failure is a ``ModelError`` (424) whose body also carries what the container
said, which boto3 shows at the top level of ``e.response``::

    {"ErrorCode": "CLIENT_ERROR_FROM_MODEL",            (INTERNAL_FAILURE_FROM_MODEL for 5xx)
     "LogStreamArn": "arn:aws:logs:REGION:ACCOUNT:log-group:/aws/sagemaker/Endpoints/NAME",
     "Message": "Received client error (400) from primary with message \\"...\\". See ...",
     "OriginalMessage": "...", "OriginalStatusCode": 400}

The stream operation answers ``application/vnd.amazon.eventstream``: ``PayloadPart`` events
(the payload is the part's bytes), or one exception event (``ModelStreamError`` with
``Message`` and ``ErrorCode``, or ``InternalStreamFailure`` with ``Message``) before the end.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import MODELED_ERRORS
from .._model import EVENT_STREAM_CONTENT_TYPE
from ..eventstream import encode_message
from ._models import ModelFailure

__all__ = [
    "EVENT_STREAM",
    "Reply",
    "TrackedSend",
    "error_reply",
    "model_error_reply",
    "payload_part",
    "raw_headers",
    "send_reply",
    "stream_exception",
]

EVENT_STREAM = EVENT_STREAM_CONTENT_TYPE

Message = MutableMapping[str, Any]

_STATUS_PHRASE_CLIENT = "client"
_STATUS_PHRASE_SERVER = "server"


@dataclass(frozen=True)
class Reply:
    """A whole HTTP answer: status, headers (names as AWS spells them) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(default=b"", repr=False)


def error_reply(status: int, code: str, message: str, request_id: str) -> Reply:
    """An AWS rest-json error."""
    return Reply(
        status,
        (
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
            ("Content-Type", "application/json"),
        ),
        json.dumps({_message_member(code): message}).encode(),
    )


def _message_member(code: str) -> str:
    modeled = MODELED_ERRORS.get(code)
    return "Message" if modeled is not None and "Message" in modeled[1] else "message"


def model_error_reply(
    failure: ModelFailure,
    *,
    endpoint_name: str,
    region: str,
    account_id: str,
    request_id: str,
) -> Reply:
    """``ModelError`` (424) for a model's failure (see the module docstring)."""
    group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    status = failure.status_code
    body: dict[str, object] = {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL"
        if status is not None and 400 <= status < 500
        else "INTERNAL_FAILURE_FROM_MODEL",
        "LogStreamArn": f"arn:aws:logs:{region}:{account_id}:log-group:{group}",
    }
    if status is None:
        body["Message"] = failure.message
    else:
        side = _STATUS_PHRASE_CLIENT if 400 <= status < 500 else _STATUS_PHRASE_SERVER
        console = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group={group}"
        )
        body["Message"] = (
            f'Received {side} error ({status}) from primary with message "{failure.message}". '
            f"See {console} in account {account_id} for more information."
        )
        body["OriginalMessage"] = failure.message
        body["OriginalStatusCode"] = status
    return Reply(
        424,
        (
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", "ModelError"),
            ("Content-Type", "application/json"),
        ),
        json.dumps(body).encode(),
    )


def payload_part(data: bytes) -> bytes:
    """One ``PayloadPart`` event carrying ``data``."""
    return encode_message(
        (
            (":event-type", "PayloadPart"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ),
        data,
    )


def stream_exception(kind: str, message: str, error_code: str | None = None) -> bytes:
    """An exception event: ``ModelStreamError`` (with ``error_code``) or
    ``InternalStreamFailure``."""
    document: dict[str, str] = {"Message": message}
    if error_code is not None:
        document["ErrorCode"] = error_code
    return encode_message(
        (
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ),
        json.dumps(document).encode(),
    )


def raw_headers(
    headers: list[tuple[str, str]] | tuple[tuple[str, str], ...],
) -> list[tuple[bytes, bytes]]:
    """ASGI header pairs. Lower-case names: HTTP/2 requires it, and HTTP/1.1 readers
    ignore case."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def send_reply(send: Callable[[Message], Awaitable[None]], reply: Reply) -> None:
    """Send a whole answer (with its ``Content-Length``) through an ASGI ``send``."""
    headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
    start = {"type": "http.response.start", "status": reply.status, "headers": raw_headers(headers)}
    await send(start)
    await send({"type": "http.response.body", "body": reply.body, "more_body": False})


class TrackedSend:
    """An ASGI ``send`` that remembers whether the answer has started, so that a handler
    that fails can still answer 500 before it, and must leave the answer cut after it."""

    def __init__(self, send: Callable[[Message], Awaitable[None]]) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)
