"""The mLegitymacja lifecycle on a real issuer directory (SQLite file in tmp_path), checked by
the verifier against the lists the issuer publishes."""

from __future__ import annotations

import json
import sqlite3
import stat
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from issuer_stub import db, devicekeys, lifecycle, pesel
from issuer_stub.cli import main
from issuer_stub.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotEligible,
    NotFound,
    SetupError,
)
from issuer_stub.keystore import load_private_key, new_key, public_pem, save_private_key
from issuer_stub.office import Issued, Office
from issuer_stub.photos import photo_type, synthetic_photo
from issuer_stub.registry import Registry
from issuer_stub.signing import StudentData, credential_claims, sign_credential
from issuer_stub.wallet import Wallet
from verifier.core.credential import parse_credential
from verifier.core.keys import Anchor, kid_of
from verifier.core.policy import verify
from verifier.core.reasons import Reason, Verdict
from verifier.core.result import CheckResult
from verifier.core.revocation import RevocationList
from verifier.core.textout import warsaw
from verifier.core.trustlist import TrustList

NOW = 1_800_000_000  # 2027-01-15 09:00 Warsaw
DAY = 86400
END_OF_MARCH = int(datetime(2027, 4, 1, tzinfo=warsaw()).timestamp())
END_OF_OCTOBER = int(datetime(2027, 11, 1, tzinfo=warsaw()).timestamp())


def student_fields(n: int = 1, **over: Any) -> dict[str, Any]:
    dob = date(2003, 5, n)
    fields: dict[str, Any] = {
        "given_names": f"Anna{n}", "family_name": "Kowalska", "birth_date": dob.isoformat(),
        "pesel": pesel.make(dob, n, True), "album": f"10{n:04d}",
        "photo": synthetic_photo(f"student {n}"),  # a PNG: the office makes the portrait
        "els_issued_at": NOW - 100 * DAY, "els_valid_until": "2027-03-31",
    }
    fields.update(over)
    return fields


def published_lists(registry: Registry) -> tuple[TrustList, RevocationList]:
    """What a verifier would fetch from this issuer directory."""
    anchor = Anchor.from_pem(registry.anchor_path.read_bytes())
    return (TrustList.from_bytes(registry.trust_list_path.read_bytes(), anchor),
            RevocationList.from_bytes(registry.revocation_path.read_bytes(), anchor))


@dataclass
class Phone:
    """A wallet holding one credential, as the issuer handed it over."""

    wallet: Wallet
    issued: Issued

    @property
    def cti(self) -> bytes:
        return self.issued.cti

    def present(self, at: int) -> str:
        return self.wallet.present(at)

    def proof(self, action: str, time: int) -> str:
        message = lifecycle.proof_message(action, self.cti.hex(), time)
        return devicekeys.b64url_encode(devicekeys.sign_raw(self.wallet.device_key, message))


class Issuer:
    def __init__(self, directory: Path, now: int = NOW) -> None:
        self.registry = Registry(directory)
        self.registry.init("PL-1043", "Politechnika Testowa", now)
        self.office = Office(self.registry)

    def lists(self) -> tuple[TrustList, RevocationList]:
        return published_lists(self.registry)

    def check(self, phone: Phone, at: int) -> CheckResult:
        trust, revocations = self.lists()
        return verify(phone.present(at), trust, revocations, at)

    def add(self, n: int = 1, **over: Any) -> int:
        return self.office.add_student(student_fields(n, **over), NOW - DAY)

    def activate(self, student_id: int, at: int = NOW) -> Phone:
        order = self.office.order(student_id, at)
        wallet = Wallet.new()
        issued = self.office.activate(order.code, wallet.public_key, at)
        wallet.credential = issued.credential
        return Phone(wallet, issued)


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer(tmp_path / "issuer")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# Eligibility at order time ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("over", "condition"),
    [
        ({"status": "suspended"}, "status_not_active"),
        ({"pesel": None}, "pesel_missing"),
        ({"album": None}, "album_missing"),
        ({"photo": None}, "photo_missing"),
        ({"els_issued_at": None, "els_valid_until": None}, "els_missing"),
        ({"els_valid_until": "2026-10-31"}, "els_not_extended"),
    ],
)
def test_an_order_that_fails_names_the_condition(
    issuer: Issuer, over: dict[str, Any], condition: str
) -> None:
    student_id = issuer.add(**over)
    with pytest.raises(NotEligible) as exc:
        issuer.office.order(student_id, NOW)
    assert exc.value.condition == condition
    assert exc.value.status == 409


