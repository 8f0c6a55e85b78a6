"""Revision 2, section 6.1: a kit whose clock can't be vouched for warns, never refuses an
honest student, never says VALID; and it knows which clock to trust. Tests pin the clock state
(this machine's own adjtimex says TIME_ERROR, as containers often do) and never read the host's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from issuer_stub.keystore import public_pem
from tests.conftest import DAY, NOW, World
from tests.test_cli import base, run
from tests.test_ui import make_app
from verifier.core.errors import ConfigError
from verifier.core.reasons import Reason, Verdict, WarningCode
from verifier.device.clock import FixedClock, SystemClock
from verifier.device.config import parse_config
from verifier.ui.app import InspectorApp
from verifier.ui.services import Services

HOUR = 3600


def test_system_clock_trusts_itself_unless_told_to_wait_for_ntp() -> None:
    unsynced = lambda: False  # noqa: E731  (the kernel probe, pinned)
    synced = lambda: True  # noqa: E731
    assert SystemClock("system", probe=unsynced).synchronized()
    assert not SystemClock("ntp", probe=unsynced).synchronized()
    assert SystemClock("ntp", probe=synced).synchronized()
    with pytest.raises(ValueError):
        SystemClock("rtc")


def test_the_clock_key_in_the_config() -> None:
    assert parse_config({}).clock == "system"
    assert parse_config({"clock": "ntp"}).clock == "ntp"
    with pytest.raises(ConfigError, match="clock must be one of system, ntp"):
        parse_config({"clock": "chrony"})


async def test_a_kit_booted_14_hours_behind_warns_then_is_normal_once_ntp_sets_it(
    world: World,
) -> None:
    """Off overnight, no RTC: it restores the time it saved at shutdown, 14 h behind the true
    time, with lists synced before shutdown (so `clock_behind` does not fire). The phone's
    code carries the true time."""
    true_now = NOW + 14 * HOUR
    kit = FixedClock(NOW, synchronized=False)
    services = Services(load_trust=world.trust_data, clock=kit)
    app = InspectorApp(services, language="en", clear_after=15)
    async with app.run_test(size=(100, 30)) as pilot:
        result = app.submit_texts([world.wallet().present(true_now)])
        await pilot.pause()
        assert result is not None
        assert result.verdict is Verdict.WARNING  # amber: genuine, check by eye
        assert result.warnings == (WarningCode.CLOCK_UNSYNCHRONIZED,)
        assert result.holder is not None
        # NTP sets the clock: the very next code is normal, without a restart.
        kit.advance(14 * HOUR)
        kit.set_synchronized(True)
        result = app.submit_texts([world.wallet().present(true_now + 20)])
        await pilot.pause()
        assert result is not None and result.verdict is Verdict.VALID


async def test_the_same_kit_trusting_its_clock_refuses_the_honest_student(world: World) -> None:
    """What revision 1 did (and what `clock = "system"` still does on a kit with a wrong
    clock): the reason an RTC or `clock = "ntp"` matters."""
    app, _, _ = make_app(world)
    async with app.run_test(size=(100, 30)) as pilot:
        result = app.submit_texts([world.wallet().present(NOW + 14 * HOUR)])
        await pilot.pause()
        assert result is not None and result.reason is Reason.PRESENTATION_STALE


async def test_an_unsynchronized_clock_never_hides_a_real_refusal(world: World) -> None:
    kit = FixedClock(NOW, synchronized=False)
    app = InspectorApp(Services(load_trust=world.trust_data, clock=kit), language="en")
    async with app.run_test(size=(100, 30)) as pilot:
        expired = world.wallet(exp=NOW - DAY).present(NOW)
        result = app.submit_texts([expired])
        await pilot.pause()
        assert result is not None and result.reason is Reason.EXPIRED
        kit.advance(30)
        stale = world.wallet().present(NOW - 10 * 60)  # a screenshot from 10 minutes ago
        result = app.submit_texts([stale])
        await pilot.pause()
        assert result is not None and result.reason is Reason.PRESENTATION_STALE


def test_check_clock_option_overrides_the_config(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"anchor": str(tmp_path / "anchor.pem"), "tl": str(tmp_path / "tl.cbor"),
             "rl": str(tmp_path / "rl.cbor")}
    Path(files["anchor"]).write_bytes(public_pem(world.ministry.key.public_key()))
    Path(files["tl"]).write_bytes(world.ministry.trust_list(iat=NOW - 3600))
    Path(files["rl"]).write_bytes(world.ministry.revocation_list(iat=NOW - 600))
    config = tmp_path / "config.toml"
    config.write_text('clock = "ntp"\n')
    ahead = world.wallet().present(NOW + 10 * 60)  # the phone's true time, kit 10 min behind
    argv = ["--config", str(config), *base(files), "--json", "--text"]
    code, out, _ = run([*argv, "--clock", "unsynchronized", ahead], capsys)
    line = json.loads(out)
    assert code == 1
    assert (line["verdict"], line["warnings"]) == ("warning", ["clock_unsynchronized"])
    code, out, _ = run([*argv, "--clock", "synchronized", ahead], capsys)
    assert code == 1 and json.loads(out)["reason"] == "presentation_stale"
    code, out, _ = run([*argv, "--clock", "synchronized", world.wallet().present(NOW)], capsys)
    assert code == 0 and json.loads(out)["verdict"] == "valid"
