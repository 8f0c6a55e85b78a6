"""The core stays pure: no camera, UI, network or decoder library is imported by it."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "verifier.base45",
    "verifier.compression",
    "verifier.cbor",
    "verifier.cose",
    "verifier.keys",
    "verifier.credential",
    "verifier.signedlist",
    "verifier.trustlist",
    "verifier.revocation",
    "verifier.policy",
    "verifier.result",
    "verifier.reasons",
]
FORBIDDEN = ["textual", "cv2", "zxingcpp", "pyzbar", "picamera2", "requests", "segno", "socket"]


def test_core_modules_import_no_shell_libraries() -> None:
    code = (
        "import sys\n"
        f"for m in {CORE!r}: __import__(m)\n"
        f"print(','.join(sorted(f for f in {FORBIDDEN!r} if f in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_core_reads_no_clock() -> None:
    """verify() takes `now`; no core module may call time.time() or datetime.now()."""
    import inspect

    for name in CORE:
        source = inspect.getsource(__import__(name, fromlist=["_"]))
        assert "time.time(" not in source and "datetime.now(" not in source, name
