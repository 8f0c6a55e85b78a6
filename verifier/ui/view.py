"""What the screen shows for a result: pure functions, no Textual, testable on their own.

Minimum personal data: the album number is masked, the birth date becomes an age badge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from verifier.core.reasons import Verdict, describe
from verifier.core.result import CheckResult
from verifier.core.textout import last_valid_day, local_day

TITLES = {
    "pl": {Verdict.VALID: "WAŻNA", Verdict.WARNING: "SPRAWDŹ", Verdict.INVALID: "NIEWAŻNA"},
    "en": {Verdict.VALID: "VALID", Verdict.WARNING: "CHECK", Verdict.INVALID: "INVALID"},
}
LABELS = {
    "pl": {
        "ready": "Gotowy — pokaż kod QR",
        "until": "ważna do",
        "under26": "poniżej 26 lat",
        "over26": "26 lat lub więcej",
        "age": "wiek",
        "ago": "temu",
        "album": "nr albumu",
        "cannot": "Nie można weryfikować",
        "cam": "kamera",
        "tl": "LZ",
        "rl": "LU",
        "sync": "synchr.",
        "clock_ok": "zegar ok",
        "clock_behind": "zegar COFNIĘTY",
        "press_s": "Naciśnij s, aby zsynchronizować listy.",
        "audit_failed": "DZIENNIK: nie można zapisać",
    },
    "en": {
        "ready": "Ready — show the QR code",
        "until": "valid until",
        "under26": "under 26",
        "over26": "26 or over",
        "age": "age",
        "ago": "ago",
        "album": "album no.",
        "cannot": "Cannot verify",
        "cam": "cam",
        "tl": "TL",
        "rl": "RL",
        "sync": "sync",
        "clock_ok": "clock ok",
        "clock_behind": "clock BEHIND",
        "press_s": "Press s to sync the lists.",
        "audit_failed": "LOG: cannot write",
    },
}


def label(key: str, lang: str) -> str:
    return LABELS.get(lang, LABELS["en"])[key]


def day_of(epoch: int) -> date:
    """The Warsaw day of an epoch second, for any integer (clamped to what ``date`` holds)."""
    year, month, day = local_day(epoch)
    if year > date.max.year:
        return date.max
    return date.min if year < date.min.year else date(year, month, day)


def age_on(birth: str, today: date) -> int:
    born = date.fromisoformat(birth)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def mask_album(album: str) -> str:
    """Never the album number in full: the last three characters at most."""
    visible = album[-3:] if len(album) > 4 else ""
    return "•" * max(len(album) - len(visible), 3) + visible


@dataclass(frozen=True)
class VerdictView:
    verdict: Verdict
    title: str
    sentence: str
    name: str | None
    university: str | None
    valid_until: str | None
    age_badge: str | None
    album: str | None
    photo: bytes | None


def verdict_view(result: CheckResult, now: int, lang: str) -> VerdictView:
    title = TITLES.get(lang, TITLES["en"])[result.verdict]
    if result.reason is not None:
        sentence = describe(result.reason, lang)
    elif result.warnings:
        sentence = "; ".join(describe(w, lang) for w in result.warnings)
    else:
        sentence = ""
    holder, cred = result.holder, result.credential
    if holder is None:
        return VerdictView(result.verdict, title, sentence, None, None, None, None, None, None)
    today = day_of(now)
    age = age_on(holder.birth_date, today)
    badge = f"{label('under26' if age < 26 else 'over26', lang)} ({label('age', lang)} {age})"
    return VerdictView(
        verdict=result.verdict,
        title=title,
        sentence=sentence,
        name=f"{holder.given_names} {holder.family_name}",
        university=holder.university,
        valid_until=None if cred is None else last_valid_day(cred.exp),
        age_badge=badge,
        album=mask_album(holder.album),
        photo=holder.photo,
    )


def age_text(seconds: float | None, lang: str = "en") -> str:
    """'3 min', '2 h', '4 d' for data ages; '—' when unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
