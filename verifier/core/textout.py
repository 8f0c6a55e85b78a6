"""One readable line per result, for terminals and logs of the scriptable commands."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, tzinfo

from verifier.core.credential import UNSAFE_CATEGORIES
from verifier.core.reasons import Verdict, describe
from verifier.core.result import CheckResult

LABELS = {Verdict.VALID: "VALID", Verdict.WARNING: "CHECK", Verdict.INVALID: "INVALID"}
_WORDS = {
    "en": {**LABELS, "until": "valid until", "until_invalid": "expiry date"},
    "pl": {
        Verdict.VALID: "WAŻNA",
        Verdict.WARNING: "SPRAWDŹ",
        Verdict.INVALID: "NIEWAŻNA",
        "until": "ważna do",
        # Not "ważna do" under NIEWAŻNA (a revoked card): the date, named neutrally.
        "until_invalid": "termin ważności",
    },
}


def warsaw() -> tzinfo:
    """Europe/Warsaw, or UTC where the system has no time-zone database."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Warsaw")
    except Exception:  # zoneinfo raises several kinds when tzdata is absent
        return UTC


# The Gregorian calendar repeats every 400 years (146097 days, a whole number of weeks), and
# so do the zone's future rules ("last Sunday of March"): a time past what ``datetime`` holds is
# shifted into 2400-2799 by whole cycles, converted there, and the cycles added back to the year.
_CYCLE = 146097 * 86400
_SHIFT_BASE = 13569465600  # 2400-01-01T00:00:00Z
_DIRECT = range(-62135596800 + 2 * 86400, 253402300800 - 2 * 86400)  # years 1..9999, 2 days' margin


def local_day(epoch: int, tz: tzinfo | None = None) -> tuple[int, int, int]:
    """(year, month, day) of an epoch second in ``tz`` (Warsaw), for every integer.

    Total: a credential may carry any uint (to 2**64-1, far past year 9999, where ``datetime``
    raises), and one mis-issued code must not take down a screen or a batch.
    """
    tz = warsaw() if tz is None else tz
    epoch = int(epoch)
    cycles = 0
    if epoch not in _DIRECT:
        cycles = (epoch - _SHIFT_BASE) // _CYCLE
        epoch -= cycles * _CYCLE
    day: date = datetime.fromtimestamp(epoch, tz).date()
    return day.year + 400 * cycles, day.month, day.day


def day_text(epoch: int, tz: tzinfo | None = None) -> str:
    """``2027-03-31``; years past 9999 in full (``584554051223-11-09``), before year 1 negative."""
    year, month, day = local_day(epoch, tz)
    return f"{year:04d}-{month:02d}-{day:02d}" if year >= 0 else f"{year:05d}-{month:02d}-{day:02d}"


def last_valid_day(exp: int) -> str:
    """``exp`` is the end of the last valid day (Warsaw time): show that day."""
    return day_text(exp - 1)


# Printed escaped on a terminal: what a screen could misshow, and lone surrogates.
_ESCAPED = UNSAFE_CATEGORIES | {"Cs"}


def one_line(text: str) -> str:
    """Text for a one-line record: controls, format and separator characters become U+FFFD.

    The holder's fields are refused with them by the core; the issuer's name comes from the
    anchor-signed trust list, which has no such rule, and must not break a record in two.
    """
    return "".join("\ufffd" if unicodedata.category(c) in UNSAFE_CATEGORIES else c
                   for c in text)


def escaped(text: str) -> str:
    """Outside text (a decoded QR text, a file name) safe to print on a terminal: controls,
    format and separator characters (an escape sequence, a bidi override, a line break)
    shown as ``\\x1b``/``\\u202e`` instead of acting on the terminal or breaking the line."""
    out = []
    for c in text:
        if unicodedata.category(c) in _ESCAPED:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def result_line(result: CheckResult, lang: str = "en") -> str:
    words = _WORDS.get(lang, _WORDS["en"])
    until = "until_invalid" if result.verdict is Verdict.INVALID else "until"
    parts = [words[result.verdict]]
    if result.reason is not None:
        parts.append(f"{result.reason}: {describe(result.reason, lang)}")
    if result.warnings:
        parts.append("; ".join(describe(w, lang) for w in result.warnings))
    if result.holder is not None:
        parts.append(f"{result.holder.given_names} {result.holder.family_name}")
    if result.credential is not None:
        parts.append(
            f"{one_line(result.credential.issuer_name)}, {words[until]} "
            f"{last_valid_day(result.credential.exp)}"
        )
    return " | ".join(parts)
