"""The Raspberry Pi deployment, tested off the Pi.

deploy/install.sh runs in --check and --dry-run mode against throwaway roots with faked
os-release, device-tree model, dpkg database and passwd; the systemd units are parsed for their
hardening and validated with systemd-analyze when it is installed; the app is started the way
its unit starts it (the unit's environment, the console a terminal) with the replay camera.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import itertools
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import cbor2
import cv2
import numpy as np
import pytest

from issuer_stub.keystore import public_pem
from issuer_stub.signing import sign1
from tests.conftest import REPO, STUDENT, World
from verifier.core.errors import ListError
from verifier.core.keys import kid_of
from verifier.core.revocation import RevocationList

INSTALL = REPO / "deploy" / "install.sh"
UNITS = REPO / "systemd"
APP_UNIT, SYNC_UNIT, TIMER = (
    "mleg-verifier.service",
    "mleg-verifier-sync.service",
    "mleg-verifier-sync.timer",
)
METRICS_UNIT, METRICS_TIMER = "mleg-verifier-metrics.service", "mleg-verifier-metrics.timer"
VENV_VERIFIER = "/opt/mleg-verifier/current/bin/verifier"
INSTALLED = "0.1.0-bbbbbbbbbbbb"  # the version a fake installed root holds
BOOKWORM = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
    "VERSION_CODENAME=bookworm\n"
)
TRIXIE_RASPBIAN = (
    'PRETTY_NAME="Raspbian GNU/Linux 13 (trixie)"\nID=raspbian\nID_LIKE=debian\n'
    'VERSION_ID="13"\nVERSION_CODENAME=trixie\n'
)
BULLSEYE = (
    'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n'
    "VERSION_CODENAME=bullseye\n"
)
UBUNTU = (
    'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
    "VERSION_CODENAME=noble\n"
)
PI4 = "Raspberry Pi 4 Model B Rev 1.5"
PACKAGES = [
    "python3-venv",
    "python3-numpy",
    "python3-gpiozero",
    "fake-hwclock",
    "tzdata",
    "python3-picamera2",
    "python3-lgpio",
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="no dpkg-query")


# ---- throwaway roots ------------------------------------------------------------------------
def fake_root(
    root: Path, os_release: str = BOOKWORM, model: str | None = PI4, packages: list[str] = ()
) -> Path:
    """A system image with only what install.sh reads: os-release, the board, dpkg, users."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(os_release)
    if model is not None:
        (root / "proc" / "device-tree").mkdir(parents=True)
        (root / "proc" / "device-tree" / "model").write_bytes(model.encode() + b"\0")
    uid, gid = os.getuid(), os.getgid()
    # "root" is whoever runs the test, so ownership checks work without being root.
    (root / "etc" / "passwd").write_text(f"root:x:{uid}:{gid}:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text(f"root:x:{gid}:\nvideo:x:44:\ngpio:x:997:\n")
    dpkg = root / "var" / "lib" / "dpkg"
    dpkg.mkdir(parents=True)
    (dpkg / "status").write_text(
        "".join(
            f"Package: {name}\nStatus: install ok installed\nMaintainer: t <t@t>\n"
            f"Version: 1\nArchitecture: all\nDescription: {name}\n\n"
            for name in packages
        )
    )
    return root


def installed_root(root: Path, anchor: bytes) -> Path:
    """A fake root where everything install.sh sets up is in place (as --check expects)."""
    fake_root(root, packages=PACKAGES)
    uid, gid = os.getuid(), os.getgid()
    with (root / "etc" / "passwd").open("a") as fh:
        fh.write(f"mleg:x:{uid}:{gid}::/var/lib/mleg-verifier:/usr/sbin/nologin\n")
    (root / "etc" / "group").write_text(
        f"root:x:{gid}:\nvideo:x:44:mleg\ngpio:x:997:pi,mleg\nmleg:x:{gid}:\n"
    )
    prefix = root / "opt" / "mleg-verifier"
    for version in ("0.0.9-aaaaaaaaaaaa", INSTALLED):  # the one before, and the one in use
        venv = prefix / "venvs" / version
        (venv / "bin").mkdir(parents=True)
        for command in ("verifier", "python"):
            (venv / "bin" / command).write_text("#!/bin/sh\n")
            (venv / "bin" / command).chmod(0o755)
        (venv / ".installed").write_text("")
    (prefix / "current").symlink_to(f"venvs/{INSTALLED}")
    (prefix / "previous").symlink_to("venvs/0.0.9-aaaaaaaaaaaa")
    etc = root / "etc" / "mleg-verifier"
    etc.mkdir(mode=0o750)
    etc.chmod(0o750)
    (etc / "config.toml").write_text('anchor = "/etc/mleg-verifier/anchor.pem"\n')
    (etc / "config.toml").chmod(0o640)
    (etc / "anchor.pem").write_bytes(anchor)
    (etc / "anchor.pem").chmod(0o644)
    state = root / "var" / "lib" / "mleg-verifier"
    state.mkdir(parents=True)
    state.chmod(0o750)
    (state / "trustlist.cbor").write_bytes(b"")
    units = root / "etc" / "systemd" / "system"
    for wants in ("multi-user.target.wants", "timers.target.wants", "sysinit.target.wants"):
        (units / wants).mkdir(parents=True)
    for unit in (APP_UNIT, SYNC_UNIT, TIMER, METRICS_UNIT, METRICS_TIMER):
        shutil.copy(UNITS / unit, units / unit)
    (units / "multi-user.target.wants" / APP_UNIT).symlink_to(units / APP_UNIT)
    (units / "timers.target.wants" / TIMER).symlink_to(units / TIMER)
    (units / "timers.target.wants" / METRICS_TIMER).symlink_to(units / METRICS_TIMER)
    timesyncd = units / "sysinit.target.wants" / "systemd-timesyncd.service"
    timesyncd.symlink_to("/lib/systemd/system/systemd-timesyncd.service")
    (root / "dev").mkdir()
    (root / "dev" / "video0").write_bytes(b"")
    return root


def tree(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every path under root with its mode, size and content: to prove nothing changed."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, data)
    return out


def install(*args: str | Path, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(INSTALL), *(str(a) for a in args)]
    if root is not None:
        command += ["--root", str(root)]
    return subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def anchor(tmp_path: Path, world: World) -> Path:
    path = tmp_path / "anchor.pem"
    path.write_bytes(public_pem(world.ministry.key.public_key()))
    return path


# ---- which systems ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("os_release", "model", "expect"),
    [
        (UBUNTU, PI4, "Ubuntu 24.04"),
        (BULLSEYE, PI4, "bullseye"),
        (BOOKWORM, None, "not a Raspberry Pi"),
    ],
    ids=["ubuntu-on-a-pi", "debian-11-on-a-pi", "bookworm-on-a-pc"],
)
@pytest.mark.parametrize("mode", ["--check", "--dry-run"])
def test_refuses_anything_but_raspberry_pi_os(
    tmp_path: Path, anchor: Path, os_release: str, model: str | None, expect: str, mode: str
) -> None:
    root = fake_root(tmp_path / "root", os_release, model)
    before = tree(root)
    result = install(mode, "--anchor", anchor, "--list-url", "https://l.example", root=root)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "for Raspberry Pi OS (Bookworm or later) on a Raspberry Pi" in result.stderr
    assert expect in result.stderr and "--force" in result.stderr
    assert "would run" not in result.stdout
    assert tree(root) == before


@needs_dpkg
@pytest.mark.parametrize(
    ("os_release", "model"),
    [(BOOKWORM, PI4), (TRIXIE_RASPBIAN, "Raspberry Pi Zero 2 W Rev 1.0")],
    ids=["bookworm-pi4", "raspbian-trixie-zero2w"],
)
def test_check_on_a_fresh_pi_lists_what_is_missing_and_changes_nothing(
    tmp_path: Path, os_release: str, model: str
) -> None:
    root = fake_root(tmp_path / "root", os_release, model, packages=["python3-venv"])
    before = tree(root)
    result = install("--check", root=root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "ok       Raspberry Pi OS" in out and model in out
    assert "ok       package python3-venv" in out
    for piece in (
        "package python3-picamera2",
        "package fake-hwclock",
        "system user mleg",
        "venv /opt/mleg-verifier/current",
        "config /etc/mleg-verifier/config.toml",
        "trust anchor /etc/mleg-verifier/anchor.pem",
        "cache directory /var/lib/mleg-verifier",
        f"unit /etc/systemd/system/{APP_UNIT}",
        "app enabled at boot",
        "sync timer enabled",
    ):
        assert f"missing  {piece}" in out
    assert "warning  no camera device" in out
    assert tree(root) == before


@needs_dpkg
def test_check_passes_on_a_complete_install(tmp_path: Path, anchor: Path) -> None:
    root = installed_root(tmp_path / "root", anchor.read_bytes())
    result = install("--check", root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  missing" not in result.stdout
    assert result.stdout.rstrip().endswith("Nothing missing.")


@needs_dpkg
@pytest.mark.parametrize(
    ("damage", "expect"),
    [
        (lambda r: (r / "etc/mleg-verifier/config.toml").chmod(0o644), "config /etc/mleg-verifier"),
        (lambda r: (r / "var/lib/mleg-verifier").chmod(0o755), "cache directory"),
        (lambda r: (r / "etc/mleg-verifier/anchor.pem").write_text("junk"), "a trust anchor"),
        (lambda r: (r / "etc/mleg-verifier/config.toml").write_text("x = ["), "valid TOML"),
        (
            lambda r: (r / "etc/systemd/system" / APP_UNIT).write_text("[Service]\n"),
            "as in this version",
        ),
        (lambda r: (r / "etc/systemd/system/timers.target.wants" / TIMER).unlink(), "sync timer"),
        (
            lambda r: (r / "etc/group").write_text(
                (r / "etc/group").read_text().replace("video:x:44:mleg", "video:x:44:")
            ),
            "mleg in group video",
        ),
        (
            lambda r: (r / "etc/systemd/system/getty.target.wants").mkdir()
            or (r / "etc/systemd/system/getty.target.wants/getty@tty1.service").symlink_to(
                "/lib/systemd/system/getty@.service"
            ),
            "tty1 free for the app",
        ),
    ],
    ids=["config-mode", "cache-mode", "anchor-junk", "config-toml", "unit-old", "timer-off",
         "not-in-video", "getty-on-tty1"],
)
def test_check_finds_each_broken_piece(tmp_path: Path, anchor: Path, damage, expect: str) -> None:
    root = installed_root(tmp_path / "root", anchor.read_bytes())
    damage(root)
    result = install("--check", root=root)
    assert result.returncode == 1, result.stdout
    missing = [line for line in result.stdout.splitlines() if line.startswith("  missing")]
    assert len(missing) == 1 and expect in missing[0], result.stdout


@needs_dpkg
def test_dry_run_on_a_fresh_pi_plans_the_whole_install(tmp_path: Path, anchor: Path) -> None:
    root = fake_root(tmp_path / "root")
    before = tree(root)
    url = "https://lists.example.pl/ml1"
    result = install("--dry-run", "--anchor", anchor, "--list-url", url, root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    apt = next(line for line in out.splitlines() if "apt-get install" in line)
    for package in PACKAGES:
        assert package in apt
    assert "--no-install-recommends" in apt
    assert "would run: useradd --system --user-group" in out
    assert "would run: usermod --append --groups video mleg" in out
    assert "would run: usermod --append --groups gpio mleg" in out
    venv = re.search(r"python3 -m venv --system-site-packages (/opt/mleg-verifier/venvs/\S+)",
                     out)
    assert venv is not None
    pip = next(line for line in out.splitlines() if f"{venv[1]}/bin/pip install" in line)
    # From the source tree: pinned by the constraints (numpy 1.x: picamera2 is built on it).
    assert f"-c {REPO}/deploy/constraints-pi.txt {REPO}" in pip
    assert f"would run: ln -sfn {venv[1].removeprefix('/opt/mleg-verifier/')} " \
           "/opt/mleg-verifier/current.new" in out
    assert "would run: mv -T /opt/mleg-verifier/current.new /opt/mleg-verifier/current" in out
    assert "install -d -m 0750 -o mleg -g mleg /var/lib/mleg-verifier" in out
    assert "would write /etc/mleg-verifier/config.toml (0640 root:mleg)" in out
    assert f'| list_url = "{url}"' in out and '| source = "picamera2"' in out
    assert "would write /etc/mleg-verifier/anchor.pem (0644 root:root)" in out
    for unit in (APP_UNIT, SYNC_UNIT, TIMER, "mleg-verifier-kiosk.service"):
        assert f"/etc/systemd/system/{unit}" in out
    # A new kit gets the kiosk (cage + foot); --screen console the Linux console.
    for package in ("cage", "foot", "fonts-dejavu-core"):
        assert package in apt
    assert "would write /etc/mleg-verifier/foot.ini (0640 root:mleg)" in out
    assert ("would run: systemctl enable mleg-verifier-kiosk.service mleg-verifier-sync.timer "
            "mleg-verifier-metrics.timer") in out
    # The timers run at once, not only after a reboot.
    assert "would run: systemctl start mleg-verifier-sync.timer mleg-verifier-metrics.timer" in out
    assert "dry run: nothing was changed" in out
    assert tree(root) == before
    console = install("--dry-run", "--anchor", anchor, "--list-url", url, "--screen", "console",
                      root=root).stdout
    assert "would run: systemctl enable mleg-verifier.service mleg-verifier-sync.timer" in console
    assert "foot.ini" not in console and " cage " not in console


@needs_dpkg
def test_dry_run_config_it_would_write_is_valid(tmp_path: Path, anchor: Path) -> None:
    from verifier.device.config import parse_config

    root = fake_root(tmp_path / "root")
    result = install("--dry-run", "--anchor", anchor, "--list-url", "http://10.0.0.2:8080/",
                     root=root)
    lines = result.stdout.split("would write /etc/mleg-verifier/config.toml", 1)[1].splitlines()
    text = "\n".join(line[6:] for line in itertools.takewhile(
        lambda line: line.startswith("    |"), lines[1:]))
    import tomllib

    config = parse_config(tomllib.loads(text))
    assert config.list_url == "http://10.0.0.2:8080"
    assert str(config.anchor) == "/etc/mleg-verifier/anchor.pem"
    assert str(config.cache_dir) == "/var/lib/mleg-verifier"
    assert config.camera.source == "picamera2"
    # A Pi without a battery-backed clock trusts its clock only once NTP has set it.
    assert config.clock == "ntp"


@needs_dpkg
def test_a_kit_with_an_rtc_trusts_its_system_clock(tmp_path: Path, anchor: Path) -> None:
    import tomllib

    from verifier.device.config import parse_config

    root = fake_root(tmp_path / "root")
    result = install("--dry-run", "--rtc", "--anchor", anchor, "--list-url", "http://l.example",
                     root=root)
    lines = result.stdout.split("would write /etc/mleg-verifier/config.toml", 1)[1].splitlines()
    text = "\n".join(line[6:] for line in itertools.takewhile(
        lambda line: line.startswith("    |"), lines[1:]))
    assert parse_config(tomllib.loads(text)).clock == "system"


@needs_dpkg
def test_rerun_on_an_installed_pi_only_upgrades(tmp_path: Path, anchor: Path) -> None:
    root = installed_root(tmp_path / "root", anchor.read_bytes())
    result = install("--dry-run", "--list-url", "https://other.example", root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "apt-get" not in out and "useradd" not in out and "usermod" not in out
    # A new version: its own venv beside the one in use, then the switch (rollback possible).
    assert "python3 -m venv --system-site-packages /opt/mleg-verifier/venvs/" in out
    assert f"(was venvs/{INSTALLED}: sudo deploy/install.sh --rollback goes back)" in out
    assert "config.toml" in out and "kept as it is" in out and "--list-url ignored" in out
    assert "would write" not in out
    for unit in (APP_UNIT, SYNC_UNIT, TIMER):
        assert f"{unit} unchanged" in out
    assert "systemctl restart mleg-verifier.service" in out


@needs_dpkg
def test_a_new_anchor_is_a_rotation_with_a_backup(tmp_path: Path, anchor: Path) -> None:
    root = installed_root(tmp_path / "root", anchor.read_bytes())
    new = World()
    new_pem = tmp_path / "new.pem"
    new_pem.write_bytes(public_pem(new.ministry.key.public_key()))
    old_kid = kid_of(World().ministry.key.public_key())  # unrelated: just a different kid
    result = install("--dry-run", "--anchor", new_pem, root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    new_kid = kid_of(new.ministry.key.public_key()).hex()
    assert f"-> {new_kid}" in result.stdout and old_kid.hex() not in result.stdout
    assert re.search(r"would run: cp -p /etc/mleg-verifier/anchor.pem /etc/mleg-verifier/"
                     r"anchor.pem.\d{8}T\d{6}.old", result.stdout)
    assert "would write /etc/mleg-verifier/anchor.pem" in result.stdout
    same = install("--dry-run", "--anchor", anchor, root=root)
    assert "unchanged (kid" in same.stdout and "would write" not in same.stdout


@needs_dpkg
def test_force_on_plain_debian_installs_without_the_pi_camera(
    tmp_path: Path, anchor: Path
) -> None:
    root = fake_root(tmp_path / "root", BOOKWORM, model=None)
    result = install("--dry-run", "--force", "--anchor", anchor, "--list-url", "https://l.example",
                     root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installing anyway (--force)" in result.stdout
    assert "python3-picamera2" not in result.stdout and "fake-hwclock" in result.stdout
    assert '| source = "opencv"' in result.stdout
    ubuntu = fake_root(tmp_path / "ubuntu", UBUNTU, model=None)
    refused = install("--dry-run", "--force", "--anchor", anchor, root=ubuntu)
    assert refused.returncode == 3 and "Debian 12" in refused.stderr


@needs_dpkg
@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--list-url", "https://l.example"], "pass --anchor FILE"),
        (["--anchor", "{junk}", "--list-url", "https://l.example"], "not a PEM P-256 public key"),
        (["--anchor", "{anchor}"], "pass --list-url URL"),
        (["--anchor", "{anchor}", "--list-url", "ftp://l.example"], "http:// or https://"),
        (["--anchor", "{anchor}", "--list-url", 'https://a"b'], "no spaces or quotes"),
        (["--check", "--dry-run"], "not both"),
        (["--bogus"], "unknown option"),
    ],
    ids=["no-anchor", "junk-anchor", "no-url", "ftp-url", "quote-in-url", "two-modes", "bogus"],
)
def test_bad_input_is_refused_before_anything_happens(
    tmp_path: Path, anchor: Path, args: list[str], expect: str
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n")
    root = fake_root(tmp_path / "root")
    args = [a.format(anchor=anchor, junk=junk) for a in args]
    result = install("--dry-run", *args, root=root) if "--check" not in args else install(
        *args, root=root
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert expect in result.stderr
    assert "would run" not in result.stdout


def fake_bundle(directory: Path, version: str = "0.2.0", commit: str = "cccccccccccc") -> Path:
    """A release bundle's layout (deploy/make-bundle.sh), with an empty wheelhouse."""
    (directory / "wheels").mkdir(parents=True)
    (directory / "deploy").mkdir()
    shutil.copytree(UNITS, directory / "systemd")
    shutil.copy(REPO / "deploy" / "constraints-pi.txt", directory / "deploy")
    (directory / "BUNDLE").write_text(f"VERSION={version}\nCOMMIT={commit}\nPLATFORM=aarch64\n")
    return directory


@needs_dpkg
def test_a_bundle_installs_with_no_network_into_its_own_venv(tmp_path: Path, anchor: Path) -> None:
    root = installed_root(tmp_path / "root", anchor.read_bytes())
    bundle = fake_bundle(tmp_path / "bundle")
    result = install("--dry-run", "--source", bundle, root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    venv = "/opt/mleg-verifier/venvs/0.2.0-cccccccccccc"
    assert f"would run: python3 -m venv --system-site-packages {venv}" in out
    pip = next(line for line in out.splitlines() if f"{venv}/bin/pip install" in line)
    assert f"--no-index --find-links {bundle}/wheels -c {bundle}/deploy/constraints-pi.txt" in pip
    assert pip.endswith("mleg-verifier==0.2.0")
    assert "would run: ln -sfn venvs/0.2.0-cccccccccccc /opt/mleg-verifier/current.new" in out
    assert f"would run: ln -sfn venvs/{INSTALLED} /opt/mleg-verifier/previous.new" in out
    assert "rm -rf" not in out  # three versions at most: none to remove yet
    # The same bundle again, once installed: nothing to build, nothing to switch.
    (root / "opt/mleg-verifier/venvs/0.2.0-cccccccccccc/bin").mkdir(parents=True)
    (root / "opt/mleg-verifier/venvs/0.2.0-cccccccccccc/.installed").write_text("")
    (root / "opt/mleg-verifier/current").unlink()
    (root / "opt/mleg-verifier/current").symlink_to("venvs/0.2.0-cccccccccccc")
    again = install("--dry-run", "--source", bundle, root=root)
    assert "0.2.0-cccccccccccc is installed already" in again.stdout
    assert "in use already" in again.stdout and "python3 -m venv" not in again.stdout


@needs_dpkg
def test_old_versions_are_removed_but_never_the_current_or_previous(
    tmp_path: Path, anchor: Path
) -> None:
    root = installed_root(tmp_path / "root", anchor.read_bytes())
    venvs = root / "opt/mleg-verifier/venvs"
    for n, name in enumerate(["0.0.1-old", "0.0.2-old", "0.0.3-old"]):
        (venvs / name).mkdir()
        os.utime(venvs / name, (1000 + n, 1000 + n))
    os.utime(venvs / "0.0.9-aaaaaaaaaaaa", (1, 1))  # previous: the oldest of all, still kept
    result = install("--dry-run", "--source", fake_bundle(tmp_path / "b"), root=root)
    removed = re.findall(r"would run: rm -rf /opt/mleg-verifier/venvs/(\S+)", result.stdout)
    # Kept: the new one, the one in use until now (previous from now on), the newest other.
    assert sorted(removed) == ["0.0.1-old", "0.0.2-old", "0.0.9-aaaaaaaaaaaa"]


@needs_dpkg
def test_rollback_switches_back_to_the_previous_version(tmp_path: Path, anchor: Path) -> None:
    root = installed_root(tmp_path / "root", anchor.read_bytes())
    before = tree(root)
    result = install("--rollback", "--dry-run", root=root)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Rollback: venvs/{INSTALLED} -> venvs/0.0.9-aaaaaaaaaaaa" in out
    assert "would run: ln -sfn venvs/0.0.9-aaaaaaaaaaaa /opt/mleg-verifier/current.new" in out
    assert f"would run: ln -sfn venvs/{INSTALLED} /opt/mleg-verifier/previous.new" in out
    assert "would run: systemctl restart mleg-verifier.service" in out
    assert tree(root) == before
    (root / "opt/mleg-verifier/previous").unlink()
    none = install("--rollback", "--dry-run", root=root)
    assert none.returncode == 2 and "no previous version" in none.stderr


def test_root_prefix_needs_check_or_dry_run(tmp_path: Path) -> None:
    root = fake_root(tmp_path / "root")
    result = install(root=root)
    assert result.returncode == 2 and "only with --check or --dry-run" in result.stderr


def test_install_script_passes_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(INSTALL)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


# ---- the units ------------------------------------------------------------------------------
def directives(unit: str) -> list[tuple[str, str, str, bool]]:
    """(section, key, value, has a comment above it in its block) for every directive."""
    out, section, commented = [], "", False
    for line in (UNITS / unit).read_text().splitlines():
        line = line.strip()
        if not line:
            commented = False
        elif line.startswith("#"):
            commented = True
        elif line.startswith("["):
            section, commented = line.strip("[]"), False
        else:
            key, _, value = line.partition("=")
            out.append((section, key, value, commented))
    return out


def values(unit: str, key: str) -> list[str]:
    return [v for _, k, v, _ in directives(unit) if k == key]


HARDENING = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
    "User": "mleg",
    "StateDirectory": "mleg-verifier",
}


@pytest.mark.parametrize("unit", [APP_UNIT, SYNC_UNIT])
def test_services_are_hardened_and_every_directive_says_why(unit: str) -> None:
    for key, value in HARDENING.items():
        assert values(unit, key) == [value], key
    assert values(unit, "SystemCallFilter")[0] == "@system-service"
    assert "AF_PACKET" not in values(unit, "RestrictAddressFamilies")[0]
    assert values(unit, "ExecStart")[0].startswith(VENV_VERIFIER + " ")
    assert values(unit, "Environment")[0] == "MLEG_VERIFIER_CONFIG=/etc/mleg-verifier/config.toml"
    uncommented = [k for s, k, _, c in directives(unit) if s == "Service" and not c]
    assert uncommented in ([], ["Type"])


@pytest.mark.parametrize(("unit", "reads_ntp_state"),
                         [(APP_UNIT, True), (SYNC_UNIT, False), (METRICS_UNIT, True)])
def test_the_clock_cannot_be_set_and_its_ntp_state_can_be_read(
    unit: str, reads_ntp_state: bool
) -> None:
    # No CAP_SYS_TIME: the kernel refuses to set the clock whatever the filter allows.
    assert values(unit, "CapabilityBoundingSet") == [""]
    if reads_ntp_state:  # config clock = "ntp": adjtimex(modes=0) must not get EPERM
        assert values(unit, "ProtectClock") == ["no"]
        assert "adjtimex clock_adjtime" in values(unit, "SystemCallFilter")
    else:
        assert values(unit, "ProtectClock") == ["yes"]


def test_app_may_open_only_camera_console_and_gpio_devices() -> None:
    assert values(APP_UNIT, "DevicePolicy") == ["closed"]
    allowed = {v.split()[0] for v in values(APP_UNIT, "DeviceAllow")}
    assert allowed == {
        "char-video4linux",  # /dev/video*, /dev/v4l-subdev*
        "char-media",  # /dev/media*
        "char-dma_heap",  # libcamera's buffers
        "char-gpiochip",  # buzzer and LED
        "/dev/tty1",
    }
    assert values(APP_UNIT, "PrivateDevices") == []  # it would hide the camera
    assert values(SYNC_UNIT, "PrivateDevices") == ["yes"]


def test_app_owns_tty1_and_its_screen_never_reaches_the_journal() -> None:
    assert values(APP_UNIT, "TTYPath") == ["/dev/tty1"]
    assert values(APP_UNIT, "Conflicts") == ["getty@tty1.service"]
    # Textual draws on stderr and sizes from stdout: the screen (names, photos) is the tty.
    assert values(APP_UNIT, "StandardOutput") == ["tty"]
    assert values(APP_UNIT, "StandardError") == ["tty"]
    assert values(APP_UNIT, "Restart") == ["always"]
    assert values(APP_UNIT, "WantedBy") == ["multi-user.target"]
    assert values(SYNC_UNIT, "StandardOutput") == ["journal"]


def test_app_unit_restarts_after_every_exit_but_a_confirmed_kiosk_quit() -> None:
    from verifier.ui.app import EXIT_KIOSK_QUIT

    assert values(APP_UNIT, "Restart") == ["always"]
    assert values(APP_UNIT, "RestartPreventExitStatus") == [str(EXIT_KIOSK_QUIT)]
    assert values(APP_UNIT, "SuccessExitStatus") == [str(EXIT_KIOSK_QUIT)]
    # The watchdog: the app notifies (READY=1, WATCHDOG=1), systemd acts on silence.
    assert values(APP_UNIT, "Type") == ["notify"] and values(APP_UNIT, "WatchdogSec") == ["30s"]
    assert values(APP_UNIT, "NotifyAccess") == ["main"]
    # The last error stays on tty1: the console is not cleared when the app stops.
    assert values(APP_UNIT, "TTYVTDisallocate") == ["no"] and values(APP_UNIT, "TTYReset") == ["no"]


def test_app_unit_prints_why_it_stopped_on_tty1() -> None:
    """ExecStopPost's shell line, unescaped as systemd does ($$, %%, C escapes), run here."""
    line = values(APP_UNIT, "ExecStopPost")[0]
    assert line.startswith("/bin/sh -c '") and line.endswith("'")
    script = line[len("/bin/sh -c '") : -1].replace("$$", "$").replace("%%", "%")
    script = script.replace("\\\\", "\\")
    env = {"PATH": "/usr/bin:/bin", "EXIT_CODE": "killed", "EXIT_STATUS": "ABRT"}
    shown = subprocess.run(
        ["/bin/sh", "-c", script], env={**env, "SERVICE_RESULT": "watchdog"},
        capture_output=True, text=True, check=True,
    ).stdout
    assert "stopped: watchdog (killed ABRT)" in shown and "journalctl -u mleg-verifier" in shown
    quiet = subprocess.run(
        ["/bin/sh", "-c", script], env={**env, "SERVICE_RESULT": "success"},
        capture_output=True, text=True, check=True,
    ).stdout
    assert quiet == ""  # a confirmed quit or systemctl stop: nothing printed


def test_metrics_run_every_minute_unprivileged_and_land_atomically() -> None:
    assert values(METRICS_TIMER, "OnUnitActiveSec") == ["1min"]
    assert values(METRICS_UNIT, "User") == ["mleg"] and values(METRICS_UNIT, "Type") == ["oneshot"]
    assert values(METRICS_UNIT, "ExecStart")[0].startswith(
        VENV_VERIFIER + " status --prometheus /run/mleg-verifier-metrics/")
    # Into the collector's directory by a rename beside the target: never half a file.
    copy, move = values(METRICS_UNIT, "ExecStartPost")
    assert copy.startswith("+/usr/bin/install ") and copy.endswith("/.mleg-verifier.prom.new")
    assert move.startswith("+/bin/mv -f -T ") and move.endswith(
        "/var/lib/prometheus/node-exporter/mleg-verifier.prom")
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateNetwork", "PrivateDevices"):
        assert values(METRICS_UNIT, key) == ["yes"], key
    assert values(METRICS_UNIT, "ProtectSystem") == ["strict"]
    uncommented = [k for s, k, _, c in directives(METRICS_UNIT) if s == "Service" and not c]
    assert uncommented in ([], ["Type"])


def test_sync_runs_every_15_minutes_with_jitter_and_at_boot_after_the_network() -> None:
    assert values(TIMER, "OnUnitActiveSec") == ["15min"]
    assert values(TIMER, "OnBootSec") and values(TIMER, "RandomizedDelaySec") != ["0"]
    assert values(TIMER, "WantedBy") == ["timers.target"]
    assert values(SYNC_UNIT, "Type") == ["oneshot"]
    assert "network-online.target" in values(SYNC_UNIT, "Wants")[0]
    assert "network-online.target" in values(SYNC_UNIT, "After")[0]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    # verify insists that ExecStart exists: point it at this venv's verifier command.
    verifier = Path(sys.executable).with_name("verifier")
    assert verifier.exists()
    every = (APP_UNIT, SYNC_UNIT, TIMER, METRICS_UNIT, METRICS_TIMER)
    for unit in every:
        text = (UNITS / unit).read_text().replace(VENV_VERIFIER, str(verifier))
        (tmp_path / unit).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / u) for u in every)],
        capture_output=True, text=True, timeout=60,
    )
    ours = [line for line in result.stderr.splitlines() if "mleg-verifier" in line]
    assert result.returncode == 0 and not ours, result.stderr


# ---- the app under the unit's settings ----------------------------------------------------
def unit_env(config: Path) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    for value in values(APP_UNIT, "Environment"):
        name, _, setting = value.partition("=")
        env[name] = setting
    env["MLEG_VERIFIER_CONFIG"] = str(config)
    return env


def replay_frames(world: World, wallet, directory: Path) -> Path:
    directory.mkdir()
    png = wallet.present_png(int(time.time()), directory / "code.png", scale=5)
    code = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    png.unlink()
    frame = np.full((720, 1280), 160, np.uint8)
    frame[40 : 40 + code.shape[0], 300 : 300 + code.shape[1]] = code
    cv2.imwrite(str(directory / "frame.png"), frame)
    return directory


def test_app_runs_as_the_unit_runs_it_and_stops_on_sigterm(tmp_path: Path) -> None:
    now = int(time.time())
    world = World(now=now)
    wallet = world.wallet()
    home, state, runtime = tmp_path / "home", tmp_path / "state", tmp_path / "run"
    for d in (home, state, runtime):
        d.mkdir(mode=0o700)
    (tmp_path / "anchor.pem").write_bytes(public_pem(world.ministry.key.public_key()))
    (state / "trustlist.cbor").write_bytes(world.ministry.trust_list(iat=now - 60))
    (state / "revocations.cbor").write_bytes(world.ministry.revocation_list(iat=now - 60))
    frames = replay_frames(world, wallet, tmp_path / "frames")
    config = tmp_path / "config.toml"
    config.write_text(
        f'anchor = "{tmp_path / "anchor.pem"}"\ncache_dir = "{state}"\nlanguage = "en"\n'
        f'[camera]\nsource = "replay"\npath = "{frames}"\nfps = 5.0\n'
    )
    command = values(APP_UNIT, "ExecStart")[0].split()
    command[0] = str(Path(sys.executable).with_name("verifier"))
    # systemd's notification socket, as Type=notify and WatchdogSec= give the real unit.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.setblocking(False)
    env = {
        **unit_env(config), "HOME": str(home),
        "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "30000000",
    }

    controller, console = pty.openpty()
    fcntl.ioctl(console, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        command,  # StandardInput/Output/Error=tty: all three are the console
        stdin=console, stdout=console, stderr=console, env=env, cwd=runtime,
        start_new_session=True, preexec_fn=lambda: os.umask(0o077),
    )
    os.close(console)
    screen = ""
    name = STUDENT.family_name
    try:
        deadline = time.monotonic() + 90
        while name not in ANSI.sub("", screen) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if select.select([controller], [], [], 0.2)[0]:
                with contextlib.suppress(OSError):
                    screen += os.read(controller, 65536).decode("utf-8", "replace")
        shown = ANSI.sub("", screen)
        exited_early = proc.poll()
        time.sleep(1.5)  # at least one more tick of the UI loop
        notes = []
        with contextlib.suppress(BlockingIOError):
            while True:
                notes.append(notify.recv(4096))
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(OSError):
            while select.select([controller], [], [], 0.5)[0] and os.read(controller, 65536):
                pass
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
        notify.close()
    # It rendered, read the code with the replay camera and verified it against the cache.
    assert name in shown, f"exit {proc.returncode}; last screen output:\n{shown[-3000:]}"
    # Ready once the screen was up, then watchdog pings while the camera loop moves.
    assert notes[0] == b"READY=1" and b"WATCHDOG=1" in notes, notes
    # systemd counts SIGTERM as a clean stop (no restart, no failure).
    assert exited_early is None and code in (0, -signal.SIGTERM), code
    # Nothing with personal data was left anywhere it could write.
    for path in [*home.rglob("*"), *state.rglob("*"), *runtime.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert name.encode() not in data and STUDENT.given_names.encode() not in data, path


# ---- the Zero 2 W memory profile -----------------------------------------------------------
def test_revocation_ids_are_a_view_of_the_signed_bytes(world: World) -> None:
    world.ministry.revoked.update(os.urandom(16) for _ in range(1000))
    rl = world.revocations()
    assert isinstance(rl.ids, memoryview) and rl.ids.obj is rl.raw and rl.ids.readonly
    assert len(rl) == 1000 and all(bytes(rl.ids[i : i + 16]) in rl for i in range(0, 16000, 16))


def test_chunked_ids_are_copied_and_still_found(world: World) -> None:
    ids = sorted(os.urandom(16) for _ in range(10))
    chunked = b"\x5f" + cbor2.dumps(b"".join(ids[:4])) + cbor2.dumps(b"".join(ids[4:])) + b"\xff"
    payload = b"\xa4" + b"".join(cbor2.dumps(x) for x in ("v", 1, "seq", 1, "iat", 5, "ids"))
    raw = sign1(world.ministry.key, payload + chunked, kid=kid_of(world.ministry.key.public_key()))
    rl = RevocationList.from_bytes(raw, world.ministry.anchor)
    assert type(rl.ids) is bytes and all(i in rl for i in ids) and os.urandom(16) not in rl


def test_a_list_held_already_is_shared_but_never_under_another_anchor(world: World) -> None:
    world.ministry.revoked.add(os.urandom(16))
    raw = world.ministry.revocation_list(iat=world.now)
    first = RevocationList.from_bytes(raw, world.ministry.anchor)
    assert RevocationList.from_bytes(bytes(bytearray(raw)), world.ministry.anchor) is first
    with pytest.raises(ListError, match="kid"):
        RevocationList.from_bytes(raw, World().ministry.anchor)
    # Another anchor with the very same kid (a forged collision) must still be rejected.
    other = World().ministry.anchor
    forged = type(other)(key=other.key, kid=world.ministry.anchor.kid)
    with pytest.raises(ListError, match="signature"):
        RevocationList.from_bytes(raw, forged)
    tampered = bytearray(raw)
    tampered[-1] ^= 1
    with pytest.raises(ListError):
        RevocationList.from_bytes(bytes(tampered), world.ministry.anchor)


def _bench_memory():
    path = REPO / "bench" / "bench_memory.py"
    spec = importlib.util.spec_from_file_location("bench_memory", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_memory", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_app_with_a_million_revocations_peaks_under_150_mb(tmp_path: Path) -> None:
    bench = _bench_memory()
    world = bench.World(tmp_path, 1_000_000)
    env = bench.unit_environment()
    run = bench.run_app("1M", world.config("big", world.big), 2.0, env)
    assert run.seen, "the app never showed the verdict"
    assert run.peak_kib * 1024 < 150e6, f"peak {run.peak_kib / 1024:.1f} MiB"


def test_bench_memory_signs_a_valid_list(tmp_path: Path) -> None:
    bench = _bench_memory()
    world = bench.World(tmp_path, 1000)
    rl = RevocationList.from_bytes(world.big, world.ministry.anchor)
    assert len(rl) == 1000 and rl.seq == 1


def test_check_runs_the_kits_self_test_and_counts_each_failure(
    tmp_path: Path, world: World
) -> None:
    """install.sh's self_test() (run by --check on a real kit, not under --root), with this
    venv standing in for /opt/mleg-verifier/current and a kit with no revocation list."""
    now = int(time.time())
    (tmp_path / "anchor.pem").write_bytes(public_pem(world.ministry.key.public_key()))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "trustlist.cbor").write_bytes(world.ministry.trust_list(iat=now - 60))
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "f.png"), np.full((240, 320), 128, np.uint8))
    config = tmp_path / "config.toml"
    config.write_text(f'anchor = "{tmp_path / "anchor.pem"}"\ncache_dir = "{cache}"\n'
                      f'[camera]\nsource = "replay"\npath = "{frames}"\n')
    script = f"""
set -euo pipefail
say() {{ printf '%s\\n' "$*"; }}
ok() {{ printf '  ok       %s\\n' "$*"; }}
missing() {{ printf '  missing  %s\\n' "$*"; MISSING=$((MISSING + 1)); }}
warn() {{ printf '  warning  %s\\n' "$*"; }}
has_user() {{ return 1; }}
MISSING=0 SERVICE_USER=mleg VENV={Path(sys.executable).parent.parent} CONFIG={config}
TIMERS=(mleg-verifier-sync.timer)
source <(sed -n '/^self_test() {{/,/^}}/p' {INSTALL})
self_test
echo "MISSING=$MISSING"
"""
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[-1] == "MISSING=1", done.stdout
    (failed,) = [line for line in out if line.startswith("  missing")]
    assert "no revocation list held" in failed and "mleg-verifier-sync" in failed
    assert "  ok       test codes rendered, decoded and verified" in done.stdout
    assert "  ok       camera delivers frames (replay, 320x240)" in done.stdout
