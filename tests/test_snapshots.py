"""Snapshots of the inspector's screens in every verdict state, at 80x24 and a large screen.

The SVGs under ``tests/__snapshots__/`` were looked at by a person; a changed rendering fails
until it is looked at again and accepted with ``pytest --snapshot-update``. Everything shown is
fixed: the clock, the student, the photo (a committed JPEG) and the list ages.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import DAY, NOW, STUDENT, World
from verifier.core.errors import ConfigError
from verifier.device.clock import FixedClock
from verifier.device.trustdata import TrustData
from verifier.ui.app import InspectorApp
from verifier.ui.feedback import NoFeedback
from verifier.ui.services import Services

PHOTO = (Path(__file__).parent / "data" / "portrait.jpg").read_bytes()
SIZES = {"80x24": (80, 24), "large": (160, 48)}
STATES = ("ready", "valid", "revoked", "check", "screenshot", "no_trust_list")


def _no_trust() -> TrustData:
    raise ConfigError("no trust list in the cache: run 'verifier sync'")


def inspector(state: str, language: str = "en") -> InspectorApp:
    world = World()
    student = replace(STUDENT, photo=PHOTO)
    cti = bytes(16)
    wallet = world.wallet(student, cti=cti, exp=NOW + 120 * DAY)
    load = world.trust_data
    if state == "revoked":
        world.ministry.revoked.add(cti)
    elif state == "check":
        data = world.trust_data()
        load = lambda: replace(data, revocations=None)  # noqa: E731
    elif state == "no_trust_list":
        load = _no_trust
    services = Services(load_trust=load, clock=FixedClock(NOW), feedback=NoFeedback())
    app = InspectorApp(services, language=language)
    presented_at = NOW - 300 if state == "screenshot" else NOW
    app.pending = None if state in ("ready", "no_trust_list") else wallet.present(presented_at)
    return app


async def _show(pilot) -> None:
    app = pilot.app
    if app.pending:
        app.submit_texts([app.pending])
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", STATES)
def test_scan_screen(snap_compare, state: str, size: str) -> None:
    assert snap_compare(inspector(state), terminal_size=SIZES[size], run_before=_show)


def test_scan_screen_in_polish(snap_compare) -> None:
    assert snap_compare(inspector("revoked", "pl"), run_before=_show)


def test_history_and_details(snap_compare) -> None:
    async def run(pilot) -> None:
        await _show(pilot)
        await pilot.press("h", "enter")
        await pilot.pause()

    assert snap_compare(inspector("revoked"), terminal_size=(100, 30), run_before=run)
