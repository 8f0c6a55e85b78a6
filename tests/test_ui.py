"""The inspector's app driven with Textual's pilot: real verdicts from issuer-made codes."""

from __future__ import annotations

import asyncio
import threading

import pytest
from textual import events
from textual.widgets import Input

from tests.conftest import NOW, World
from verifier.core.reasons import Verdict
from verifier.device.clock import FixedClock
from verifier.ui.app import EXIT_KIOSK_QUIT, InspectorApp
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
        assert "not current" in panel_text(app)
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


async def test_an_issuer_name_with_terminal_controls_never_reaches_the_history() -> None:
    """The ministry signs the trust list, but the spec does not forbid controls in its names."""
    from issuer_stub.authority import University

    world = World(uni=University("PL-1043", "Uczelnia\x1b[2J\u202eTestowa"))
    app, _, _ = make_app(world)
    async with app.run_test(size=(100, 30)) as pilot:
        app.submit_texts([world.wallet().present(NOW)])
        await pilot.pause()
        (entry,) = app.history
        assert entry.issuer == "Uczelnia\ufffd[2J\ufffdTestowa"


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


@pytest.mark.parametrize("key", ["q", "ctrl+c", "ctrl+q"])
async def test_kiosk_quit_needs_confirmation(world: World, key: str) -> None:
    app, _, _ = make_app(world)
    app.kiosk = True
    async with app.run_test() as pilot:
        await pilot.press(key)
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmQuit"
        await pilot.press(key)  # asked again while the question is up: still one question
        await pilot.pause()
        assert [type(s).__name__ for s in app.screen_stack].count("ConfirmQuit") == 1
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ScanScreen) and app.is_running
        await pilot.press(key, "y")
        await pilot.pause()
    # The one exit the unit does not restart after (RestartPreventExitStatus=).
    assert app.return_code == EXIT_KIOSK_QUIT != 0


async def test_typed_or_pasted_code_is_checked(world: World) -> None:
    app, _, feedback = make_app(world)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        assert app.screen.__class__.__name__ == "EnterCodeScreen"
        app.screen.query_one("#code-input", Input).value = world.wallet().present(NOW - 500)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ScanScreen)
        assert "not current" in panel_text(app) and feedback.signals == [Verdict.INVALID]
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
        await pilot.pause()
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


async def test_first_sync_starts_once_the_screen_is_drawn(world: World) -> None:
    app, _, _ = make_app(world)
    seen: list[str] = []

    class Recording(FakeSync):
        def start(self, on_result) -> None:
            # What the inspector sees at that moment: the ready panel, already on screen.
            seen.append(panel_text(app) if isinstance(app.screen, ScanScreen) else "no screen")
            super().start(on_result)

    app.services.sync = Recording(lambda: "x")
    async with app.run_test() as pilot:
        await pilot.pause()
    assert len(seen) == 1 and "Ready" in seen[0]


async def test_sync_that_stored_nothing_keeps_the_lists_held(world: World) -> None:
    loads = []

    def load():
        loads.append(1)
        return world.trust_data()

    fake = FakeSync(lambda: "x")
    app, _, _ = make_app(world, sync=fake)
    app.services.load_trust = load
    async with app.run_test() as pilot:
        await pilot.pause()
        held = app.trust
        await asyncio.to_thread(fake.on_result, "trust list not modified", False)
        assert app.trust is held and len(loads) == 1 and "not modified" in app.sync_message
        await asyncio.to_thread(fake.on_result, "revocation list fetched", True)
        assert app.trust is not held and len(loads) == 2


# ---- issue 14: the photo, the states, the status bar, Polish, the quit dialog -------------


def _student(photo: bytes | None):
    from dataclasses import replace

    from tests.conftest import STUDENT

    return replace(STUDENT, photo=photo)


async def test_a_photo_bomb_shows_a_note_and_the_next_code_still_gets_its_verdict(
    world: World,
) -> None:
    from tests.portraits import PORTRAIT_JPEG, bomb_jpeg
    from verifier.ui.widgets.photo import Photo

    app, clock, feedback = make_app(world)
    app.language = "pl"
    bomb = world.wallet(_student(bomb_jpeg(65000, 65000)), cti=b"\x01" * 16)
    wider = world.wallet(_student(bomb_jpeg(30000, 30000)), cti=b"\x02" * 16)
    normal = world.wallet(_student(PORTRAIT_JPEG), cti=b"\x03" * 16)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.submit_texts([bomb.present(NOW)]).verdict is Verdict.VALID
        await pilot.pause()
        photo = app.screen.query_one(Photo)
        assert photo.shown == "note"
        assert "Nie można wyświetlić zdjęcia" in str(app.screen.query_one("#photo-cells").render())
        clock.advance(6)
        assert app.submit_texts([wider.present(NOW + 6)]).verdict is Verdict.VALID
        await pilot.pause()
        assert photo.shown == "note"
        clock.advance(6)
        assert app.submit_texts([normal.present(NOW + 12)]).verdict is Verdict.VALID
        await pilot.pause()
        assert photo.shown == "image"
        assert feedback.signals == [Verdict.VALID] * 3
        # Redraws (every second) and a refreshed code never decode the same photo again.
        decodes = app.portraits.decodes
        for n in range(3):
            app.tick()
            app.submit_texts([normal.present(NOW + 13 + n)])
        await pilot.pause()
        assert app.portraits.decodes == decodes == 3
        app.language = "en"
        app.submit_texts([bomb.present(NOW + 20)])
        await pilot.pause()
        assert "Photo cannot be displayed" in str(app.screen.query_one("#photo-cells").render())


