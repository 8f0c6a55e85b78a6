"""The audit log: one row per verdict, with nothing personal in it.

A row holds when (epoch seconds), the verdict, the reason and warnings, the issuer id and a
keyed hash of the credential id. No name, birth date, album number or photo, and not the
credential id itself: the hash uses a random per-device key (``audit.key``, 0600), so rows
from two devices cannot be joined on it and a leaked log does not name credentials, while
one device can still see that the same credential was shown twice.

SQLite in WAL mode with ``synchronous=NORMAL``: a power cut loses at most the last rows, never
the file. Rows older than ``keep_days`` are deleted when the log is opened.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from verifier.core.reasons import Verdict
from verifier.core.result import CheckResult
from verifier.core.textout import warsaw
from verifier.device.atomicfile import write_atomic

DB_FILE = "audit.sqlite"
KEY_FILE = "audit.key"
KEEP_DAYS = 90
_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    at INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT,
    warnings TEXT NOT NULL,
    iss TEXT,
    credential TEXT
);
CREATE INDEX IF NOT EXISTS verdicts_at ON verdicts (at);
"""


@dataclass(frozen=True)
class AuditRow:
    at: int
    verdict: str
    reason: str | None
    warnings: tuple[str, ...]
    iss: str | None
    credential: str | None  # keyed hash of the cti, hex; None when no credential was read


def day_start(now: int) -> int:
    """Epoch seconds of the start of ``now``'s day in Warsaw ("today" for the counters)."""
    local = datetime.fromtimestamp(now, warsaw())
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


class AuditLog:
    def __init__(self, directory: Path, now: int, keep_days: int = KEEP_DAYS) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._key = self._device_key(directory / KEY_FILE)
        path = directory / DB_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # created private, not umask-wide
        os.close(fd)
        # The app writes from its UI thread only; the lock keeps other callers honest.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        cutoff = datetime.fromtimestamp(now, warsaw()) - timedelta(days=keep_days)
        self._db.execute("DELETE FROM verdicts WHERE at < ?", (int(cutoff.timestamp()),))

    @staticmethod
    def _device_key(path: Path) -> bytes:
        try:
            key = path.read_bytes()
            if len(key) == 32:
                return key
        except FileNotFoundError:
            pass
        key = secrets.token_bytes(32)
        write_atomic(path, key, mode=0o600)
        return key

    def credential_hash(self, cti: bytes) -> str:
        return hmac.new(self._key, cti, hashlib.sha256).hexdigest()[:32]

    def record(self, result: CheckResult, at: int) -> None:
        credential = result.credential
        row = (
            at,
            result.verdict.value,
            None if result.reason is None else result.reason.value,
            ",".join(w.value for w in result.warnings),
            None if credential is None else credential.iss,
            None if credential is None else self.credential_hash(credential.cti),
        )
        with self._lock:
            self._db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", row)

    def rows(self, since: int = 0) -> Iterator[AuditRow]:
        with self._lock:
            found = self._db.execute(
                "SELECT at, verdict, reason, warnings, iss, credential FROM verdicts "
                "WHERE at >= ? ORDER BY at, rowid",
                (since,),
            ).fetchall()
        for at, verdict, reason, warnings, iss, credential in found:
            yield AuditRow(
                at, verdict, reason, tuple(filter(None, warnings.split(","))), iss, credential
            )

    def counts_since(self, since: int) -> dict[Verdict, int]:
        counted = Counter(Verdict(row.verdict) for row in self.rows(since))
        return {verdict: counted.get(verdict, 0) for verdict in Verdict}

    def close(self) -> None:
        with self._lock:
            self._db.close()
