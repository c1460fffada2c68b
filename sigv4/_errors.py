"""Errors raised by the signer and the verifiers.

Exception tree::

    ValueError
     └── SigningError                bad input to the signer (names the field)
          └── VerificationError      a received request's signature does not check out
               └── SignatureCheckError   ... with the AWS error code and HTTP status a
                                         service would answer with

Every error names the field or step at fault and never carries a secret.
"""

from __future__ import annotations

__all__ = ["SignatureCheckError", "SigningError", "VerificationError"]


class SigningError(ValueError):
    """Bad input to the signer; ``field`` names the offending input."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class VerificationError(SigningError):
    """A received request does not carry a valid signature."""


class SignatureCheckError(VerificationError):
    """A signature check failed (``verify_request``, ``EventChainVerifier``). ``code`` and
    ``status`` are what AWS would answer with (for example ``InvalidSignatureException``,
    403); ``message`` is the text of the answer."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        self.code = code
        self.status = status
        self.message = message
        super().__init__("signature", f"{code}: {message}")
