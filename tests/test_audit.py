"""The audit log: verdicts and keyed credential hashes on a real SQLite file, nothing personal."""

from __future__ import annotations

import io
import stat
from pathlib import Path

from tests.conftest import DAY, NOW, STUDENT, World
from verifier.commands.audit import run_audit
from verifier.core.reasons import Verdict
from verifier.device.audit import DB_FILE, KEY_FILE, AuditLog
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
    log = AuditLog(tmp_path, NOW)
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
    one, two = AuditLog(tmp_path / "a", NOW), AuditLog(tmp_path / "b", NOW)
    assert one.credential_hash(bytes(16)) != two.credential_hash(bytes(16))
    again = AuditLog(tmp_path / "a", NOW)  # the key persists on the device
    assert again.credential_hash(bytes(16)) == one.credential_hash(bytes(16))


def test_old_rows_are_pruned_on_open(world: World, tmp_path: Path) -> None:
    log = AuditLog(tmp_path, NOW)
    result = check_texts([world.wallet().present(NOW)], world.trust_data(), NOW)
    log.record(result, NOW - 100 * DAY)
    log.record(result, NOW)
    log.close()
    assert [row.at for row in AuditLog(tmp_path, NOW, keep_days=90).rows()] == [NOW]


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
            audit=AuditLog(tmp_path, clock.now()),
        )
        return InspectorApp(services, language="en")

    clock = FixedClock(NOW)
    app = app_at(clock)
    async with app.run_test() as pilot:
        app.submit_texts([world.wallet().present(NOW)])
        app.submit_texts([world.wallet(exp=NOW - 1).present(NOW)])
        await pilot.pause()
        assert "✔ 1  ✘ 1" in _status(app)
    restarted = app_at(clock)
    async with restarted.run_test() as pilot:
        await pilot.pause()
        assert "✔ 1  ✘ 1" in _status(restarted)
        clock.advance(DAY)  # the next day starts from zero
        restarted.tick()
        await pilot.pause()
        assert "✔ 0  ✘ 0" in _status(restarted)
    rows = list(AuditLog(tmp_path, NOW).rows())
    assert [r.verdict for r in rows] == [Verdict.VALID, Verdict.INVALID]


def test_audit_command_counts_per_day_and_reason(world: World, tmp_path: Path) -> None:
    config = Config(cache_dir=tmp_path)
    out = io.StringIO()
    assert run_audit(config, 1, False, out, now=NOW) == 0
    assert "no audit log" in out.getvalue()
    data = world.trust_data()
    log = AuditLog(tmp_path / "audit", NOW)
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
