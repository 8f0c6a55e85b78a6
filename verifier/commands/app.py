"""``verifier app``: wire the real services (or the demo's) into the inspector's app."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable
from logging.handlers import SysLogHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.device.clock import SystemClock
from verifier.device.config import Config, load_config
from verifier.device.trustdata import load_trust_data
from verifier.imaging.camera.base import FrameSource
from verifier.ui.services import BackgroundSync

if TYPE_CHECKING:
    from verifier.device.audit import AuditLog


def camera_opener(config: Config, replay: str | None = None) -> Callable[[], FrameSource]:
    """A function that opens the configured camera (or a replay path) each time it's called."""
    from verifier.imaging.camera.factory import open_source

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
        from verifier.imaging.camera.picam import PicameraSettings

        kind, options = "picamera2", {"settings": PicameraSettings.from_config(cam)}
    return lambda: open_source(kind, **options)


def background_sync(config: Config) -> BackgroundSync | None:
    """Periodic list refresh (every ``sync_interval``, at once on ``s``); None without a URL."""
    if not config.list_url:
        return None
    from verifier.device.sync import SyncScheduler

    return BackgroundSync(lambda **callbacks: SyncScheduler.from_config(config, **callbacks))


def route_logging(socket_path: str = "/dev/log") -> logging.Handler:
    """Send the app's log records (never personal data) to the journal via syslog, or drop
    them: anything written to stderr would land on the inspector's screen (Textual draws there)."""
    handler: logging.Handler
    if Path(socket_path).exists():
        handler = SysLogHandler(address=socket_path)
        handler.setFormatter(logging.Formatter("mleg-verifier[%(process)d]: %(name)s: %(message)s"))
    else:
        handler = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def open_audit(config: Config, now: int) -> AuditLog | None:
    """The verdict log in ``cache_dir/audit``; without it (read-only disk) the app still runs."""
    from verifier.device.audit import AuditLog

    try:
        return AuditLog(config.cache_dir / "audit", now)
    except (OSError, sqlite3.Error) as exc:
        logging.getLogger(__name__).warning("audit log unavailable: %s", exc)
        return None


def run_app(args: argparse.Namespace) -> int:
    from verifier.ui.app import InspectorApp
    from verifier.ui.feedback import make_feedback
    from verifier.ui.services import Services, SourceScanner

    if args.demo and not (sys.stdin.isatty() and sys.stdout.isatty()):
        # No terminal to draw on (a pipe, CI, a script): run the same loop without the screen.
        from verifier.commands.demo import run_text_demo

        sys.stderr.write("verifier app --demo: no terminal; running the text demo instead\n")
        return run_text_demo(None, sys.stdout)
    config = load_config(Path(args.config) if args.config else None)
    route_logging()
    clock = SystemClock()
    if args.demo:
        from verifier.commands.demo import demo_world

        load_trust, open_camera = demo_world(clock.now)
        services = Services(load_trust=load_trust, clock=clock, scanner=SourceScanner(open_camera))
    else:
        services = Services(
            load_trust=lambda: load_trust_data(config),
            clock=clock,
            scanner=SourceScanner(camera_opener(config, args.replay)),
            sync=background_sync(config),
            audit=open_audit(config, clock.now()),
        )
    services.feedback = make_feedback(config.feedback)
    app = InspectorApp(
        services,
        language=args.lang or config.language,
        window=config.window,
        clear_after=config.verdict_clear_seconds,
        kiosk=args.kiosk,
    )
    try:
        app.run()
    finally:
        if services.audit is not None:
            services.audit.close()
    return 0