def test_changed_personal_data_needs_a_new_els(issuer: Issuer) -> None:
    student_id = issuer.add()
    issuer.office.update_student(student_id, {"family_name": "Nowak"}, NOW - 10)
    with pytest.raises(NotEligible) as exc:
        issuer.office.order(student_id, NOW)
    assert exc.value.condition == "data_changed"
    issuer.office.update_student(student_id, {}, NOW - 5, reissue_els=True)
    assert issuer.office.order(student_id, NOW).expires_at == NOW + 30 * DAY


# Order -> activation ----------------------------------------------------------------------------
def test_activation_binds_the_credential_to_the_phone(issuer: Issuer) -> None:
    phone = issuer.activate(issuer.add())
    credential = parse_credential(phone.issued.credential)
    assert credential.cti == phone.cti and credential.iss == "PL-1043"
    assert credential.exp == END_OF_MARCH == phone.issued.exp  # end of 31 March, Warsaw
    assert credential.iat == credential.nbf == NOW
    assert kid_of(credential.device_key) == kid_of(phone.wallet.public_key)
    assert credential.student.university == "Politechnika Testowa"
    assert credential.student.photo is not None
    result = issuer.check(phone, NOW + 5)
    assert result.verdict is Verdict.VALID, result
    stolen = Wallet(new_key(), phone.issued.credential)  # the credential copied to another phone
    trust, revocations = issuer.lists()
    assert verify(stolen.present(NOW), trust, revocations, NOW).reason is \
        Reason.BAD_DEVICE_SIGNATURE


def test_activation_code_is_single_use_by_code_or_qr(issuer: Issuer) -> None:
    order = issuer.office.order(issuer.add(), NOW)
    issuer.office.activate(order.code, new_key().public_key(), NOW)
    for again in (order.code, order.qr_text):
        with pytest.raises(Gone) as exc:
            issuer.office.activate(again, new_key().public_key(), NOW + 1)
        assert exc.value.code == "code_used"


def test_activation_by_the_qr_text_and_by_sloppy_typing(issuer: Issuer) -> None:
    first = issuer.office.order(issuer.add(1), NOW)
    assert issuer.office.activate(first.qr_text, new_key().public_key(), NOW).cti
    second = issuer.office.order(issuer.add(2), NOW)
    typed = " " + second.code.lower().replace("-", " ").replace("0", "o") + " "
    assert issuer.office.activate(typed, new_key().public_key(), NOW).cti


def test_activation_code_expires_after_30_days(issuer: Issuer) -> None:
    student_id = issuer.add()
    order = issuer.office.order(student_id, NOW - 30 * DAY)
    with pytest.raises(Gone) as exc:
        issuer.office.activate(order.code, new_key().public_key(), NOW)
    assert exc.value.code == "code_expired"
    order = issuer.office.order(student_id, NOW - 30 * DAY + 1)
    assert issuer.office.activate(order.code, new_key().public_key(), NOW).cti


def test_unknown_and_replaced_codes(issuer: Issuer) -> None:
    student_id = issuer.add()
    with pytest.raises(NotFound) as unknown:
        issuer.office.activate("ABCDE-FGHJK", new_key().public_key(), NOW)
    assert unknown.value.code == "code_unknown"
    old = issuer.office.order(student_id, NOW)
    new = issuer.office.order(student_id, NOW + 1)
    with pytest.raises(Gone) as exc:
        issuer.office.activate(old.code, new_key().public_key(), NOW + 2)
    assert exc.value.code == "code_cancelled"
    assert issuer.office.activate(new.code, new_key().public_key(), NOW + 2).cti