async def test_photo_takes_a_third_of_the_7_inch_screen(world: World) -> None:
    from tests.portraits import PORTRAIT_JPEG
    from verifier.ui.widgets.photo import Photo

    app, _, _ = make_app(world)
    async with app.run_test(size=(100, 30)) as pilot:
        app.submit_texts([world.wallet(_student(PORTRAIT_JPEG)).present(NOW)])
        await pilot.pause()
        assert app.screen.query_one(Photo).shown == "image"
        assert app.screen.query_one("#photo-cells").size.height >= 10  # 30 / 3


async def test_no_exact_age_and_no_valid_until_under_a_refusal(world: World) -> None:
    app, _, _ = make_app(world)
    app.language = "pl"
    cti = bytes(range(16))
    wallet = world.wallet(cti=cti)
    world.ministry.revoked.add(cti)
    async with app.run_test(size=(100, 30)) as pilot:
        app.reload_trust()
        app.submit_texts([wallet.present(NOW)])
        await pilot.pause()
        fields = str(app.screen.query_one("#holder-fields").render())
        assert "poniżej 26 lat" in fields
        assert "wiek" not in fields and "lata" not in fields and "(2" not in fields
        assert "ważna do" not in fields
        assert "ODRZUĆ" in panel_text(app) and "nieważna" not in panel_text(app).lower()[:10]
        assert "Nie przyjmuj tej legitymacji" in panel_text(app)


async def test_check_says_what_to_do_and_the_clock_sentence_fits_its_cause(world: World) -> None:
    from verifier.core.reasons import WarningCode
    from verifier.core.result import CheckResult
    from verifier.ui.view import verdict_view

    clock_result = CheckResult(Verdict.WARNING, warnings=(WarningCode.CLOCK_UNSYNCHRONIZED,))
    lists_result = CheckResult(Verdict.WARNING, warnings=(WarningCode.REVOCATION_LIST_STALE,))
    pl = verdict_view(clock_result, NOW, "pl").action
    en = verdict_view(clock_result, NOW, "en").action
    assert pl.startswith("Zegar czytnika nie jest ustawiony: sprawdź legitymację wzrokowo")
    assert "podłącz czytnik do sieci" in pl
    assert en.startswith("The kit's clock is not set: check the student's ID by eye")
    assert "Przyjmij, jeśli zdjęcie się zgadza" in verdict_view(lists_result, NOW, "pl").action
    behind = CheckResult(Verdict.WARNING, warnings=(WarningCode.CLOCK_BEHIND,))
    # A clock that is set but behind its lists is "not trustworthy", not "not set".
    behind_pl = verdict_view(behind, NOW, "pl").action
    assert behind_pl.startswith("Zegar czytnika jest niepewny: sprawdź legitymację wzrokowo")
    assert verdict_view(behind, NOW, "en").action.startswith("The kit's clock cannot be trusted")


async def test_an_unset_clock_gives_check_with_the_sentence_for_the_conductor(
    world: World,
) -> None:
    services = Services(load_trust=world.trust_data, clock=FixedClock(NOW, synchronized=False))
    app = InspectorApp(services, language="pl")
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.submit_texts([world.wallet().present(NOW)]).verdict is Verdict.WARNING
        await pilot.pause()
        text = panel_text(app)
        assert "SPRAWDŹ" in text and "sprawdź legitymację wzrokowo" in text
        assert "zegar nieustawiony" in str(app.screen.query_one(StatusBar).render())


async def test_status_bar_shows_the_clock_state(world: World) -> None:
    services = Services(load_trust=world.trust_data, clock=FixedClock(NOW, synchronized=False))
    app = InspectorApp(services, language="pl")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "zegar nieustawiony" in str(app.screen.query_one(StatusBar).render())
        app.language = "en"
        app.render_all()
        assert "clock not set" in str(app.screen.query_one(StatusBar).render())


async def test_camera_missing_takes_over_the_ready_screen_and_a_verdict_still_shows(
    world: World,
) -> None:
    scanner = FakeScanner()
    app, _, _ = make_app(world, scanner=scanner)
    app.language = "pl"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app._set_camera("unavailable: no camera at /dev/video0", None)  # as from the thread
        await pilot.pause()
        panel = app.screen.query_one(VerdictPanel)
        assert panel.state == "-nocamera" and "Brak kamery" in panel_text(app)
        assert "Gotowy" not in panel_text(app)
        assert "kamera BRAK" in str(app.screen.query_one(StatusBar).render())
        app.submit_texts([world.wallet().present(NOW)])  # a USB scanner still works
        await pilot.pause()
        assert panel.state == "-valid"
        app._set_camera("ok", 12.0)
        app.result = None
        app.render_all()
        assert panel.state == "-ready"


