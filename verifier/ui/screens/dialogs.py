"""Help, typing or pasting a code, and quit confirmation."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

HELP = {
    "en": (
        "Hold the student's QR code in front of the camera, or scan it with a USB scanner.\n\n"
        "GREEN VALID: accept.   RED INVALID: refuse; the reason is shown.\n"
        "AMBER CHECK: the code is genuine, but this device's lists are old or its clock is\n"
        "behind: sync as soon as you can.\n\n"
        "Compare the photo and the name with the person.\n\n"
        "Status bar: TL / RL = age of the trust list / revocation list (amber past 24 h).\n\n"
        "t type or paste a code   s sync now   h history   l language   ? help   q quit"
    ),
    "pl": (
        "Przyłóż kod QR studenta do kamery albo zeskanuj go czytnikiem USB.\n\n"
        "ZIELONE WAŻNA: akceptuj.   CZERWONE NIEWAŻNA: odmów; pokazany jest powód.\n"
        "BURSZTYNOWE SPRAWDŹ: kod jest prawdziwy, ale listy w czytniku są stare lub zegar\n"
        "jest cofnięty: zsynchronizuj jak najszybciej.\n\n"
        "Porównaj zdjęcie i nazwisko z osobą.\n\n"
        "Pasek stanu: LZ / LU = wiek listy zaufanych wydawców / listy unieważnień\n"
        "(bursztynowy po 24 h).\n\n"
        "t wpisz/wklej kod   s synchronizuj   h historia   l język   ? pomoc   q wyjście"
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


ENTER_PROMPT = {
    "en": "Type or paste the QR text (ML1:…), Enter checks it, Esc cancels",
    "pl": "Wpisz lub wklej tekst kodu QR (ML1:…), Enter sprawdza, Esc anuluje",
}


class EnterCodeScreen(ModalScreen[str | None]):
    """For field testers: a code's text from a log, a decode run or another device."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(id="enter-code"):
            yield Static(ENTER_PROMPT.get(self.lang, ENTER_PROMPT["en"]))
            yield Input(placeholder="ML1:", id="code-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
