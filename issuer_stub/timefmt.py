"""The issuer stub's one way of writing dates and times (issue 15).

A last valid day is an ISO date, ``2027-03-31``, valid through its end ("(inclusive)", said once
where it is printed); a moment is Warsaw time with its zone, ``2027-04-01 00:00 CEST``.
"""

from __future__ import annotations

from datetime import datetime

from verifier.core.textout import last_valid_day, warsaw

__all__ = ["last_valid_day", "moment"]


def moment(epoch: int | None) -> str:
    """``2027-04-01 00:00 CEST`` (``-`` for None)."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, warsaw()).strftime("%Y-%m-%d %H:%M %Z")
