"""What the issuer's database holds, as frozen values. The store maps rows to these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from issuer_stub.semesters import end_of_day

ACTIVE = "active"
STATUSES = ("active", "suspended", "graduated", "removed")


@dataclass(frozen=True)
class StudentRecord:
    """A student as the university's records hold them (the ELS is the plastic student ID)."""

    id: int
    iss: str
    given_names: str
    family_name: str
    birth_date: str  # YYYY-MM-DD
    pesel: str | None
    album: str | None
    status: str
    photo: bytes | None
    els_issued_at: int | None  # when the current ELS was issued (epoch seconds)
    els_valid_until: str | None  # last valid day of the ELS, YYYY-MM-DD (31 March or 31 October)
    data_changed_at: int | None  # last change of personal data; None: none since the record began
    created_at: int

    def __repr__(self) -> str:  # never leak personal data into logs or tracebacks
        return f"StudentRecord(id={self.id}, status={self.status!r}, <personal data redacted>)"

    @property
    def els_exp(self) -> int | None:
        """End of the ELS's validity (epoch seconds), the ``exp`` its credentials get."""
        if self.els_valid_until is None:
            return None
        return end_of_day(date.fromisoformat(self.els_valid_until))


@dataclass(frozen=True)
class Order:
    id: int
    student_id: int
    created_at: int
    expires_at: int
    used_at: int | None
    cancelled_at: int | None
    cti: bytes | None  # the credential the activation produced


@dataclass(frozen=True)
class IssuerKey:
    """One university signing key; the trust list names it while ``listed`` says so."""

    kid: bytes
    iss: str
    name: str
    key_file: str  # relative to the issuer directory
    nbf: int
    exp: int
    created_at: int


@dataclass(frozen=True)
class CredentialRecord:
    cti: bytes
    kid: bytes
    student_id: int | None  # None for credentials made by the ``issue`` shortcut
    device_key: bytes | None  # SubjectPublicKeyInfo DER of the phone's key
    iat: int
    exp: int
    revoked_at: int | None
    revocation_reason: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def live(self, now: int) -> bool:
        return not self.revoked and self.exp > now
