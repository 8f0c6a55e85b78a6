"""The value a check produces: immutable, rendered by the CLI and the UI, never computed there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verifier.core.reasons import Reason, Verdict, WarningCode


@dataclass(frozen=True)
class Holder:
    given_names: str
    family_name: str
    birth_date: str
    university: str
    album: str
    photo: bytes | None = field(default=None)

    def __repr__(self) -> str:  # keep personal data out of logs and tracebacks
        return "Holder(<redacted>)"

    def to_json(self) -> dict[str, Any]:
        return {
            "given_names": self.given_names,
            "family_name": self.family_name,
            "birth_date": self.birth_date,
            "university": self.university,
            "album": self.album,
            "has_photo": self.photo is not None,
        }


@dataclass(frozen=True)
class CredentialInfo:
    iss: str
    issuer_name: str
    kid: bytes
    cti: bytes
    iat: int
    nbf: int
    exp: int
    presented_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "iss": self.iss,
            "issuer_name": self.issuer_name,
            "kid": self.kid.hex(),
            "cti": self.cti.hex(),
            "iat": self.iat,
            "nbf": self.nbf,
            "exp": self.exp,
            "presented_at": self.presented_at,
        }


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    reason: Reason | None = None
    warnings: tuple[WarningCode, ...] = ()
    holder: Holder | None = None
    credential: CredentialInfo | None = None
    # Each check that ran, in order, with whether it passed (field testers' details view).
    checks: tuple[tuple[Reason, bool], ...] = ()
    # Why parsing failed, in words, for field testers; never contains personal data.
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is not Verdict.INVALID

    def to_json(self) -> dict[str, Any]:
        """The object of ML1 section 7."""
        return {
            "verdict": str(self.verdict),
            "reason": None if self.reason is None else str(self.reason),
            "warnings": [str(w) for w in self.warnings],
            "holder": None if self.holder is None else self.holder.to_json(),
            "credential": None if self.credential is None else self.credential.to_json(),
        }


def invalid(reason: Reason, detail: str | None = None, **kwargs: Any) -> CheckResult:
    return CheckResult(verdict=Verdict.INVALID, reason=reason, detail=detail, **kwargs)


NO_CODE_FOUND = invalid(Reason.NO_CODE_FOUND, "no QR code could be read in the image")
