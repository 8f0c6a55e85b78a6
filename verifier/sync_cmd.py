"""``verifier sync``: fetch both lists once, one readable line per list.

Exit codes: 0 when both lists are held and current (fetched or not modified), 1 when a list
was rejected or could not be fetched, 2 for configuration errors (no ``list_url``, no anchor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from verifier.config import Config
from verifier.errors import ConfigError
from verifier.sync import ListSync, SyncReport, sync_lists

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def format_line(item: ListSync) -> str:
    """``trust list: fetched, seq 4 stored``; a failure says which list is still in use."""
    line = f"{item.name}: {item.status.replace('_', ' ')}, {item.message}"
    if not item.ok:
        line += "; no list held" if item.seq is None else f"; keeping seq {item.seq}"
    return line


def run_sync(
    config: Config,
    out: TextIO,
    err: TextIO,
    sync: Callable[[Config], SyncReport] = sync_lists,
) -> int:
    try:
        report = sync(config)
    except ConfigError as exc:
        err.write(f"verifier: {exc.title.lower()}: {exc.message}\n")
        return EXIT_CONFIG
    for item in report.lists:
        (out if item.ok else err).write(format_line(item) + "\n")
    if report.clock_skew is not None:
        direction = "behind" if report.clock_skew > 0 else "ahead of"
        err.write(
            f"clock: this device is {abs(report.clock_skew)} s {direction} the list server "
            f"(more than the {config.window} s presentation window): set the clock\n"
        )
    return EXIT_OK if report.ok else EXIT_FAILED
