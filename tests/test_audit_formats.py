"""``verifier audit --json`` / ``--csv``: the day's counts for a trial's spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import DAY, NOW, STUDENT, World
from verifier.commands.audit import run_audit
from verifier.commands.cli import main, parse_arguments
from verifier.device.audit import AuditLog
from verifier.device.config import Config
from verifier.imaging.pipeline import check_texts


@pytest.fixture
def config(world: World, tmp_path: Path) -> Config:
    data = world.trust_data()
    log = AuditLog(tmp_path / "audit")
    for at in (NOW - DAY, NOW, NOW + 5):
        log.record(check_texts([world.wallet().present(at)], data, at), at)
    log.record(check_texts([world.wallet(exp=NOW - 1).present(NOW)], data, NOW), NOW)
    log.close()
    return Config(cache_dir=tmp_path)


def test_csv_counts_open_in_a_spreadsheet(config: Config) -> None:
    out = io.StringIO()
    assert run_audit(config, 2, False, out, now=NOW + 10, fmt="csv") == 0
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert table == [
        {"day": "2027-01-14", "verdict": "warning", "reason": "clock_behind", "count": "1"},
        {"day": "2027-01-15", "verdict": "invalid", "reason": "expired", "count": "1"},
        {"day": "2027-01-15", "verdict": "valid", "reason": "", "count": "2"},
    ]


def test_csv_rows_and_json(config: Config) -> None:
    out = io.StringIO()
    run_audit(config, 1, True, out, now=NOW + 10, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 3 and {r["iss"] for r in rows} == {"PL-1043"}
    assert rows[0]["time"].startswith("2027-01-15T") and rows[0]["time"].endswith("+01:00")
    assert STUDENT.family_name not in out.getvalue()
    out = io.StringIO()
    run_audit(config, 1, True, out, now=NOW + 10, fmt="json")
    doc = json.loads(out.getvalue())
    assert doc["total"] == 3 and len(doc["rows"]) == 3
    assert {"day": "2027-01-15", "verdict": "valid", "reason": "", "count": 2} in doc["counts"]


def test_no_log_yet_is_still_valid_output(tmp_path: Path) -> None:
    out = io.StringIO()
    run_audit(Config(cache_dir=tmp_path), 1, False, out, fmt="json")
    assert json.loads(out.getvalue())["total"] == 0
    out = io.StringIO()
    run_audit(Config(cache_dir=tmp_path), 1, False, out, fmt="csv")
    assert out.getvalue() == "day,verdict,reason,count\n"


def test_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_arguments(["audit", "--csv"]).fmt == "csv"
    assert parse_arguments(["audit", "--json", "--rows"]).fmt == "json"
    assert parse_arguments(["audit"]).fmt == "text"
    with pytest.raises(SystemExit):
        main(["audit", "--json", "--csv"])
    capsys.readouterr()
