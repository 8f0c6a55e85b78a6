"""The issuer directory: keys as files, everything else in SQLite, the two lists published.

Layout of ``DIR``::

    ta.key.pem              trust anchor private key (0600)
    anchor.pem              trust anchor public key: give this to verifiers
    keys/<kid>.key.pem      university signing keys, one per rotation (0600)
    issuer.db               SQLite: counters, keys, students, orders, credentials,
                            revocations (0600: it holds PESELs, names, photos)
    admin.token             bearer token of the HTTP admin API (0600)
    public/trustlist.cbor   what a web server publishes (ML1 section 5)
    public/revocations.cbor

Why keys stay files: a key is a secret with its own life (backup, HSM later, 0600); the
database holds which keys exist and their windows, not the key bytes.

Every change runs under an exclusive lock on ``DIR/.lock`` (CLI, ``serve`` and its API threads
alike) and in one SQLite transaction. Publishing commits the new ``seq`` *before* the list is
written: a crash in between leaves a gap, never a reused number with different bytes (which
verifiers would reject forever). A directory made by an older version (``state.json``) is
imported into the database on first use and ``state.json`` renamed ``state.json.migrated``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from issuer_stub import lifecycle
from issuer_stub.codesize import code_text_bound, qr_version
from issuer_stub.db import Store
from issuer_stub.errors import Conflict, InvalidInput, NotFound, SetupError
from issuer_stub.keystore import (
    load_private_key,
    new_key,
    public_pem,
    save_private_key,
    write_atomic,
)
from issuer_stub.records import IssuerKey
from issuer_stub.signing import (
    IssuerListing,
    StudentData,
    credential_claims,
    sign_credential,
    sign_revocation_list,
    sign_trust_list,
)
from issuer_stub.wallet import Wallet
from verifier.core.credential import CTI_LENGTH, parse_credential
from verifier.core.errors import FormatError
from verifier.core.keys import kid_of, spki_der

DB_FILE = "issuer.db"
LEGACY_STATE_FILE = "state.json"
TA_KEY_FILE = "ta.key.pem"
ANCHOR_FILE = "anchor.pem"
TOKEN_FILE = "admin.token"
KEYS_DIR = "keys"
PUBLIC_DIR = "public"
TRUST_LIST_FILE = "trustlist.cbor"
REVOCATION_FILE = "revocations.cbor"
KEY_VALIDITY = 4 * 365 * 86400  # how long a new university key may sign credentials
_ISS = re.compile(r"[A-Za-z0-9._-]{1,32}")

# Kept for callers of the file-based version.
RegistryError = SetupError


@dataclass(frozen=True)
class Published:
    trust_seq: int | None
    revocation_seq: int
    revoked: int  # ids on the published revocation list


@dataclass(frozen=True)
class Rotation:
    kid: bytes
    closed: tuple[tuple[bytes, int], ...]  # (kid, new exp) of each key whose window closed
    published: Published


class Registry:
    """One issuer directory. Methods take ``now`` (epoch seconds); the caller owns the clock."""

    def __init__(
        self, directory: Path, random_bytes: Callable[[int], bytes] = os.urandom
    ) -> None:
        self.directory = directory
        self.random_bytes = random_bytes

    # Paths -----------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.directory / DB_FILE

    @property
    def public_dir(self) -> Path:
        return self.directory / PUBLIC_DIR

    @property
    def anchor_path(self) -> Path:
        return self.directory / ANCHOR_FILE

    @property
    def token_path(self) -> Path:
        return self.directory / TOKEN_FILE

    @property
    def trust_list_path(self) -> Path:
        return self.public_dir / TRUST_LIST_FILE

    @property
    def revocation_path(self) -> Path:
        return self.public_dir / REVOCATION_FILE

    def exists(self) -> bool:
        return self.db_path.is_file() or (self.directory / LEGACY_STATE_FILE).is_file()

    # Sessions --------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _open(self) -> Store:
        if not self.exists():
            raise SetupError(f"{self.directory} is not an issuer directory (run init)")
        legacy = self.directory / LEGACY_STATE_FILE
        store = Store.open(self.db_path)
        if legacy.is_file():
            try:
                with store.transaction():
                    self._import_legacy(store, legacy)
                legacy.rename(legacy.with_name(LEGACY_STATE_FILE + ".migrated"))
            except BaseException:
                store.close()
                raise
        return store

    @contextmanager
    def session(self) -> Iterator[Store]:
        """The store under the directory lock, in one write transaction."""
        if not self.exists():
            raise SetupError(f"{self.directory} is not an issuer directory (run init)")
        with self._locked():
            store = self._open()
            try:
                with store.transaction():
                    yield store
            finally:
                store.close()

    @contextmanager
    def reader(self) -> Iterator[Store]:
        """The store for reading: no lock (SQLite gives a consistent snapshot per query)."""
        if not self.db_path.is_file():
            with self.session():  # creates or imports under the lock
                pass
        store = Store.open(self.db_path)
        try:
            yield store
        finally:
            store.close()

    # Keys ------------------------------------------------------------------------------------
    def _ta_key(self) -> ec.EllipticCurvePrivateKey:
        return load_private_key(self.directory / TA_KEY_FILE)

    def _private(self, key: IssuerKey) -> ec.EllipticCurvePrivateKey:
        return load_private_key(self.directory / key.key_file)

    def _new_issuer_key(self, store: Store, iss: str, name: str, now: int) -> IssuerKey:
        private = new_key()
        kid = kid_of(private.public_key())
        key_file = f"{KEYS_DIR}/{kid.hex()}.key.pem"
        save_private_key(private, self.directory / key_file)
        record = IssuerKey(kid, iss, name, key_file, now, now + KEY_VALIDITY, now)
        store.add_key(record)
        return record

    def signer(self, store: Store, iss: str, now: int) -> tuple[IssuerKey,
                                                               ec.EllipticCurvePrivateKey]:
        key = lifecycle.signing_key(store.issuer_keys(), iss, now)
        if key is None:
            raise Conflict(f"no key of {iss} may sign at this time (run keys rotate)",
                           "no_signing_key")
        return key, self._private(key)

    @staticmethod
    def default_iss(store: Store) -> str:
        keys = store.issuer_keys()
        if not keys:
            raise SetupError("the issuer directory lists no university")
        return keys[0].iss

    @staticmethod
    def university_name(store: Store, iss: str) -> str:
        names = [k.name for k in store.issuer_keys() if k.iss == iss]
        if not names:
            raise NotFound(f"no issuer {iss} in this directory", "unknown_issuer")
        return names[-1]

    def admin_token(self) -> str:
        """The admin API's bearer token, made at init (or on first use for older dirs)."""
        if not self.token_path.is_file():
            with self._locked():
                if not self.token_path.is_file():
                    write_atomic(self.token_path, secrets.token_urlsafe(32).encode(), mode=0o600)
        return self.token_path.read_text().strip()

    # Commands --------------------------------------------------------------------------------
    def init(self, iss: str, name: str, now: int) -> Published:
        """Create the trust anchor and one university key, then publish both lists."""
        if not _ISS.fullmatch(iss):
            raise InvalidInput("issuer id must be 1-32 letters, digits, '.', '_' or '-'")
        if not 1 <= len(name) <= 200:
            raise InvalidInput("university name must be 1-200 characters")
        with self._locked():
            if self.exists():
                raise SetupError(f"{self.directory} already holds an issuer directory")
            ta = new_key()
            save_private_key(ta, self.directory / TA_KEY_FILE)
            write_atomic(self.anchor_path, public_pem(ta.public_key()))
            write_atomic(self.token_path, secrets.token_urlsafe(32).encode(), mode=0o600)
            store = Store.open(self.db_path)
            try:
                with store.transaction():
                    self._new_issuer_key(store, iss, name, now)
                    store.set_counter("trust_seq", 0)
                    store.set_counter("revocation_seq", 0)
                    return self.publish_in(store, now, trust=True)
            finally:
                store.close()

    def issue_credential(
        self,
        store: Store,
        student: StudentData,
        device_key: ec.EllipticCurvePublicKey,
        now: int,
        exp: int,
        iss: str,
        student_id: int | None = None,
    ) -> tuple[bytes, bytes]:
        """Sign and record a credential bound to ``device_key``; returns (cti, credential)."""
        if exp <= now:
            raise Conflict("the credential's exp must lie in the future", "exp_in_past")
        key, private = self.signer(store, iss, now)
        cti = self.random_bytes(CTI_LENGTH)
        claims = credential_claims(
            iss=iss, student=student, device_key=device_key, cti=cti, iat=now, nbf=now, exp=exp,
        )
        credential = sign_credential(private, claims)
        try:
            parse_credential(credential)  # the verifier's own rules for field lengths etc.
        except FormatError as exc:
            message = f"credential rejected: {exc.message}"
            raise InvalidInput(message, "invalid_credential") from None
        if qr_version(code_text_bound(credential)) is None:  # fit_student refuses it earlier
            raise InvalidInput("the credential would not fit a QR code", "credential_too_large")
        store.add_credential(cti, key.kid, now, exp, student_id, spki_der(device_key))
        return cti, credential

    def issue(
        self,
        student: StudentData,
        now: int,
        exp: int,
        iss: str | None = None,
    ) -> Wallet:
        """Shortcut without a student record: a new wallet holding a credential bound to it.
        The portrait in ``student.photo`` is made smaller if the fields leave less room."""
        from issuer_stub.photos import fit_student  # OpenCV and Pillow only when needed

        wallet = Wallet.new()
        with self.session() as store:
            iss = iss or self.default_iss(store)
            if not any(k.iss == iss for k in store.issuer_keys()):
                raise NotFound(f"no issuer {iss} in this directory", "unknown_issuer")
            student = fit_student(student, iss)
            _cti, wallet.credential = self.issue_credential(
                store, student, wallet.public_key, now, exp, iss
            )
        return wallet

    def revoke(self, cti: bytes, now: int, reason: str = "issuer") -> Published:
        """Put an issued credential on the revocation list and publish it at once."""
        if len(cti) != CTI_LENGTH:
            raise InvalidInput("a credential id is 16 bytes (32 hex digits)")
        with self.session() as store:
            self.revoke_in(store, cti, now, reason)
            return self.publish_in(store, now, trust=False)

    @staticmethod
    def revoke_in(store: Store, cti: bytes, now: int, reason: str) -> bool:
        record = store.credential(cti)
        if record is None:
            raise NotFound(f"credential {cti.hex()} was not issued from this directory",
                           "unknown_credential")
        return store.revoke(cti, record.exp, now, reason)

    def rotate_key(self, now: int, iss: str | None = None) -> Rotation:
        """A new signing key for ``iss``; the old keys stop signing now and stay listed until
        the last credential they signed has expired."""
        with self.session() as store:
            iss = iss or self.default_iss(store)
            name = self.university_name(store, iss)
            closed = []
            for key in store.issuer_keys():
                if key.iss == iss and key.exp > now:
                    exp = lifecycle.closed_exp(now, store.signed_by(key.kid)[0])
                    store.set_key_exp(key.kid, exp)
                    closed.append((key.kid, exp))
            new = self._new_issuer_key(store, iss, name, now)
            return Rotation(new.kid, tuple(closed), self.publish_in(store, now, trust=True))

    def publish(self, now: int, trust: bool = True) -> Published:
        """New ``iat`` and ``seq`` for the revocation list (and the trust list if ``trust``)."""
        with self.session() as store:
            return self.publish_in(store, now, trust=trust)

    def revocation_age(self, now: int) -> int | None:
        """Seconds since the revocation list was last published; None if never."""
        with self.reader() as store:
            iat = store.counter("revocation_iat")
        return None if iat is None else now - iat

    def counters(self) -> dict[str, int | None]:
        with self.reader() as store:
            return {n: store.counter(n) for n in ("trust_seq", "revocation_seq",
                                                  "revocation_iat")}

    def listed_keys(self, store: Store, now: int) -> list[IssuerKey]:
        return [k for k in store.issuer_keys()
                if lifecycle.still_listed(k, store.signed_by(k.kid)[1], now)]

    # Publishing ------------------------------------------------------------------------------
    def publish_in(self, store: Store, now: int, trust: bool) -> Published:
        """Bump seq numbers, commit them with everything done so far in ``store``'s
        transaction, then write the public files. The caller holds the lock; nothing may be
        written to ``store`` afterwards in this session."""
        trust = trust or not self.trust_list_path.exists()
        trust_seq = (store.counter("trust_seq") or 0) + (1 if trust else 0)
        revocation_seq = (store.counter("revocation_seq") or 0) + 1
        store.set_counter("trust_seq", trust_seq)
        store.set_counter("revocation_seq", revocation_seq)
        store.set_counter("revocation_iat", now)
        listings = [
            IssuerListing(k.iss, k.name, self._private(k).public_key(), k.nbf, k.exp)
            for k in self.listed_keys(store, now)
        ]
        ids = store.revoked_ids(now)
        store.commit()
        ta = self._ta_key()
        if trust:
            write_atomic(self.trust_list_path, sign_trust_list(ta, trust_seq, now, listings))
        write_atomic(self.revocation_path, sign_revocation_list(ta, revocation_seq, now, ids))
        return Published(trust_seq if trust else None, revocation_seq, len(ids))

    # Older directories -----------------------------------------------------------------------
    def _import_legacy(self, store: Store, path: Path) -> None:
        """``state.json`` of the file-based version -> the database (keys stay where they are)."""
        try:
            state: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SetupError(f"cannot read {path}: {exc}") from None
        if not isinstance(state, dict) or state.get("v") != 1:
            raise SetupError(f"{path}: unknown state format")
        if store.issuer_keys():
            raise SetupError(f"{path} and {DB_FILE} both exist: remove one")
        kids = {}
        for entry in state["issuers"]:
            key_file = f"issuers/{entry['iss']}.key.pem"
            kid = kid_of(load_private_key(self.directory / key_file).public_key())
            store.add_key(IssuerKey(kid, entry["iss"], entry["name"], key_file, entry["nbf"],
                                    entry["exp"], entry["nbf"]))
            kids[entry["iss"]] = (kid, entry["nbf"])
        # The old state did not record which key signed what: it had one key per issuer.
        kid, nbf = next(iter(kids.values()))
        for cti_hex, exp in {**state["issued"], **state["revoked"]}.items():
            store.add_credential(bytes.fromhex(cti_hex), kid, nbf, exp)
        for cti_hex, exp in state["revoked"].items():
            store.revoke(bytes.fromhex(cti_hex), exp, state.get("revocation_iat") or nbf,
                         "issuer")
        store.set_counter("trust_seq", state["trust_seq"])
        store.set_counter("revocation_seq", state["revocation_seq"])
        if state.get("revocation_iat") is not None:
            store.set_counter("revocation_iat", state["revocation_iat"])


def cti_of_wallet(wallet: Wallet) -> bytes:
    """The credential id held by a wallet (for ``revoke --wallet``)."""
    if wallet.credential is None:
        raise InvalidInput("this wallet holds no credential")
    try:
        return parse_credential(wallet.credential).cti
    except FormatError as exc:
        raise InvalidInput(f"wallet credential unreadable: {exc.message}") from None
