"""What the inspector compares with the person: photo, name, university, validity, age."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from verifier.ui.view import VerdictView, label
from verifier.ui.widgets.photo import Photo


class HolderCard(Horizontal):
    def compose(self) -> ComposeResult:
        yield Photo(id="photo")
        yield Static(id="holder-fields")

    def show(self, view: VerdictView | None, lang: str) -> None:
        fields = self.query_one("#holder-fields", Static)
        photo = self.query_one(Photo)
        if view is None or view.name is None:
            self.display = False
            photo.show(None)
            fields.update("")
            return
        self.display = True
        # A bigger photo where the screen allows it: the face is what the inspector compares.
        photo.show(view.photo, rows=18 if self.app.size.height >= 40 else 9)
        text = Text()
        text.append(f"{view.name}\n", style="bold")
        text.append(f"{view.university}\n")
        if view.valid_until:
            text.append(f"{label('until', lang)} {view.valid_until}\n")
        if view.age_badge:
            text.append(f" {view.age_badge} \n", style="reverse")
        text.append(f"{label('album', lang)} {view.album}", style="dim")
        fields.update(text)
