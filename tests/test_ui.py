"""The inspector's app driven with Textual's pilot: real verdicts from issuer-made codes."""

from __future__ import annotations

import threading

from textual import events
from textual.widgets import Input

from tests.conftest import NOW, World
from verifier.core.reasons import Verdict
from verifier.device.clock import FixedClock
from verifier.ui.app import InspectorApp
from verifier.ui.feedback import RecordingFeedback
from verifier.ui.screens.history import DetailsScreen, HistoryScreen
from verifier.ui.screens.scan import ScanScreen
from verifier.ui.services import Services
from verifier.ui.widgets.status import StatusBar
from verifier.ui.widgets.verdict import VerdictPanel


class FakeScanner:
    """Stands in for the camera thread: the test pushes texts as if decoded from frames."""

    def __init__(self) -> None:
        self.on_texts = None
        self.stopped = threading.Event()

    def start(self, on_texts, on_state) -> None:
        self.on_texts = on_texts
        self.on_state = on_state

    def stop(self) -> None:
        self.stopped.set()


def make_app(world: World, **kw) -> tuple[InspectorApp, FixedClock, RecordingFeedback]:
    clock, feedback = FixedClock(NOW), RecordingFeedback()
    services = Services(load_trust=world.trust_data, clock=clock, feedback=feedback, **kw)
    return InspectorApp(services, language="en", clear_after=15), clock, feedback


def panel_text(app: InspectorApp) -> str:
    """The verdict word (drawn in block letters when there is room) and the panel's text."""
    panel = app.screen.query_one(VerdictPanel)
    return f"{panel.headline}\n{panel.render()}"


async def test_ready_then_valid_then_clears(world: World) -> None:
    app, clock, feedback = make_app(world)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "Ready" in panel_text(app)
        app.submit_texts([world.wallet().present(NOW)])
        await pilot.pause()
        assert "VALID" in panel_text(app)
        assert app.screen.query_one(VerdictPanel).has_class("-valid")
        assert "Jaźń-Kowalska" in str(app.screen.query_one("#holder-fields").render())
        assert feedback.signals == [Verdict.VALID]
        clock.advance(16)
        app.tick()
        await pilot.pause()
        assert "Ready" in panel_text(app)
        assert "Jaźń" not in str(app.screen.query_one("#holder-fields").render())


async def test_usb_scanner_keystrokes_are_checked(world: World) -> None:
    app, _, _ = make_app(world)
    cti = bytes(range(16))
    text = world.wallet(cti=cti).present(NOW)
    world.ministry.revoked.add(cti)
    app.services.load_trust = world.trust_data
    async with app.run_test(size=(100, 30)) as pilot:
        app.reload_trust()
        # A scanner types far faster than a person: post the key events in one burst (as the
        # terminal driver would) instead of pilot.press's one-key-per-refresh pace.
        for char in text:
            app.screen.post_message(events.Key(char, char))
        app.screen.post_message(events.Key("enter", None))
        await pilot.pause()
        assert app.result is not None and app.result.reason == "revoked"
        assert app.screen.query_one(VerdictPanel).has_class("-invalid")
        assert "revoked" in panel_text(app)


async def test_same_code_is_not_reannounced_and_a_new_one_replaces_it(world: World) -> None:
    scanner = FakeScanner()
    app, clock, feedback = make_app(world, scanner=scanner)
    async with app.run_test() as pilot:
        good = world.wallet()
        for _ in range(3):
            app.submit_texts([good.present(NOW)])
        app.submit_texts([good.present(NOW + 1)])  # refreshed code, same credential
        await pilot.pause()
        assert feedback.signals == [Verdict.VALID]
        app.submit_texts([world.wallet().present(NOW - 500)])  # another phone, a screenshot
        await pilot.pause()
        assert feedback.signals == [Verdict.VALID, Verdict.INVALID]
        assert "not fresh" in panel_text(app)
        clock.advance(6)
        app.submit_texts([good.present(NOW + 6)])
        assert feedback.signals[-1] is Verdict.VALID
    assert scanner.stopped.is_set()


async def test_warning_is_amber_and_status_shows_counts(world: World) -> None:
    stale = World()
    data = stale.trust_data()
    object.__setattr__(data, "revocations", None)
    app, _, _ = make_app(stale)
    app.services.load_trust = lambda: data
    async with app.run_test() as pilot:
        app.submit_texts([stale.wallet().present(NOW)])
        await pilot.pause()
        assert app.screen.query_one(VerdictPanel).has_class("-warning")
        assert "CHECK" in panel_text(app)
        status = str(app.screen.query_one(StatusBar).render())
        assert "!1" in status and "RL —" in status


