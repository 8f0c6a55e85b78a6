"""The status bar: camera, data age, last sync, clock sanity, today's counters."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from verifier.core.policy import REVOCATION_MAX_AGE
from verifier.ui.view import age_text, label


@dataclass(frozen=True)
class StatusInfo:
    camera: str
    fps: float | None
    trust_list_age: float | None
    revocation_age: float | None
    last_sync: str
    clock_behind: bool
    counts: tuple[int, int, int]  # valid, invalid, check
    audit_ok: bool = True  # False: verdicts cannot be written to the audit log (a full disk)


class StatusBar(Static):
    def show(self, info: StatusInfo, lang: str = "en") -> None:
        text = Text()
        fps = f" {info.fps:.0f} fps" if info.fps else ""
        text.append(f"{label('cam', lang)}: {info.camera}{fps}  ")
        for key, age in (("tl", info.trust_list_age), ("rl", info.revocation_age)):
            stale = age is None or age > REVOCATION_MAX_AGE  # amber past 24 h, or missing
            text.append(f"{label(key, lang)} {age_text(age)}", style="bold yellow" if stale else "")
            text.append("  ")
        text.append(f"{label('sync', lang)}: {info.last_sync}  ")
        text.append(
            label("clock_behind" if info.clock_behind else "clock_ok", lang),
            style="bold yellow" if info.clock_behind else "",
        )
        v, i, c = info.counts
        text.append(f"  ✔ {v}  ✘ {i}  ? {c}")
        if not info.audit_ok:
            text.append(f"  {label('audit_failed', lang)}", style="bold red")
        self.update(text)
