"""Help and quit confirmation."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = {
    "en": (
        "Hold the student's QR code in front of the camera, or scan it with a USB scanner.\n\n"
        "GREEN VALID: accept.   RED INVALID: refuse; the reason is shown.\n"
        "AMBER CHECK: the code is genuine, but this device's lists are old or its clock is\n"
        "behind: sync as soon as you can.\n\n"
        "Compare the photo and the name with the person.\n\n"
        "s sync now   h history   l language   ? help   q quit"
    ),
    "pl": (
        "Przyłóż kod QR studenta do kamery albo zeskanuj go czytnikiem USB.\n\n"
        "ZIELONE WAŻNA: akceptuj.   CZERWONE NIEWAŻNA: odmów; pokazany jest powód.\n"
        "BURSZTYNOWE SPRAWDŹ: kod jest prawdziwy, ale listy w czytniku są stare lub zegar\n"
        "jest cofnięty: zsynchronizuj jak najszybciej.\n\n"
        "Porównaj zdjęcie i nazwisko z osobą.\n\n"
        "s synchronizuj   h historia   l język   ? pomoc   q wyjście"
    ),
}


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def compose(self) -> ComposeResult:
        yield Static(HELP.get(self.lang, HELP["en"]), id="help")


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static("Quit the verifier? / Zamknąć czytnik?  [y/n]")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
