"""``verifier sync``: fetch both lists once, one readable line per list.

Exit codes: 0 when both lists are held and current (fetched or not modified), 1 when a list
was rejected or could not be fetched, 2 for configuration errors (no ``list_url``, no anchor).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from verifier.core.errors import ConfigError
from verifier.device.config import Config
from verifier.device.sync import ListSync, SyncReport, sync_lists

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def format_line(item: ListSync) -> str:
    """``trust list: fetched, seq 4 stored``; a failure says which list is still in use."""
    line = f"{item.name}: {item.status.replace('_', ' ')}, {item.message}"
    if not item.ok:
        line += "; no list held" if item.seq is None else f"; keeping seq {item.seq}"
    return line


class DownloadProgress:
    """``revocations.cbor: 3.2 of 16.0 MB`` on one terminal line, at most 4 times a second."""

    def __init__(self, err: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.err, self.clock = err, clock
        self._last = 0.0
        self._shown = False

    def __call__(self, url: str, received: int, total: int | None) -> None:
        done = total is not None and received >= total
        if not done and self.clock() - self._last < 0.25:
            return
        self._last = self.clock()
        of = f" of {total / 1e6:.1f}" if total else ""
        self.err.write(f"\r{url.rsplit('/', 1)[-1]}: {received / 1e6:.1f}{of} MB\x1b[K")
        self._shown = True
        if done:
            self.finish()

    def finish(self) -> None:
        if self._shown:
            self.err.write("\n")
            self._shown = False


def run_sync(
    config: Config,
    out: TextIO,
    err: TextIO,
    sync: Callable[..., SyncReport] = sync_lists,
) -> int:
    from verifier.device.store import ListStore

    ListStore.remove_orphans(config.cache_dir)  # what interrupted list writes left behind
    progress = DownloadProgress(err) if err.isatty() else None
    try:
        report = sync(config, progress=progress) if progress else sync(config)
    except ConfigError as exc:
        err.write(f"verifier: {exc.title.lower()}: {exc.message}\n")
        return EXIT_CONFIG
    finally:
        if progress is not None:
            progress.finish()
    for item in report.lists:
        (out if item.ok else err).write(format_line(item) + "\n")
    if report.clock_skew is not None:
        direction = "behind" if report.clock_skew > 0 else "ahead of"
        err.write(
            f"clock: this device is {abs(report.clock_skew)} s {direction} the list server "
            f"(more than the {config.window} s presentation window): set the clock\n"
        )
    return EXIT_OK if report.ok else EXIT_FAILED
