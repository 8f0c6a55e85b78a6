"""This session's verdicts (no names) and, for field testers, every check of one of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from verifier.core.reasons import Reason, Verdict, WarningCode, describe
from verifier.core.textout import warsaw
from verifier.ui.view import check_name, state_word


@dataclass(frozen=True)
class HistoryEntry:
    """A verdict without personal data: kept for the session, never written to disk."""

    at: int
    verdict: Verdict
    reason: Reason | None
    warnings: tuple[WarningCode, ...]
    issuer: str | None
    checks: tuple[tuple[Reason, bool], ...]
    detail: str | None


def _clock(at: int) -> str:
    return datetime.fromtimestamp(at, warsaw()).strftime("%H:%M:%S")


HISTORY_TEXT = {
    "pl": {
        "columns": ("godzina", "wynik", "powód", "wystawca"),
        "keys": "↑↓ wybór   Enter: szczegóły   Esc albo h: powrót",
        "close": "Esc, q albo Enter: zamknij",
        "empty": "Jeszcze nic nie sprawdzono.",
        "passed": "w porządku",
    },
    "en": {
        "columns": ("time", "result", "reason", "issuer"),
        "keys": "↑↓ select   Enter: details   Esc or h: back",
        "close": "Esc, q or Enter: close",
        "empty": "Nothing checked yet.",
        "passed": "passed",
    },
}


def _text(key: str, lang: str):  # type: ignore[no-untyped-def]
    return HISTORY_TEXT.get(lang, HISTORY_TEXT["en"])[key]


def _why(e: HistoryEntry, lang: str) -> str:
    if e.reason is not None:
        return describe(e.reason, lang)
    return "; ".join(describe(w, lang) for w in e.warnings)


class DetailsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, entry: HistoryEntry, lang: str) -> None:
        super().__init__()
        self.entry, self.lang = entry, lang

    def compose(self) -> ComposeResult:
        e, lang = self.entry, self.lang
        text = Text()
        text.append(f"{_clock(e.at)}  {state_word(e.verdict, lang).upper()}", style="bold")
        text.append(f"  {e.issuer or ''}\n\n")
        for reason, ok in e.checks:
            mark, style = ("✔", "green") if ok else ("✘", "bold red")
            text.append(f" {mark} ", style=style)
            verdict = _text("passed", lang) if ok else describe(reason, lang)
            text.append(f"{check_name(reason, lang)}: {verdict}\n")
        for warning in e.warnings:
            text.append(" ! ", style="bold yellow")
            text.append(f"{describe(warning, lang)}\n")
        if e.detail:
            text.append(f"\n{e.detail}\n", style="dim")
        text.append(f"\n{_text('close', lang)}", style="italic")
        yield Static(text, id="details")


class HistoryScreen(Screen[None]):
    BINDINGS = [Binding("escape,h", "app.pop_screen", "Back")]

    def __init__(self, entries: list[HistoryEntry], lang: str) -> None:
        super().__init__()
        self.entries, self.lang = entries, lang

    def compose(self) -> ComposeResult:
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Static(_text("keys", self.lang), id="history-keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*_text("columns", self.lang))
        for index, e in enumerate(reversed(self.entries)):
            table.add_row(
                _clock(e.at),
                state_word(e.verdict, self.lang),
                _why(e, self.lang),
                e.issuer or "",
                key=str(index),
            )
        if not self.entries:
            table.add_row("", _text("empty", self.lang), "", "")
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if not self.entries:
            return
        entry = list(reversed(self.entries))[int(str(event.row_key.value))]
        self.app.push_screen(DetailsScreen(entry, self.lang))
