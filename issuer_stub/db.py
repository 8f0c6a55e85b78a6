"""The issuer's SQLite database (stdlib ``sqlite3``): a thin layer, no rules.

The schema version is ``PRAGMA user_version``; ``MIGRATIONS[i]`` takes a database from version
``i`` to ``i + 1``, each step in one transaction. Opening a database migrates it; a database
newer than this program is refused rather than guessed at.

The file holds personal data (PESEL, names, photos) by necessity: it is created 0600, and so
are its journal files (SQLite gives them the database file's mode).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from issuer_stub.errors import SetupError
from issuer_stub.records import CredentialRecord, IssuerKey, Order, StudentRecord

MIGRATIONS: tuple[str, ...] = (
    # 1: what state.json held: counters, university keys, issued and revoked credentials.
    """
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE issuer_keys (
        kid BLOB PRIMARY KEY, iss TEXT NOT NULL, name TEXT NOT NULL,
        key_file TEXT NOT NULL UNIQUE, nbf INTEGER NOT NULL, exp INTEGER NOT NULL,
        created_at INTEGER NOT NULL);
    CREATE TABLE credentials (
        cti BLOB PRIMARY KEY, kid BLOB NOT NULL REFERENCES issuer_keys(kid),
        iat INTEGER NOT NULL, exp INTEGER NOT NULL);
    CREATE TABLE revocations (
        cti BLOB PRIMARY KEY REFERENCES credentials(cti), exp INTEGER NOT NULL,
        revoked_at INTEGER NOT NULL);
    """,
    # 2: students, orders and the phone each credential is bound to.
    """
    CREATE TABLE students (
        id INTEGER PRIMARY KEY, iss TEXT NOT NULL,
        given_names TEXT NOT NULL, family_name TEXT NOT NULL, birth_date TEXT NOT NULL,
        pesel TEXT, album TEXT, status TEXT NOT NULL, photo BLOB,
        els_issued_at INTEGER, els_valid_until TEXT, data_changed_at INTEGER,
        created_at INTEGER NOT NULL);
    CREATE UNIQUE INDEX students_pesel ON students(pesel) WHERE pesel IS NOT NULL;
    CREATE UNIQUE INDEX students_album ON students(iss, album) WHERE album IS NOT NULL;
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY, student_id INTEGER NOT NULL REFERENCES students(id),
        code_hash BLOB NOT NULL UNIQUE, qr_hash BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        used_at INTEGER, cancelled_at INTEGER, cti BLOB);
    CREATE INDEX orders_student ON orders(student_id);
    ALTER TABLE credentials ADD COLUMN student_id INTEGER REFERENCES students(id);
    ALTER TABLE credentials ADD COLUMN device_key BLOB;
    CREATE INDEX credentials_student ON credentials(student_id);
    """,
    # 3: why a credential was revoked (self, replaced by another phone, end of studies, ...).
    """
    ALTER TABLE revocations ADD COLUMN reason TEXT NOT NULL DEFAULT 'issuer';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing steps up to ``target``; returns the version reached."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise SetupError(
            f"the database is at schema version {version}, newer than this program "
            f"({SCHEMA_VERSION}): upgrade issuer-stub"
        )
    while version < target:
        conn.execute("BEGIN IMMEDIATE")
        version = schema_version(conn)  # another process may have migrated meanwhile
        if version >= target:
            conn.execute("COMMIT")
            break
        script = MIGRATIONS[version]
        try:
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
            version += 1
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version


