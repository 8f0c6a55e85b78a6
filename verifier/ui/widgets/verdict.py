"""The big verdict panel: colour and one word readable from a metre away."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from verifier.core.reasons import Verdict
from verifier.ui.view import VerdictView, label
from verifier.ui.widgets.bigtext import big_lines, scaled

CLASSES = {Verdict.VALID: "-valid", Verdict.WARNING: "-warning", Verdict.INVALID: "-invalid"}


class VerdictPanel(Static):
    """Block letters when the panel has room for them and the reason, plain bold otherwise."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._shown: tuple[VerdictView, str] | None = None

    @property
    def headline(self) -> str | None:
        """The verdict word shown (whatever font it is drawn in), None when no verdict is."""
        return None if self._shown is None else self._shown[0].title

    def show_ready(self, lang: str) -> None:
        self._shown = None
        self.set_classes("-ready")
        self.update(Text(label("ready", lang), justify="center"))

    def show_message(self, message: str) -> None:
        """The verifier itself cannot verify (no trust list, bad anchor): say so in red."""
        self._shown = None
        self.set_classes("-invalid")
        self.update(Text(message, justify="center"))

    def show(self, view: VerdictView, ago: str) -> None:
        self._shown = (view, ago)
        self.set_classes(CLASSES[view.verdict])
        self.update(self._compose_text(view, ago))

    def on_resize(self, event: events.Resize) -> None:
        if self._shown is not None:
            self.update(self._compose_text(*self._shown))

    def _compose_text(self, view: VerdictView, ago: str) -> Text:
        room = self.content_size
        below = [view.sentence] if view.sentence else []
        head = [view.title]
        big = big_lines(view.title)
        for factor in (3, 2, 1):
            if big is None:
                break
            lines = scaled(big, factor)
            if len(lines[0]) <= room.width and len(lines) + len(below) + 1 <= room.height:
                head = lines
                break
        # Centre every line on the widest, so the reason sits under the block letters.
        width = max(len(line) for line in [*head, *below, ago])
        text = Text()
        text.append("\n".join(line.center(width) for line in [*head, *below]), style="bold")
        text.append("\n" + ago.center(width), style="dim")
        return text
