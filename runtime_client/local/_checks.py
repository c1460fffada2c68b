"""The checks every operation of the local endpoint makes, written once for the rest-json
operations (``_app``) and the bidirectional stream (``_bidi_endpoint``): the request's
signature against the accepted keys, its credential scope, and the endpoint and variant
this endpoint serves."""

from __future__ import annotations

from sigv4 import SignableRequest, SignatureCheckError, VerifiedRequest, verify_request

from .._model import SIGNING_NAME
from ._settings import EndpointSettings

__all__ = ["check_signature", "target_problem"]


def check_signature(settings: EndpointSettings, request: SignableRequest) -> VerifiedRequest:
    """Verify ``request`` as the service does, or raise :class:`sigv4.SignatureCheckError`
    with the code and status to answer (a request whose signature cannot even be read is
    ``IncompleteSignatureException``; one scoped to another region is refused)."""
    try:
        verified = verify_request(
            request,
            settings.secrets,
            now=settings.clock(),
            service=SIGNING_NAME,
            tolerance=settings.tolerance,
        )
    except ValueError as exc:
        if isinstance(exc, SignatureCheckError):
            raise
        raise SignatureCheckError(
            "IncompleteSignatureException", "The request signature could not be read.", 400
        ) from None
    if verified.region != settings.region:
        raise SignatureCheckError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{verified.region}'. "
            f"This endpoint serves '{settings.region}'.",
        )
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
