"""ELS validity dates: a student ID is extended per semester, to the end of March or October."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from verifier.core.textout import warsaw


def end_of_day(day: date) -> int:
    """``exp`` for a last valid day: the first second after it ends, Europe/Warsaw time."""
    nxt = day + timedelta(days=1)
    return int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=warsaw()).timestamp())


def next_semester_end(now: int) -> int:
    """``exp`` of the nearest 31 March or 31 October that has not ended yet."""
    today = datetime.fromtimestamp(now, warsaw()).date()
    for year in (today.year, today.year + 1):
        for month in (3, 10):
            candidate = date(year, month, 31)
            if end_of_day(candidate) > now:
                return end_of_day(candidate)
    raise AssertionError("unreachable")


def following_semester_end(valid_until: date | None, now: int) -> date:
    """The date an ELS is extended to: the first 31 March or 31 October after both its
    current validity date and today (an ELS runs to the end of the next semester)."""
    today = datetime.fromtimestamp(now, warsaw()).date()
    start = today if valid_until is None else max(valid_until, today)
    for year in (start.year, start.year + 1):
        for month in (3, 10):
            if date(year, month, 31) > start:
                return date(year, month, 31)
    raise AssertionError("unreachable")
