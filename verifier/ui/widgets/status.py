"""The status bar: camera, data age, last sync, clock sanity, today's counters."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from verifier.policy import REVOCATION_MAX_AGE
from verifier.ui.view import age_text


@dataclass(frozen=True)
class StatusInfo:
    camera: str
    fps: float | None
    trust_list_age: float | None
    revocation_age: float | None
    last_sync: str
    clock_behind: bool
    counts: tuple[int, int, int]  # valid, invalid, check


class StatusBar(Static):
    def show(self, info: StatusInfo) -> None:
        text = Text()
        fps = f" {info.fps:.0f} fps" if info.fps else ""
        text.append(f"cam: {info.camera}{fps}  ")
        for label, age in (("TL", info.trust_list_age), ("RL", info.revocation_age)):
            stale = age is None or age > REVOCATION_MAX_AGE  # amber past 24 h, or missing
            text.append(f"{label} {age_text(age)}", style="bold yellow" if stale else "")
            text.append("  ")
        text.append(f"sync: {info.last_sync}  ")
        text.append(
            "clock BEHIND" if info.clock_behind else "clock ok",
            style="bold yellow" if info.clock_behind else "",
        )
        v, i, c = info.counts
        text.append(f"  ✔ {v}  ✘ {i}  ? {c}")
        self.update(text)
