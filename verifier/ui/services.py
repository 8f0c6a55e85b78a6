"""Everything the app needs from the outside world, injected so tests can pass fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from verifier.core.errors import VerifierError
from verifier.device.clock import Clock, SystemClock
from verifier.device.trustdata import TrustData
from verifier.imaging.camera.base import CameraError, FrameSource
from verifier.imaging.scanloop import CodeEvent, EndEvent, ErrorEvent, ScanEvent, ScanLoop
from verifier.ui.feedback import Feedback

if TYPE_CHECKING:  # the sync module pulls in requests; the app imports it only when syncing
    from verifier.device.audit import AuditLog
    from verifier.device.notify import Notifier
    from verifier.device.sync import SyncReport, SyncScheduler

TextsCallback = Callable[[list[str]], None]
StateCallback = Callable[[str, float | None], None]


class Scanner(Protocol):
    """Delivers decoded texts from a camera, off the UI thread.

    A scanner may also offer ``progress_age() -> float | None``: seconds since its loop last
    made progress (a frame decoded, an attempt to open the camera). The app feeds systemd's
    watchdog only while that stays small.
    """

    def start(self, on_texts: TextsCallback, on_state: StateCallback) -> None: ...

    def stop(self) -> None: ...


class SourceScanner:
    """Runs a ``ScanLoop`` on the opened camera and reports texts and decoded frames per second.

    The loop grabs frames in one thread and decodes only the newest in another, so a slow
    decode drops frames instead of queueing them; the UI thread never decodes. A camera that
    is missing, busy or lost is reported and reopened with backoff while the app keeps running.
    """

    def __init__(
        self,
        open_source: Callable[[], FrameSource],
        retry_seconds: float = 2.0,
        decode: Callable[[np.ndarray], list[str]] | None = None,
    ):
        self._open = open_source
        self._retry = retry_seconds
        self._decode = decode
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = time.monotonic()

    def progress_age(self) -> float | None:
        """Seconds since the loop last moved; None once stopped."""
        if self._stop.is_set():
            return None
        if self._thread is not None and not self._thread.is_alive():
            return float("inf")  # ended without being stopped: no progress ever again
        return time.monotonic() - self._progress

    def _moved(self) -> None:
        self._progress = time.monotonic()

    def start(self, on_texts: TextsCallback, on_state: StateCallback) -> None:
        self._progress = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, args=(on_texts, on_state), name="scanner", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _run(self, on_texts: TextsCallback, on_state: StateCallback) -> None:
        while not self._stop.is_set():
            self._moved()
            try:
                source = self._open()
            except CameraError as exc:
                on_state(f"unavailable: {exc.message}", None)
                self._stop.wait(self._retry)
                continue
            try:
                final = self._watch(source, on_texts, on_state)
            finally:
                source.close()
            if isinstance(final, ErrorEvent):
                on_state(f"lost: {final.message}", None)
            elif isinstance(final, EndEvent):
                on_state("ended", None)
            self._stop.wait(self._retry)

    def _watch(
        self, source: FrameSource, on_texts: TextsCallback, on_state: StateCallback
    ) -> ScanEvent | None:
        """Run one loop on ``source`` until it ends, fails or we stop; return how it ended."""
        final: list[ScanEvent] = []

        def on_event(event: ScanEvent) -> None:
            if isinstance(event, CodeEvent):
                on_texts([event.text])
            elif isinstance(event, ErrorEvent | EndEvent):
                final.append(event)

        loop = ScanLoop(source, on_event, self._decode)
        loop.start()
        decoded, errors, since = 0, 0, time.monotonic()
        try:
            while not self._stop.wait(1.0) and not final and loop.running:
                now = time.monotonic()
                # Frames decoded, or refused by a decode that raised: the loop is alive. A
                # decode stuck on one frame is not, and the watchdog sees that.
                if loop.frames_decoded != decoded or loop.decode_errors != errors:
                    self._moved()
                busy = loop.decode_busy_for
                if busy > loop.overrun_after:
                    on_state(f"stalled: one frame has been decoding for {busy:.0f} s", None)
                elif loop.decode_errors != errors and loop.frames_decoded == decoded:
                    on_state(f"stalled: every frame fails to decode ({loop.decode_errors})", None)
                else:
                    on_state("ok", (loop.frames_decoded - decoded) / (now - since))
                decoded, errors, since = loop.frames_decoded, loop.decode_errors, now
        finally:
            loop.stop()
        return final[0] if final else None


# (one line for the status bar, whether a list was stored: the app reloads only then)
SyncCallback = Callable[[str, bool], None]


class ListSyncer(Protocol):
    """Refreshes the lists in the background; reports each outcome as one line."""

    def start(self, on_result: SyncCallback) -> None: ...

    def trigger(self) -> None: ...

    def stop(self) -> None: ...


def sync_line(report: SyncReport) -> str:
    """One line for the status bar: per list what happened, and a clock warning."""
    parts = [f"{item.name} {item.status.replace('_', ' ')}" for item in report.lists]
    if report.clock_skew is not None:
        parts.append(f"clock off by {report.clock_skew:+d} s")
    return ", ".join(parts)


class BackgroundSync:
    """A ``SyncScheduler`` (periodic, and at once on ``trigger``) reporting lines to the app."""

    def __init__(self, make_scheduler: Callable[..., SyncScheduler]) -> None:
        self._make = make_scheduler
        self._scheduler: SyncScheduler | None = None

    def start(self, on_result: SyncCallback) -> None:
        def on_error(exc: Exception) -> None:
            message = exc.message if isinstance(exc, VerifierError) else str(exc)
            on_result(f"failed: {message}", True)  # maybe half done: look at the files

        def on_report(report: SyncReport) -> None:
            fetched = any(item.status == "fetched" for item in report.lists)
            on_result(sync_line(report), fetched)

        self._scheduler = self._make(on_report=on_report, on_error=on_error)
        self._scheduler.start()

    def trigger(self) -> None:
        if self._scheduler is not None:
            self._scheduler.trigger()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop(timeout=5)


@dataclass
class Services:
    load_trust: Callable[[], TrustData]
    clock: Clock = field(default_factory=SystemClock)
    # None: the terminal bell, rung by the app.
    feedback: Feedback | None = None
    scanner: Scanner | None = None
    # None where there is no list URL to sync from.
    sync: ListSyncer | None = None
    # One row per verdict, nothing personal (verifier/device/audit.py); None: not recorded (demo).
    audit: AuditLog | None = None
    # systemd's READY=1 and watchdog pings (verifier/device/notify.py); None outside systemd.
    notifier: Notifier | None = None
    # Takes the app's figures every few seconds (verifier/device/runtime.py: the status file
    # `verifier status` and the metrics read); None: not written.
    runtime_status: Callable[[dict[str, Any]], object] | None = None
