"""``verifier audit``: what the app decided, counted per day, verdict and reason."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import datetime
from typing import Any, TextIO

from verifier.core.textout import warsaw
from verifier.device.audit import DB_FILE, AuditLog, day_start
from verifier.device.clock import SystemClock
from verifier.device.config import Config

DAY = 86400


def run_audit(config: Config, days: int, rows: bool, out: TextIO, now: int | None = None,
              fmt: str = "text") -> int:
    """Counts per day, verdict and reason (``rows``: every verdict) as text, ``json`` or
    ``csv`` (for a spreadsheet: the day's counts of a trial)."""
    directory = config.cache_dir / "audit"
    if not (directory / DB_FILE).exists():
        if fmt == "text":
            out.write(f"no audit log in {directory} (the app has recorded no verdict yet)\n")
        else:
            _write_formatted([], [], days, rows, out, fmt)
        return 0
    now = SystemClock().now() if now is None else now
    # Going back whole days from today's start; a DST change moves the edge by an hour at most.
    since = day_start(day_start(now) - (days - 1) * DAY + 3 * 3600)
    log = AuditLog(directory, readonly=True)  # reading never prunes (or writes) a row
    try:
        found = list(log.rows(since))
    finally:
        log.close()
    if fmt != "text":
        _write_formatted(found, _counts(found), days, rows, out, fmt)
        return 0
    if rows:
        for row in found:
            when = datetime.fromtimestamp(row.at, warsaw()).strftime("%Y-%m-%d %H:%M:%S")
            detail = row.reason or ",".join(row.warnings) or "-"
            out.write(
                f"{when}  {row.verdict:<7}  {detail:<24}  {row.iss or '-':<10}  "
                f"{row.credential or '-'}\n"
            )
    for day, verdict, why, n in _counts(found):
        out.write(f"{day}  {verdict:<7}  {why or '-':<24}  {n}\n")
    out.write(f"{len(found)} verdicts in {days} day(s)\n")
    return 0


def _counts(found: list[Any]) -> list[tuple[str, str, str, int]]:
    """(day, verdict, reason or warnings, count), sorted."""
    per_day: Counter[tuple[str, str, str]] = Counter()
    for row in found:
        day = datetime.fromtimestamp(row.at, warsaw()).date().isoformat()
        per_day[(day, str(row.verdict), row.reason or ",".join(row.warnings) or "")] += 1
    return [(day, verdict, why, n) for (day, verdict, why), n in sorted(per_day.items())]


def _row(row: Any) -> dict[str, Any]:
    return {
        "time": datetime.fromtimestamp(row.at, warsaw()).isoformat(),
        "verdict": str(row.verdict),
        "reason": row.reason or "",
        "warnings": ",".join(row.warnings),
        "iss": row.iss or "",
        "credential": row.credential or "",
    }


def _write_formatted(found: list[Any], counts: list[tuple[str, str, str, int]], days: int,
                     rows: bool, out: TextIO, fmt: str) -> None:
    if fmt == "json":
        doc: dict[str, Any] = {
            "days": days,
            "total": len(found),
            "counts": [{"day": d, "verdict": v, "reason": w, "count": n}
                       for d, v, w, n in counts],
        }
        if rows:
            doc["rows"] = [_row(r) for r in found]
        out.write(json.dumps(doc, ensure_ascii=True) + "\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    if rows:
        writer.writerow(["time", "verdict", "reason", "warnings", "iss", "credential"])
        writer.writerows(_row(r).values() for r in found)
    else:
        writer.writerow(["day", "verdict", "reason", "count"])
        writer.writerows(counts)
