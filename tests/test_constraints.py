"""The Pi's pinned constraints (deploy/constraints-pi.txt) keep numpy 1.x under picamera2.

Debian bookworm's python3-picamera2 imports compiled code built against numpy 1.x; the venv
sees Debian's numpy 1.24.2 through --system-site-packages. A constraint that lets pip bring
numpy 2 into the venv (the newest opencv-python-headless needs it) breaks the camera: issue 13.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

CONSTRAINTS = REPO / "deploy" / "constraints-pi.txt"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+-]+)$")
DEBIAN_NUMPY = "1.24.2"  # bookworm's python3-numpy (1:1.24.2-1+deb12u1)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        name = canonical(match[1])
        assert name not in found, f"{name} pinned twice"
        found[name] = match[2]
    return found


def requirements() -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def test_every_dependency_is_pinned_and_numpy_stays_debians() -> None:
    pinned = pins()
    for requirement in requirements():
        name = canonical(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])
        assert name in pinned, f"{name} (pyproject.toml) has no pin in {CONSTRAINTS.name}"
    assert pinned["numpy"] == DEBIAN_NUMPY
    # 4.12 and later need numpy 2; 4.11.0.86 is the last that accepts numpy 1.x.
    assert pinned["opencv-python-headless"] == "4.11.0.86"


def _index_reachable(host: str = "pypi.org") -> bool:
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        return False
    return True


def test_constraints_resolve_for_the_pi_without_numpy_2(tmp_path: Path) -> None:
    """What pip would install on the Pi (aarch64, CPython 3.11, wheels only), dry run."""
    if not _index_reachable():
        pytest.skip("PyPI is not reachable from here: cannot resolve for the Pi")
    platforms = ["--platform", "manylinux2014_aarch64"]
    for minor in range(17, 37):  # bookworm's glibc 2.36
        platforms += ["--platform", f"manylinux_2_{minor}_aarch64"]
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
         "--disable-pip-version-check", "--report", str(report), "--target", str(tmp_path / "t"),
         "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
         "--abi", "cp311", *platforms, "-c", str(CONSTRAINTS), *requirements()],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    resolved = {
        canonical(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert resolved["numpy"].split(".")[0] == "1", resolved["numpy"]
    assert resolved["numpy"] == DEBIAN_NUMPY  # what the venv already sees from Debian
    # Every package pip would install is pinned: kits installed on different days agree.
    pinned = pins()
    assert {name: pinned.get(name) for name in resolved} == resolved
