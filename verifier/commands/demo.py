"""The demo's world: the one place the verifier reaches into the test issuer.

``verifier demo`` and ``verifier app --demo`` need credentials to show, so they borrow the issuer
stub's university, ministry and phone (``issuer_stub.demo``). Nothing else in ``verifier``
imports ``issuer_stub`` (an import-linter contract in ``pyproject.toml`` holds it), and this
module imports it only when a demo is asked for, so a kit installed without the demo's world
never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from verifier.device.trustdata import TrustData
    from verifier.imaging.camera.base import FrameSource


def run_text_demo(out_dir: str | None, out: TextIO) -> int:
    """Issue, render, decode and verify the demo students; print one verdict each."""
    from issuer_stub.demo import run_demo

    return run_demo(out_dir, out)


def demo_world(
    now: Callable[[], int],
) -> tuple[Callable[[], TrustData], Callable[[], FrameSource]]:
    """The demo's trust data loader and a camera opener that replays its students' codes."""
    from issuer_stub.demo import DemoFrameSource, build_world

    world = build_world(now())
    return world.trust_data, lambda: DemoFrameSource(world, now)