def test_activation_rechecks_eligibility_and_keeps_the_code(issuer: Issuer) -> None:
    student_id = issuer.add()
    order = issuer.office.order(student_id, NOW)
    issuer.office.update_student(student_id, {"photo": None}, NOW + 1)
    with pytest.raises(NotEligible) as exc:
        issuer.office.activate(order.code, new_key().public_key(), NOW + 2)
    assert exc.value.condition == "photo_missing"
    photo = synthetic_photo("new photo")
    issuer.office.update_student(student_id, {"photo": photo}, NOW + 3, reissue_els=True)
    assert issuer.office.activate(order.code, new_key().public_key(), NOW + 4).cti


def test_one_phone_rule_second_activation_revokes_the_first(issuer: Issuer) -> None:
    student_id = issuer.add()
    first = issuer.activate(student_id, NOW)
    seq_before = issuer.lists()[1].seq
    second = issuer.activate(student_id, NOW + 60)
    assert second.issued.revoked == (first.cti,)
    assert second.issued.published is not None
    _trust, revocations = issuer.lists()
    assert revocations.seq == second.issued.published.revocation_seq > seq_before
    assert first.cti in revocations and second.cti not in revocations
    assert issuer.check(first, NOW + 70).reason is Reason.REVOKED
    assert issuer.check(second, NOW + 70).verdict is Verdict.VALID
    creds = issuer.office.credentials(student_id)
    assert [c.revocation_reason for c in creds] == ["replaced", None]


# Extension ----------------------------------------------------------------------------------
def test_extension_after_the_els_is_extended(issuer: Issuer) -> None:
    student_id = issuer.add()
    phone = issuer.activate(student_id, NOW)
    with pytest.raises(Conflict) as exc:
        issuer.office.extend(phone.cti, NOW + 10)
    assert exc.value.code == "already_current"
    issuer.office.update_student(student_id, {"els_valid_until": "2027-10-31"}, NOW + 20)
    extended = issuer.office.extend(phone.cti, NOW + 30)
    assert extended.exp == END_OF_OCTOBER  # end of 31 October, Warsaw time
    assert extended.cti != phone.cti and extended.revoked == (phone.cti,)
    new = Phone(Wallet(phone.wallet.device_key, extended.credential), extended)  # same phone
    assert parse_credential(extended.credential).exp == END_OF_OCTOBER
    assert issuer.check(new, NOW + 40).verdict is Verdict.VALID
    assert issuer.check(phone, NOW + 40).reason is Reason.REVOKED
    issuer.registry.publish(END_OF_MARCH + DAY)
    assert issuer.check(new, END_OF_MARCH + DAY).verdict is Verdict.VALID  # past the old exp
    assert issuer.check(new, END_OF_OCTOBER).reason is Reason.EXPIRED
    with pytest.raises(Conflict) as revoked:
        issuer.office.extend(phone.cti, NOW + 50)
    assert revoked.value.code == "credential_revoked"


def test_extension_signed_by_the_phone(issuer: Issuer) -> None:
    student_id = issuer.add()
    phone = issuer.activate(student_id, NOW)
    issuer.office.update_student(student_id, {"els_valid_until": "2027-10-31"}, NOW)
    with pytest.raises(Forbidden):
        issuer.office.extend_signed(phone.cti.hex(), NOW, phone.proof("revoke", NOW), NOW)
    extended = issuer.office.extend_signed(phone.cti.hex(), NOW, phone.proof("extend", NOW), NOW)
    assert extended.exp == END_OF_OCTOBER


def test_extension_needs_eligibility(issuer: Issuer) -> None:
    student_id = issuer.add()
    phone = issuer.activate(student_id, NOW)
    with pytest.raises(NotEligible) as exc:
        issuer.office.extend(phone.cti, END_OF_MARCH + DAY)  # the ELS ran out unextended
    assert exc.value.condition == "els_not_extended"