async def test_cannot_verify_is_its_own_state_with_advice_for_its_cause(tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization

    from verifier.device.config import Config
    from verifier.device.trustdata import load_trust_data

    pem = tmp_path / "anchor.pem"
    pem.write_bytes(
        World().ministry.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    cases = (
        # (anchor, a list URL is set, what the panel must say, what it must not)
        (tmp_path / "missing.pem", True, "Zadzwoń do administratora", "Naciśnij s"),
        (pem, True, "Naciśnij s, aby pobrać listy", "Zadzwoń"),
        (pem, False, "Zadzwoń do administratora", "Naciśnij s"),
    )
    for anchor_path, can_sync, expected, absent in cases:
        # The real loader on an empty cache: its messages are what the panel interprets.
        config = Config(anchor=anchor_path, cache_dir=tmp_path / "cache")
        services = Services(
            load_trust=lambda c=config: load_trust_data(c),
            clock=FixedClock(NOW),
            sync=FakeSync(lambda: "x") if can_sync else None,
        )
        app = InspectorApp(services, language="pl")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            panel = app.screen.query_one(VerdictPanel)
            text = str(panel.render())
            assert panel.state == "-cannot"
            assert not panel.has_class("-invalid") and not panel.has_class("-valid")
            assert "Czytnik nie może sprawdzać legitymacji" in text
            assert expected in text and absent not in text, text


async def test_status_bar_never_clips_at_80_columns() -> None:
    from verifier.ui.widgets.status import StatusInfo, layout, status_fields

    worst = StatusInfo(
        camera="ok", fps=30.0, trust_list_age=40 * 86400, revocation_age=None,
        sync="failed", sync_at="23:59", clock="unsync", counts=(1234, 567, 89),
    )
    for lang in ("pl", "en"):
        for width in (76, 78, 98):
            lines = layout(status_fields(worst, lang), width, "i: …")
            assert 1 <= len(lines) <= 2
            assert all(line.cell_len <= width for line in lines), [str(x) for x in lines]
            joined = " ".join(str(line) for line in lines)
            assert ("zegar nieustawiony" if lang == "pl" else "clock not set") in joined


async def test_kiosk_quit_dialog_shows_the_question_and_keys(world: World) -> None:
    app, _, _ = make_app(world)
    app.kiosk, app.language = True, "pl"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        confirm = app.screen.query_one("#confirm")
        shown = str(confirm.render())
        assert "Zamknąć program czytnika?" in shown and "t — tak" in shown and "n albo Esc" in shown
        assert confirm.size.width >= 40 and confirm.size.height >= 3  # not an empty box
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ScanScreen) and app.is_running
        await pilot.press("q", "t")
        await pilot.pause()
    assert app.return_code == 10  # EXIT_KIOSK_QUIT: the unit does not restart it


async def test_help_fits_80_columns_and_says_how_to_close(world: World) -> None:
    from verifier.ui.screens.dialogs import HELP

    for lang, close in (("pl", "Zamknij pomoc: Esc"), ("en", "Close this help: Esc")):
        assert close in HELP[lang]
        assert max(len(line) for line in HELP[lang].splitlines()) <= 74
        app, _, _ = make_app(world)
        app.language = lang
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            box = app.screen.query_one("#help")
            assert box.size.width <= 80 and box.region.right <= 80
            assert close in str(box.render())
            # The build, so an operator can tell which version a kit runs (issue 13).
            assert "mleg-verifier " in str(box.render()) and "(commit " in str(box.render())


async def test_polish_everywhere_on_the_scan_screen_and_history(world: World) -> None:
    app, _, _ = make_app(world)
    app.language = "pl"
    async with app.run_test(size=(100, 30)) as pilot:
        app.submit_texts([world.wallet(exp=NOW - 1).present(NOW)])
        await pilot.pause()
        keys = str(app.screen.query_one("#keys").render())
        assert "wpisz kod" in keys and "historia" in keys and "Type" not in keys
        assert "q wyjście" in keys and len(keys.rstrip()) <= 78  # the whole bar at 80 columns
        await pilot.press("h")
        await pilot.pause()
        from textual.widgets import DataTable

        table = app.screen.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == [
            "godzina", "wynik", "powód", "wystawca"
        ]
        assert table.get_row_at(0)[1] == "nieważna"
        assert table.get_row_at(0)[2] == "legitymacja straciła ważność"
        await pilot.press("enter")
        await pilot.pause()
        details = str(app.screen.query_one("#details").render())
        assert "✔ wystawca na liście zaufanych: w porządku" in details
        assert "✘ termin ważności: legitymacja straciła ważność" in details
        assert "Esc, q albo Enter: zamknij" in details
