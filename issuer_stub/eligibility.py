"""Who may order (and activate, and extend) an mLegitymacja: pure rules over a student record.

All must hold: active student status; a PESEL; an album number; a photo on file; an ELS (the
plastic student ID) whose validity has been extended for the current semester; personal data
unchanged since that ELS was issued. Each failed rule has its own code and sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from issuer_stub.errors import NotEligible
from issuer_stub.records import ACTIVE, StudentRecord


@dataclass(frozen=True)
class Failure:
    condition: str
    message: str


def failures(student: StudentRecord, now: int) -> list[Failure]:
    """Every rule ``student`` breaks at ``now``, in the order they are listed above."""
    out = []
    if student.status != ACTIVE:
        out.append(Failure("status_not_active",
                           f"the student status is '{student.status}', not 'active'"))
    if not student.pesel:
        out.append(Failure("pesel_missing", "no PESEL is on file for the student"))
    if not student.album:
        out.append(Failure("album_missing", "no album number is on file for the student"))
    if not student.photo:
        out.append(Failure("photo_missing", "no photo is on file for the student"))
    els_exp = student.els_exp
    if student.els_issued_at is None or els_exp is None:
        out.append(Failure("els_missing", "the student has no student ID card (ELS) record"))
    else:
        if els_exp <= now:
            out.append(Failure(
                "els_not_extended",
                f"the student ID card (ELS) was valid until {student.els_valid_until} and has "
                "not been extended for the current semester",
            ))
        if student.data_changed_at is not None and student.data_changed_at > student.els_issued_at:
            out.append(Failure(
                "data_changed",
                "personal data changed after the student ID card (ELS) was issued; "
                "a new ELS must be issued first",
            ))
    return out


def require_eligible(student: StudentRecord, now: int) -> None:
    """Raise NotEligible naming every failed rule; ``condition`` is the first one's code."""
    found = failures(student, now)
    if found:
        raise NotEligible("not eligible for an mLegitymacja: "
                          + "; ".join(f.message for f in found), found[0].condition,
                          tuple(f.condition for f in found))
