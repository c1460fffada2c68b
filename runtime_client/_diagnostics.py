"""What a call tells its user beyond the answer: the DEBUG line of each attempt (the
``runtime_client`` logger; never a header but the request id) and, when the service refuses
a signature and quotes what it computed, where the texts this attempt signed differ from it
(``sigv4.explain_mismatch``; the ``ClientError``'s ``explanation``, shown by ``str()``).

:mod:`logging` is imported only when a record may go somewhere: until something imports
it, nothing can have configured it, and a DEBUG record would be dropped (the root logger's
level is WARNING). Skipping the import saves 3-6 ms of a cold start, with the same output.
A warning, which Python prints even without configuration, imports it."""

from __future__ import annotations

import sys
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from sigv4 import Credentials

    from ._model import Operation
    from ._operation import FlowContext
    from ._restjson import SerializedRequest
    from .http._models import HTTPResponse, Request

__all__ = [
    "DEBUG",
    "LOGGER",
    "SIGNATURE_CODES",
    "WARNING",
    "debugging",
    "explain_signature",
    "log",
    "log_attempt",
]

#: The library's logger: one DEBUG line per attempt and per clock-skew correction; credential
#: refreshes log under ``runtime_client.credentials``.
LOGGER = "runtime_client"
DEBUG, WARNING = 10, 30  # logging's levels
_loggers: dict[str, logging.Logger] = {}  # by name, once logging is imported


def _logger(name: str) -> logging.Logger | None:
    found: logging.Logger | None = _loggers.get(name)
    if found is None and (logging := sys.modules.get("logging")) is not None:
        found = _loggers[name] = logging.getLogger(name)
    return found


def debugging(name: str = LOGGER) -> bool:
    """Whether a DEBUG record of the logger ``name`` would be handled (see the module)."""
    found = _logger(name)
    return found is not None and found.isEnabledFor(DEBUG)


def log(name: str, level: int, message: str, *args: object) -> None:
    """Log a record; a DEBUG one only when :func:`debugging` says it goes somewhere."""
    if level > DEBUG:
        import logging  # noqa: F401 - a warning is printed even without configuration
    found = _logger(name)
    if found is not None:
        found.log(level, message, *args)


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
    log(
        LOGGER,
        DEBUG,
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
