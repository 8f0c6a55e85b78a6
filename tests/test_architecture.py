"""The layers stay as the README draws them: the import-linter contracts hold, the core is pure."""

from __future__ import annotations

import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import verifier.core

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted(f"verifier.core.{m.name}" for m in pkgutil.iter_modules(verifier.core.__path__))
FORBIDDEN = ["textual", "cv2", "zxingcpp", "pyzbar", "picamera2", "requests", "segno", "sqlite3"]


def test_import_contracts_hold() -> None:
    """Every contract in pyproject.toml's [tool.importlinter] is kept (layers, pure core, demo)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout
    assert out.stdout.count("KEPT") >= 4


def test_core_modules_import_no_shell_libraries() -> None:
    """At run time too: importing the whole core loads none of the shell's libraries."""
    code = (
        "import sys\n"
        f"for m in {CORE!r}: __import__(m)\n"
        f"print(','.join(sorted(f for f in {FORBIDDEN!r} if f in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert len(CORE) >= 12


def test_the_verifier_loads_the_issuer_stub_only_for_the_demo() -> None:
    code = (
        "import sys\n"
        "from verifier.commands import cli, app, check, sync, audit, decode\n"
        "import verifier.ui.app\n"
        "print('issuer_stub' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_core_reads_no_clock() -> None:
    """verify() takes `now`; no core module may call time.time() or datetime.now()."""
    for name in CORE:
        source = inspect.getsource(__import__(name, fromlist=["_"]))
        assert "time.time(" not in source and "datetime.now(" not in source, name
