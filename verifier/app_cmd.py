"""``verifier app``: wire the real services (or the demo's) into the inspector's app."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verifier.camera.base import FrameSource
from verifier.clock import SystemClock
from verifier.config import Config, load_config
from verifier.trustdata import load_trust_data


def camera_opener(config: Config, replay: str | None = None) -> Callable[[], FrameSource]:
    """A function that opens the configured camera (or a replay path) each time it's called."""
    from verifier.camera.factory import open_source

    cam = config.camera
    size = (cam.width, cam.height)
    options: dict[str, Any]
    if replay:
        kind, options = "replay", {"path": replay, "fps": cam.fps, "loop": True}
    elif cam.source == "replay":
        kind, options = "replay", {"path": cam.path, "fps": cam.fps, "loop": True}
    elif cam.source == "opencv":
        kind, options = "opencv", {"device": cam.device, "size": size, "fps": cam.fps}
    else:
        kind, options = "picamera2", {"size": size, "fps": cam.fps}
    return lambda: open_source(kind, **options)


def _sync_line(config: Config) -> Callable[[], str] | None:
    if not config.list_url:
        return None

    def run() -> str:
        from verifier.sync import sync_lists

        report = sync_lists(config)
        parts = [f"{item.name} {item.status}" for item in report.lists]
        if report.clock_skew is not None:
            parts.append(f"clock off by {report.clock_skew:+d} s")
        return ", ".join(parts)

    return run


def run_app(args: argparse.Namespace) -> int:
    from verifier.ui.app import InspectorApp
    from verifier.ui.services import Services, SourceScanner

    config = load_config(Path(args.config) if args.config else None)
    clock = SystemClock()
    if args.demo:
        from issuer_stub.demo import DemoFrameSource, build_world

        world = build_world(clock.now())
        services = Services(
            load_trust=world.trust_data,
            clock=clock,
            scanner=SourceScanner(lambda: DemoFrameSource(world, clock.now)),
        )
    else:
        services = Services(
            load_trust=lambda: load_trust_data(config),
            clock=clock,
            scanner=SourceScanner(camera_opener(config, args.replay)),
            sync=_sync_line(config),
        )
    app = InspectorApp(
        services,
        language=args.lang or config.language,
        window=config.window,
        clear_after=config.verdict_clear_seconds,
        kiosk=args.kiosk,
    )
    app.run()
    return 0