# Revocation ---------------------------------------------------------------------------------
def test_self_revoke_is_published_at_once(issuer: Issuer) -> None:
    phone = issuer.activate(issuer.add(), NOW)
    published = issuer.office.self_revoke(phone.cti.hex(), NOW + 100,
                                          phone.proof("revoke", NOW + 100), NOW)
    _trust, revocations = issuer.lists()
    assert published.revocation_seq == revocations.seq and phone.cti in revocations
    assert issuer.check(phone, NOW + 1).reason is Reason.REVOKED
    again = issuer.office.self_revoke(phone.cti.hex(), NOW, phone.proof("revoke", NOW), NOW)
    assert again.revocation_seq == revocations.seq  # idempotent, nothing new to publish


def test_self_revoke_rejections(issuer: Issuer) -> None:
    phone = issuer.activate(issuer.add(), NOW)
    other = Phone(Wallet.new(), phone.issued)  # signs with a key the credential does not bind
    cases: list[tuple[Any, ...]] = [
        (phone.cti.hex(), NOW, other.proof("revoke", NOW), Forbidden, "bad_signature"),
        (phone.cti.hex(), NOW + 1, phone.proof("revoke", NOW), Forbidden, "bad_signature"),
        (phone.cti.hex(), NOW - 301, phone.proof("revoke", NOW - 301), InvalidInput,
         "time_skew"),
        ("00" * 16, NOW, phone.proof("revoke", NOW), NotFound, "unknown_credential"),
        ("xyz", NOW, phone.proof("revoke", NOW), InvalidInput, "invalid_input"),
        (phone.cti.hex(), str(NOW), phone.proof("revoke", NOW), InvalidInput, "invalid_input"),
        (phone.cti.hex(), NOW, "!!", InvalidInput, "invalid_input"),
        (phone.cti.hex(), NOW, devicekeys.b64url_encode(bytes(10)), Forbidden, "bad_signature"),
    ]
    for cti, time, signature, error, code in cases:
        with pytest.raises(error) as exc:
            issuer.office.self_revoke(cti, time, signature, NOW)
        assert exc.value.code == code, (cti, time)
    assert phone.cti not in issuer.lists()[1]


def test_end_of_studies_revokes_and_cancels_orders(issuer: Issuer) -> None:
    student_id = issuer.add()
    phone = issuer.activate(student_id, NOW)
    pending = issuer.office.order(issuer.add(2), NOW)
    open_order = issuer.office.order(student_id, NOW + 1)
    _student, published = issuer.office.update_student(student_id, {"status": "graduated"},
                                                       NOW + 2)
    assert published is not None
    assert issuer.check(phone, NOW + 3).reason is Reason.REVOKED
    with pytest.raises(Gone):
        issuer.office.activate(open_order.code, new_key().public_key(), NOW + 3)
    assert issuer.office.activate(pending.code, new_key().public_key(), NOW + 3).cti
    assert issuer.office.credentials(student_id)[0].revocation_reason == "status_graduated"


def test_revoked_ids_leave_the_list_after_their_exp(issuer: Issuer) -> None:
    phone = issuer.activate(issuer.add(), NOW)
    issuer.office.revoke(phone.cti, NOW + 1)
    assert phone.cti in issuer.lists()[1]
    issuer.registry.publish(END_OF_MARCH)
    assert len(issuer.lists()[1]) == 0


def test_concurrent_revocations_never_share_a_seq(issuer: Issuer) -> None:
    """API threads and CLI processes serialise on the directory lock: every publication gets
    its own seq, and the last list holds every revocation."""
    from concurrent.futures import ThreadPoolExecutor

    phones = [issuer.activate(issuer.add(n), NOW) for n in range(1, 9)]
    with ThreadPoolExecutor(8) as pool:
        seqs = list(pool.map(lambda p: issuer.office.revoke(p.cti, NOW + 1).revocation_seq,
                             phones))
    assert len(set(seqs)) == len(seqs)
    _trust, revocations = issuer.lists()
    assert revocations.seq == max(seqs) and all(p.cti in revocations for p in phones)