async def test_language_toggle_and_help(world: World) -> None:
    app, _, _ = make_app(world)
    async with app.run_test() as pilot:
        app.submit_texts([world.wallet().present(NOW)])
        await pilot.press("l")
        assert "WAŻNA" in panel_text(app)
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        assert isinstance(app.screen, ScanScreen)


async def test_history_keeps_no_names_and_shows_every_check(world: World) -> None:
    app, _, _ = make_app(world)
    async with app.run_test(size=(100, 30)) as pilot:
        app.submit_texts([world.wallet(exp=NOW - 1).present(NOW)])
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        assert "Jaźń" not in repr(app.history)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        details = str(app.screen.query_one("#details").render())
        assert "✔ issuer on the trust list: passed" in details
        assert "✘ expiry date: the credential has expired" in details
        assert "unknown_issuer" not in details and "expired:" not in details


async def test_without_trust_list_it_says_so_before_scanning() -> None:
    from verifier.core.errors import ConfigError

    def missing():
        raise ConfigError("no trust list in /x: run 'verifier sync'")

    app = InspectorApp(Services(load_trust=missing, clock=FixedClock(NOW)), language="en")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "The kit cannot check IDs" in panel_text(app)
        assert app.submit_texts(["ML1:anything"]) is None


async def test_quit_without_kiosk_exits_at_once(world: World) -> None:
    app, _, _ = make_app(world)
    async with app.run_test() as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.screen.__class__.__name__ != "ConfirmQuit"
    assert app.return_code == 0


async def test_kiosk_quit_needs_confirmation(world: World) -> None:
    app, _, _ = make_app(world)
    app.kiosk = True
    async with app.run_test() as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmQuit"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ScanScreen) and app.is_running
        await pilot.press("q", "y")
        await pilot.pause()
    assert app.return_code == 0


async def test_typed_or_pasted_code_is_checked(world: World) -> None:
    app, _, feedback = make_app(world)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        assert app.screen.__class__.__name__ == "EnterCodeScreen"
        app.screen.query_one("#code-input", Input).value = world.wallet().present(NOW - 500)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ScanScreen)
        assert "not fresh" in panel_text(app) and feedback.signals == [Verdict.INVALID]
        await pilot.press("t", "escape")  # cancelled: nothing checked
        await pilot.pause()
        assert isinstance(app.screen, ScanScreen) and len(feedback.signals) == 1


class FakeSync:
    """Stands in for the background sync: each trigger 'syncs' on another thread."""

    def __init__(self, on_sync) -> None:
        self.on_sync, self.started, self.stopped = on_sync, False, False
        self.release = threading.Event()  # the "network" answers when the test says so

    def start(self, on_result) -> None:
        self.on_result, self.started = on_result, True

    def trigger(self) -> None:
        def run() -> None:
            self.release.wait(5)
            self.on_result(self.on_sync())

        threading.Thread(target=run).start()

    def stop(self) -> None:
        self.stopped = True


async def test_sync_key_refreshes_lists_and_a_revoked_code_stops_passing(world: World) -> None:
    wallet = world.wallet(cti=bytes(range(16)))

    def sync() -> str:  # the new revocation list arrives with this sync
        world.ministry.revoked.add(bytes(range(16)))
        return "trust list not modified, revocations fetched"

    fake = FakeSync(sync)
    app, _, _ = make_app(world, sync=fake)
    async with app.run_test(size=(100, 30)) as pilot:
        assert fake.started
        assert app.submit_texts([wallet.present(NOW)]).verdict is Verdict.VALID
        await pilot.press("s")
        assert "syncing" in str(app.screen.query_one(StatusBar).render())
        fake.release.set()
        for _ in range(250):  # the sync thread answers within a few ms; allow a loaded machine
            await pilot.pause(0.02)
            if "synced" in str(app.screen.query_one(StatusBar).render()):
                break
        assert "synced" in str(app.screen.query_one(StatusBar).render())
        assert app.sync_message == "trust list not modified, revocations fetched"
        result = app.submit_texts([wallet.present(NOW + 10)])
        assert result is not None and result.reason == "revoked"
    assert fake.stopped


async def test_without_a_buzzer_the_terminal_bell_rings_per_pattern(world: World) -> None:
    clock = FixedClock(NOW)
    app = InspectorApp(Services(load_trust=world.trust_data, clock=clock), language="en")
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test() as pilot:
        app.submit_texts([world.wallet().present(NOW)])
        await pilot.pause(0.7)
        assert len(rings) == 1  # valid: one ring
        app.submit_texts([world.wallet(exp=NOW - 1).present(NOW)])
        for _ in range(30):  # rings are 0.25 s apart; allow a loaded machine
            await pilot.pause(0.1)
            if len(rings) >= 4:
                break
        await pilot.pause(0.3)
        assert len(rings) == 4  # invalid: three more, and no more than that
