"""The app's camera service: real decoding of issuer-made codes on frames from a fake camera."""

from __future__ import annotations

import threading
import time

import numpy as np

from issuer_stub.demo import qr_frame
from tests.conftest import NOW, World
from verifier.imaging.camera.base import CameraError, Frame
from verifier.ui.services import SourceScanner


class ListSource:
    """A 30 fps camera that yields the given frames, then fails (``error``) or ends."""

    def __init__(self, frames: list[np.ndarray], error: str | None = None) -> None:
        self.frames, self.error, self.closed, self.t = list(frames), error, False, 0.0

    def read(self) -> Frame | None:
        if not self.frames:
            if self.error:
                raise CameraError(self.error)
            return None
        time.sleep(1 / 30)  # a real camera paces the loop; newer frames replace unread ones
        self.t += 1 / 30
        return Frame(self.frames.pop(0), self.t)

    def close(self) -> None:
        self.closed = True


class Collector:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.states: list[str] = []
        self.done = threading.Event()

    def on_texts(self, texts: list[str]) -> None:
        self.texts.extend(texts)

    def on_state(self, state: str, fps: float | None) -> None:
        self.states.append(state)
        if state in ("ended",) or state.startswith("lost"):
            self.done.set()


def run(scanner: SourceScanner, collector: Collector) -> None:
    scanner.start(collector.on_texts, collector.on_state)
    try:
        assert collector.done.wait(20), collector.states
    finally:
        scanner.stop()


def test_a_code_held_in_view_is_reported_once(world: World) -> None:
    text = world.wallet().present(NOW)
    empty = np.full((720, 1280), 128, np.uint8)
    source = ListSource([empty] * 3 + [qr_frame(text)] * 10 + [empty] * 3)
    collector = Collector()
    run(SourceScanner(lambda: source, retry_seconds=0.05), collector)
    assert collector.texts == [text]
    assert source.closed and collector.states[-1] == "ended"


def test_a_missing_camera_is_reported_and_retried_until_it_appears(world: World) -> None:
    text = world.wallet().present(NOW)
    attempts: list[int] = []

    def open_camera() -> ListSource:
        attempts.append(1)
        if len(attempts) < 3:
            raise CameraError("no camera found (is the ribbon cable in?)")
        return ListSource([qr_frame(text)] * 2)

    collector = Collector()
    run(SourceScanner(open_camera, retry_seconds=0.05), collector)
    assert collector.states[:2] == ["unavailable: no camera found (is the ribbon cable in?)"] * 2
    assert collector.texts == [text]


def test_a_camera_lost_mid_stream_is_reported_and_closed(world: World) -> None:
    source = ListSource([qr_frame(world.wallet().present(NOW))] * 2, error="camera unplugged")
    collector = Collector()
    run(SourceScanner(lambda: source, retry_seconds=0.05), collector)
    assert "lost: camera unplugged" in collector.states and source.closed


class EndlessSource:
    """A camera that keeps delivering the same frame at 30 fps until closed."""

    def __init__(self) -> None:
        self.t = 0.0

    def read(self) -> Frame | None:
        time.sleep(1 / 30)
        self.t += 1 / 30
        return Frame(np.full((72, 128), 128, np.uint8), self.t)

    def close(self) -> None:
        pass


def _states_until(scanner: SourceScanner, wanted: str, seconds: float = 20) -> list[str]:
    collector = Collector()
    scanner.start(collector.on_texts, collector.on_state)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(s.startswith(wanted) for s in collector.states):
                break
            time.sleep(0.1)
    finally:
        scanner.stop()
    return collector.states


def test_a_decode_stuck_on_one_frame_is_reported_not_waited_on_silently() -> None:
    """The camera runs but the decoder hangs (issue 16): the state says so, and the loop stops
    counting as progress, so the watchdog (systemd) restarts a kit that stays stuck."""
    release = threading.Event()

    def hangs(gray: np.ndarray) -> list[str]:
        release.wait(30)
        return []

    scanner = SourceScanner(EndlessSource, decode=hangs)
    try:
        states = _states_until(scanner, "stalled")
        assert any(s.startswith("stalled: one frame has been decoding") for s in states), states
    finally:
        release.set()


def test_a_decoder_that_raises_on_every_frame_is_reported_and_is_still_progress() -> None:
    def raises(gray: np.ndarray) -> list[str]:
        raise ValueError("broken frame")

    scanner = SourceScanner(EndlessSource, decode=raises)
    states = _states_until(scanner, "stalled: every frame")
    assert any(s.startswith("stalled: every frame fails to decode") for s in states), states
