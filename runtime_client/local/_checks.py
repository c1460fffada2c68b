"""The checks every operation of the local endpoint makes, written once for the rest-json
operations (``_app``) and the bidirectional stream (``_bidi_endpoint``): the request's
signature against the accepted keys, its credential scope, and the endpoint and variant
this endpoint serves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigv4 import (
    SignableRequest,
    SignatureCheckError,
    VerifiedRequest,
    verify_claim,
    verify_request,
)

from .._model import SIGNING_NAME
from ._settings import EndpointSettings

__all__ = ["check_claim", "check_signature", "target_problem"]


def check_claim(settings: EndpointSettings, request: SignableRequest) -> None:
    """What :func:`check_signature` checks that needs no body, before the body is read
    (an unauthenticated upload is refused without reading it)."""
    _as_the_service(verify_claim, settings, request)


def check_signature(settings: EndpointSettings, request: SignableRequest) -> VerifiedRequest:
    """Verify ``request`` as the service does, or raise :class:`sigv4.SignatureCheckError`
    with the code and status to answer (a request whose signature cannot even be read is
    ``IncompleteSignatureException``; one scoped to another region, or SigV4a whose
    region set does not cover the endpoint's region, is refused)."""
    verified: VerifiedRequest = _as_the_service(verify_request, settings, request)
    return verified


def target_problem(settings: EndpointSettings, name: str, variant: str | None) -> str | None:
    """Why this endpoint does not serve endpoint ``name`` (and ``TargetVariant``), or None."""
    if settings.endpoint_name is not None and name != settings.endpoint_name:
        return f"Endpoint {name} of account {settings.account_id} not found."
    if variant is not None and variant != settings.variant:
        return (
            f"Variant {variant} not found for endpoint {name} "
            f"(this endpoint has one variant: {settings.variant})."
        )
    return None


def _as_the_service(
    check: Callable[..., Any], settings: EndpointSettings, request: SignableRequest
) -> Any:
    try:
        return check(
            request,
            settings.secrets,
            now=settings.clock(),
            service=SIGNING_NAME,
            region=settings.region,  # the one region served (SigV4a: its region set's)
            tolerance=settings.tolerance,
        )
    except ValueError as exc:
        if isinstance(exc, SignatureCheckError):
            raise
        raise SignatureCheckError(
            "IncompleteSignatureException", "The request signature could not be read.", 400
        ) from None