def connect(path: Path, target: int = SCHEMA_VERSION) -> sqlite3.Connection:
    """Open (creating 0600 if needed) and migrate; autocommit mode, transactions explicit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        migrate(conn, target)
    except BaseException:
        conn.close()
        raise
    return conn


_STUDENT_COLUMNS = (
    "id, iss, given_names, family_name, birth_date, pesel, album, status, photo, "
    "els_issued_at, els_valid_until, data_changed_at, created_at"
)
_CREDENTIAL_SELECT = (
    "SELECT c.cti, c.kid, c.student_id, c.device_key, c.iat, c.exp, r.revoked_at, r.reason "
    "FROM credentials c LEFT JOIN revocations r ON r.cti = c.cti"
)
STUDENT_FIELDS = frozenset(_STUDENT_COLUMNS.replace(" ", "").split(",")) - {"id", "created_at"}


class Store:
    """CRUD over one connection. Callers wrap writes in ``transaction()``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @classmethod
    def open(cls, path: Path) -> Store:
        return cls(connect(path))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (writers queue up), COMMIT on success, ROLLBACK on error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def commit(self) -> None:
        """End the current transaction early (before files that depend on it are written)."""
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def _one(self, sql: str, args: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, tuple(args)).fetchone()
        return row

    # Counters --------------------------------------------------------------------------------
    def counter(self, name: str) -> int | None:
        row = self._one("SELECT value FROM counters WHERE name = ?", (name,))
        return None if row is None else int(row[0])

    def set_counter(self, name: str, value: int) -> None:
        self.conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    # Issuer keys -----------------------------------------------------------------------------
    def add_key(self, key: IssuerKey) -> None:
        self.conn.execute(
            "INSERT INTO issuer_keys(kid, iss, name, key_file, nbf, exp, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key.kid, key.iss, key.name, key.key_file, key.nbf, key.exp, key.created_at),
        )

    def issuer_keys(self) -> list[IssuerKey]:
        rows = self.conn.execute(
            "SELECT kid, iss, name, key_file, nbf, exp, created_at FROM issuer_keys "
            "ORDER BY created_at, rowid"
        )
        return [IssuerKey(*row) for row in rows]

    def set_key_exp(self, kid: bytes, exp: int) -> None:
        self.conn.execute("UPDATE issuer_keys SET exp = ? WHERE kid = ?", (exp, kid))

    def signed_by(self, kid: bytes) -> tuple[int | None, int | None]:
        """Latest ``iat`` and latest ``exp`` among the credentials this key signed."""
        row = self._one("SELECT max(iat), max(exp) FROM credentials WHERE kid = ?", (kid,))
        assert row is not None
        return row[0], row[1]

    # Credentials and revocations -------------------------------------------------------------
    def add_credential(
        self,
        cti: bytes,
        kid: bytes,
        iat: int,
        exp: int,
        student_id: int | None = None,
        device_key: bytes | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO credentials(cti, kid, iat, exp, student_id, device_key) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (cti, kid, iat, exp, student_id, device_key),
        )

    def credential(self, cti: bytes) -> CredentialRecord | None:
        row = self._one(_CREDENTIAL_SELECT + " WHERE c.cti = ?", (cti,))
        return None if row is None else CredentialRecord(*row)

    def credentials_of(self, student_id: int) -> list[CredentialRecord]:
        rows = self.conn.execute(
            _CREDENTIAL_SELECT + " WHERE c.student_id = ? ORDER BY c.iat, c.rowid", (student_id,)
        )
        return [CredentialRecord(*row) for row in rows]

    def revoke(self, cti: bytes, exp: int, now: int, reason: str) -> bool:
        """Record a revocation; False if the credential was revoked already."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO revocations(cti, exp, revoked_at, reason) VALUES (?, ?, ?, ?)",
            (cti, exp, now, reason),
        )
        return cur.rowcount == 1

    def revoked_ids(self, now: int) -> list[bytes]:
        """What the revocation list names: revoked and not yet expired (ML1 section 5)."""
        rows = self.conn.execute("SELECT cti FROM revocations WHERE exp > ? ORDER BY cti", (now,))
        return [row[0] for row in rows]

    # Students --------------------------------------------------------------------------------
    def add_student(self, fields: dict[str, Any], now: int) -> int:
        unknown = set(fields) - STUDENT_FIELDS
        if unknown:
            raise ValueError(f"unknown student fields: {sorted(unknown)}")
        names = sorted(fields)
        cur = self.conn.execute(
            f"INSERT INTO students({', '.join(names)}, created_at) "
            f"VALUES ({', '.join('?' for _ in names)}, ?)",
            (*(fields[n] for n in names), now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def update_student(self, student_id: int, fields: dict[str, Any]) -> None:
        if not fields:
            return
        unknown = set(fields) - STUDENT_FIELDS
        if unknown:
            raise ValueError(f"unknown student fields: {sorted(unknown)}")
        names = sorted(fields)
        self.conn.execute(
            f"UPDATE students SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
            (*(fields[n] for n in names), student_id),
        )

    def student(self, student_id: int) -> StudentRecord | None:
        row = self._one(f"SELECT {_STUDENT_COLUMNS} FROM students WHERE id = ?", (student_id,))
        return None if row is None else StudentRecord(*row)

    def students(self) -> list[StudentRecord]:
        rows = self.conn.execute(f"SELECT {_STUDENT_COLUMNS} FROM students ORDER BY id")
        return [StudentRecord(*row) for row in rows]

    def find_student(self, *, pesel: str | None = None, album: str | None = None,
                     iss: str | None = None) -> int | None:
        if pesel is not None:
            row = self._one("SELECT id FROM students WHERE pesel = ?", (pesel,))
        else:
            row = self._one("SELECT id FROM students WHERE album = ? AND iss = ?", (album, iss))
        return None if row is None else int(row[0])

    # Orders ----------------------------------------------------------------------------------
    def add_order(
        self, student_id: int, code_hash: bytes, qr_hash: bytes, now: int, expires_at: int
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO orders(student_id, code_hash, qr_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (student_id, code_hash, qr_hash, now, expires_at),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def order_by_hash(self, digest: bytes) -> Order | None:
        row = self._one(
            "SELECT id, student_id, created_at, expires_at, used_at, cancelled_at, cti "
            "FROM orders WHERE code_hash = ? OR qr_hash = ?",
            (digest, digest),
        )
        return None if row is None else Order(*row)

    def use_order(self, order_id: int, now: int, cti: bytes) -> None:
        self.conn.execute(
            "UPDATE orders SET used_at = ?, cti = ? WHERE id = ?", (now, cti, order_id)
        )

    def cancel_open_orders(self, student_id: int, now: int) -> int:
        cur = self.conn.execute(
            "UPDATE orders SET cancelled_at = ? "
            "WHERE student_id = ? AND used_at IS NULL AND cancelled_at IS NULL",
            (now, student_id),
        )
        return cur.rowcount
