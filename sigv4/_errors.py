"""Errors raised by the signer.

Exception tree::

    ValueError
     └── SigningError            bad input to the signer (names the field)
          └── VerificationError  a received request's signature does not check out

Every error names the field or step at fault and never carries a secret.
"""

from __future__ import annotations

__all__ = ["SigningError", "VerificationError"]


class SigningError(ValueError):
    """Bad input to the signer; ``field`` names the offending input."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class VerificationError(SigningError):
    """A received request does not carry a valid signature."""
