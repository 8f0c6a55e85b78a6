"""InspectorApp: renders verdicts; every service it uses is injected (see services.py)."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from verifier.core.errors import VerifierError
from verifier.core.policy import list_warnings
from verifier.core.reasons import Verdict, WarningCode
from verifier.core.result import CheckResult
from verifier.device.audit import day_start
from verifier.device.trustdata import TrustData
from verifier.imaging.pipeline import check_texts, pick_text
from verifier.ui.feedback import BellFeedback
from verifier.ui.screens.dialogs import ConfirmQuit, EnterCodeScreen, HelpScreen
from verifier.ui.screens.history import HistoryEntry, HistoryScreen
from verifier.ui.screens.scan import ScanScreen
from verifier.ui.services import Services
from verifier.ui.view import age_text, label, verdict_view
from verifier.ui.widgets.holder import HolderCard
from verifier.ui.widgets.status import StatusBar, StatusInfo
from verifier.ui.widgets.verdict import VerdictPanel

REPEAT_AFTER = 5  # the same code seen again within this many seconds is not re-announced
HISTORY_SIZE = 200


def _same_outcome(a: CheckResult, b: CheckResult) -> bool:
    same_credential = (
        a.credential is not None
        and b.credential is not None
        and a.credential.cti == b.credential.cti
    )
    return same_credential and (a.verdict, a.reason, a.warnings) == (
        b.verdict,
        b.reason,
        b.warnings,
    )


class InspectorApp(App[None]):
    CSS_PATH = "inspector.tcss"
    TITLE = "mleg-verifier"
    ENABLE_COMMAND_PALETTE = False  # a kiosk: the footer's keys are all there is
    BINDINGS = [
        Binding("t", "enter_code", "Type code"),
        Binding("s", "sync", "Sync"),
        Binding("h", "history", "History"),
        Binding("l", "language", "Language"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_app", "Quit"),
    ]

    def __init__(
        self,
        services: Services,
        *,
        language: str = "pl",
        window: int = 90,
        clear_after: int = 15,
        kiosk: bool = False,
    ) -> None:
        super().__init__()
        self.services = services
        self.language = language
        self.window = window
        self.clear_after = clear_after
        self.kiosk = kiosk
        self.feedback = services.feedback or BellFeedback(self.ring)
        self.history: list[HistoryEntry] = []
        self.counts = {Verdict.VALID: 0, Verdict.INVALID: 0, Verdict.WARNING: 0}
        self.counts_day = day_start(services.clock.now())
        if services.audit is not None:  # today's counters survive a restart
            self.counts = services.audit.counts_since(self.counts_day)
        self.result: CheckResult | None = None
        self.result_at: int | None = None
        self.last_text: str | None = None
        self.last_seen = 0
        self.camera_state, self.fps = "off", None
        self.sync_message = "never" if services.sync else "no list URL"
        self.trust: TrustData | None = None
        self.trust_error: str | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    async def on_mount(self) -> None:
        await self.push_screen(ScanScreen())
        self.reload_trust()
        self.set_interval(1.0, self.tick)
        if self.services.scanner is not None:
            self.services.scanner.start(self._texts_from_thread, self._camera_from_thread)
        if self.services.sync is not None:
            self.services.sync.start(self._synced_from_thread)
        self.render_all()

    def on_unmount(self) -> None:
        if self.services.scanner is not None:
            self.services.scanner.stop()
        if self.services.sync is not None:
            self.services.sync.stop()

    def _load_trust(self) -> tuple[TrustData | None, str | None]:
        try:
            return self.services.load_trust(), None
        except VerifierError as exc:
            return None, exc.message

    def reload_trust(self) -> None:
        self.trust, self.trust_error = self._load_trust()

    # ---- input -----------------------------------------------------------------------------
    def _texts_from_thread(self, texts: list[str]) -> None:
        if texts:
            self.call_from_thread(self.submit_texts, texts)

    def _camera_from_thread(self, state: str, fps: float | None) -> None:
        self.call_from_thread(self._set_camera, state, fps)

    def _set_camera(self, state: str, fps: float | None) -> None:
        self.camera_state, self.fps = state, fps
        self.render_status()

    def submit_texts(self, texts: list[str]) -> CheckResult | None:
        """A camera read or a scanner line: check it and show the verdict at once."""
        if self.trust is None:
            return None  # the panel already says the verifier cannot verify
        now = self.services.clock.now()
        text = pick_text(texts)
        if text is None:
            return None
        recent = now - self.last_seen < REPEAT_AFTER
        if text == self.last_text and recent:
            self.last_seen = now
            return self.result
        result = check_texts(
            [text],
            self.trust,
            now,
            self.window,
            clock_synchronized=self.services.clock.synchronized(),
        )
        self.last_text, self.last_seen = text, now
        if recent and self.result is not None and _same_outcome(self.result, result):
            # The phone refreshed its code (a new text) but nothing changed: no re-announce.
            self.result_at = now
            return self.result
        self.result, self.result_at = result, now
        self._roll_counts(now)
        self.counts[result.verdict] += 1
        if self.services.audit is not None:
            self.services.audit.record(result, now)
        self.history.append(
            HistoryEntry(
                at=now,
                verdict=result.verdict,
                reason=result.reason,
                warnings=result.warnings,
                issuer=None if result.credential is None else result.credential.issuer_name,
                checks=result.checks,
                detail=result.detail,
            )
        )
        del self.history[:-HISTORY_SIZE]
        self.feedback.signal(result.verdict)
        self.render_all()
        return result

    # ---- rendering -------------------------------------------------------------------------
    def _roll_counts(self, now: int) -> None:
        """The status bar counts today's verdicts: start again at midnight (Warsaw)."""
        today = day_start(now)
        if today != self.counts_day:
            self.counts_day = today
            self.counts = dict.fromkeys(self.counts, 0)

    def tick(self) -> None:
        now = self.services.clock.now()
        self._roll_counts(now)
        if self.result_at is not None and now - self.result_at >= self.clear_after:
            self.result = self.result_at = None  # clears the name and photo from the screen
        self.render_all()

    def render_all(self) -> None:
        if not isinstance(self.screen, ScanScreen):
            return
        panel = self.screen.query_one(VerdictPanel)
        holder = self.screen.query_one(HolderCard)
        if self.trust is None:
            lang = self.language
            panel.show_message(
                f"{label('cannot', lang)}: {self.trust_error}\n{label('press_s', lang)}"
            )
            holder.show(None, self.language)
        elif self.result is None or self.result_at is None:
            panel.show_ready(self.language)
            holder.show(None, self.language)
        else:
            now = self.services.clock.now()
            view = verdict_view(self.result, now, self.language)
            ago = f"{age_text(now - self.result_at, self.language)} {label('ago', self.language)}"
            panel.show(view, ago)
            holder.show(view, self.language)
        self.render_status()

    def render_status(self) -> None:
        if not isinstance(self.screen, ScanScreen):
            return
        now = self.services.clock.now()
        trust = self.trust
        warnings = () if trust is None else list_warnings(trust.trust_list, trust.revocations, now)
        info = StatusInfo(
            camera=self.camera_state,
            fps=self.fps,
            trust_list_age=None if trust is None else now - trust.trust_list.iat,
            revocation_age=None
            if trust is None or trust.revocations is None
            else now - trust.revocations.iat,
            last_sync=self.sync_message,
            clock_behind=WarningCode.CLOCK_BEHIND in warnings,
            counts=(
                self.counts[Verdict.VALID],
                self.counts[Verdict.INVALID],
                self.counts[Verdict.WARNING],
            ),
        )
        self.screen.query_one(StatusBar).show(info, self.language)

    # ---- actions ---------------------------------------------------------------------------
    def action_sync(self) -> None:
        if self.services.sync is None:
            self.sync_message = "no list URL configured"
        else:
            self.sync_message = "syncing…"
            self.services.sync.trigger()
        self.render_status()

    def _synced_from_thread(self, message: str) -> None:
        # Load (verify, decode) the stored lists here on the sync thread: a 1M-entry list
        # takes ~20 ms here and several times that on a Pi, never on the UI thread.
        loaded = self._load_trust()
        self.call_from_thread(self._synced, message, loaded)

    def _synced(self, message: str, loaded: tuple[TrustData | None, str | None]) -> None:
        """A sync finished (periodic or asked for): show it and use whatever lists it left."""
        self.sync_message = message
        self.trust, self.trust_error = loaded
        self.render_all()

    def ring(self, times: int) -> None:
        """The terminal bell, ``times`` rings a quarter second apart (the buzzer's fallback)."""
        self.bell()
        for n in range(1, times):
            self.set_timer(0.25 * n, self.bell)

    def action_history(self) -> None:
        if isinstance(self.screen, ScanScreen):
            self.push_screen(HistoryScreen(self.history, self.language))

    def action_language(self) -> None:
        self.language = "en" if self.language == "pl" else "pl"
        self.render_all()

    def action_enter_code(self) -> None:
        if not isinstance(self.screen, ScanScreen):
            return

        def entered(text: str | None) -> None:
            if text:
                self.submit_texts([text])

        self.push_screen(EnterCodeScreen(self.language), entered)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.language))

    def action_quit_app(self) -> None:
        if not self.kiosk:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmQuit(), answered)

    def on_screen_resume(self) -> None:
        self.render_all()
