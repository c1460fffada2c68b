"""What a call tells its user beyond the answer: the DEBUG line of each attempt (the
``runtime_client`` logger; never a header but the request id) and, when the service refuses
a signature and quotes what it computed, where the texts this attempt signed differ from it
(``sigv4.explain_mismatch``; the ``ClientError``'s ``explanation``, shown by ``str()``)."""

from __future__ import annotations

import logging
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sigv4 import Credentials

    from ._model import Operation
    from ._operation import FlowContext
    from ._restjson import SerializedRequest
    from .http._models import HTTPResponse, Request

__all__ = ["SIGNATURE_CODES", "explain_signature", "log_attempt"]

_log = logging.getLogger("runtime_client")


def log_attempt(
    operation: Operation,
    url: str,
    attempts: Any,
    started: float,
    answer: HTTPResponse | str,
    delay: float | None,
) -> None:
    """One DEBUG line per attempt: what was called, how it ended, what happens next. No
    header but the request id is shown (never a signature or a token)."""
    elapsed = (perf_counter() - started) * 1000
    if isinstance(answer, str):
        outcome, request_id = answer, "-"
    else:
        outcome = str(answer.status_code)
        request_id = answer.headers.get("x-amzn-requestid") or "-"
    then = "done" if delay is None else f"retrying in {delay:.3f} s"
    _log.debug(
        "%s attempt %d/%d %s: %s in %.1f ms (request id %s); %s",
        operation.name,
        attempts.number,
        attempts.max_attempts,
        url,
        outcome,
        elapsed,
        request_id,
        then,
    )


#: The codes of a refused signature, whose message may quote what AWS computed.
SIGNATURE_CODES = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch"})


def explain_signature(
    ctx: FlowContext,
    operation: Operation,
    error: dict[str, Any],
    signing: tuple[Request, SerializedRequest, Credentials, str],
) -> str | None:
    """Where the texts this attempt signed differ from those AWS quotes (sigv4's
    ``explain_mismatch``), or None when the message quotes none."""
    message = str(error.get("Error", {}).get("Message", ""))
    if "should have been" not in message:
        return None
    from sigv4._explain import explain_mismatch

    from ._operation import signed_headers

    request, serialized, credentials, payload_hash = signing
    amz_date = next((v for n, v in request.headers if n.lower() == "x-amz-date"), "")
    canonical_uri = ctx.url_for(serialized.path)[2]
    canonical, text = ctx.signer(credentials).signing_texts(
        operation.method,
        canonical_uri,
        signed_headers(ctx, serialized),
        payload_hash,
        amz_date,
    )
    return explain_mismatch(message, canonical, text)
