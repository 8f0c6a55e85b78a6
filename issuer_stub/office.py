"""The student office: the lifecycle actions over the issuer directory.

Each action is one transaction under the directory lock; the rules come from
``eligibility`` and ``lifecycle`` (pure), the records from ``db``, keys and publishing from
``registry``. Whatever revokes a credential publishes the revocation list in the same action.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from issuer_stub import devicekeys, lifecycle, students
from issuer_stub.db import Store
from issuer_stub.eligibility import failures, require_eligible
from issuer_stub.errors import Conflict, InvalidInput, NotFound
from issuer_stub.records import ACTIVE, CredentialRecord, StudentRecord
from issuer_stub.registry import Published, Registry
from issuer_stub.signing import StudentData

_CTI_HEX = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class OrderIssued:
    order_id: int
    student_id: int
    code: str  # typed by the student, XXXXX-XXXXX
    qr_text: str  # shown as a QR code; the same order, either one activates it once
    expires_at: int

    def __repr__(self) -> str:  # the codes are secrets
        return f"OrderIssued(order_id={self.order_id}, expires_at={self.expires_at})"


@dataclass(frozen=True)
class Issued:
    """A credential handed to a phone (activation or extension)."""

    cti: bytes
    credential: bytes
    given_names: str
    family_name: str
    university: str
    exp: int
    photo: bytes | None
    revoked: tuple[bytes, ...]  # credentials this one replaced
    published: Published | None  # the revocation list, if anything was revoked

    def __repr__(self) -> str:
        return f"Issued(cti={self.cti.hex()}, exp={self.exp}, <holder redacted>)"


def parse_cti(value: object) -> bytes:
    if not isinstance(value, str) or not _CTI_HEX.fullmatch(value):
        raise InvalidInput("cti must be 32 hex digits", "invalid_input")
    return bytes.fromhex(value)


class Office:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    # Students --------------------------------------------------------------------------------
    def add_student(self, fields: dict[str, Any], now: int, iss: str | None = None) -> int:
        values = students.new_student(fields, now)
        with self.registry.session() as store:
            return self._insert(store, values, now, iss)

    def _insert(self, store: Store, values: dict[str, Any], now: int, iss: str | None) -> int:
        values = {**values, "iss": iss or self.registry.default_iss(store)}
        values = self._fitted(store, values, values)
        if values.get("pesel") and store.find_student(pesel=values["pesel"]) is not None:
            raise Conflict("a student with this PESEL is on file already", "duplicate_student")
        if values.get("album") and store.find_student(album=values["album"],
                                                      iss=values["iss"]) is not None:
            raise Conflict("a student with this album number is on file already",
                           "duplicate_student")
        return store.add_student(values, now)

    def import_csv(self, path: Path, now: int, iss: str | None = None) -> list[int]:
        """All rows or none: every row is checked (fields, then duplicates) and every bad
        row reported with its line number before anything is written."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(f"{path} is not UTF-8 text; save the CSV as UTF-8",
                               "invalid_csv") from None
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}", "invalid_csv") from None
        rows, errors = students.read_csv(text, path.parent, now)
        with self.registry.session() as store:
            ids, conflicts = [], []
            for row in rows:
                try:
                    ids.append(self._insert(store, row.fields, now, iss))
                except Conflict as exc:
                    conflicts.append((row.line, exc.message))
                except InvalidInput as exc:  # the portrait: no face, too long for a QR code
                    errors.append((row.line, exc.message))
            if errors or conflicts:  # raising rolls the session back: nothing is written
                message = students.csv_errors(errors + conflicts, path)
                if errors:
                    raise InvalidInput(message, "invalid_csv")
                raise Conflict(message, "duplicate_student")
            return ids

    def _fitted(self, store: Store, values: dict[str, Any],
                record: dict[str, Any]) -> dict[str, Any]:
        """``values`` with a photo handed in made into the credential's portrait, sized to the
        room the student's fields (``record``, as they will be) leave in a QR code; raises
        ``InvalidInput`` if the photo is refused or the credential would fit no QR code."""
        from issuer_stub import codesize, photos  # OpenCV and Pillow only when needed

        university = self.registry.university_name(store, record["iss"])  # it must exist
        data = StudentData(record["given_names"], record["family_name"], record["birth_date"],
                           university, record.get("album") or "x" * 32)  # album: the longest
        if values.get("photo") is not None:
            fitted = photos.portrait_for(values["photo"], data, record["iss"])
            return {**values, "photo": fitted.photo}
        if record.get("photo") is not None:  # kept: it is made smaller at issuance if need be
            codesize.portrait_budget(data, record["iss"])
        codesize.require_fits(data, record["iss"])
        return values

    def student(self, student_id: int) -> StudentRecord:
        with self.registry.reader() as store:
            return self._student(store, student_id)

    def students(self) -> list[StudentRecord]:
        with self.registry.reader() as store:
            return store.students()

    def credentials(self, student_id: int) -> list[CredentialRecord]:
        with self.registry.reader() as store:
            self._student(store, student_id)
            return store.credentials_of(student_id)

    @staticmethod
    def _student(store: Store, student_id: int) -> StudentRecord:
        student = store.student(student_id)
        if student is None:
            raise NotFound(f"no student with id {student_id}", "unknown_student")
        return student

    def update_student(
        self, student_id: int, fields: dict[str, Any], now: int, reissue_els: bool = False
    ) -> tuple[StudentRecord, Published | None]:
        """Change records. Leaving 'active' status (end of studies, suspension) revokes every
        live credential of the student and cancels open orders, published at once."""
        with self.registry.session() as store:
            current = self._student(store, student_id)
            values = students.changes(current, fields, now, reissue_els)
            if {"given_names", "family_name", "album", "photo"} & set(values):
                values = self._fitted(store, values, {**asdict(current), **values})
            store.update_student(student_id, values)
            updated = self._student(store, student_id)
            published = None
            if current.status == ACTIVE and updated.status != ACTIVE:
                store.cancel_open_orders(student_id, now)
                if self._revoke_live(store, student_id, now, f"status_{updated.status}"):
                    published = self.registry.publish_in(store, now, trust=False)
            return updated, published

    # Orders and activation ---------------------------------------------------------------------
    def order(self, student_id: int, now: int) -> OrderIssued:
        """An activation code and QR for an eligible student; earlier open orders lapse."""
        with self.registry.session() as store:
            student = self._student(store, student_id)
            require_eligible(student, now)
            store.cancel_open_orders(student_id, now)
            code, qr_text = lifecycle.new_codes(self.registry.random_bytes)
            expires_at = now + lifecycle.ACTIVATION_SECONDS
            order_id = store.add_order(
                student_id,
                lifecycle.code_hash(lifecycle.normalize_code(code)),
                lifecycle.code_hash(lifecycle.normalize_code(qr_text)),
                now,
                expires_at,
            )
            return OrderIssued(order_id, student_id, code, qr_text, expires_at)

    def activate(self, code: str, device_key: ec.EllipticCurvePublicKey, now: int) -> Issued:
        """Use an order: a credential bound to ``device_key``. One mLegitymacja per student:
        any live credential the student holds on another phone is revoked."""
        digest = lifecycle.code_hash(lifecycle.normalize_code(code))
        with self.registry.session() as store:
            order = store.order_by_hash(digest)
            if order is None:
                raise NotFound("no order has this activation code", "code_unknown")
            lifecycle.check_order_usable(order, now)
            student = self._student(store, order.student_id)
            require_eligible(student, now)
            issued = self._issue(store, student, device_key, now, reason="replaced")
            store.use_order(order.id, now, issued.cti)
            return self._published(store, issued, now)

    # Extension -------------------------------------------------------------------------------
    def extend(self, cti: bytes, now: int) -> Issued:
        """After the ELS was extended for a new semester: a new credential with the new exp,
        bound to the same phone; the old one is revoked."""
        with self.registry.session() as store:
            record = self._credential(store, cti)
            if record.student_id is None or record.device_key is None:
                raise Conflict("this credential was not issued to a student record",
                               "not_extendable")
            if record.revoked:
                raise Conflict("this credential has been revoked; order a new mLegitymacja",
                               "credential_revoked")
            student = self._student(store, record.student_id)
            require_eligible(student, now)
            assert student.els_exp is not None
            if student.els_exp <= record.exp:
                raise Conflict(
                    "the mLegitymacja already runs as long as the ELS; the ELS must be "
                    "extended first", "already_current",
                )
            device_key = devicekeys.from_der(record.device_key)
            issued = self._issue(store, student, device_key, now, reason="extended")
            return self._published(store, issued, now)

    def extend_signed(self, cti_hex: object, time: object, signature: object, now: int) -> Issued:
        """Extension asked for by the phone itself: proof signed by its device key."""
        cti = self._check_proof("extend", cti_hex, time, signature, now)
        return self.extend(cti, now)

    def status_signed(
        self, cti_hex: object, time: object, signature: object, now: int
    ) -> dict[str, Any]:
        """What the phone may do with its credential: ``extendable`` (a longer ELS is on
        file and the student is eligible, so ``extend`` would give ``extend_to``), ``revoked``."""
        cti = self._check_proof("status", cti_hex, time, signature, now)
        with self.registry.reader() as store:
            record = self._credential(store, cti)
            student = None if record.student_id is None else store.student(record.student_id)
        extend_to = None
        if (not record.revoked and student is not None and record.device_key is not None
                and not failures(student, now) and student.els_exp is not None
                and student.els_exp > record.exp):
            extend_to = student.els_exp
        return {"revoked": record.revoked, "extendable": extend_to is not None,
                "extend_to": extend_to}

    # Revocation ------------------------------------------------------------------------------
    def revoke(self, cti: bytes, now: int, reason: str = "issuer") -> Published:
        return self.registry.revoke(cti, now, reason)

    def self_revoke(self, cti_hex: object, time: object, signature: object, now: int) -> Published:
        """The student revokes from the phone; in the published list at once."""
        cti = self._check_proof("revoke", cti_hex, time, signature, now)
        with self.registry.session() as store:
            if self.registry.revoke_in(store, cti, now, "self"):
                return self.registry.publish_in(store, now, trust=False)
            return Published(None, store.counter("revocation_seq") or 0,
                             len(store.revoked_ids(now)))

    def _check_proof(
        self, action: str, cti_hex: object, time: object, signature: object, now: int
    ) -> bytes:
        cti = parse_cti(cti_hex)
        if type(time) is not int:
            raise InvalidInput("time must be an integer (epoch seconds)", "invalid_input")
        raw = devicekeys.b64url_decode(signature, "signature")
        with self.registry.reader() as store:
            record = self._credential(store, cti)
        if record.device_key is None:
            raise Conflict("this credential is bound to no known device key", "no_device_key")
        assert isinstance(cti_hex, str)
        message = lifecycle.proof_message(action, cti_hex, time)
        devicekeys.verify_raw(devicekeys.from_der(record.device_key), message, raw)
        lifecycle.check_proof_time(time, now)
        return cti

    # Internals -------------------------------------------------------------------------------
    @staticmethod
    def _credential(store: Store, cti: bytes) -> CredentialRecord:
        record = store.credential(cti)
        if record is None:
            raise NotFound(f"no credential {cti.hex()} was issued here", "unknown_credential")
        return record

    def _revoke_live(self, store: Store, student_id: int, now: int, reason: str) -> list[bytes]:
        revoked = []
        for record in store.credentials_of(student_id):
            if record.live(now) and store.revoke(record.cti, record.exp, now, reason):
                revoked.append(record.cti)
        return revoked

    def _issue(
        self,
        store: Store,
        student: StudentRecord,
        device_key: ec.EllipticCurvePublicKey,
        now: int,
        reason: str,
    ) -> Issued:
        assert student.album is not None and student.els_exp is not None
        revoked = self._revoke_live(store, student.id, now, reason)
        university = self.registry.university_name(store, student.iss)
        data = StudentData(student.given_names, student.family_name, student.birth_date,
                           university, student.album, student.photo)
        from issuer_stub.photos import fit_student  # OpenCV and Pillow only when needed

        data = fit_student(data, student.iss)  # the portrait made smaller if fields grew
        cti, credential = self.registry.issue_credential(
            store, data, device_key, now, student.els_exp, student.iss, student.id
        )
        return Issued(cti, credential, student.given_names, student.family_name, university,
                      student.els_exp, data.photo, tuple(revoked), None)

    def _published(self, store: Store, issued: Issued, now: int) -> Issued:
        if not issued.revoked:
            store.commit()
            return issued
        published = self.registry.publish_in(store, now, trust=False)
        return replace(issued, published=published)