# Keys ---------------------------------------------------------------------------------------
def test_key_rotation_keeps_old_credentials_valid(issuer: Issuer) -> None:
    old_phone = issuer.activate(issuer.add(1), NOW)
    old_kid = parse_credential(old_phone.issued.credential).kid
    rotation = issuer.registry.rotate_key(NOW + 100)
    assert rotation.closed == ((old_kid, NOW + 100),)
    trust, _revocations = issuer.lists()
    assert set(trust.issuers) == {old_kid, rotation.kid}
    assert trust.issuers[old_kid].exp == NOW + 100  # the old key's window closed
    assert issuer.check(old_phone, NOW + 200).verdict is Verdict.VALID
    new_phone = issuer.activate(issuer.add(2), NOW + 200)
    assert parse_credential(new_phone.issued.credential).kid == rotation.kid
    assert issuer.check(new_phone, NOW + 200).verdict is Verdict.VALID

    # The old key could still be used by whoever holds the file, but not for new credentials.
    with issuer.registry.reader() as store:
        key_file = next(k.key_file for k in store.issuer_keys() if k.kid == old_kid)
    old_key = load_private_key(issuer.registry.directory / key_file)
    late = Wallet.new()
    claims = credential_claims(
        iss="PL-1043", student=StudentData("A", "B", "2003-05-01", "U", "1"),
        device_key=late.public_key, cti=bytes(16), iat=NOW + 150, nbf=NOW + 150, exp=NOW + DAY)
    late.credential = sign_credential(old_key, claims)
    trust, revocations = issuer.lists()
    assert verify(late.present(NOW + 200), trust, revocations, NOW + 200).reason is \
        Reason.ISSUER_KEY_EXPIRED

    # Listed until the last credential it signed has expired, then dropped.
    issuer.registry.publish(END_OF_MARCH - 1)
    assert old_kid in issuer.lists()[0].issuers
    issuer.registry.publish(END_OF_MARCH)
    assert set(issuer.lists()[0].issuers) == {rotation.kid}


def test_rotation_in_the_second_of_an_issue_keeps_that_credential_inside(issuer: Issuer) -> None:
    phone = issuer.activate(issuer.add(), NOW)
    rotation = issuer.registry.rotate_key(NOW)
    assert rotation.closed[0][1] == NOW + 1
    assert issuer.check(phone, NOW + 5).verdict is Verdict.VALID


# Store --------------------------------------------------------------------------------------
def test_files_holding_secrets_or_personal_data_are_0600(issuer: Issuer) -> None:
    issuer.activate(issuer.add(), NOW)
    directory = issuer.registry.directory
    for path in [directory / "issuer.db", directory / "admin.token", directory / "ta.key.pem",
                 *(directory / "keys").iterdir()]:
        assert mode(path) == 0o600, path
    assert mode(directory / "anchor.pem") == 0o644


def test_an_older_database_is_migrated(tmp_path: Path) -> None:
    """A version-1 database (what state.json held) gains students, orders and reasons."""
    directory = tmp_path / "issuer"
    directory.mkdir()
    ta, uni = new_key(), new_key()
    save_private_key(ta, directory / "ta.key.pem")
    (directory / "anchor.pem").write_bytes(public_pem(ta.public_key()))
    save_private_key(uni, directory / "keys" / "old.key.pem")
    conn = db.connect(directory / "issuer.db", target=1)
    assert db.schema_version(conn) == 1
    kid = kid_of(uni.public_key())
    conn.executescript(f"""
        INSERT INTO counters VALUES ('trust_seq', 7), ('revocation_seq', 41);
        INSERT INTO issuer_keys VALUES (x'{kid.hex()}', 'PL-9', 'Stara', 'keys/old.key.pem',
                                        {NOW - 400 * DAY}, {NOW + 400 * DAY}, {NOW - 400 * DAY});
        INSERT INTO credentials VALUES (x'{"11" * 16}', x'{kid.hex()}', {NOW - DAY}, {NOW + DAY});
        INSERT INTO revocations VALUES (x'{"11" * 16}', {NOW + DAY}, {NOW - 5});
    """)
    conn.close()

    registry = Registry(directory)
    published = registry.publish(NOW)
    assert (published.trust_seq, published.revocation_seq, published.revoked) == (8, 42, 1)
    conn = sqlite3.connect(directory / "issuer.db")
    assert db.schema_version(conn) == db.SCHEMA_VERSION == len(db.MIGRATIONS)
    assert conn.execute("SELECT reason FROM revocations").fetchall() == [("issuer",)]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"students", "orders"} <= tables
    conn.close()
    office = Office(registry)
    student_id = office.add_student(student_fields(), NOW)
    order = office.order(student_id, NOW)
    assert office.activate(order.code, new_key().public_key(), NOW).exp == END_OF_MARCH


