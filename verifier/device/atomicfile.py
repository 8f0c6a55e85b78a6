"""Crash-safe file replacement: a power cut at any moment leaves the old file or the new one."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

# mkstemp's name for a temporary copy of NAME: ".NAME.<8 random characters>.tmp".
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
ORPHAN_AGE = 15 * 60  # older than any write in progress (a 16 MB list takes seconds)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a temporary file in the same directory, fsync it, rename it over ``path``,
    then fsync the directory so the rename itself survives a power cut."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        fh = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        os.fchmod(fh.fileno(), mode)
        with fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_orphans(directory: Path, max_age: float = ORPHAN_AGE, now: float | None = None) -> int:
    """Delete temporary files that interrupted writes left in ``directory`` (a power cut or a
    kill between mkstemp and rename); returns how many. Only files named as ``write_atomic``
    names them and untouched for ``max_age`` seconds: another process's write in progress
    (the sync timer's, while the app starts) is left alone."""
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if not _TEMPORARY.match(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime >= max_age:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed
