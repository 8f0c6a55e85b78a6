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
        text.append(f"TL {age_text(info.trust_list_age)}  ")
        stale = info.revocation_age is None or info.revocation_age > REVOCATION_MAX_AGE
        text.append(f"RL {age_text(info.revocation_age)}", style="bold yellow" if stale else "")
        text.append(f"  sync: {info.last_sync}  ")
        text.append(
            "clock BEHIND" if info.clock_behind else "clock ok",
            style="bold yellow" if info.clock_behind else "",
        )
        v, i, c = info.counts
        text.append(f"  ✔ {v}  ✘ {i}  ? {c}")
        self.update(text)
