"""The kit never freezes silently: a dead worker stops the app (non-zero, the reason shown),
a full disk stops only the audit log, and systemd's watchdog is fed only while both the UI
loop and the camera loop make progress."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import NOW, World
from tests.test_ui import FakeScanner, make_app, panel_text
from verifier.core.reasons import Verdict
from verifier.device.audit import AuditLog
from verifier.device.notify import Notifier
from verifier.ui.app import CAMERA_STALL, EXIT_FAILED
from verifier.ui.services import SourceScanner
from verifier.ui.widgets.status import StatusBar


class DyingScanner(FakeScanner):
    """A camera thread that fails the way a real one did (an I/O error from the SD card)."""

    def start(self, on_texts, on_state) -> None:
        super().start(on_texts, on_state)
        self.go = threading.Event()

        def run() -> None:
            self.go.wait(5)
            raise OSError(5, "Input/output error")

        threading.Thread(target=run, name="scanner").start()


async def test_a_worker_thread_that_dies_stops_the_app_non_zero(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    scanner = DyingScanner()
    app, _, _ = make_app(world, scanner=scanner)
    caplog.set_level(logging.ERROR)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.is_running
        scanner.go.set()
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.is_running:
                break
    assert app.return_code == EXIT_FAILED
    assert app.fatal_reason == "scanner thread died: OSError: [Errno 5] Input/output error"
    assert "scanner thread died" in caplog.text  # the journal gets it (route_logging)
    assert threading.excepthook is not app._thread_died  # put back after the app


class FullDiskAudit(AuditLog):
    """The real audit log on a real SQLite file that has run out of room."""

    def fill(self) -> None:
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count = {pages}")

    def free(self) -> None:
        self._db.execute("PRAGMA max_page_count = 1000000")


def _status(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_a_full_disk_keeps_verdicts_coming_and_recovers(world: World, tmp_path: Path) -> None:
    audit = FullDiskAudit(tmp_path)
    app, clock, feedback = make_app(world, audit=audit)
    async with app.run_test(size=(120, 30)) as pilot:
        app.submit_texts([world.wallet().present(NOW)])
        audit.fill()
        # Fill the rest of the last page, then every verdict fails to be written.
        for n in range(1, 300):
            clock.advance(1)
            wallet = world.wallet(exp=NOW - 1 if n % 2 else NOW + 900_000)
            result = app.submit_texts([wallet.present(clock.now())])
            assert result is not None
        await pilot.pause()
        assert app.audit_error is not None and "full" in app.audit_error
        assert "LOG: cannot write" in _status(app)
        assert len(feedback.signals) == 300  # every verdict shown and signalled
        assert Verdict.INVALID in feedback.signals and "expired" in panel_text(app)
        waiting = audit.pending
        assert waiting > 0
        audit.free()  # space freed: the next verdict writes everything queued
        clock.advance(1)
        app.submit_texts([world.wallet().present(clock.now())])
        await pilot.pause()
        assert app.audit_error is None and audit.pending == 0
        assert "LOG" not in _status(app)
    assert len(list(audit.rows())) == 301


# ---- the watchdog --------------------------------------------------------------------------
@pytest.fixture
def notify_socket(tmp_path: Path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "30000000"})
    sock.close()


def test_notifier_speaks_the_sd_notify_datagram_protocol(notify_socket) -> None:
    sock, notifier = notify_socket
    assert notifier.enabled and notifier.watchdog_seconds == 30
    assert notifier.ready() and sock.recv(100) == b"READY=1"
    assert notifier.status("syncing\nlists") and sock.recv(100) == b"STATUS=syncing lists"
    assert not Notifier({}).enabled and not Notifier({}).watchdog()
    assert Notifier({"NOTIFY_SOCKET": "@abstract"}).address == b"\0abstract"
    other_pid = Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "5", "WATCHDOG_PID": "1"})
    assert other_pid.watchdog_seconds is None  # the watchdog is meant for another process
    gone = Notifier({"NOTIFY_SOCKET": "/nonexistent/socket"})
    assert gone.enabled and not gone.ready()  # undeliverable: reported, never raised


class StalledScanner(FakeScanner):
    def __init__(self) -> None:
        super().__init__()
        self.age = 0.0

    def progress_age(self) -> float | None:
        return self.age


async def test_watchdog_is_fed_only_while_the_camera_loop_moves(
    world: World, notify_socket
) -> None:
    sock, notifier = notify_socket
    scanner = StalledScanner()
    app, _, _ = make_app(world, scanner=scanner, notifier=notifier)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert sock.recv(100) == b"READY=1"  # the screen is up
        app.tick()
        assert sock.recv(100) == b"WATCHDOG=1"
        scanner.age = CAMERA_STALL + 1  # frames stopped coming (a hung camera read)
        app.tick()
        await pilot.pause()
        assert sock.recv(200).startswith(b"STATUS=stopping: camera loop stalled")
    assert app.return_code == EXIT_FAILED and "stalled" in (app.fatal_reason or "")
    sock.settimeout(0.1)
    with pytest.raises(TimeoutError):
        while sock.recv(100) != b"WATCHDOG=1":  # no ping after the stall
            pass


class HangingSource:
    """A camera whose read() never returns (as a wedged driver might)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def read(self):
        self.release.wait(10)
        return None

    def close(self) -> None:
        self.release.set()


def test_source_scanner_progress_stops_when_reads_hang() -> None:
    source = HangingSource()
    scanner = SourceScanner(lambda: source, retry_seconds=0.05, decode=lambda gray: [])
    scanner.start(lambda texts: None, lambda state, fps: None)
    try:
        age = scanner.progress_age()
        assert age is not None and age < CAMERA_STALL
        scanner._progress -= CAMERA_STALL + 1  # time passes with no frame read
        age = scanner.progress_age()
        assert age is not None and age > CAMERA_STALL
    finally:
        scanner.stop()
        source.release.set()
    assert scanner.progress_age() is None  # stopped on purpose: nothing to watch


def test_a_config_typo_exits_2_with_the_reason_on_the_console(tmp_path: Path) -> None:
    """What a boot loop shows on tty1: the sentence, not a traceback (the unit restarts it)."""
    import subprocess
    import sys

    config = tmp_path / "config.toml"
    config.write_text('anchor = "/x"\nlanguge = "pl"\n')
    done = subprocess.run(
        [str(Path(sys.executable).with_name("verifier")), "--config", str(config), "app"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("unknown key(s): languge"), done.stderr
    assert "Traceback" not in done.stderr
