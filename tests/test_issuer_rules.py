"""The issuer stub's pure rules: PESEL, input validation, eligibility, codes, key windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from issuer_stub import eligibility, lifecycle, pesel, students
from issuer_stub.errors import Gone, InvalidInput, NotEligible
from issuer_stub.records import IssuerKey, Order, StudentRecord
from issuer_stub.semesters import end_of_day, following_semester_end
from verifier.core.textout import warsaw

NOW = 1_800_000_000  # 2027-01-15 09:00 Warsaw
DAY = 86400
JPEG = b"\xff\xd8\xff\xe0" + bytes(100)

RECORD = StudentRecord(
    id=1, iss="PL-1", given_names="Anna", family_name="Kowalska", birth_date="2003-05-17",
    pesel=pesel.make(date(2003, 5, 17), 7, True), album="123456", status="active", photo=JPEG,
    els_issued_at=NOW - 100 * DAY, els_valid_until="2027-03-31", data_changed_at=None,
    created_at=NOW - 100 * DAY,
)


# PESEL --------------------------------------------------------------------------------------
def test_pesel_known_numbers_and_centuries() -> None:
    assert pesel.validate("44051401359") == "44051401359"  # the textbook example, 1944-05-14
    assert pesel.birth_date("44051401359") == date(1944, 5, 14)
    for dob in (date(1899, 12, 31), date(1999, 1, 1), date(2004, 2, 29), date(2101, 7, 1)):
        number = pesel.make(dob, 123, female=dob.day % 2 == 0)
        assert pesel.validate(number, dob) == number
        assert pesel.birth_date(number) == dob
    assert int(pesel.make(date(2000, 1, 1), 5, True)[9]) % 2 == 0
    assert int(pesel.make(date(2000, 1, 1), 5, False)[9]) % 2 == 1


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("4405140135", "pesel_invalid"),  # 10 digits
        ("4405140135X", "pesel_invalid"),
        ("44051401358", "pesel_invalid"),  # check digit
        ("44053201356", "pesel_invalid"),  # 32 May... month 05 day 32
        ("44990101358", "pesel_invalid"),  # month 99 is no century
        ("４４０５１４０１３５９", "pesel_invalid"),  # full-width digits are not ASCII
    ],
)
def test_pesel_rejections(number: str, code: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        pesel.validate(number)
    assert exc.value.code == code
    assert number not in exc.value.message


def test_pesel_must_match_the_birth_date() -> None:
    with pytest.raises(InvalidInput) as exc:
        pesel.validate("44051401359", date(1944, 5, 15))
    assert exc.value.code == "pesel_dob_mismatch"


# Student input ------------------------------------------------------------------------------
def _fields(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "given_names": "Zo\u0308fia", "family_name": "Nowak", "birth_date": "2003-05-17",
        "pesel": RECORD.pesel, "album": "A/1", "photo": JPEG,
        "els_issued_at": NOW - DAY, "els_valid_until": "2027-03-31",
    }
    base.update(over)
    return base


def test_new_student_normalises_and_defaults() -> None:
    values = students.new_student(_fields(), NOW)
    assert values["given_names"] == "Zöfia"  # NFC
    assert values["status"] == "active"


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"birth_date": "17.05.2003"}, "invalid_date"),
        ({"birth_date": "2003-02-30"}, "invalid_date"),
        ({"birth_date": "2030-01-01"}, "invalid_date"),
        ({"pesel": "44051401359"}, "pesel_dob_mismatch"),
        ({"pesel": "12345678901"}, "pesel_invalid"),
        ({"photo": b"GIF89a" + bytes(10)}, "photo_type"),
        ({"photo": b"\xff\xd8\xff" + bytes(students.MAX_PHOTO_INPUT_BYTES)}, "photo_size"),
        ({"els_valid_until": "2027-02-28"}, "invalid_date"),
        ({"els_issued_at": NOW + 1}, "invalid_date"),
        ({"els_issued_at": None}, "invalid_input"),  # an ELS needs both dates
        ({"album": "has space"}, "invalid_input"),
        ({"given_names": ""}, "invalid_input"),
        ({"family_name": "x" * 101}, "invalid_input"),
        ({"status": "dead"}, "invalid_input"),
        ({"favourite_colour": "blue"}, "invalid_input"),
    ],
)
def test_new_student_rejections(over: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        students.new_student(_fields(**over), NOW)
    assert exc.value.code == code
    assert str(RECORD.pesel) not in exc.value.message


def test_photo_files_up_to_the_input_cap_are_taken_for_the_portrait() -> None:
    # The file a portrait is made from (photos.py decodes it, bounded): not the credential's.
    cap = students.MAX_PHOTO_INPUT_BYTES
    assert len(students.check_photo(b"\xff\xd8\xff" + bytes(cap - 3))) == cap
    for head in (b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBPVP8 ", b"\0\0\0\x1cftypavif"):
        assert students.check_photo(head + bytes(10)).startswith(head)


def test_changes_stamp_personal_data_and_reissue_els() -> None:
    assert students.changes(RECORD, {"album": "999"}, NOW) == {"album": "999"}
    renamed = students.changes(RECORD, {"family_name": "Nowak"}, NOW)
    assert renamed == {"family_name": "Nowak", "data_changed_at": NOW}
    assert students.changes(RECORD, {"family_name": "Kowalska"}, NOW) == {}  # no change
    both = students.changes(RECORD, {"family_name": "Nowak"}, NOW, reissue_els=True)
    assert both["els_issued_at"] == both["data_changed_at"] == NOW


# Eligibility ----------------------------------------------------------------------------------
ELIGIBILITY_CASES = [
    (replace(RECORD, status="graduated"), "status_not_active", "status is 'graduated'"),
    (replace(RECORD, pesel=None), "pesel_missing", "no PESEL"),
    (replace(RECORD, album=None), "album_missing", "no album number"),
    (replace(RECORD, photo=None), "photo_missing", "no photo"),
    (replace(RECORD, els_issued_at=None, els_valid_until=None), "els_missing", "no student ID"),
    (replace(RECORD, els_valid_until="2026-10-31"), "els_not_extended", "not been extended"),
    (replace(RECORD, data_changed_at=NOW - DAY), "data_changed", "personal data changed"),
]


@pytest.mark.parametrize(("student", "condition", "phrase"), ELIGIBILITY_CASES)
def test_each_eligibility_rule_has_its_own_code_and_sentence(
    student: StudentRecord, condition: str, phrase: str
) -> None:
    assert [f.condition for f in eligibility.failures(student, NOW)] == [condition]
    with pytest.raises(NotEligible) as exc:
        eligibility.require_eligible(student, NOW)
    assert exc.value.condition == condition and phrase in exc.value.message
    assert exc.value.status == 409


def test_eligible_and_all_failures_listed() -> None:
    assert eligibility.failures(RECORD, NOW) == []
    eligibility.require_eligible(RECORD, NOW)
    messages = {eligibility.failures(s, NOW)[0].message for s, _c, _p in ELIGIBILITY_CASES}
    assert len(messages) == len(ELIGIBILITY_CASES)
    nothing = replace(RECORD, status="removed", pesel=None, album=None, photo=None)
    assert len(eligibility.failures(nothing, NOW)) == 4
    with pytest.raises(NotEligible) as refused:  # every failed rule is named, not counted
        eligibility.require_eligible(nothing, NOW)
    for failure in eligibility.failures(nothing, NOW):
        assert failure.message in refused.value.message
    assert refused.value.conditions == tuple(f.condition for f in eligibility.failures(nothing,
                                                                                      NOW))


def test_els_validity_ends_at_the_end_of_its_last_day() -> None:
    last_second = RECORD.els_exp
    assert last_second == int(datetime(2027, 4, 1, tzinfo=warsaw()).timestamp())
    assert eligibility.failures(RECORD, last_second - 1) == []
    assert [f.condition for f in eligibility.failures(RECORD, last_second)] == [
        "els_not_extended"]


def test_data_changed_before_the_els_was_issued_is_fine() -> None:
    assert eligibility.failures(replace(RECORD, data_changed_at=NOW - 200 * DAY), NOW) == []


# Semesters ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("until", "today", "expect"),
    [
        (date(2027, 3, 31), "2027-01-15", date(2027, 10, 31)),  # early extension
        (date(2026, 10, 31), "2027-01-15", date(2027, 3, 31)),  # lapsed: the current semester
        (None, "2027-11-02", date(2028, 3, 31)),
        (date(2027, 10, 31), "2027-10-31", date(2028, 3, 31)),
    ],
)
def test_following_semester_end(until: date | None, today: str, expect: date) -> None:
    day = date.fromisoformat(today)
    now = int(datetime(day.year, day.month, day.day, 12, tzinfo=warsaw()).timestamp())
    assert following_semester_end(until, now) == expect
    assert end_of_day(expect) > now


# Activation codes -----------------------------------------------------------------------------
def test_codes_shape_and_normalisation() -> None:
    code, qr = lifecycle.new_codes(lambda n: bytes(range(1, n + 1)))
    assert len(code) == 11 and code[5] == "-" and qr.startswith(lifecycle.QR_PREFIX)
    canonical = lifecycle.normalize_code(code)
    for typed in (code.lower(), f"  {code[:3]} {code[3:]} ", code.replace("-", "")):
        assert lifecycle.normalize_code(typed) == canonical
    assert lifecycle.normalize_code("ABOIL") == "AB011"  # Crockford: O, I, L read as 0, 1, 1
    assert lifecycle.normalize_code(qr.lower()) == qr.removeprefix(lifecycle.QR_PREFIX)
    for bad in ("", "   ", "ABC!", "Ü", 123, None, "A" * 101):
        with pytest.raises(InvalidInput):
            lifecycle.normalize_code(bad)


def test_order_states() -> None:
    order = Order(1, 1, NOW, NOW + lifecycle.ACTIVATION_SECONDS, None, None, None)
    lifecycle.check_order_usable(order, NOW + lifecycle.ACTIVATION_SECONDS - 1)
    cases = [
        (order, NOW + lifecycle.ACTIVATION_SECONDS, "code_expired"),
        (replace(order, used_at=NOW), NOW, "code_used"),
        (replace(order, cancelled_at=NOW), NOW, "code_cancelled"),
    ]
    for state, at, code in cases:
        with pytest.raises(Gone) as exc:
            lifecycle.check_order_usable(state, at)
        assert exc.value.code == code and exc.value.status == 410


# Keys -------------------------------------------------------------------------------------------
def test_key_windows() -> None:
    old = IssuerKey(b"o" * 8, "PL-1", "U", "a", NOW - DAY, NOW + DAY, NOW - DAY)
    new = IssuerKey(b"n" * 8, "PL-1", "U", "b", NOW, NOW + 9 * DAY, NOW)
    assert lifecycle.signing_key([old, new], "PL-1", NOW) == new
    assert lifecycle.signing_key([old, new], "PL-1", NOW - 1) == old
    assert lifecycle.signing_key([old, new], "PL-2", NOW) is None
    assert lifecycle.closed_exp(NOW, None) == NOW
    assert lifecycle.closed_exp(NOW, NOW - 5) == NOW
    assert lifecycle.closed_exp(NOW, NOW) == NOW + 1  # signed this very second: keep it inside
    closed = replace(old, exp=NOW)
    assert lifecycle.still_listed(closed, NOW + 10, NOW)
    assert not lifecycle.still_listed(closed, NOW, NOW)
    assert not lifecycle.still_listed(closed, None, NOW)


def test_proof_time_window() -> None:
    assert lifecycle.check_proof_time(NOW - 300, NOW) == NOW - 300
    for bad in (NOW - 301, NOW + 301):
        with pytest.raises(InvalidInput) as exc:
            lifecycle.check_proof_time(bad, NOW)
        assert exc.value.code == "time_skew"
    with pytest.raises(InvalidInput):
        lifecycle.check_proof_time("1800000000", NOW)
    assert lifecycle.proof_message("revoke", "ab" * 16, 5) == b"ML1-revoke:" + b"ab" * 16 + b":5"


def test_student_repr_hides_personal_data() -> None:
    text = repr(RECORD)
    assert RECORD.pesel is not None
    assert RECORD.pesel not in text and "Kowalska" not in text and "Anna" not in text
