"""One exception root for the issuer stub; every error carries a stable code and an HTTP status.

The CLI prints ``message``; the HTTP API answers ``{"error": code, "message": message}`` with
``status``. Messages never contain a PESEL or a name: they may end up in logs.
"""

from __future__ import annotations


class IssuerError(Exception):
    """Root of every error the issuer stub raises on purpose."""

    title = "Issuer error"
    status = 400
    default_code = "issuer_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class SetupError(IssuerError):
    """The issuer directory is missing, already there, or damaged: the operator must fix it."""

    title = "Issuer directory"
    status = 500
    default_code = "setup"


class InvalidInput(IssuerError, ValueError):
    """Input that breaks a rule (PESEL check digit, date format, photo type or size, ...)."""

    title = "Invalid input"
    status = 400
    default_code = "invalid_input"


class RequestTimeout(IssuerError):
    """A request body that did not arrive in time (a stalled or deliberately slow client)."""

    title = "Request timeout"
    status = 408
    default_code = "body_timeout"


class TooLarge(IssuerError):
    """A request body over the API's limit, refused from its declared length when it has one."""

    title = "Too large"
    status = 413
    default_code = "too_large"


class Unauthorized(IssuerError):
    title = "Unauthorized"
    status = 401
    default_code = "unauthorized"


class Forbidden(IssuerError):
    """A proof (device signature) that does not verify or is out of its time window."""

    title = "Forbidden"
    status = 403
    default_code = "forbidden"


class NotFound(IssuerError, LookupError):
    title = "Not found"
    status = 404
    default_code = "not_found"


class Conflict(IssuerError):
    """The request is well-formed but the records' state does not allow it."""

    title = "Conflict"
    status = 409
    default_code = "conflict"


class NotEligible(Conflict):
    """A student who may not hold an mLegitymacja now; ``condition`` names the first failed
    rule, ``conditions`` every one."""

    title = "Not eligible"
    default_code = "not_eligible"

    def __init__(self, message: str, condition: str,
                 conditions: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.condition = condition
        self.conditions = conditions or (condition,)


class Gone(IssuerError):
    """An activation code that was valid once: expired or already used."""

    title = "Gone"
    status = 410
    default_code = "gone"


class TooManyAttempts(IssuerError):
    """Too many failed guesses from one client: wait ``retry_after`` seconds."""

    title = "Too many attempts"
    status = 429
    default_code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
