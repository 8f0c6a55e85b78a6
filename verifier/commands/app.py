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
from verifier.device.store import ListStore
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


def open_audit(config: Config) -> AuditLog | None:
    """The verdict log in ``cache_dir/audit``; without it (read-only disk) the app still runs."""
    from verifier.device.audit import AuditLog

    try:
        return AuditLog(config.cache_dir / "audit")
    except (OSError, sqlite3.Error) as exc:
        logging.getLogger(__name__).warning("audit log unavailable: %s", exc)
        return None


def run_app(args: argparse.Namespace) -> int:
    """Exit status: 0 quit, 1 a crash or a dead worker thread, 2 a config error, 10 a quit
    confirmed in the kiosk (the only exit the unit does not restart after)."""
    from verifier.core.errors import VerifierError
    from verifier.ui.app import EXIT_FAILED

    route_logging()  # first: a config error must reach the journal too
    try:
        return _run_app(args)
    except VerifierError as exc:
        logging.getLogger(__name__).error("cannot start: %s: %s", exc.title, exc.message)
        raise  # main() prints it on the console (tty1) and exits 2
    except Exception as exc:
        # Anything else before or after the screen: one line on the console and the
        # journal, exit 1 (restarted), never a silent 0.
        logging.getLogger(__name__).exception("the app failed")
        sys.stderr.write(f"mleg-verifier: {type(exc).__name__}: {exc}\n")
        return EXIT_FAILED


def _run_app(args: argparse.Namespace) -> int:
    from verifier.device.notify import Notifier
    from verifier.ui.app import InspectorApp
    from verifier.ui.feedback import make_feedback
    from verifier.ui.services import Services, SourceScanner

    if args.demo and not (sys.stdin.isatty() and sys.stdout.isatty()):
        # No terminal to draw on (a pipe, CI, a script): run the same loop without the screen.
        from verifier.commands.demo import run_text_demo

        sys.stderr.write("verifier app --demo: no terminal; running the text demo instead\n")
        return run_text_demo(None, sys.stdout)
    config = load_config(Path(args.config) if args.config else None)
    clock = SystemClock(config.clock)
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
            audit=open_audit(config),
        )
    services.feedback = make_feedback(config.feedback)
    notifier = Notifier()
    services.notifier = notifier if notifier.enabled else None
    status = None
    if not args.demo:
        from verifier.device.runtime import RuntimeStatus, write_dir

        status = RuntimeStatus(write_dir(config.cache_dir))
        services.runtime_status = status.write
        ListStore.remove_orphans(config.cache_dir)  # temporary files of interrupted writes
    app = InspectorApp(
        services,
        language=args.lang or config.language,
        window=config.window,
        clear_after=config.verdict_clear_seconds,
        kiosk=args.kiosk,
        repeat_span=config.repeat_span,
    )
    try:
        app.run()
    finally:
        if services.audit is not None:
            services.audit.close()
        if status is not None:
            status.remove()
    code = app.return_code or 0
    if code and app.fatal_reason is None:
        # Textual printed the traceback on the console; the journal gets one line.
        logging.getLogger(__name__).error("the app stopped after an error (exit %d)", code)
    return code
