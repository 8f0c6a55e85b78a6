"""One readable line per result, for terminals and logs of the scriptable commands."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from verifier.core.reasons import Verdict, describe
from verifier.core.result import CheckResult

LABELS = {Verdict.VALID: "VALID", Verdict.WARNING: "CHECK", Verdict.INVALID: "INVALID"}
_WORDS = {
    "en": {**LABELS, "until": "valid until"},
    "pl": {
        Verdict.VALID: "WAŻNA",
        Verdict.WARNING: "SPRAWDŹ",
        Verdict.INVALID: "NIEWAŻNA",
        "until": "ważna do",
    },
}


def warsaw() -> tzinfo:
    """Europe/Warsaw, or UTC where the system has no time-zone database."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Warsaw")
    except Exception:  # zoneinfo raises several kinds when tzdata is absent
        return UTC


def last_valid_day(exp: int) -> str:
    """``exp`` is the end of the last valid day (Warsaw time): show that day."""
    return datetime.fromtimestamp(exp - 1, warsaw()).date().isoformat()


def result_line(result: CheckResult, lang: str = "en") -> str:
    words = _WORDS.get(lang, _WORDS["en"])
    parts = [words[result.verdict]]
    if result.reason is not None:
        parts.append(f"{result.reason}: {describe(result.reason, lang)}")
    if result.warnings:
        parts.append("; ".join(describe(w, lang) for w in result.warnings))
    if result.holder is not None:
        parts.append(f"{result.holder.given_names} {result.holder.family_name}")
    if result.credential is not None:
        parts.append(
            f"{result.credential.issuer_name}, {words['until']} "
            f"{last_valid_day(result.credential.exp)}"
        )
    return " | ".join(parts)
