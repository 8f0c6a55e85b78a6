"""Help, typing or pasting a code, the status in full, and quit confirmation."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

# Lines of at most 72 characters: the box (border and padding) fits 80 columns.
HELP = {
    "en": """\
Show the QR code on the student's phone to the camera, or scan it with a
USB scanner.

✓ VALID  (green, a tick): the ID is valid. Compare the photo with the
         person.
✗ REFUSE (red, a cross, heavy frame): the ID is not valid; the reason
         is shown under it. No student discount.
! CHECK  (yellow, an exclamation mark, dashed frame): the code is
         genuine, but the kit's lists are out of date or its clock is
         not set: do what the line under the word says.
⚠ Grey panel: the kit cannot check IDs (no lists, no camera); the
  panel says why and what to do.

Status bar: TL / RL = age of the trust list / the revocation list
(highlighted past 24 h or when missing); the clock; ✓ ✗ ! = today's
results. i shows everything in full.

t type a code   s sync now   h history   i details   l polski
? help   q quit

Close this help: Esc, ? or q.""",
    "pl": """\
Zbliż do kamery telefon studenta z kodem QR albo odczytaj kod skanerem
USB.

✓ WAŻNA   (zielone okno, znak ✓): legitymacja jest ważna. Porównaj
          zdjęcie z osobą.
✗ ODRZUĆ  (czerwone okno, znak ✗, gruba ramka): legitymacja jest
          nieważna; pod spodem powód. Ulga nie przysługuje.
! SPRAWDŹ (żółte okno, znak !, przerywana ramka): kod jest prawdziwy,
          ale listy czytnika są nieaktualne albo zegar jest niepewny:
          zrób to, co podaje wiersz pod napisem.
⚠ Szare okno: czytnik nie może sprawdzać legitymacji (brak list, brak
  kamery); w oknie podano powód i co zrobić.

Pasek stanu: LZ / LU = wiek listy zaufanych wystawców / listy
unieważnień (wyróżniony po 24 h albo gdy listy brak); zegar;
✓ ✗ ! = dzisiejsze wyniki. Klawisz i: pełne informacje.

t wpisz kod   s synchronizuj   h historia   i szczegóły   l English
? pomoc   q wyjście

Zamknij pomoc: Esc, ? albo q.""",
}


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, lang: str, version: str = "") -> None:
        super().__init__()
        self.lang = lang
        self.version = version

    def compose(self) -> ComposeResult:
        text = HELP.get(self.lang, HELP["en"])
        # On the closing line: at 80x24 the help has no row to spare.
        yield Static(f"{text}   {self.version}" if self.version else text, id="help")


QUIT_TEXT = {
    "pl": ("Zamknąć program czytnika?", "t — tak, zamknij      n albo Esc — nie, wróć"),
    "en": ("Quit the verifier?", "y — yes, quit      n or Esc — no, go back"),
}


class ConfirmQuit(ModalScreen[bool]):
    """The kiosk's quit: the question and its keys (y or t: yes; n or Esc: no)."""

    BINDINGS = [
        Binding("y,t", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, lang: str = "pl") -> None:
        super().__init__()
        self.lang = lang

    def compose(self) -> ComposeResult:
        question, keys = QUIT_TEXT.get(self.lang, QUIT_TEXT["en"])
        text = Text(justify="center")
        text.append(question + "\n\n", style="bold")
        text.append(keys)
        yield Static(text, id="confirm")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class InfoScreen(ModalScreen[None]):
    """Everything the status bar shortens, in full (camera error, sync result, list ages)."""

    BINDINGS = [Binding("escape,i,q,enter", "dismiss", "Close")]

    def __init__(self, text: Text) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(self.text, id="info")


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
