"""One exception hierarchy for everything beneath the verdict.

The core never lets these escape ``verify()``: each is mapped to the reason code it carries.
Leaves also inherit the matching built-in (as cbor2 does) so generic handlers still work.
"""

from __future__ import annotations

from verifier.core.reasons import Reason


class VerifierError(Exception):
    """Root of every error this package raises on purpose."""

    title = "Verifier error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FormatError(VerifierError, ValueError):
    """Untrusted bytes that do not follow ML1; ``reason`` is the spec code to report."""

    title = "Invalid code"

    def __init__(self, message: str, reason: Reason = Reason.MALFORMED) -> None:
        super().__init__(message)
        self.reason = reason


class SignatureError(VerifierError):
    """A signature did not verify (the caller decides which reason code that is)."""

    title = "Signature does not verify"


class ListError(VerifierError, ValueError):
    """A trust list or revocation list that must not be used (bad signature, kid, shape)."""

    title = "List rejected"


class StaleListError(ListError):
    """A list that verifies but is not newer than the one held (spec section 5)."""

    title = "List not newer"


class ConfigError(VerifierError):
    """Configuration or files a user must fix before the verifier can run."""

    title = "Configuration error"
