"""The kiosk unit (cage + foot): what it promises, read from the file install.sh installs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_deploy import UNITS, directives, values

KIOSK = "mleg-verifier-kiosk.service"
REPO = Path(__file__).resolve().parents[1]


def test_every_directive_says_why() -> None:
    uncommented = [k for s, k, _, c in directives(KIOSK) if s == "Service" and not c]
    assert uncommented == []


def test_it_runs_the_app_in_foot_under_cage_and_never_beside_the_console_unit() -> None:
    command = values(KIOSK, "ExecStart")[0].split()
    assert command[:3] == ["/usr/bin/cage", "-d", "--"]
    assert command[3:5] == ["/usr/bin/foot", "--config=/etc/mleg-verifier/foot.ini"]
    assert command[5:] == ["/opt/mleg-verifier/current/bin/verifier", "app", "--kiosk"]
    # install.sh writes foot.ini where the unit reads it.
    assert 'FOOT_INI=$ETC/foot.ini' in (REPO / "deploy" / "install.sh").read_text()
    assert set(values(KIOSK, "Conflicts")[0].split()) == {
        "getty@tty1.service", "mleg-verifier.service"
    }
    assert values(KIOSK, "PAMName") == ["login"] and values(KIOSK, "TTYPath") == ["/dev/tty1"]
    assert values(KIOSK, "User") == ["mleg"]
    # The screen's contents never reach the journal: foot draws them, cage shows them.
    assert values(KIOSK, "StandardOutput") == ["journal"]


def test_a_confirmed_quit_is_not_restarted_and_the_clock_probe_is_allowed() -> None:
    assert values(KIOSK, "Restart") == ["always"]
    assert values(KIOSK, "RestartPreventExitStatus") == ["10"]
    assert values(KIOSK, "SuccessExitStatus") == ["10"]
    assert values(KIOSK, "ProtectClock") == ["no"]  # adjtimex(2): is the clock set?
    assert values(KIOSK, "Type") == ["notify"] and values(KIOSK, "NotifyAccess") == ["all"]


def test_foot_accepts_the_kiosk_config() -> None:
    if shutil.which("foot") is None:
        pytest.skip("foot not installed (apt-get install foot)")
    result = subprocess.run(
        ["foot", f"--config={REPO / 'deploy' / 'foot.ini'}", "--check-config"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    text = (UNITS / KIOSK).read_text()
    text = text.replace("/opt/mleg-verifier/current/bin/verifier",
                        str(Path(sys.executable).with_name("verifier")))
    for tool in ("cage", "foot"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} not installed: verify needs the ExecStart binary")
        text = text.replace(f"/usr/bin/{tool}", found)
    (tmp_path / KIOSK).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / KIOSK)],
                            capture_output=True, text=True, timeout=60)
    ours = [line for line in result.stderr.splitlines() if "mleg-verifier" in line]
    assert result.returncode == 0 and not ours, result.stderr
