"""What the inspector compares with the person: photo, name, university, validity, age badge."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from verifier.imaging.portrait import Portrait
from verifier.ui.view import VerdictView, label
from verifier.ui.widgets.photo import Photo


def photo_rows(screen_height: int) -> int:
    """The photo takes over a third of the screen's height (the face is what is compared)."""
    return max(8, screen_height // 3 + 1)


class HolderCard(Horizontal):
    def __init__(self, photo_mode: str = "halfblock", **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.photo_mode = photo_mode

    def compose(self) -> ComposeResult:
        yield Photo(self.photo_mode, id="photo")
        yield Static(id="holder-fields")

    def show(self, view: VerdictView | None, lang: str, portrait: Portrait | None = None) -> None:
        fields = self.query_one("#holder-fields", Static)
        photo = self.query_one(Photo)
        if view is None or view.name is None:
            self.display = False
            photo.show(None, None, 0)
            fields.update("")
            return
        self.display = True
        rows = photo_rows(self.app.size.height)
        if view.photo is None:
            photo.show(None, (label("no_photo", lang), label("photo_advice", lang)), rows)
        elif portrait is None or not portrait.displayable:
            photo.show(None, (label("photo_bad", lang), label("photo_advice", lang)), rows)
        else:
            photo.show(portrait, None, rows)
        text = Text()
        text.append(f"{view.name}\n", style="bold")
        text.append(f"{view.university}\n\n")
        if view.valid_until:
            text.append(f"{label('until', lang)} {view.valid_until}\n")
        if view.age_badge:
            text.append(f" {view.age_badge} \n", style="reverse bold")
        text.append(f"{label('album', lang)} {view.album}", style="dim")
        fields.update(text)
