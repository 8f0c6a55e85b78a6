"""The big verdict panel: colour and one word readable from a metre away."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from verifier.reasons import Verdict
from verifier.ui.view import VerdictView, label

CLASSES = {Verdict.VALID: "-valid", Verdict.WARNING: "-warning", Verdict.INVALID: "-invalid"}


class VerdictPanel(Static):
    def show_ready(self, lang: str) -> None:
        self.set_classes("-ready")
        self.update(Text(label("ready", lang), justify="center"))

    def show(self, view: VerdictView, ago: str) -> None:
        self.set_classes(CLASSES[view.verdict])
        text = Text(justify="center")
        text.append(f"\n{view.title}\n", style="bold")
        if view.sentence:
            text.append(f"{view.sentence}\n")
        text.append(ago, style="dim")
        self.update(text)
