"""The credential's signed photo: Sixel pixels where the terminal can draw them, half-blocks
otherwise, or a note that it cannot be displayed.

The photo is decoded only by ``verifier.imaging.portrait`` (Pillow, header checked first); this
widget only draws the decoded picture. Which way it draws is picked once, before Textual
starts (the terminal is asked then; Textual's input thread would take the answer later):

- ``sixel``: foot (the kiosk under cage), xterm and other Sixel terminals, through
  textual-image's Sixel widget: the face in real pixels;
- ``halfblock``: the Linux console (TERM=linux), SSH, tmux, tests: two pixels per cell.
"""

from __future__ import annotations

import os
import sys

from PIL import Image as PILImage
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from verifier.imaging.portrait import Portrait

PHOTO_MODES = ("sixel", "halfblock")


def detect_photo_mode() -> str:
    """``MLEG_PHOTO`` (sixel, halfblock) if set; else ask the terminal whether it does Sixel."""
    forced = os.environ.get("MLEG_PHOTO", "")
    if forced in PHOTO_MODES:
        return forced
    stdout = sys.__stdout__
    if os.environ.get("TERM") == "linux" or stdout is None or not stdout.isatty():
        return "halfblock"  # the console draws no pixels; no terminal to ask
    try:
        # Asks the terminal (device attributes) and caches its cell size in pixels, both of
        # which must happen before Textual owns the terminal.
        from textual_image._terminal import get_cell_size
        from textual_image.renderable.sixel import query_terminal_support

        get_cell_size()
        return "sixel" if query_terminal_support() else "halfblock"
    except Exception:  # no answer, a closed stdin, an odd terminal: the safe way
        return "halfblock"


def half_blocks(image: PILImage.Image, columns: int, rows: int) -> Text:
    """Draw a decoded RGB image into at most ``columns`` x ``rows`` cells, aspect kept."""
    w, h = image.size
    # A cell is about twice as tall as wide and holds two pixels, one above the other.
    scale = min(columns / w, (rows * 2) / h)
    size = (max(1, round(w * scale)), max(2, int(h * scale) // 2 * 2))
    pixels = image.resize(size, PILImage.Resampling.BOX).load()
    assert pixels is not None
    text = Text()
    for y in range(0, size[1] - 1, 2):
        for x in range(size[0]):
            top, bottom = pixels[x, y], pixels[x, y + 1]
            text.append(
                "▀",
                Style(
                    color=f"rgb({top[0]},{top[1]},{top[2]})",
                    bgcolor=f"rgb({bottom[0]},{bottom[1]},{bottom[2]})",
                ),
            )
        if y + 2 < size[1] - 1:
            text.append("\n")
    return text


def photo_columns(image_size: tuple[int, int], rows: int) -> int:
    """Cells across for a photo ``rows`` cells tall (half-blocks: 1 x 2 pixels per cell)."""
    w, h = image_size
    return max(1, round(rows * 2 * w / h))


def sixel_columns(image_size: tuple[int, int], rows: int) -> int:
    """Cells across for a Sixel photo ``rows`` cells tall, from the terminal's cell size."""
    from textual_image._terminal import get_cell_size

    cell = get_cell_size()  # asked of the terminal before Textual started, then cached
    w, h = image_size
    return max(1, round(rows * cell.height * w / (h * cell.width)))


class Photo(Vertical):
    """Shows a decoded portrait, a "cannot be displayed" note, or nothing.

    Nothing personal is kept once the holder leaves the screen: ``show(None)`` drops the
    picture from the widgets.
    """

    def __init__(self, mode: str = "halfblock", **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.mode = mode
        self.shown: str = "none"  # "none", "image", "note": what a test can check
        self._drawn: tuple[object, int] | None = None  # (image, rows) last drawn

    def compose(self) -> ComposeResult:
        yield Static(id="photo-cells")
        if self.mode == "sixel":
            from textual_image.widget import SixelImage

            yield SixelImage(id="photo-sixel")

    def show(self, portrait: Portrait | None, note: tuple[str, str] | None, rows: int) -> None:
        """``portrait`` to draw, or ``note`` (two lines) in a box of the same size."""
        cells = self.query_one("#photo-cells", Static)
        sixel = self.query("#photo-sixel")
        if portrait is None or portrait.image is None:
            self._drawn = None
            for widget in sixel:
                widget.image = None  # type: ignore[attr-defined]
                widget.display = False
            if note is None:
                self.shown, self.display = "none", False
                cells.update("")
                return
            self.shown, self.display = "note", True
            cells.display = True
            width = max(photo_columns((3, 4), rows), len(note[0]) // 2 + 2)
            cells.styles.width = width + 2
            cells.styles.height = rows
            cells.set_class(True, "-note")
            cells.update(Text(f"{note[0]}\n\n{note[1]}", justify="center", style="bold"))
            return
        self.shown, self.display = "image", True
        cells.set_class(False, "-note")
        image = portrait.image
        if self._drawn is not None and self._drawn[0] is image and self._drawn[1] == rows:
            return  # redrawn every second otherwise (and Sixel re-encoded)
        self._drawn = (image, rows)
        if sixel:
            widget = sixel.first()
            cells.display = False
            cells.update("")
            widget.display = True
            widget.styles.height = rows
            widget.styles.width = sixel_columns(image.size, rows)
            widget.image = image  # type: ignore[attr-defined]
            return
        cells.display = True
        cells.styles.width = "auto"
        cells.styles.height = "auto"
        cells.update(half_blocks(image, photo_columns(image.size, rows), rows))
