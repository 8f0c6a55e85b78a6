"""``verifier audit``: what the app decided, counted per day, verdict and reason."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TextIO

from verifier.core.textout import warsaw
from verifier.device.audit import DB_FILE, AuditLog, day_start
from verifier.device.clock import SystemClock
from verifier.device.config import Config

DAY = 86400


def run_audit(config: Config, days: int, rows: bool, out: TextIO, now: int | None = None) -> int:
    directory = config.cache_dir / "audit"
    if not (directory / DB_FILE).exists():
        out.write(f"no audit log in {directory} (the app has recorded no verdict yet)\n")
        return 0
    now = SystemClock().now() if now is None else now
    # Going back whole days from today's start; a DST change moves the edge by an hour at most.
    since = day_start(day_start(now) - (days - 1) * DAY + 3 * 3600)
    log = AuditLog(directory, readonly=True)  # reading never prunes (or writes) a row
    try:
        found = list(log.rows(since))
    finally:
        log.close()
    if rows:
        for row in found:
            when = datetime.fromtimestamp(row.at, warsaw()).strftime("%Y-%m-%d %H:%M:%S")
            detail = row.reason or ",".join(row.warnings) or "-"
            out.write(
                f"{when}  {row.verdict:<7}  {detail:<24}  {row.iss or '-':<10}  "
                f"{row.credential or '-'}\n"
            )
    per_day: Counter[tuple[str, str, str]] = Counter()
    for row in found:
        day = datetime.fromtimestamp(row.at, warsaw()).date().isoformat()
        per_day[(day, row.verdict, row.reason or ",".join(row.warnings) or "")] += 1
    for (day, verdict, why), n in sorted(per_day.items()):
        out.write(f"{day}  {verdict:<7}  {why or '-':<24}  {n}\n")
    out.write(f"{len(found)} verdicts in {days} day(s)\n")
    return 0
