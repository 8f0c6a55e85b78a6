"""InspectorApp: renders verdicts; every service it uses is injected (see services.py)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import traceback
from datetime import datetime

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.widgets import Static

from verifier.core.errors import VerifierError
from verifier.core.policy import list_warnings
from verifier.core.reasons import Verdict, WarningCode
from verifier.core.result import CheckResult
from verifier.core.textout import one_line, warsaw
from verifier.device.audit import AuditWriteError, day_start
from verifier.device.buildinfo import version_line
from verifier.device.trustdata import TrustData
from verifier.imaging.pipeline import check_texts, pick_text
from verifier.imaging.portrait import Portrait, PortraitCache
from verifier.ui.feedback import BellFeedback
from verifier.ui.screens.dialogs import ConfirmQuit, EnterCodeScreen, HelpScreen, InfoScreen
from verifier.ui.screens.history import HistoryEntry, HistoryScreen
from verifier.ui.screens.scan import ScanScreen
from verifier.ui.services import Services
from verifier.ui.view import (
    KEYS,
    age_text,
    cannot_verify_lines,
    label,
    verdict_view,
)
from verifier.ui.widgets.holder import HolderCard
from verifier.ui.widgets.photo import detect_photo_mode
from verifier.ui.widgets.status import StatusBar, StatusInfo
from verifier.ui.widgets.verdict import VerdictPanel


def _hhmm(at: int, fmt: str = "%H:%M") -> str:
    return datetime.fromtimestamp(at, warsaw()).strftime(fmt)


REPEAT_AFTER = 5  # the same code seen again within this many seconds is not re-announced
HISTORY_SIZE = 200
REPEAT_SPAN = 60  # default: one credential, same outcome, within this span counts once
# The camera loop must show progress (a frame decoded, or a retry to open the camera) this
# often; past it the watchdog is no longer fed and the app stops with the reason.
CAMERA_STALL = 20.0
STATUS_EVERY = 5  # seconds between two writes of the runtime status file
# `verifier app` exit codes: 0 quit (not a kiosk), 1 a crash or a worker thread's death (the
# unit restarts the app), EXIT_KIOSK_QUIT a quit confirmed in the kiosk (the unit does not).
EXIT_FAILED = 1
EXIT_KIOSK_QUIT = 10

log = logging.getLogger(__name__)


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


JUST_NOW = 5  # seconds: a verdict this fresh is "just now", not "0 s ago"


class InspectorApp(App[None]):
    CSS_PATH = "inspector.tcss"
    TITLE = "mleg-verifier"
    ENABLE_COMMAND_PALETTE = False  # a kiosk: the footer's keys are all there is
    # The key bar on the scan screen shows these in the user's language (view.KEYS).
    BINDINGS = [
        Binding("t", "enter_code", "Type code", show=False),
        Binding("s", "sync", "Sync", show=False),
        Binding("h", "history", "History", show=False),
        Binding("i", "info", "Details", show=False),
        Binding("l", "language", "Language", show=False),
        Binding("question_mark", "help", "Help", show=False),
        Binding("q", "quit_app", "Quit", show=False),
        # Textual's own Ctrl+Q quits without the kiosk's confirmation and its Ctrl+C says
        # "press Ctrl+Q": both go through the same confirmed quit as q.
        Binding("ctrl+q,ctrl+c", "quit_app", show=False, priority=True),
    ]

    def __init__(
        self,
        services: Services,
        *,
        language: str = "pl",
        window: int = 90,
        clear_after: int = 15,
        kiosk: bool = False,
        repeat_span: int = REPEAT_SPAN,
        photo_mode: str = "auto",
    ) -> None:
        super().__init__()
        # Shown at the foot of the help, so an operator can tell which build a kit runs.
        self.version_text = version_line("mleg-verifier")
        # Sixel or half-blocks: the terminal is asked now, before Textual takes it over.
        self.photo_mode = detect_photo_mode() if photo_mode == "auto" else photo_mode
        self.portraits = PortraitCache()
        self.services = services
        self.repeat_span = repeat_span
        # (credential and outcome, last seen) of the last verdict: a phone held in view while
        # its code refreshes counts once.
        self.last_announced: tuple[tuple[object, ...], int] | None = None
        self.audit_error: str | None = None  # why the audit log cannot be written, if so
        self.fatal_reason: str | None = None
        self.started_at = services.clock.now()
        self._status_written: int | None = None
        self._old_excepthook = threading.excepthook
        self._quit_asked = False
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
        # The last sync: its kind for the status bar ("never", "off", "running", "ok",
        # "failed"), when it finished, and its full one-line result for the details screen.
        self.sync_kind = "never" if services.sync else "off"
        self.sync_at: int | None = None
        self.sync_message = ""
        self.trust: TrustData | None = None
        self.trust_error: str | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    async def on_mount(self) -> None:
        # A worker thread that dies stops the app (non-zero, the reason on screen and in the
        # journal) so systemd restarts it, instead of a screen that looks alive but is not.
        threading.excepthook = self._thread_died
        await self.push_screen(ScanScreen(self.photo_mode))
        self.reload_trust()
        self.set_interval(1.0, self.tick)
        if self.services.scanner is not None:
            self.services.scanner.start(self._texts_from_thread, self._camera_from_thread)
        self.render_all()
        # The first sync waits until the screen is drawn: a start never races a download.
        self.call_after_refresh(self._start_sync)
        if self.services.notifier is not None:
            self.services.notifier.ready()

    def _start_sync(self) -> None:
        if self.services.sync is not None and self.fatal_reason is None:
            self.services.sync.start(self._synced_from_thread)

    def on_unmount(self) -> None:
        threading.excepthook = self._old_excepthook
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

    # ---- failures that stop the app -------------------------------------------------------
    def _thread_died(self, args: threading.ExceptHookArgs) -> None:
        """``threading.excepthook``: any thread's uncaught exception is fatal to the app."""
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a worker"
        where = ""
        if args.exc_traceback is not None:
            frame = traceback.extract_tb(args.exc_traceback)[-1]
            where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        # The exception's type and (capped) text: library errors, never a screen's contents.
        reason = f"{name} thread died: {args.exc_type.__name__}: {str(args.exc_value)[:200]}"
        log.error("%s%s", reason, where)  # the journal; no locals, nothing personal
        with contextlib.suppress(Exception):  # the app may be closing already
            self.call_from_thread(self.fatal, reason)

    def fatal(self, reason: str) -> None:
        """Stop with ``reason`` on the console and exit status 1: systemd restarts the app."""
        if self.fatal_reason is not None:
            return
        self.fatal_reason = reason
        log.error("stopping: %s", reason)
        if self.services.notifier is not None:
            self.services.notifier.status(f"stopping: {reason}")
        self.exit(
            return_code=EXIT_FAILED,
            message=(
                f"mleg-verifier zatrzymany / stopped: {reason}\n"
                "Uruchomi się ponownie / it restarts by itself; "
                "journalctl -u mleg-verifier"
            ),
        )

    def _camera_progress_ok(self) -> bool:
        """The camera loop made progress lately (or there is no camera to watch)."""
        age = getattr(self.services.scanner, "progress_age", None)
        if age is None:
            return True
        seconds = age()
        return seconds is None or seconds < CAMERA_STALL

    # ---- input -----------------------------------------------------------------------------
    def _texts_from_thread(self, texts: list[str]) -> None:
        if texts:
            self.call_from_thread(self.submit_texts, texts)

    def _camera_from_thread(self, state: str, fps: float | None) -> None:
        self.call_from_thread(self._set_camera, state, fps)

    def _set_camera(self, state: str, fps: float | None) -> None:
        before = self.camera_key()
        self.camera_state, self.fps = state, fps
        if self.camera_key() != before:  # a missing camera takes over the ready screen
            self.render_all()
        else:
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
        if self._repeated(result, now):
            # The same credential with the same outcome, shown again within the span (a
            # phone held in view while its code refreshes): shown, not counted or beeped.
            self.result, self.result_at = result, now
            self.render_all()
            return result
        self.result, self.result_at = result, now
        self._roll_counts(now)
        self.counts[result.verdict] += 1
        self._record(result, now)
        self.history.append(
            HistoryEntry(
                at=now,
                verdict=result.verdict,
                reason=result.reason,
                warnings=result.warnings,
                # The trust list's name is signed by the ministry, but nothing in the spec
                # forbids control characters in it: never let one reach the terminal.
                issuer=(
                    None if result.credential is None else one_line(result.credential.issuer_name)
                ),
                checks=result.checks,
                detail=result.detail,
            )
        )
        del self.history[:-HISTORY_SIZE]
        self.feedback.signal(result.verdict)
        self.render_all()
        return result

    def _repeated(self, result: CheckResult, now: int) -> bool:
        """True when the last credential announced is this one, with this outcome, seen
        within ``repeat_span`` seconds (the span slides while it stays in view)."""
        if result.credential is None or self.repeat_span <= 0:
            self.last_announced = None
            return False
        key = (result.credential.cti, result.verdict, result.reason, result.warnings)
        before, self.last_announced = self.last_announced, (key, now)
        return before is not None and before[0] == key and 0 <= now - before[1] < self.repeat_span

    def _record(self, result: CheckResult, now: int) -> None:
        """Write the verdict to the audit log; a failure is shown, checking goes on."""
        audit = self.services.audit
        if audit is None:
            return
        try:
            # Retention may delete old rows only by a clock that can be vouched for.
            audit.record(result, now, prune=self.services.clock.synchronized())
        except AuditWriteError as exc:
            if self.audit_error is None:
                log.error("%s", exc.message)
            self.audit_error = exc.message
        else:
            if self.audit_error is not None:
                log.warning("audit log writable again")
            self.audit_error = None

    def write_status(self, now: int) -> None:
        """Figures for `verifier status` and the metrics: nothing personal in any of them."""
        self._status_written = now
        if self.services.runtime_status is None:
            return
        audit = self.services.audit
        self.services.runtime_status({
            "updated_at": now,
            "started_at": self.started_at,
            "pid": os.getpid(),
            "camera": self.camera_state,
            "fps": self.fps,
            "day": self.counts_day,
            "counts": {verdict.value: n for verdict, n in self.counts.items()},
            "audit_ok": self.audit_error is None,
            "audit_pending": 0 if audit is None else audit.pending,
            "sync": self.sync_message,
            "can_verify": self.trust is not None,
        })

    # ---- rendering -------------------------------------------------------------------------
    def _roll_counts(self, now: int) -> None:
        """The status bar counts today's verdicts: start again at midnight (Warsaw)."""
        today = day_start(now)
        if today != self.counts_day:
            self.counts_day = today
            self.counts = dict.fromkeys(self.counts, 0)

    def tick(self) -> None:
        now = self.services.clock.now()
        if self._camera_progress_ok():
            if self.services.notifier is not None:
                self.services.notifier.watchdog()  # the UI loop ticks and the camera moves
        else:
            self.fatal(f"camera loop stalled: no progress for {CAMERA_STALL:.0f} s")
            return
        self._roll_counts(now)
        if self._status_written is None or not 0 <= now - self._status_written < STATUS_EVERY:
            self.write_status(now)
        if self.result_at is not None and now - self.result_at >= self.clear_after:
            self.result = self.result_at = None  # clears the name and photo from the screen
            self.portraits.clear()  # and the decoded photo from memory
        self.render_all()

    def camera_key(self) -> str:
        """The camera's state in one word: "ok", "off", "missing", "lost" or "stalled"."""
        state = self.camera_state
        if state.startswith("unavailable"):
            return "missing"
        if state.startswith(("lost", "ended")):
            return "lost"
        if state.startswith("stalled"):  # the camera runs, the decoder does not keep up
            return "stalled"
        return "ok" if state == "ok" else "off"

    def clock_key(self, warnings: frozenset[str] | set[str] = frozenset()) -> str:
        """"behind" (earlier than the lists), "unsync" (not set since boot) or "ok"."""
        if str(WarningCode.CLOCK_BEHIND) in warnings:
            return "behind"
        if not self.services.clock.synchronized():
            return "unsync"
        return "ok"

    def portrait(self, result: CheckResult) -> Portrait | None:
        """The photo decoded once per credential (never again on later redraws)."""
        holder, cred = result.holder, result.credential
        if holder is None or holder.photo is None:
            return None
        return self.portraits.get(b"" if cred is None else cred.cti, holder.photo)

    def render_all(self) -> None:
        if not isinstance(self.screen, ScanScreen):
            return
        lang = self.language
        panel = self.screen.query_one(VerdictPanel)
        holder = self.screen.query_one(HolderCard)
        if self.trust is None:
            why, todo = cannot_verify_lines(
                self.trust_error or "", self.services.sync is not None, lang
            )
            detail = f"{label('tech', lang)}: {self.trust_error}" if self.trust_error else ""
            panel.show_notice("-cannot", label("cannot", lang), [why, todo], detail)
            holder.show(None, lang)
        elif self.result is not None and self.result_at is not None:
            now = self.services.clock.now()
            view = verdict_view(self.result, now, lang)
            since = now - self.result_at
            ago = (
                label("just_now", lang)
                if since < JUST_NOW
                else f"{age_text(since, lang)} {label('ago', lang)}"
            )
            panel.show(view, ago)
            holder.show(view, lang, self.portrait(self.result))
        elif self.camera_key() in ("missing", "lost"):
            heading = "no_camera" if self.camera_key() == "missing" else "lost_camera"
            panel.show_notice(
                "-nocamera", label(heading, lang), [label("camera_advice", lang)]
            )
            holder.show(None, lang)
        else:
            panel.show_ready(lang)
            holder.show(None, lang)
        keys = Text()  # fits 80 columns in both languages (73 and 62 cells)
        for key, word in KEYS.get(lang, KEYS["en"]):
            keys.append(key, style="reverse bold")
            keys.append(f" {word}  ")
        self.screen.query_one("#keys", Static).update(keys)
        self.render_status()

    def _warnings(self, now: int) -> set[str]:
        trust = self.trust
        if trust is None:
            return set()
        return {str(w) for w in list_warnings(trust.trust_list, trust.revocations, now)}

    def render_status(self) -> None:
        if not isinstance(self.screen, ScanScreen):
            return
        now = self.services.clock.now()
        trust = self.trust
        info = StatusInfo(
            camera=self.camera_key(),
            fps=self.fps,
            trust_list_age=None if trust is None else now - trust.trust_list.iat,
            revocation_age=None
            if trust is None or trust.revocations is None
            else now - trust.revocations.iat,
            sync=self.sync_kind,
            sync_at=None if self.sync_at is None else _hhmm(self.sync_at),
            clock=self.clock_key(self._warnings(now)),
            counts=(
                self.counts[Verdict.VALID],
                self.counts[Verdict.INVALID],
                self.counts[Verdict.WARNING],
            ),
            audit_ok=self.audit_error is None,
        )
        self.screen.query_one(StatusBar).show(info, self.language)

    def info_text(self) -> Text:
        """The status in full, for the details screen (``i``)."""
        now, lang, trust = self.services.clock.now(), self.language, self.trust
        pl = lang == "pl"
        tech = label("tech", lang).lower()
        camera_key = self.camera_key()
        camera = label(f"cam_{camera_key}", lang)
        if camera_key != "ok":  # the lower layers' own words, for the administrator
            camera += f" ({tech}: {self.camera_state})"
        # "zegar ok" -> "ok": the row is already labelled "Zegar".
        clock = label(f"clock_{self.clock_key(self._warnings(now))}", lang).split(" ", 1)[-1]
        rows: list[tuple[str, str]] = [
            ("Kamera" if pl else "Camera", camera),
            ("Zegar" if pl else "Clock", clock),
        ]
        if trust is None:
            lists = label("cannot", lang)
            if self.trust_error:
                lists += f" ({tech}: {self.trust_error})"
            rows.append(("Listy" if pl else "Lists", lists))
        else:
            for key, signed in (
                ("tl", trust.trust_list.iat),
                ("rl", None if trust.revocations is None else trust.revocations.iat),
            ):
                when = "—" if signed is None else (
                    f"{_hhmm(signed, '%Y-%m-%d %H:%M')} ({age_text(now - signed, lang)})"
                )
                rows.append((label(key, lang), when))
        sync = label(f"sync_{self.sync_kind}", lang)
        if self.sync_at is not None:
            sync += f" {_hhmm(self.sync_at, '%Y-%m-%d %H:%M')}"
        rows.append(("Synchronizacja" if pl else "Sync", sync))
        if self.sync_message:
            rows.append(("", f"{tech}: {self.sync_message}"))
        text = Text()
        for name, value in rows:
            text.append(f"{name:<15}", style="bold")
            text.append(f"{value}\n")
        text.append("\n" + ("Esc, i albo q: zamknij" if pl else "Esc, i or q: close"),
                    style="italic")
        return text

    # ---- actions ---------------------------------------------------------------------------
    def action_sync(self) -> None:
        if self.services.sync is None:
            self.sync_kind = "off"
        else:
            self.sync_kind = "running"
            self.services.sync.trigger()
        self.render_status()

    def _synced_from_thread(self, message: str, changed: bool = True) -> None:
        # Load (verify, decode) the stored lists here on the sync thread: a 1M-entry list
        # takes ~20 ms here and several times that on a Pi, never on the UI thread. When the
        # sync stored nothing new, the lists held are kept: no second copy in memory.
        loaded = self._load_trust() if changed or self.trust is None else None
        self.call_from_thread(self._synced, message, loaded)

    def _synced(self, message: str, loaded: tuple[TrustData | None, str | None] | None) -> None:
        """A sync finished (periodic or asked for): show it and use whatever lists it left."""
        self.sync_message = message
        self.sync_kind = "failed" if message.startswith("failed") else "ok"
        self.sync_at = self.services.clock.now()
        if loaded is not None:
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

    def action_info(self) -> None:
        if isinstance(self.screen, ScanScreen):
            self.push_screen(InfoScreen(self.info_text()))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.language, self.version_text))

    def action_quit_app(self) -> None:
        if not self.kiosk:
            self.exit()
            return
        if self._quit_asked:  # the question is on screen already
            return

        def answered(yes: bool | None) -> None:
            self._quit_asked = False
            if yes:
                self.exit(return_code=EXIT_KIOSK_QUIT)

        self._quit_asked = True
        self.push_screen(ConfirmQuit(self.language), answered)

    def on_screen_resume(self) -> None:
        self.render_all()