def test_a_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SetupError, match="newer"):
        db.connect(path)


def test_a_file_based_directory_is_imported(tmp_path: Path) -> None:
    """An issuer directory of the previous version (state.json) keeps its seq numbers,
    keys and revocations."""
    directory = tmp_path / "issuer"
    ta, uni = new_key(), new_key()
    save_private_key(ta, directory / "ta.key.pem")
    (directory / "anchor.pem").write_bytes(public_pem(ta.public_key()))
    save_private_key(uni, directory / "issuers" / "PL-7.key.pem")
    state = {
        "v": 1, "trust_seq": 3, "revocation_seq": 9, "revocation_iat": NOW - 60,
        "issuers": [{"iss": "PL-7", "name": "Uczelnia", "nbf": NOW - DAY, "exp": NOW + 99 * DAY}],
        "issued": {"22" * 16: NOW + DAY, "33" * 16: NOW + DAY},
        "revoked": {"22" * 16: NOW + DAY},
    }
    (directory / "state.json").write_text(json.dumps(state))
    registry = Registry(directory)
    assert registry.revocation_age(NOW) == 60
    assert not (directory / "state.json").exists()
    assert (directory / "state.json.migrated").exists()
    published = registry.publish(NOW)
    assert (published.trust_seq, published.revocation_seq, published.revoked) == (4, 10, 1)
    trust, revocations = published_lists(registry)
    assert bytes.fromhex("22" * 16) in revocations
    assert [e.iss for e in trust.issuers.values()] == ["PL-7"]
    registry.revoke(bytes.fromhex("33" * 16), NOW + 1)
    assert len(published_lists(registry)[1]) == 2
    assert registry.admin_token() and mode(registry.token_path) == 0o600  # made on first use


# CSV import ---------------------------------------------------------------------------------
CSV_HEADER = ("given_names,family_name,birth_date,pesel,album,status,els_issued,"
              "els_valid_until,photo")


def _csv_row(n: int, photo: str = "", pesel_number: str | None = None) -> str:
    dob = date(2002, 3, n)
    number = pesel_number or pesel.make(dob, n, False)
    return f"Jan{n},Nowak,{dob},{number},20{n:04d},active,2026-10-01,2027-03-31,{photo}"


def test_csv_import_with_photo_files_and_synthetic_portraits(issuer: Issuer,
                                                             tmp_path: Path) -> None:
    photo = synthetic_photo("file photo")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "jan1.png").write_bytes(photo)
    csv = tmp_path / "students.csv"
    csv.write_text("\n".join([CSV_HEADER, _csv_row(1, "photos/jan1.png"), _csv_row(2),
                              _csv_row(3)]) + "\n", encoding="utf-8")
    ids = issuer.office.import_csv(csv, NOW)
    assert len(ids) == 3
    records = issuer.office.students()
    # Every row's portrait made by the office (none stored as it came), a small WebP.
    assert all(r.photo and photo_type(r.photo) == "image/webp" and len(r.photo) <= 1024
               for r in records)
    assert len({r.photo for r in records}) == 3
    assert records[1].photo != records[2].photo
    assert issuer.activate(ids[2], NOW).issued.exp == END_OF_MARCH


