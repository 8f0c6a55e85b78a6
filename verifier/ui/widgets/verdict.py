"""The big verdict panel: shape, brightness and one word readable from a metre away.

Each state differs without colour: a tick, a cross or an exclamation mark drawn large before
a word with its own first letter, and its own frame (none for valid, a heavy one for refuse,
a dashed one for check). "Cannot verify" and "no camera" are the kit's own states, in neither
red nor green, with the cause and what to do.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from verifier.core.reasons import Verdict
from verifier.ui.view import VerdictView, label
from verifier.ui.widgets.bigtext import big_lines, scaled

CLASSES = {Verdict.VALID: "-valid", Verdict.WARNING: "-warning", Verdict.INVALID: "-invalid"}
STATE_CLASSES = ("-ready", "-valid", "-warning", "-invalid", "-cannot", "-nocamera")


class VerdictPanel(Static):
    """Block letters when the panel has room for them and the lines below, plain otherwise."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._shown: tuple[VerdictView, str] | None = None
        self.state = "-ready"

    @property
    def headline(self) -> str | None:
        """The verdict word shown (whatever font it is drawn in), None when no verdict is."""
        return None if self._shown is None else self._shown[0].title

    def _set_state(self, state: str) -> None:
        self.state = state
        self.set_classes(state)

    def show_ready(self, lang: str) -> None:
        self._shown = None
        self._set_state("-ready")
        self.update(Text(label("ready", lang), justify="center"))

    def show_notice(self, state: str, heading: str, lines: list[str], detail: str = "") -> None:
        """The kit's own state ("-cannot", "-nocamera"): a heading, what to do, a detail."""
        self._shown = None
        self._set_state(state)
        text = Text(justify="center")
        text.append(f"⚠  {heading}  ⚠\n\n", style="bold")
        text.append("\n".join(lines), style="bold")
        if detail:
            text.append(f"\n\n{detail}", style="italic")
        self.update(text)

    def show(self, view: VerdictView, ago: str) -> None:
        self._shown = (view, ago)
        self._set_state(CLASSES[view.verdict])
        self.update(self._compose_text(view, ago))

    def on_resize(self, event: events.Resize) -> None:
        if self._shown is not None:
            self.update(self._compose_text(*self._shown))

    def _compose_text(self, view: VerdictView, ago: str) -> Text:
        room = self.content_size
        below = [line for line in (view.action, view.sentence) if line]
        below_rows = sum(-(-len(line) // max(room.width, 1)) for line in below)  # wrapped
        word = f"{view.glyph} {view.title}"
        head = [word]
        big = big_lines(word)
        for factor in (3, 2, 1):
            if big is None:
                break
            lines = scaled(big, factor)
            if len(lines[0]) <= room.width and len(lines) + below_rows + 2 <= room.height:
                head = [*lines, ""]
                break
        # Centre every line on the widest that fits, so the lines sit under the block letters.
        width = min(max(len(line) for line in [*head, *below, ago]), max(room.width, 1))
        text = Text()
        text.append("\n".join(line.center(width) for line in head) + "\n", style="bold")
        if below:
            text.append(below[0].center(width) + "\n", style="bold")
            for line in below[1:]:
                text.append(line.center(width) + "\n")
        text.append(ago.center(width), style="italic")
        return text
