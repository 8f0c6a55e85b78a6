"""What ``issuer-stub`` prints (issue 15): names in the university's own list, every failed
eligibility condition named, and one way of writing dates and times."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from issuer_stub import pesel
from issuer_stub.cli import main
from tests.test_issuer_lifecycle import NOW, Issuer


def out_of(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    assert main(list(argv)) == code
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer(tmp_path / "issuer")


def test_student_list_shows_names_never_the_pesel(issuer: Issuer,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    issuer.add(1)
    issuer.add(2, pesel=None)
    listing = out_of(capsys, "student", "list", str(issuer.registry.directory), "--now", str(NOW))
    assert "Anna1 Kowalska" in listing and "Anna2 Kowalska" in listing
    assert "no: pesel_missing" in listing
    for student in issuer.office.students():
        assert not student.pesel or student.pesel not in listing


def test_an_ineligible_order_names_every_failing_condition(
    issuer: Issuer, capsys: pytest.CaptureFixture[str]
) -> None:
    student = issuer.add(1, pesel=None, album=None, photo=None)
    said = out_of(capsys, "order", str(issuer.registry.directory), str(student), "--now",
                  str(NOW), code=2)
    assert "no PESEL" in said and "no album number" in said and "no photo" in said
    assert "more condition" not in said


def test_one_date_format(issuer: Issuer, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    d = str(issuer.registry.directory)
    student = issuer.add(1)
    ordered = out_of(capsys, "order", d, str(student), "--now", str(NOW))
    # a moment: ISO date, 24-hour time and the zone (NOW is 2027-01-15 09:00 in Warsaw)
    assert re.search(r"until 2027-02-14 09:00 CET\b", ordered), ordered
    code = ordered.split("activation code: ")[1].split()[0]
    activated = out_of(capsys, "activate", d, "--code", code, "--wallet",
                       str(tmp_path / "w.json"), "--now", str(NOW))
    assert "valid until 2027-03-31 (inclusive)" in activated
    shown = out_of(capsys, "student", "show", d, str(student), "--now", str(NOW))
    assert "valid until 2027-03-31 (inclusive): live" in shown
    assert "2027-04-01" not in shown and "31.03" not in shown
    for text in (ordered, activated, shown):
        assert not re.search(r"\d{2}\.\d{2}\.\d{4}", text)
        # every time of day carries its zone
        for match in re.finditer(r"\d{2}:\d{2}(?!:)", text):
            assert re.match(r" CES?T\b", text[match.end():]), text


def test_els_today_and_next_semester(issuer: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(issuer.registry.directory)
    number = pesel.make(date(2001, 1, 1), 3, True)
    out_of(capsys, "student", "add", d, "--given-names", "Ewa", "--family-name", "Lis",
           "--birth-date", "2001-01-01", "--pesel", number, "--album", "9",
           "--synthetic-photo", "--els-issued", "today", "--els-valid-until", "next",
           "--now", str(NOW))
    shown = out_of(capsys, "student", "show", d, "1", "--now", str(NOW))
    assert "issued 2027-01-15 09:00 CET, valid until 2027-03-31 (inclusive)" in shown
    assert "eligible:    yes" in shown
