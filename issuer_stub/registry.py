"""A file-based issuer directory: the ministry and its universities on disk, for the CLI.

Layout of ``DIR``::

    ta.key.pem              trust anchor private key (0600)
    anchor.pem              trust anchor public key: give this to verifiers
    issuers/<iss>.key.pem   one university key per issuer (0600)
    state.json              sequence numbers, listed issuers, issued and revoked ids
    public/trustlist.cbor   what a web server publishes (ML1 section 5)
    public/revocations.cbor

Every change runs under an exclusive lock on ``DIR/.lock`` so the CLI and a running
``issuer-stub serve`` never hand out the same ``seq`` twice. The new ``seq`` is written to
the state *before* the list is published: a crash in between leaves a gap, never a reused
number with different bytes (which verifiers would reject forever).

The state holds no personal data: only credential ids (``cti``) and their ``exp``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from issuer_stub.keystore import (
    load_private_key,
    new_key,
    public_pem,
    save_private_key,
    write_atomic,
)
from issuer_stub.signing import (
    IssuerListing,
    StudentData,
    credential_claims,
    sign_credential,
    sign_revocation_list,
    sign_trust_list,
)
from issuer_stub.wallet import Wallet
from verifier.credential import CTI_LENGTH, parse_credential
from verifier.errors import FormatError

STATE_FILE = "state.json"
TA_KEY_FILE = "ta.key.pem"
ANCHOR_FILE = "anchor.pem"
PUBLIC_DIR = "public"
TRUST_LIST_FILE = "trustlist.cbor"
REVOCATION_FILE = "revocations.cbor"
KEY_VALIDITY = 4 * 365 * 86400  # how long a new university key may sign credentials
_ISS = re.compile(r"[A-Za-z0-9._-]{1,32}")


class RegistryError(Exception):
    """Something the operator must fix (wrong directory, unknown id); one line to print."""


@dataclass(frozen=True)
class Published:
    trust_seq: int | None
    revocation_seq: int
    revoked: int  # ids on the published revocation list


class Registry:
    """One issuer directory. Methods take ``now`` (epoch seconds); the caller owns the clock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # Paths -----------------------------------------------------------------------------------
    @property
    def public_dir(self) -> Path:
        return self.directory / PUBLIC_DIR

    @property
    def anchor_path(self) -> Path:
        return self.directory / ANCHOR_FILE

    @property
    def trust_list_path(self) -> Path:
        return self.public_dir / TRUST_LIST_FILE

    @property
    def revocation_path(self) -> Path:
        return self.public_dir / REVOCATION_FILE

    def _issuer_key_path(self, iss: str) -> Path:
        return self.directory / "issuers" / f"{iss}.key.pem"

    # State -----------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        path = self.directory / STATE_FILE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise RegistryError(f"{self.directory} is not an issuer directory (run init)") from None
        except (OSError, ValueError) as exc:
            raise RegistryError(f"cannot read {path}: {exc}") from None
        if not isinstance(state, dict) or state.get("v") != 1:
            raise RegistryError(f"{path}: unknown state format")
        return state

    def _save(self, state: dict[str, Any]) -> None:
        data = json.dumps(state, indent=1, sort_keys=True).encode()
        write_atomic(self.directory / STATE_FILE, data, mode=0o600)

    def exists(self) -> bool:
        return (self.directory / STATE_FILE).is_file()

    def state(self) -> dict[str, Any]:
        """A copy of the bookkeeping (seq numbers, issuers, ids), for display and tests."""
        return self._load()

    # Keys ------------------------------------------------------------------------------------
    def _ta_key(self) -> ec.EllipticCurvePrivateKey:
        return load_private_key(self.directory / TA_KEY_FILE)

    def _listings(self, state: dict[str, Any]) -> list[IssuerListing]:
        out = []
        for entry in state["issuers"]:
            key = load_private_key(self._issuer_key_path(entry["iss"]))
            out.append(
                IssuerListing(entry["iss"], entry["name"], key.public_key(), entry["nbf"],
                              entry["exp"])
            )
        return out

    # Commands --------------------------------------------------------------------------------
    def init(self, iss: str, name: str, now: int) -> Published:
        """Create the trust anchor and one university key, then publish both lists."""
        if not _ISS.fullmatch(iss):
            raise RegistryError("issuer id must be 1-32 letters, digits, '.', '_' or '-'")
        if not 1 <= len(name) <= 200:
            raise RegistryError("university name must be 1-200 characters")
        with self._locked():
            if self.exists():
                raise RegistryError(f"{self.directory} already holds an issuer directory")
            ta = new_key()
            save_private_key(ta, self.directory / TA_KEY_FILE)
            write_atomic(self.anchor_path, public_pem(ta.public_key()))
            save_private_key(new_key(), self._issuer_key_path(iss))
            state = {
                "v": 1,
                "trust_seq": 0,
                "revocation_seq": 0,
                "revocation_iat": None,
                "issuers": [{"iss": iss, "name": name, "nbf": now, "exp": now + KEY_VALIDITY}],
                "issued": {},
                "revoked": {},
            }
            self._save(state)
            return self._publish(state, now, trust=True)

    def issue(
        self,
        student: StudentData,
        now: int,
        exp: int,
        iss: str | None = None,
    ) -> Wallet:
        """A new wallet (device key) holding a credential bound to it; records cti and exp."""
        if exp <= now:
            raise RegistryError("exp must lie in the future")
        with self._locked():
            state = self._load()
            entry = self._issuer(state, iss)
            if not entry["nbf"] <= now < entry["exp"]:
                raise RegistryError(f"the key of {entry['iss']} may not sign at this time")
            key = load_private_key(self._issuer_key_path(entry["iss"]))
            wallet = Wallet.new()
            cti = os.urandom(CTI_LENGTH)
            claims = credential_claims(
                iss=entry["iss"], student=student, device_key=wallet.public_key, cti=cti,
                iat=now, nbf=now, exp=exp,
            )
            credential = sign_credential(key, claims)
            try:
                parse_credential(credential)  # the verifier's own rules for field lengths etc.
            except FormatError as exc:
                raise RegistryError(f"credential rejected: {exc.message}") from None
            wallet.credential = credential
            state["issued"][cti.hex()] = exp
            self._save(state)
            return wallet

    def revoke(self, cti: bytes, now: int) -> Published:
        """Put an issued credential on the revocation list and publish it at once."""
        if len(cti) != CTI_LENGTH:
            raise RegistryError("a credential id is 16 bytes (32 hex digits)")
        with self._locked():
            state = self._load()
            exp = state["issued"].get(cti.hex())
            if exp is None:
                raise RegistryError(f"credential {cti.hex()} was not issued from this directory")
            state["revoked"][cti.hex()] = exp
            return self._publish(state, now, trust=False)

    def publish(self, now: int, trust: bool = True) -> Published:
        """New ``iat`` and ``seq`` for the revocation list (and the trust list if ``trust``)."""
        with self._locked():
            return self._publish(self._load(), now, trust=trust)

    def revocation_age(self, now: int) -> int | None:
        """Seconds since the revocation list was last published; None if never."""
        iat = self._load().get("revocation_iat")
        return None if iat is None else now - iat

    # Internals -------------------------------------------------------------------------------
    @staticmethod
    def _issuer(state: dict[str, Any], iss: str | None) -> dict[str, Any]:
        for entry in state["issuers"]:
            if iss is None or entry["iss"] == iss:
                return entry  # type: ignore[no-any-return]
        raise RegistryError(f"no issuer {iss} in this directory")

    def _publish(self, state: dict[str, Any], now: int, trust: bool) -> Published:
        """Bump seq numbers, persist them, then write the public files (caller holds the lock)."""
        # A revoked id stays listed until its exp has passed (ML1 section 5).
        state["revoked"] = {k: v for k, v in state["revoked"].items() if v > now}
        state["issued"] = {k: v for k, v in state["issued"].items() if v > now}
        trust = trust or not self.trust_list_path.exists()
        if trust:
            state["trust_seq"] += 1
        state["revocation_seq"] += 1
        state["revocation_iat"] = now
        self._save(state)
        ta = self._ta_key()
        if trust:
            raw = sign_trust_list(ta, state["trust_seq"], now, self._listings(state))
            write_atomic(self.trust_list_path, raw)
        ids = [bytes.fromhex(k) for k in state["revoked"]]
        write_atomic(self.revocation_path, sign_revocation_list(ta, state["revocation_seq"], now,
                                                                ids))
        return Published(state["trust_seq"] if trust else None, state["revocation_seq"], len(ids))


def cti_of_wallet(wallet: Wallet) -> bytes:
    """The credential id held by a wallet (for ``revoke --wallet``)."""
    if wallet.credential is None:
        raise RegistryError("this wallet holds no credential")
    try:
        return parse_credential(wallet.credential).cti
    except FormatError as exc:
        raise RegistryError(f"wallet credential unreadable: {exc.message}") from None
