"""``issuer-stub student import``: the whole CSV checked first, every bad row named by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer_stub.cli import main
from tests.test_issuer_lifecycle import CSV_HEADER, NOW, Issuer, _csv_row


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer(tmp_path / "issuer")


def run_import(issuer: Issuer, csv: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["student", "import", str(issuer.registry.directory), str(csv), "--now",
                 str(NOW)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_every_bad_row_is_reported_in_one_run_and_nothing_is_written(
    issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_pesel = "02230212345"
    lines = [CSV_HEADER, _csv_row(1),
             _csv_row(2, pesel_number=bad_pesel),                       # line 3
             "Short,Row,2002-11-02",                                    # line 4: truncated
             _csv_row(4).replace("2002-03-04", "2002-13-04"),           # line 5: no such date
             _csv_row(5).replace(",active,", ",dancing,"),              # line 6
             _csv_row(6, photo="missing.jpg"),                          # line 7
             _csv_row(1),                                               # line 8: duplicate
             _csv_row(8) + ",extra",                                    # line 9
             _csv_row(9)]
    csv = tmp_path / "students.csv"
    csv.write_text("\n".join(lines) + "\n")
    code, said = run_import(issuer, csv, capsys)
    assert code == 2
    assert "7 rows" in said and "nothing was imported" in said
    for line in (3, 4, 5, 6, 7, 8, 9):
        assert f"line {line}:" in said
    assert "line 2:" not in said and "line 10:" not in said
    assert "truncated" in said and bad_pesel not in said
    assert issuer.office.students() == []


def test_a_semicolon_csv_from_a_polish_spreadsheet_is_accepted(
    issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "studenci.csv"
    rows = [CSV_HEADER, _csv_row(1), _csv_row(2)]
    csv.write_text("\r\n".join(r.replace(",", ";") for r in rows) + "\r\n", encoding="utf-8-sig")
    code, said = run_import(issuer, csv, capsys)
    assert code == 0, said
    assert "2 students imported (ids 1-2)" in said
    assert [s.album for s in issuer.office.students()] == ["200001", "200002"]


def test_one_student_is_singular(issuer: Issuer, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "one.csv"
    csv.write_text(CSV_HEADER + "\n" + _csv_row(1) + "\n")
    code, said = run_import(issuer, csv, capsys)
    assert code == 0 and "1 student imported (id 1)" in said


def test_a_wrong_header_says_how_it_was_read(issuer: Issuer, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("imie|nazwisko|data\nJan|Nowak|2002-01-01\n")
    code, said = run_import(issuer, csv, capsys)
    assert code == 2
    assert "commas or semicolons" in said and "'imie|nazwisko|data'" in said
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("given_names,family_name,birth_date\nŁucja,Żak,2002-01-01\n")
                      .encode("cp1250"))
    code, said = run_import(issuer, latin, capsys)
    assert code == 2 and "UTF-8" in said
