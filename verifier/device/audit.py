"""The audit log: one row per verdict, with nothing personal in it.

A row holds when (epoch seconds), the verdict, the reason and warnings, the issuer id and a
keyed hash of the credential id. No name, birth date, album number or photo, and not the
credential id itself: the hash uses a random per-device key (``audit.key``, 0600), so rows
from two devices cannot be joined on it and a leaked log does not name credentials, while
one device can still see that the same credential was shown twice.

SQLite in WAL mode with ``synchronous=NORMAL``: a power cut loses at most the last rows, never
the file.

Retention happens when a row is written, never when the log is opened or read (``verifier
audit`` opens it read-only): rows more than ``keep_days`` older than the row being written are
deleted, at most once an hour, and only when the caller says its clock can be trusted
(``prune=True``; the app passes whether the clock is synchronised). A clock set a year ahead by
a mistyped ``date -s`` then cannot empty the log, and rows dated after the row being written
(written while the clock was ahead) are never deleted by age.

A write that fails (a full disk: SQLite's "database or disk is full", an I/O error) raises
``AuditWriteError``; the row stays queued in memory (bounded) and is written with the next
row that gets through, so the log recovers by itself once space is freed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from verifier.core.errors import VerifierError
from verifier.core.reasons import Verdict
from verifier.core.result import CheckResult
from verifier.core.textout import warsaw
from verifier.device.atomicfile import write_atomic

DB_FILE = "audit.sqlite"
KEY_FILE = "audit.key"
KEEP_DAYS = 90
PRUNE_EVERY = 3600  # seconds of row time between two retention passes
MAX_PENDING = 5000  # rows held in memory while the disk refuses them (~1 MB)
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


class AuditWriteError(VerifierError, OSError):
    """A verdict could not be written to the audit log (checking goes on)."""

    title = "Audit log cannot be written"


def day_start(now: int) -> int:
    """Epoch seconds of the start of ``now``'s day in Warsaw ("today" for the counters)."""
    local = datetime.fromtimestamp(now, warsaw())
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


class AuditLog:
    def __init__(
        self, directory: Path, *, keep_days: int = KEEP_DAYS, readonly: bool = False
    ) -> None:
        self.keep_days = keep_days
        # The app writes from its UI thread only; the lock keeps other callers honest.
        self._lock = threading.Lock()
        self._pending: deque[tuple[object, ...]] = deque(maxlen=MAX_PENDING)
        self._pruned_at: int | None = None
        self.dropped = 0  # rows lost because the queue was full (a long full-disk spell)
        self.error: str | None = None  # why the last write failed; None once writes work
        path = directory / DB_FILE
        if readonly:  # `verifier audit`: reads, never creates, writes or prunes anything
            self._key = b""
            self._db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                isolation_level=None,
            )
            return
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._key = self._device_key(directory / KEY_FILE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # created private, not umask-wide
        os.close(fd)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

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

    def record(self, result: CheckResult, at: int, *, prune: bool = True) -> None:
        """Write one row (and any queued by earlier failures); AuditWriteError if it fails."""
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
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(row)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", self._pending
                )
                if prune:
                    self._prune(at)
                self._db.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                self.error = str(exc) or type(exc).__name__
                raise AuditWriteError(
                    f"audit log: {self.error} ({len(self._pending)} verdict(s) waiting)"
                ) from exc
            self._pending.clear()
            self.error = None

    @property
    def pending(self) -> int:
        """Verdicts waiting in memory for the disk to take them."""
        return len(self._pending)

    def _prune(self, at: int) -> None:
        """Delete rows more than ``keep_days`` older than ``at`` (at most once an hour)."""
        if self._pruned_at is not None and 0 <= at - self._pruned_at < PRUNE_EVERY:
            return
        cutoff = datetime.fromtimestamp(at, warsaw()) - timedelta(days=self.keep_days)
        self._db.execute("DELETE FROM verdicts WHERE at < ?", (int(cutoff.timestamp()),))
        self._pruned_at = at

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
