"""The status bar: camera, clock, list ages, last sync, today's counters, in short forms.

It never clips: fields are placed by priority on one line, a second when the first is full,
and what still does not fit is left to the details screen (``i``), which the bar then names.
Long texts (a sync's per-list result, a camera's error) are only on the details screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from verifier.core.policy import REVOCATION_MAX_AGE
from verifier.ui.view import age_text, label

GAP = "  "
ALERT = "bold reverse"  # visible in 16 colours and without colour at all


@dataclass(frozen=True)
class StatusInfo:
    camera: str  # "ok", "off", "missing", "lost", "stalled"
    fps: float | None
    trust_list_age: float | None
    revocation_age: float | None
    sync: str  # "never", "off", "running", "ok", "failed"
    sync_at: str | None  # HH:MM of the last finished sync
    clock: str  # "ok", "unsync", "behind"
    counts: tuple[int, int, int]  # valid, invalid, check
    audit_ok: bool = True  # False: verdicts cannot be written to the audit log (a full disk)


def status_fields(info: StatusInfo, lang: str) -> list[Text]:
    """The bar's fields, most important first."""
    fields: list[Text] = []
    cam = {"ok": "cam_ok", "off": "cam_off", "missing": "cam_missing", "lost": "cam_lost",
           "stalled": "cam_stalled"}
    camera = Text(f"{label('cam', lang)} {label(cam.get(info.camera, 'cam_lost'), lang)}")
    if info.camera == "ok" and info.fps:
        camera.append(f" {info.fps:.0f} {label('fps', lang)}")
    if info.camera in ("missing", "lost", "stalled"):
        camera.stylize(ALERT)
    fields.append(camera)
    if not info.audit_ok:
        fields.append(Text(label("audit_failed", lang), style=ALERT))
    clock = {"ok": "clock_ok", "unsync": "clock_unsync", "behind": "clock_behind"}[info.clock]
    fields.append(Text(label(clock, lang), style="" if info.clock == "ok" else ALERT))
    lists = Text()
    for n, (key, age) in enumerate((("tl", info.trust_list_age), ("rl", info.revocation_age))):
        stale = age is None or age > REVOCATION_MAX_AGE  # past 24 h, or missing
        lists.append(" " if n else "")
        lists.append(f"{label(key, lang)} {age_text(age, lang)}", style=ALERT if stale else "")
    fields.append(lists)
    sync = label(f"sync_{info.sync}", lang)
    if info.sync in ("ok", "failed") and info.sync_at:
        sync = f"{sync} {info.sync_at}"
    fields.append(Text(sync, style=ALERT if info.sync == "failed" else ""))
    v, i, c = info.counts
    fields.append(Text(f"✓{v} ✗{i} !{c}"))
    return fields


def layout(fields: list[Text], width: int, more: str, max_lines: int = 2) -> list[Text]:
    """Fields on at most ``max_lines`` lines of ``width`` cells; ``more`` if any are left out."""
    lines: list[Text] = [Text()]
    left_out = False
    for field in fields:
        line = lines[-1]
        need = field.cell_len + (len(GAP) if line.cell_len else 0)
        if line.cell_len + need > width:
            if len(lines) == max_lines:
                left_out = True
                continue
            lines.append(Text())
            line = lines[-1]
        if line.cell_len:
            line.append(GAP)
        line.append_text(field)
    if left_out:
        last = lines[-1]
        if last.cell_len + len(GAP) + len(more) > width:
            last.truncate(max(0, width - len(more) - len(GAP)))
        last.append(GAP + more, style="italic")
    return lines


class StatusBar(Static):
    def show(self, info: StatusInfo, lang: str = "en") -> None:
        width = max(20, self.app.size.width - 2)  # the bar's padding
        lines = layout(status_fields(info, lang), width, label("more", lang))
        self.update(Text("\n").join(lines))
