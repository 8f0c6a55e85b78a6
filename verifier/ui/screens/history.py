"""This session's verdicts (no names) and, for field testers, every check of one of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from verifier.core.reasons import Reason, Verdict, WarningCode, describe
from verifier.core.textout import warsaw


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


class DetailsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, entry: HistoryEntry, lang: str) -> None:
        super().__init__()
        self.entry, self.lang = entry, lang

    def compose(self) -> ComposeResult:
        e = self.entry
        text = Text()
        text.append(f"{_clock(e.at)}  {e.verdict.upper()}", style="bold")
        text.append(f"  {e.issuer or ''}\n\n")
        for reason, ok in e.checks:
            mark, style = ("✔", "green") if ok else ("✘", "bold red")
            text.append(f" {mark} ", style=style)
            text.append(f"{reason}: {'passed' if ok else describe(reason, self.lang)}\n")
        for warning in e.warnings:
            text.append(" ! ", style="bold yellow")
            text.append(f"{warning}: {describe(warning, self.lang)}\n")
        if e.detail:
            text.append(f"\n{e.detail}\n", style="dim")
        yield Static(text, id="details")


class HistoryScreen(Screen[None]):
    BINDINGS = [Binding("escape,h", "app.pop_screen", "Back")]

    def __init__(self, entries: list[HistoryEntry], lang: str) -> None:
        super().__init__()
        self.entries, self.lang = entries, lang

    def compose(self) -> ComposeResult:
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("time", "verdict", "reason", "issuer")
        for index, e in enumerate(reversed(self.entries)):
            reason = e.reason or ", ".join(e.warnings) or ""
            table.add_row(_clock(e.at), e.verdict.upper(), reason, e.issuer or "", key=str(index))
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        entry = list(reversed(self.entries))[int(str(event.row_key.value))]
        self.app.push_screen(DetailsScreen(entry, self.lang))
