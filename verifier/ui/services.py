"""Everything the app needs from the outside world, injected so tests can pass fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from verifier.camera.base import CameraError, FrameSource
from verifier.clock import Clock, SystemClock
from verifier.decoding import decode_gray
from verifier.trustdata import TrustData
from verifier.ui.feedback import Feedback, NoFeedback

TextsCallback = Callable[[list[str]], None]
StateCallback = Callable[[str, float | None], None]


class Scanner(Protocol):
    """Delivers decoded texts from a camera, off the UI thread."""

    def start(self, on_texts: TextsCallback, on_state: StateCallback) -> None: ...

    def stop(self) -> None: ...


class SourceScanner:
    """Reads frames in a worker thread, decodes the newest one, reports texts and fps.

    Decoding is sequential with reading, so frames that arrive while a frame is being decoded
    are skipped by the source (never queued). A camera that fails is reopened with backoff.
    """

    def __init__(self, open_source: Callable[[], FrameSource], retry_seconds: float = 2.0):
        self._open = open_source
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_texts: TextsCallback, on_state: StateCallback) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(on_texts, on_state), name="scanner", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self, on_texts: TextsCallback, on_state: StateCallback) -> None:
        while not self._stop.is_set():
            try:
                source = self._open()
            except CameraError as exc:
                on_state(f"unavailable: {exc.message}", None)
                self._stop.wait(self._retry)
                continue
            try:
                self._loop(source, on_texts, on_state)
            except CameraError as exc:
                on_state(f"lost: {exc.message}", None)
                self._stop.wait(self._retry)
            finally:
                source.close()

    def _loop(self, source: FrameSource, on_texts: TextsCallback, on_state: StateCallback) -> None:
        frames, started = 0, time.monotonic()
        while not self._stop.is_set():
            frame = source.read()
            if frame is None:
                on_state("ended", None)
                self._stop.wait(self._retry)
                return
            on_texts(decode_gray(frame.gray))
            frames += 1
            elapsed = time.monotonic() - started
            if elapsed >= 1.0:
                on_state("ok", frames / elapsed)
                frames, started = 0, time.monotonic()


@dataclass
class Services:
    load_trust: Callable[[], TrustData]
    clock: Clock = field(default_factory=SystemClock)
    feedback: Feedback = field(default_factory=NoFeedback)
    scanner: Scanner | None = None
    # Runs one sync and returns a one-line result; None where there is no list URL.
    sync: Callable[[], str] | None = None
