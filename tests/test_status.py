"""`verifier status`, the Prometheus textfile, the app's runtime status file, `--version`,
and orphaned temporary files: what an operator and a fleet see of a kit."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from issuer_stub.keystore import public_pem
from tests.conftest import NOW, REPO, STUDENT, World
from verifier.commands.cli import main
from verifier.commands.status import collect, render_prometheus, run_status
from verifier.device import buildinfo
from verifier.device.atomicfile import ORPHAN_AGE, remove_orphans
from verifier.device.audit import AuditLog
from verifier.device.config import Config
from verifier.device.runtime import STATUS_FILE, RuntimeStatus, read_status
from verifier.device.store import ListStore
from verifier.imaging.pipeline import check_texts

# Prometheus' text format: a sample line is NAME{LABELS} VALUE.
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[0-9.e+]+$')


def kit(tmp_path: Path, world: World) -> Config:
    (tmp_path / "anchor.pem").write_bytes(public_pem(world.ministry.key.public_key()))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "trustlist.cbor").write_bytes(world.ministry.trust_list(iat=NOW - 7200))
    (cache / "revocations.cbor").write_bytes(world.ministry.revocation_list(iat=NOW - 25 * 3600))
    (cache / "state.json").write_text(json.dumps({
        "last_sync": {"at": NOW - 60, "ok": True, "clock_skew": None, "clock_offset": -3},
        "trustlist": {"last_status": "not_modified", "last_success": NOW - 60},
    }))
    return Config(anchor=tmp_path / "anchor.pem", cache_dir=cache)


def app_running(config: Config, now: int, **figures) -> None:
    status = {
        "updated_at": now, "started_at": now - 100, "pid": 1, "camera": "ok", "fps": 7.5,
        "counts": {"valid": 3, "invalid": 1, "warning": 0}, "audit_ok": True,
        "audit_pending": 0, **figures,
    }
    assert RuntimeStatus(config.cache_dir / "run").write(status)


def test_status_reports_lists_sync_clock_app_and_counts(world: World, tmp_path: Path) -> None:
    config = kit(tmp_path, world)
    log = AuditLog(config.cache_dir / "audit")
    log.record(check_texts([world.wallet().present(NOW)], world.trust_data(), NOW), NOW)
    log.close()
    app_running(config, NOW)
    status = collect(config, now=NOW + 5, restarts=False, clock_probe=lambda: True)
    assert status.anchor_kid == world.ministry.anchor.kid.hex()
    assert (status.trust_list.seq, status.trust_list.age) == (1, 7205)
    assert status.trust_list.last_status == "not_modified"
    assert status.revocation_list.held and status.revocation_list.age == 25 * 3600 + 5
    assert status.clock_offset == -3 and status.last_sync_ok is True
    assert status.app_running and status.camera == "ok" and status.camera_fps == 7.5
    assert status.counts_today == {"valid": 1, "warning": 0, "invalid": 0}  # the audit log's
    assert status.problems == ["revocation list: 25 h old"]
    assert status.disk_free_bytes and status.disk_free_bytes > 0
    out = io.StringIO()
    assert run_status(config, True, None, out, now=NOW + 5, clock_probe=lambda: True) == 0
    data = json.loads(out.getvalue())
    assert data["trust_list"]["seq"] == 1 and data["app_running"] is True
    text = io.StringIO()
    run_status(config, False, None, text, now=NOW + 5, clock_probe=lambda: False)
    assert "clock: NOT synchronized (config clock = system), offset at last sync -3 s" in (
        text.getvalue())
    assert "problem: clock: not synchronized by NTP" in text.getvalue()
    assert "camera ok, 7.5 decoded frames/s" in text.getvalue()
    for output in (out.getvalue(), text.getvalue()):  # nothing personal in any figure
        assert STUDENT.family_name not in output and STUDENT.album not in output


def test_a_stale_or_missing_runtime_status_means_the_app_is_down(
    world: World, tmp_path: Path
) -> None:
    config = kit(tmp_path, world)
    assert not collect(config, now=NOW, restarts=False).app_running
    app_running(config, NOW - 120)  # a hung or killed app leaves an old file
    status = collect(config, now=NOW, restarts=False)
    assert not status.app_running and "app: not running" in status.problems
    app_running(config, NOW, camera="lost: device gone", audit_ok=False, audit_pending=4)
    status = collect(config, now=NOW, restarts=False)
    assert "camera: lost: device gone" in status.problems
    assert "audit log: cannot be written" in status.problems


def test_prometheus_textfile_is_valid_and_written_atomically(
    world: World, tmp_path: Path
) -> None:
    config = kit(tmp_path, world)
    app_running(config, NOW)
    target = tmp_path / "textfile" / "mleg-verifier.prom"
    assert run_status(config, False, str(target), io.StringIO(), now=NOW + 1,
                      clock_probe=lambda: False) == 0
    text = target.read_text()
    families = re.findall(r"^# TYPE (\S+) gauge$", text, re.M)
    assert len(families) == len(set(families))  # each metric one group
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line
    assert 'mleg_verifier_list_age_seconds{list="revocation"} 90001' in text
    assert "mleg_verifier_camera_up 1" in text and "mleg_verifier_app_up 1" in text
    assert "mleg_verifier_clock_offset_seconds -3" in text
    assert "mleg_verifier_clock_synchronized 0" in text
    assert 'mleg_verifier_verdicts_today{verdict="valid"} 3' in text
    assert [p.name for p in target.parent.iterdir()] == ["mleg-verifier.prom"]  # no temp left
    down = render_prometheus(collect(config, now=NOW + 600, restarts=False))
    assert "mleg_verifier_app_up 0" in down and "mleg_verifier_camera_up 0" in down


async def test_the_app_writes_its_runtime_status(world: World, tmp_path: Path) -> None:
    from tests.test_ui import make_app

    written: list[dict] = []
    app, clock, _ = make_app(world, runtime_status=written.append)
    async with app.run_test() as pilot:
        app.submit_texts([world.wallet().present(NOW)])
        clock.advance(5)
        app.tick()
        await pilot.pause()
    last = written[-1]
    assert last["counts"] == {"valid": 1, "invalid": 0, "warning": 0}
    assert last["camera"] == "off" and last["audit_ok"] is True and last["updated_at"] == NOW + 5
    assert STUDENT.family_name not in json.dumps(written)


def test_read_status_takes_the_newest_readable_file(tmp_path: Path) -> None:
    a, b, junk = tmp_path / "a", tmp_path / "b", tmp_path / "junk"
    RuntimeStatus(a).write({"updated_at": 5})
    RuntimeStatus(b).write({"updated_at": 9})
    junk.mkdir()
    (junk / STATUS_FILE).write_bytes(b"\xff" * 10)
    paths = [d / STATUS_FILE for d in (a, junk, b, tmp_path / "missing")]
    assert read_status(paths) == {"updated_at": 9}


# ---- --version -----------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["verifier", "issuer-stub"])
def test_version_prints_version_and_commit(command: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name(command)), "--version"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    expected = buildinfo.git_commit(REPO) or "unknown"
    assert done.stdout == f"{command} {buildinfo.version()} (commit {expected})\n"


@pytest.mark.slow
def test_wheel_carries_the_commit_it_was_built_from(tmp_path: Path) -> None:
    commit = buildinfo.git_commit(REPO)
    if commit is None:
        pytest.skip("not a git checkout")
    from tests.test_constraints import _index_reachable

    if not _index_reachable():
        pytest.skip("PyPI is not reachable: an isolated build cannot fetch setuptools")
    done = subprocess.run(  # an isolated build: pip fetches setuptools (network)
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    import zipfile

    (wheel,) = tmp_path.glob("mleg_verifier-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("verifier/_commit.txt").decode().strip() == commit


# ---- orphaned temporary files ----------------------------------------------------------------
KILLED_WRITE = """
import os, sys, time
from pathlib import Path
from verifier.device import atomicfile
os.fsync = lambda fd: (print("writing", flush=True), time.sleep(60))  # killed in here
atomicfile.write_atomic(Path(sys.argv[1]) / "revocations.cbor", b"x" * 1_000_000)
"""


def test_temporary_files_of_killed_writes_are_removed_at_start(
    world: World, tmp_path: Path
) -> None:
    for _ in range(3):  # a power cut / SIGKILL between the temporary file and the rename
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITE, str(tmp_path)], cwd=REPO,
            stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    orphans = list(tmp_path.glob(".revocations.cbor.*.tmp"))
    assert len(orphans) == 3
    (tmp_path / "revocations.cbor").write_bytes(b"held")
    (tmp_path / ".hidden-but-mine.txt").write_bytes(b"keep")
    # A write in progress right now (another process) is young: left alone.
    assert remove_orphans(tmp_path) == 0
    old = time.time() - ORPHAN_AGE - 1
    for path in orphans:
        os.utime(path, (old, old))
    assert ListStore.remove_orphans(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden-but-mine.txt",
                                                          "revocations.cbor"]


def test_status_command_through_main(world: World, tmp_path: Path, capsys) -> None:
    config = kit(tmp_path, world)
    toml = tmp_path / "config.toml"
    toml.write_text(f'anchor = "{config.anchor}"\ncache_dir = "{config.cache_dir}"\n')
    assert main(["--config", str(toml), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["anchor_kid"] == world.ministry.anchor.kid.hex()
