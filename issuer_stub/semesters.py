"""ELS validity dates: a student ID is extended per semester, to the end of March or October."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from verifier.textout import warsaw


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
