"""Scan loop: debounce semantics with injected time, newest-frame dropping, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from verifier.imaging.camera import CameraError, Frame
from verifier.imaging.scanloop import (
    CodeEvent,
    DecodeFailedEvent,
    DecodeResumedEvent,
    DecodeStalledEvent,
    EndEvent,
    ErrorEvent,
    IdleEvent,
    LatestFrame,
    ScanDebouncer,
    ScanEvent,
    ScanLoop,
)

# --------------------------------------------------------------------------- debouncer


def test_first_code_is_announced_then_held_code_is_not() -> None:
    d = ScanDebouncer(repeat_after=5.0, idle_after=8.0)
    assert d.observe(["A"], 0.0) == CodeEvent("A", 0.0)
    # Held in front of the camera for 20 s: seen every frame, never re-announced.
    assert all(d.observe(["A"], t / 10) is None for t in range(1, 200))


def test_same_code_after_a_gap_longer_than_repeat_after_is_announced_again() -> None:
    d = ScanDebouncer(repeat_after=5.0, idle_after=100.0)
    d.observe(["A"], 0.0)
    assert d.observe([], 3.0) is None
    assert d.observe(["A"], 4.9) is None  # gap 4.9 s < 5 s
    assert d.observe(["A"], 9.95) == CodeEvent("A", 9.95)  # gap 5.05 s


def test_new_code_replaces_the_last_at_once() -> None:
    d = ScanDebouncer()
    d.observe(["A"], 0.0)
    assert d.observe(["B"], 0.1) == CodeEvent("B", 0.1)
    assert d.observe(["B"], 0.2) is None
    assert d.observe(["A"], 0.3) == CodeEvent("A", 0.3)
    assert d.current == "A"


def test_two_codes_in_one_frame_keep_the_current_one() -> None:
    d = ScanDebouncer()
    d.observe(["A"], 0.0)
    assert d.observe(["B", "A"], 0.1) is None
    assert d.current == "A"


def test_idle_once_after_no_code_for_idle_after() -> None:
    d = ScanDebouncer(repeat_after=5.0, idle_after=3.0)
    assert d.observe([], 0.0) is None  # starts idle: no event
    d.observe(["A"], 1.0)
    assert d.observe([], 3.9) is None
    assert d.observe([], 4.0) == IdleEvent(4.0)
    assert d.observe([], 10.0) is None  # only once
    assert d.observe(["A"], 7.0) == CodeEvent("A", 7.0)  # 6 s since last seen


# --------------------------------------------------------------------------- newest frame


def _frame(i: int) -> Frame:
    return Frame(np.full((4, 4), i, np.uint8), float(i))


def test_latest_frame_keeps_only_the_newest() -> None:
    slot = LatestFrame()
    for i in range(5):
        slot.put(_frame(i))
    assert slot.take().timestamp == 4.0
    assert slot.dropped == 4
    assert slot.take(timeout=0.01) is None
    slot.put(_frame(9))
    slot.close()
    assert slot.take().timestamp == 9.0  # a frame left at close is still handed out
    assert slot.take() is None


class ListSource:
    """A finite source of the given frames, then the end (or a CameraError)."""

    def __init__(self, frames: list[Frame], fail: bool = False) -> None:
        self.frames = list(frames)
        self.fail = fail

    def read(self) -> Frame | None:
        if self.frames:
            return self.frames.pop(0)
        if self.fail:
            raise CameraError("camera unplugged")
        return None

    def close(self) -> None:
        pass


def _run(loop: ScanLoop) -> None:
    loop.start()
    loop.join(timeout=5)


def test_loop_decodes_newest_frame_and_drops_stale_ones() -> None:
    first_started = threading.Event()
    release = threading.Event()
    decoded: list[int] = []
    events: list[ScanEvent] = []

    def decode(gray: np.ndarray) -> list[str]:
        value = int(gray[0, 0])
        decoded.append(value)
        if value == 0:  # the first decode is slow: frames 1..9 arrive meanwhile
            first_started.set()
            assert release.wait(5)
        return [f"code-{value}"]

    class GatedSource(ListSource):
        def read(self) -> Frame | None:
            frame = super().read()
            if frame is not None and frame.timestamp == 1.0:
                assert first_started.wait(5)
            if frame is None:
                release.set()
            return frame

    loop = ScanLoop(GatedSource([_frame(i) for i in range(10)]), events.append, decode)
    _run(loop)
    assert decoded == [0, 9]  # frames 1..8 were stale when the decoder got free
    assert loop.frames_read == 10 and loop.frames_decoded == 2 and loop.frames_dropped == 8
    assert events == [CodeEvent("code-0", 0.0), CodeEvent("code-9", 9.0), EndEvent()]


def test_loop_reports_camera_failure_after_last_frame() -> None:
    events: list[ScanEvent] = []
    loop = ScanLoop(ListSource([_frame(1)], fail=True), events.append, lambda g: ["X"])
    _run(loop)
    assert events[-1] == ErrorEvent("camera unplugged")
    assert CodeEvent("X", 1.0) in events


def test_loop_stop_ends_threads() -> None:
    class Endless:
        def read(self) -> Frame:
            return _frame(0)

        def close(self) -> None:
            pass

    loop = ScanLoop(Endless(), lambda e: None, lambda g: [])
    loop.start()
    loop.stop(timeout=5)
    assert all(not t.is_alive() for t in loop._threads)


@pytest.mark.parametrize("frames", [0, 3])
def test_loop_with_default_pipeline_on_blank_frames(frames: int) -> None:
    events: list[ScanEvent] = []
    blank = [Frame(np.full((72, 128), 128, np.uint8), float(i)) for i in range(frames)]
    _run(ScanLoop(ListSource(blank), events.append))
    assert events == [EndEvent()]


# --------------------------------------------------------------------------- a decoder in trouble


class OneByOne(ListSource):
    """Hands out the next frame only once the decoder has taken the last one (no drops)."""

    def __init__(self, frames: list[Frame]) -> None:
        super().__init__(frames)
        self.taken = threading.Semaphore(1)

    def read(self) -> Frame | None:
        assert self.taken.acquire(timeout=10)
        return super().read()


def test_a_decode_that_raises_is_reported_and_scanning_goes_on() -> None:
    events: list[ScanEvent] = []
    source = OneByOne([_frame(i) for i in range(5)])

    def decode(gray: np.ndarray) -> list[str]:
        source.taken.release()
        if int(gray[0, 0]) in (1, 2):
            raise np.linalg.LinAlgError("Singular matrix")
        return [f"code-{int(gray[0, 0])}"]

    loop = ScanLoop(source, events.append, decode)
    _run(loop)
    assert not loop.running
    assert (loop.decode_errors, loop.frames_decoded, loop.frames_dropped) == (2, 3, 0)
    assert events == [
        CodeEvent("code-0", 0.0),
        DecodeFailedEvent("LinAlgError: Singular matrix"),  # once, not once per failed frame
        DecodeResumedEvent(),
        CodeEvent("code-3", 3.0),
        CodeEvent("code-4", 4.0),
        EndEvent(),
    ]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hanging_decode_is_reported_while_it_hangs() -> None:
    """The watchdog reports a decode past ``overrun_after`` while it still runs (the app can
    say so instead of showing a healthy camera), and that decoding came back after."""
    clock = FakeClock()
    stalled, release = threading.Event(), threading.Event()
    events: list[ScanEvent] = []

    def on_event(event: ScanEvent) -> None:
        events.append(event)
        if isinstance(event, DecodeStalledEvent):
            stalled.set()

    source = OneByOne([_frame(0), _frame(1)])

    def decode(gray: np.ndarray) -> list[str]:
        source.taken.release()
        if int(gray[0, 0]) == 0:
            clock.now += 30.0  # this decode "takes" 30 s ...
            assert release.wait(10)  # ... and does not return until the test says so
        return []

    loop = ScanLoop(
        source,
        on_event,
        decode,
        overrun_after=5.0,
        watch_interval=0.005,
        clock=clock,
    )
    loop.start()
    try:
        assert stalled.wait(10), "the watchdog never reported the hanging decode"
        assert events == [DecodeStalledEvent(30.0)]
        assert loop.decode_overruns == 1
        assert loop.decode_busy_for == 30.0
    finally:
        release.set()
    loop.join(timeout=5)
    assert events == [DecodeStalledEvent(30.0), DecodeResumedEvent(), EndEvent()]
    assert loop.decode_busy_for == 0.0 and loop.frames_decoded == 2


def test_an_overrun_between_two_watchdog_looks_is_still_counted() -> None:
    clock = FakeClock()
    events: list[ScanEvent] = []

    source = OneByOne([_frame(0), _frame(1), _frame(2)])

    def decode(gray: np.ndarray) -> list[str]:
        source.taken.release()
        clock.now += 2.5 if int(gray[0, 0]) == 1 else 0.01  # past the 2 s default, once
        return ["X"]

    loop = ScanLoop(source, events.append, decode, clock=clock, watch_interval=60)
    _run(loop)
    assert loop.decode_overruns == 1
    assert events == [
        CodeEvent("X", 0.0),
        DecodeStalledEvent(2.5),
        DecodeResumedEvent(),
        EndEvent(),
    ]
