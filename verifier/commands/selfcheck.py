"""``verifier selfcheck``: the installed kit tests itself (``deploy/install.sh --check`` runs it).

Each check prints one line: ``ok`` with what was seen, or ``FAILED`` with what to do. Exit 0
when all pass, 1 otherwise. Run as the app's user (install.sh does) so that permissions are
the app's: the config, the anchor, the lists held (verified with the anchor), the camera
backend imported inside this venv (picamera2 with this venv's numpy) delivering a frame, and
one rendered test code decoded and verified end to end. Nothing personal is printed.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from verifier.core.errors import VerifierError
from verifier.device.config import Config, load_config
from verifier.device.runtime import read_candidates, read_status

FRAME_TIMEOUT = 15.0  # seconds for the camera to deliver one frame (libcamera starts slowly)
Check = Callable[[Config], str]


class Failed(Exception):
    """A check failed; the message says what was wrong and what to do."""


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except VerifierError as exc:
        raise Failed(
            f"config: {exc.message}: fix it, then sudo systemctl restart mleg-verifier"
        ) from None


def check_anchor(config: Config) -> str:
    from verifier.device.trustdata import load_anchor

    try:
        anchor = load_anchor(config.anchor)
    except VerifierError as exc:
        raise Failed(
            f"trust anchor: {exc.message}: install it with sudo deploy/install.sh --anchor FILE"
        ) from None
    return f"trust anchor readable (kid {anchor.kid.hex()})"


def check_lists(config: Config) -> str:
    from verifier.device.trustdata import load_trust_data

    todo = "sudo systemctl start mleg-verifier-sync, then journalctl -u mleg-verifier-sync"
    try:
        data = load_trust_data(config)
    except VerifierError as exc:
        raise Failed(f"lists: {exc.message}: {todo}") from None
    if data.revocations is None:
        raise Failed(f"lists: no revocation list held: {todo}")
    return (
        f"lists held and verified (trust list seq {data.trust_list.seq}, "
        f"revocation list seq {data.revocations.seq}, {len(data.revocations)} ids)"
    )


def check_camera_backend(config: Config) -> str:
    import numpy

    if config.camera.source != "picamera2":
        import cv2

        return f"camera backend OpenCV {cv2.__version__} with numpy {numpy.__version__}"
    try:
        import picamera2  # noqa: F401 - the import itself is the check
    except Exception as exc:  # ImportError, or numpy's "binary incompatibility" errors
        raise Failed(
            f"camera backend: picamera2 does not import in this venv "
            f"({type(exc).__name__}: {exc}) with numpy {numpy.__version__}: picamera2 needs "
            "Debian's numpy 1.x; reinstall with deploy/install.sh (pinned constraints)"
        ) from None
    return f"camera backend picamera2 imports with numpy {numpy.__version__}"


def check_camera_frame(config: Config, timeout: float = FRAME_TIMEOUT) -> str:
    running = read_status(read_candidates(config.cache_dir))
    if running is not None and abs(time.time() - float(running.get("updated_at", 0))) < 30:
        # The app holds the camera (it cannot be opened twice): its own figures tell.
        camera, fps = running.get("camera"), running.get("fps")
        if camera == "ok" and isinstance(fps, int | float) and fps > 0:
            return f"camera delivers frames (the running app decodes {fps:.1f} frames/s)"
        raise Failed(
            f"camera: the running app reports {camera!r}: see 'Camera not found' in "
            "deploy/README.md (cable, camera_auto_detect=1, id mleg lists video)"
        )
    from verifier.commands.app import camera_opener

    got: list[object] = []

    def grab() -> None:
        try:
            source = camera_opener(config)()
            try:
                got.append(source.read())
            finally:
                source.close()
        except Exception as exc:  # CameraError, or a backend failing in its own way
            got.append(exc)

    thread = threading.Thread(target=grab, name="selfcheck-camera", daemon=True)
    thread.start()
    thread.join(timeout)
    todo = "see 'Camera not found' in deploy/README.md"
    if not got:
        raise Failed(f"camera: no frame within {timeout:.0f} s: {todo}")
    frame = got[0]
    if isinstance(frame, Exception):
        message = frame.message if isinstance(frame, VerifierError) else str(frame)
        raise Failed(f"camera: {message}: {todo}")
    if frame is None:
        raise Failed(f"camera: the source ended before its first frame: {todo}")
    shape = getattr(getattr(frame, "gray", None), "shape", (0, 0))
    return f"camera delivers frames ({config.camera.source}, {shape[1]}x{shape[0]})"


def check_decode_verify(_config: Config) -> str:
    from verifier.commands.demo import run_text_demo

    out = io.StringIO()
    try:
        code = run_text_demo(None, out)
    except Exception as exc:
        raise Failed(
            f"decode and verify: {type(exc).__name__}: {exc}: reinstall with deploy/install.sh"
        ) from None
    if code != 0:
        raise Failed(
            "decode and verify: test codes did not give the expected verdicts: reinstall "
            "with deploy/install.sh and report it with: verifier demo"
        )
    return f"test codes rendered, decoded and verified ({len(out.getvalue().splitlines())} cases)"


CHECKS: tuple[Check, ...] = (
    check_anchor,
    check_lists,
    check_camera_backend,
    check_camera_frame,
    check_decode_verify,
)


def run_selfcheck(path: Path | None, out: TextIO, checks: tuple[Check, ...] = CHECKS) -> int:
    failed = 0
    try:
        config = _config(path)
    except Failed as exc:
        out.write(f"  FAILED   {exc}\n")
        return 1
    out.write(f"  ok       config valid ({config.source or 'defaults'})\n")
    for check in checks:
        try:
            line = check(config)
        except Failed as exc:
            out.write(f"  FAILED   {exc}\n")
            failed += 1
        except Exception as exc:  # a check that breaks is a failed check, one line
            out.write(f"  FAILED   {check.__name__}: {type(exc).__name__}: {exc}\n")
            failed += 1
        else:
            out.write(f"  ok       {line}\n")
    return 1 if failed else 0
