"""Snapshots of the inspector's screens in every state, at the kit's sizes, in truecolour (foot
under cage) and in the 16 colours of the Linux console (TERM=linux, the fallback).

Sizes: 80x24 (the smallest supported), 100x30 (the 7-inch 800x480 display at 8x16), 160x48 (a
large monitor). The SVGs under ``tests/__snapshots__/`` were looked at by a person; a changed
rendering fails until it is looked at again and accepted with ``pytest --snapshot-update``.
Everything shown is fixed: the clock, the student, the photo (a committed JPEG), the list ages.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from rich.terminal_theme import TerminalTheme
from rich.text import Text

from tests.conftest import DAY, NOW, STUDENT, World
from tests.portraits import PORTRAIT_JPEG, bomb_jpeg
from verifier.core.errors import ConfigError
from verifier.device.clock import FixedClock
from verifier.device.trustdata import TrustData
from verifier.ui import app as ui_app
from verifier.ui.app import InspectorApp
from verifier.ui.feedback import NoFeedback
from verifier.ui.services import Services

SIZES = {"80x24": (80, 24), "100x30": (100, 30), "160x48": (160, 48)}
# Every state of the scan screen.
STATES = (
    "ready",
    "valid",
    "revoked",
    "check",
    "clock",
    "screenshot",
    "photo_bomb",
    "no_trust_list",
    "no_camera",
)
# Screens over it: keys pressed after the verdict.
DIALOGS = {"help": ("question_mark",), "quit": ("q",), "history": ("h",),
           "details": ("h", "enter"), "info": ("i",)}

# The Linux console's palette (VGA), in the order of the 16 ANSI colours.
VGA = TerminalTheme(
    (0, 0, 0),
    (170, 170, 170),
    [
        (0, 0, 0), (170, 0, 0), (0, 170, 0), (170, 85, 0),
        (0, 0, 170), (170, 0, 170), (0, 170, 170), (170, 170, 170),
    ],
    [
        (85, 85, 85), (255, 85, 85), (85, 255, 85), (255, 255, 85),
        (85, 85, 255), (255, 85, 255), (85, 255, 255), (255, 255, 255),
    ],
)


def _sixteen(style: Style | None) -> Style | None:
    """A style as Rich sends it to a 16-colour terminal (TERM=linux)."""
    if style is None:
        return None
    color = style.color.downgrade(ColorSystem.STANDARD) if style.color else None
    bgcolor = style.bgcolor.downgrade(ColorSystem.STANDARD) if style.bgcolor else None
    return style + Style(color=color, bgcolor=bgcolor)


class ConsoleInspector(InspectorApp):
    """The app as the Linux console shows it: every colour reduced to the 16 the console has
    (as Rich does for TERM=linux), drawn with the console's VGA palette."""

    CSS_PATH = str(Path(ui_app.__file__).with_name("inspector.tcss"))

    def export_screenshot(self, *, title: str | None = None, simplify: bool = False) -> str:
        width, height = self.size
        console = Console(
            width=width, height=height, file=io.StringIO(), force_terminal=True,
            color_system="standard", record=True, legacy_windows=False, safe_box=False,
        )
        strips = self.screen._compositor.render_full_update(simplify=simplify).strips
        lines = []
        for line in strips:
            text = Text(end="")
            for strip in line:
                for segment in strip:
                    if not segment.control:
                        text.append(segment.text, _sixteen(segment.style))
            lines.append(text)
        console.print(Text("\n").join(lines), crop=True, overflow="crop", soft_wrap=True)
        return console.export_svg(title=title or self.title, theme=VGA)


def _no_trust() -> TrustData:
    raise ConfigError("no trust list in /var/lib/mleg-verifier: run 'verifier sync'")


def inspector(state: str, language: str = "pl", colours: str = "truecolor") -> InspectorApp:
    world = World()
    photo = bomb_jpeg(65000, 65000) if state == "photo_bomb" else PORTRAIT_JPEG
    student = replace(STUDENT, photo=photo)
    cti = bytes(16)
    wallet = world.wallet(student, cti=cti, exp=NOW + 120 * DAY)
    load = world.trust_data
    clock = FixedClock(NOW, synchronized=state != "clock")  # "clock": not set since boot
    if state == "revoked":
        world.ministry.revoked.add(cti)
    elif state == "check":
        data = world.trust_data()
        load = lambda: replace(data, revocations=None)  # noqa: E731
    elif state == "no_trust_list":
        load = _no_trust
    services = Services(load_trust=load, clock=clock, feedback=NoFeedback())
    cls = ConsoleInspector if colours == "16" else InspectorApp
    app = cls(services, language=language, photo_mode="halfblock")
    app.version_text = "mleg-verifier 0.1.0 (commit 0123456789ab)"  # not the build's own
    if state == "no_camera":
        app.camera_state = "unavailable: no camera found (/dev/video0)"
    elif state != "no_trust_list":
        app.camera_state, app.fps = "ok", 12.0
    presented_at = NOW - 300 if state == "screenshot" else NOW
    idle = state in ("ready", "no_trust_list", "no_camera")
    app.pending = None if idle else wallet.present(presented_at)  # type: ignore[attr-defined]
    return app


async def _show(pilot) -> None:
    app = pilot.app
    if app.pending:
        app.submit_texts([app.pending])
    await pilot.pause()


@pytest.mark.parametrize("colours", ["truecolor", "16"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", STATES)
def test_scan_screen(snap_compare, state: str, size: str, colours: str) -> None:
    app = inspector(state, "pl", colours)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_show)


@pytest.mark.parametrize("state", STATES)
def test_scan_screen_in_english(snap_compare, state: str) -> None:
    assert snap_compare(inspector(state, "en"), terminal_size=(100, 30), run_before=_show)


@pytest.mark.parametrize("colours", ["truecolor", "16"])
@pytest.mark.parametrize("language", ["pl", "en"])
@pytest.mark.parametrize("dialog", DIALOGS)
def test_dialogs_at_80x24(snap_compare, dialog: str, language: str, colours: str) -> None:
    app = inspector("revoked", language, colours)
    app.kiosk = True

    async def run(pilot) -> None:
        await _show(pilot)
        await pilot.press(*DIALOGS[dialog])
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run)
