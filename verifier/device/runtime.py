"""The app's runtime status file: what ``verifier status`` and the metrics need from a running app.

The app rewrites it every few seconds (atomically) in a RAM directory: ``$RUNTIME_DIRECTORY``
(systemd's ``RuntimeDirectory=``, ``/run/mleg-verifier`` on the kit, removed when the app
stops), else ``$XDG_RUNTIME_DIR/mleg-verifier``, else ``cache_dir/run``. It holds figures only:
camera state and decoded frames per second, today's counts, the audit log's health, the last
sync line. Nothing personal, ever (no names, no credential ids, no codes).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from verifier.device.atomicfile import write_atomic

STATUS_FILE = "status.json"
KIT_RUNTIME_DIR = Path("/run/mleg-verifier")  # the unit's RuntimeDirectory=
MAX_STATUS_BYTES = 64 * 1024  # a status file is ~1 KB; anything larger is not ours


def write_dir(cache_dir: Path, env: dict[str, str] | None = None) -> Path:
    """Where this process (the app) writes its status."""
    env = dict(os.environ) if env is None else env
    if env.get("RUNTIME_DIRECTORY"):
        return Path(env["RUNTIME_DIRECTORY"].split(":")[0])
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "mleg-verifier"
    return cache_dir / "run"


def read_candidates(cache_dir: Path, env: dict[str, str] | None = None) -> list[Path]:
    """Where another process (``verifier status``, the metrics timer) looks for it."""
    env = dict(os.environ) if env is None else env
    dirs = [KIT_RUNTIME_DIR]
    if env.get("XDG_RUNTIME_DIR"):
        dirs.append(Path(env["XDG_RUNTIME_DIR"]) / "mleg-verifier")
    dirs.append(cache_dir / "run")
    return [d / STATUS_FILE for d in dirs]


class RuntimeStatus:
    """Writes the status file; a failure (a full disk where it falls back to) is not fatal."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / STATUS_FILE
        self.error: str | None = None

    def write(self, status: dict[str, Any]) -> bool:
        try:
            write_atomic(self.path, json.dumps(status, sort_keys=True).encode(), mode=0o640)
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            return False
        self.error = None
        return True

    def remove(self) -> None:
        """At a clean exit: no status file claims a running app."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


def read_status(candidates: list[Path]) -> dict[str, Any] | None:
    """The newest readable status file among ``candidates``, or None."""
    best: tuple[float, dict[str, Any]] | None = None
    for path in candidates:
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_STATUS_BYTES + 1)
            data = json.loads(raw) if len(raw) <= MAX_STATUS_BYTES else None
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        updated = data.get("updated_at")
        at = float(updated) if isinstance(updated, int | float) else 0.0
        if best is None or at > best[0]:
            best = (at, data)
    return None if best is None else best[1]
