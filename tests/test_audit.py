"""The audit log: verdicts and keyed credential hashes on a real SQLite file, nothing personal."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DAY, NOW, REPO, STUDENT, World
from verifier.commands.audit import run_audit
from verifier.core.reasons import Verdict
from verifier.device.audit import DB_FILE, KEY_FILE, AuditLog, AuditWriteError
from verifier.device.clock import FixedClock
from verifier.device.config import Config
from verifier.imaging.pipeline import check_texts
from verifier.ui.app import InspectorApp
from verifier.ui.feedback import NoFeedback
from verifier.ui.services import Services
from verifier.ui.widgets.status import StatusBar


def test_rows_hold_verdicts_and_keyed_hashes_only(world: World, tmp_path: Path) -> None:
    cti = bytes(range(16))
    wallet = world.wallet(cti=cti)
    world.ministry.revoked.add(cti)
    data = world.trust_data()
    log = AuditLog(tmp_path)
    for at in (NOW, NOW + 60):
        log.record(check_texts([wallet.present(at)], data, at), at)
    log.record(check_texts(["not a code"], data, NOW + 61), NOW + 61)
    rows = list(log.rows())
    log.close()
    assert [(r.verdict, r.reason) for r in rows] == [("invalid", "revoked")] * 2 + [
        ("invalid", "unknown_format")
    ]
    assert rows[0].credential == rows[1].credential is not None and rows[2].credential is None
    assert rows[0].iss == "PL-1043"
    stored = (tmp_path / DB_FILE).read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob(f"{DB_FILE}-*")
    )
    for secret in (STUDENT.family_name, STUDENT.album, STUDENT.birth_date, cti.hex()):
        assert secret.encode() not in stored, secret
    assert cti not in stored
    for name in (DB_FILE, KEY_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_hashes_differ_between_devices(tmp_path: Path) -> None:
    one, two = AuditLog(tmp_path / "a"), AuditLog(tmp_path / "b")
    assert one.credential_hash(bytes(16)) != two.credential_hash(bytes(16))
    again = AuditLog(tmp_path / "a")  # the key persists on the device
    assert again.credential_hash(bytes(16)) == one.credential_hash(bytes(16))


def test_retention_is_by_row_age_at_write_time_only(world: World, tmp_path: Path) -> None:
    result = check_texts([world.wallet().present(NOW)], world.trust_data(), NOW)
    log = AuditLog(tmp_path, keep_days=90)
    log.record(result, NOW - 100 * DAY)
    log.record(result, NOW - 10 * DAY)
    log.close()
    # Opening and reading (even with a clock far ahead) deletes nothing.
    out = io.StringIO()
    run_audit(Config(cache_dir=tmp_path.parent / "x"), 1, False, out, now=NOW + 400 * DAY)
    assert [r.at for r in AuditLog(tmp_path).rows()] == [NOW - 100 * DAY, NOW - 10 * DAY]
    log = AuditLog(tmp_path, keep_days=90)
    log.record(result, NOW)  # writing prunes what is more than 90 days older than the row
    assert [r.at for r in log.rows()] == [NOW - 10 * DAY, NOW]


def test_an_untrusted_clock_never_prunes_and_future_rows_survive(
    world: World, tmp_path: Path
) -> None:
    result = check_texts([world.wallet().present(NOW)], world.trust_data(), NOW)
    log = AuditLog(tmp_path, keep_days=90)
    for at in (NOW - 2 * DAY, NOW - DAY, NOW):
        log.record(result, at)
    # `date -s` a year ahead, clock not synchronised: the app passes prune=False.
    log.record(result, NOW + 365 * DAY, prune=False)
    assert len(list(log.rows())) == 4
    # The clock corrected, rows written "in the future" meanwhile are not deleted by age.
    log.record(result, NOW + 60)
    assert [r.at for r in log.rows()][-1] == NOW + 365 * DAY and len(list(log.rows())) == 5


def test_audit_command_opens_the_log_read_only(world: World, tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit")
    log.record(check_texts(["x"], world.trust_data(), NOW), NOW - 200 * DAY)
    log.close()
    (tmp_path / "audit").chmod(0o500)  # a read-only directory: the command must not write
    try:
        out = io.StringIO()
        assert run_audit(Config(cache_dir=tmp_path), 365, True, out, now=NOW) == 0
    finally:
        (tmp_path / "audit").chmod(0o700)
    assert "1 verdicts in 365 day(s)" in out.getvalue()


def _fill_until_full(log: AuditLog, result, at: int) -> int:
    """Write rows until SQLite refuses them; returns how many got in."""
    for n in range(100_000):
        try:
            log.record(result, at + n)
        except AuditWriteError:
            return n
    raise AssertionError("the database never filled up")


def test_a_full_database_raises_keeps_rows_queued_and_recovers(
    world: World, tmp_path: Path
) -> None:
    result = check_texts([world.wallet().present(NOW)], world.trust_data(), NOW)
    log = AuditLog(tmp_path)
    log.record(result, NOW)
    # SQLite's own "database or disk is full" (SQLITE_FULL), as on a full SD card.
    pages = log._db.execute("PRAGMA page_count").fetchone()[0]
    log._db.execute(f"PRAGMA max_page_count = {pages}")
    written = _fill_until_full(log, result, NOW + 1)
    assert log.error is not None and "full" in log.error
    with pytest.raises(AuditWriteError, match="2 verdict"):
        log.record(result, NOW + 10_000)
    assert log.pending == 2
    log._db.execute("PRAGMA max_page_count = 1000000")  # space freed
    log.record(result, NOW + 10_001)
    assert log.error is None and log.pending == 0
    assert len(list(log.rows())) == 1 + written + 3


FSIZE_SCRIPT = """
import resource, sys
from pathlib import Path
from verifier.core.result import CheckResult
from verifier.core.reasons import Verdict, Reason
from verifier.device.audit import AuditLog, AuditWriteError
log = AuditLog(Path(sys.argv[1]))
result = CheckResult(verdict=Verdict.INVALID, reason=Reason.MALFORMED)
log.record(result, 1)
size = sum(p.stat().st_size for p in Path(sys.argv[1]).glob("audit.sqlite*"))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 8192, hard))  # the disk is now "full"
failed = 0
for at in range(2, 200):
    try:
        log.record(result, at)
    except AuditWriteError:
        failed += 1
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space freed
log.record(result, 500)
print(failed, log.pending, len(list(log.rows())))
"""


def test_file_size_limit_makes_writes_fail_then_they_recover(tmp_path: Path) -> None:
    """The kernel refusing writes (RLIMIT_FSIZE: EFBIG, as ENOSPC would), in a subprocess."""
    done = subprocess.run(
        [sys.executable, "-c", FSIZE_SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    failed, pending, rows = map(int, done.stdout.split())
    assert failed > 0 and pending == 0 and rows == 200


def _status(app: InspectorApp) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_app_records_each_verdict_and_todays_counts_survive_a_restart(
    world: World, tmp_path: Path
) -> None:
    def app_at(clock: FixedClock) -> InspectorApp:
        services = Services(
            load_trust=world.trust_data,
            clock=clock,
            feedback=NoFeedback(),
            audit=AuditLog(tmp_path),
        )
        return InspectorApp(services, language="en")

    clock = FixedClock(NOW)
    app = app_at(clock)
    async with app.run_test() as pilot:
        app.submit_texts([world.wallet().present(NOW)])
        app.submit_texts([world.wallet(exp=NOW - 1).present(NOW)])
        await pilot.pause()
        assert "✓1 ✗1" in _status(app)
    restarted = app_at(clock)
    async with restarted.run_test() as pilot:
        await pilot.pause()
        assert "✓1 ✗1" in _status(restarted)
        clock.advance(DAY)  # the next day starts from zero
        restarted.tick()
        await pilot.pause()
        assert "✓0 ✗0" in _status(restarted)
    rows = list(AuditLog(tmp_path).rows())
    assert [r.verdict for r in rows] == [Verdict.VALID, Verdict.INVALID]


def test_audit_command_counts_per_day_and_reason(world: World, tmp_path: Path) -> None:
    config = Config(cache_dir=tmp_path)
    out = io.StringIO()
    assert run_audit(config, 1, False, out, now=NOW) == 0
    assert "no audit log" in out.getvalue()
    data = world.trust_data()
    log = AuditLog(tmp_path / "audit")
    for at in (NOW - DAY, NOW, NOW + 5):
        log.record(check_texts([world.wallet().present(at)], data, at), at)
    log.record(check_texts([world.wallet(exp=NOW - 1).present(NOW)], data, NOW), NOW)
    log.close()
    out = io.StringIO()
    run_audit(config, 1, False, out, now=NOW + 10)
    lines = out.getvalue().splitlines()
    assert lines == [
        "2027-01-15  invalid  expired                   1",
        "2027-01-15  valid    -                         2",
        "3 verdicts in 1 day(s)",
    ]
    out = io.StringIO()
    run_audit(config, 2, True, out, now=NOW + 10)
    assert out.getvalue().splitlines()[-1] == "4 verdicts in 2 day(s)"
    assert "PL-1043" in out.getvalue() and STUDENT.family_name not in out.getvalue()
