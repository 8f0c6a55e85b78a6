"""The default screen: the verdict, the holder, the status bar, scanner input."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from verifier.core.base45 import ALPHABET
from verifier.ui.widgets.holder import HolderCard
from verifier.ui.widgets.status import StatusBar
from verifier.ui.widgets.verdict import VerdictPanel

# A USB barcode scanner "types" the QR text and Enter. ML1 texts use only base45 characters
# (upper case, digits, " $%*+-./:"), so they never collide with the lower-case key bindings.
SCANNER_CHARS = frozenset(ALPHABET)


class ScanScreen(Screen[None]):
    def __init__(self, photo_mode: str = "halfblock") -> None:
        super().__init__()
        self._typed: list[str] = []
        self.photo_mode = photo_mode

    def compose(self) -> ComposeResult:
        yield VerdictPanel(id="verdict")
        yield HolderCard(self.photo_mode, id="holder")
        yield Static(id="typed")
        yield StatusBar(id="status")
        # The keys in the user's language (Textual's footer has English descriptions only).
        yield Static(id="keys")

    def on_key(self, event: events.Key) -> None:
        if event.key == "enter" and self._typed:
            text, self._typed = "".join(self._typed), []
            self.query_one("#typed", Static).update("")
            self.app.submit_texts([text])  # type: ignore[attr-defined]
            event.stop()
        elif event.character and event.character in SCANNER_CHARS:
            self._typed.append(event.character)
            shown = "".join(self._typed)
            self.query_one("#typed", Static).update(
                f"⌨ {shown[:60]}…" if len(shown) > 60 else f"⌨ {shown}"
            )
            event.stop()

    def on_paste(self, event: events.Paste) -> None:
        texts = [line.rstrip("\r") for line in event.text.split("\n") if line.strip()]
        if texts:
            self.app.submit_texts(texts[:1])  # type: ignore[attr-defined]