def test_csv_import_is_all_or_nothing_and_names_the_line(issuer: Issuer, tmp_path: Path) -> None:
    csv = tmp_path / "students.csv"
    bad = "02230212345"
    csv.write_text("\n".join([CSV_HEADER, _csv_row(1), _csv_row(2, pesel_number=bad)]) + "\n")
    with pytest.raises(InvalidInput) as exc:
        issuer.office.import_csv(csv, NOW)
    assert "line 3" in exc.value.message and bad not in exc.value.message
    assert issuer.office.students() == []
    csv.write_text("\n".join([CSV_HEADER, _csv_row(1), _csv_row(1)]) + "\n")  # a duplicate
    with pytest.raises(Conflict, match="line 3"):
        issuer.office.import_csv(csv, NOW)
    assert issuer.office.students() == []


# CLI ----------------------------------------------------------------------------------------
def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_cli_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d, now = str(tmp_path / "issuer"), str(NOW)
    _run(capsys, "init", d, "--now", now)
    csv = tmp_path / "s.csv"
    csv.write_text("\n".join([CSV_HEADER, _csv_row(1), _csv_row(2)]) + "\n")
    assert "2 students imported" in _run(capsys, "student", "import", d, str(csv), "--now", now)
    number = pesel.make(date(2001, 1, 1), 9, True)
    out = _run(capsys, "student", "add", d, "--given-names", "Ewa", "--family-name", "Lis",
               "--birth-date", "2001-01-01", "--pesel", number, "--album", "777",
               "--synthetic-photo", "--els-issued", "2026-10-01", "--els-valid-until",
               "2027-03-31", "--now", now)
    assert "student 3 added" in out
    listing = _run(capsys, "student", "list", d, "--now", now)
    assert listing.count(" yes") == 3 and number not in listing
    show = _run(capsys, "student", "show", d, "3", "--now", now)
    assert "Ewa Lis" in show and number not in show and "on file" in show

    out = _run(capsys, "order", d, "3", "--qr-png", str(tmp_path / "act.png"), "--now", now)
    code = out.split("activation code: ")[1].split()[0]
    assert (tmp_path / "act.png").read_bytes().startswith(b"\x89PNG")
    wallet = tmp_path / "w.json"
    _run(capsys, "activate", d, "--code", code.lower(), "--wallet", str(wallet), "--now", now)
    assert mode(wallet) == 0o600
    assert main(["activate", d, "--code", code, "--wallet", str(tmp_path / "x.json"),
                 "--now", now]) == 2
    assert "used already" in capsys.readouterr().err

    _run(capsys, "student", "update", d, "3", "--extend-els", "--now", now)
    out = _run(capsys, "extend", d, "--wallet", str(wallet), "--now", str(NOW + 10))
    assert "valid until 2027-10-31 (inclusive)" in out and "revoked" in out
    out = _run(capsys, "keys", "rotate", d, "--now", str(NOW + 20))
    assert "new signing key" in out and "trust list seq 2" in out
    assert _run(capsys, "keys", "list", d, "--now", str(NOW + 20)).count("listed") == 2
    text = _run(capsys, "present", str(wallet), "--now", str(NOW + 30)).strip()
    registry = Registry(Path(d))
    trust, revocations = published_lists(registry)
    assert verify(text, trust, revocations, NOW + 30).verdict is Verdict.VALID

    out = _run(capsys, "student", "update", d, "3", "--status", "graduated", "--now",
               str(NOW + 40))
    assert "revocation list seq" in out
    trust, revocations = published_lists(registry)
    assert verify(text, trust, revocations, NOW + 30).reason is Reason.REVOKED

    assert main(["order", d, "3", "--now", now]) == 2
    assert "status is 'graduated'" in capsys.readouterr().err
    assert main(["student", "show", d, "99"]) == 2
    assert "no student with id 99" in capsys.readouterr().err
