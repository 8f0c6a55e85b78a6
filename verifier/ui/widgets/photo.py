"""The credential's signed photo, drawn with half-block characters (two pixels per cell)."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.widgets import Static


def half_blocks(jpeg: bytes, columns: int, rows: int) -> Text:
    """Render a JPEG into ``columns`` x ``rows`` cells; an undecodable photo gives a note."""
    import cv2

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return Text("(photo unreadable)")
    h, w = image.shape[:2]
    # Keep the aspect ratio: a cell is about twice as tall as wide, and holds two pixels.
    scale = min(columns / w, (rows * 2) / h)
    size = (max(1, int(w * scale)), max(2, int(h * scale) // 2 * 2))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)[:, :, ::-1]  # BGR -> RGB
    text = Text()
    for y in range(0, small.shape[0] - 1, 2):
        for x in range(small.shape[1]):
            top, bottom = small[y, x], small[y + 1, x]
            text.append(
                "▀",
                Style(
                    color=f"rgb({top[0]},{top[1]},{top[2]})",
                    bgcolor=f"rgb({bottom[0]},{bottom[1]},{bottom[2]})",
                ),
            )
        text.append("\n")
    return text


class Photo(Static):
    """Shows a photo, or nothing; the bytes are never kept after rendering."""

    def show(self, jpeg: bytes | None, rows: int = 9) -> None:
        if jpeg is None:
            self.update("")
            self.display = False
            return
        self.display = True
        self.update(half_blocks(jpeg, columns=2 * rows, rows=rows))
