"""Frames combined over the resumable pipeline (issue 16 items 3 + 5 together; the scan
loop's decoder, ``scan_decoder()``). Each call stays within about one slice of work (units,
never timed), a replayed clip no frame of which reads alone is read, two codes are never
combined, and a phone coming closer does not lose the frame being read."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.test_decoder_bounds import _grid_only_frame
from tests.test_frame_work import HANG_FRAME, LARGEST_STEP
from tests.test_multiframe import (
    MOVING,
    TEXT_A,
    TEXT_B,
    NoFrames,
    _OneAtATime,
    glare_frames,
    noisy_frames,
)
from verifier.imaging.budget import units
from verifier.imaging.camera.base import Frame
from verifier.imaging.camera.replay import ReplaySource
from verifier.imaging.decoding import (
    CALL_S,
    FRAME_WORK,
    STAGE_WORK,
    ZXING_PX,
    PipelineDecoder,
    load_gray,
    zxing_texts,
)
from verifier.imaging.multiframe import (
    CHANGE_EVERY,
    CHANGE_SIDE,
    CORRELATE_PX,
    MultiFrameDecoder,
    scan_decoder,
)
from verifier.imaging.scanloop import CodeEvent, EndEvent, ScanEvent, ScanLoop

#: A call: one slice of one job (plus the one step a slice may finish past its end, and on
#: the same image again the units of zxing's pass it skips) or the stack's registration of
#: the kept frames, and the check that the code did not change.
CALL_BOUND = (
    FRAME_WORK + LARGEST_STEP + units(1280 * 720, ZXING_PX) + units(CHANGE_SIDE**2, CORRELATE_PX)
)


def _sliced(**kw: object) -> MultiFrameDecoder:
    """The scan loop's decoder without its time budget (tests must not depend on speed)."""
    pipeline = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK, stage_work=STAGE_WORK)
    return MultiFrameDecoder(pipeline, **kw)  # type: ignore[arg-type]


def _run(decoder: MultiFrameDecoder, frames: list[np.ndarray]) -> tuple[list[list[str]], list[int]]:
    results, works = [], []
    for gray in frames:
        results.append(decoder.decode(gray))
        works.append(decoder.last_work)
    return results, works


def test_the_scan_loop_combines_frames_over_the_resumable_pipeline() -> None:
    decoder = getattr(ScanLoop(NoFrames(), lambda e: None).decode, "__self__", None)
    assert isinstance(decoder, MultiFrameDecoder) and decoder.stack > 0
    assert decoder.sliced and decoder.pipeline.frame_work == FRAME_WORK
    assert decoder.pipeline.stage_work == STAGE_WORK
    assert decoder.pipeline.call_s == CALL_S and decoder.pipeline.beside
    assert decoder.pipeline.budget_s is not None  # the time budget stays, as a backstop
    assert not scan_decoder(resumable=False).sliced  # the budgeted one, at hand


def test_moving_glare_held_reads_combined_within_a_slice_a_call() -> None:
    """Four frames, none of which reads alone, shown over and over (the hand moves the
    reflection): the combining reads them, each call within its slice."""
    frames = list(itertools.islice(itertools.cycle(glare_frames(TEXT_A, MOVING)), 40))
    for decoder in (_sliced(), _sliced(stack=0)):  # stacked (the default), or modules only
        results, works = _run(decoder, frames)
        assert [TEXT_A] in results and all(r in ([], [TEXT_A]) for r in results)
        assert decoder.combined_reads + decoder.stacked_reads >= 1
        assert max(works) <= CALL_BOUND
    assert decoder.combined_reads >= 1  # the grid fitted on an earlier call's frame, combined


def test_noisy_frames_read_stacked_within_a_slice_a_call() -> None:
    frames = noisy_frames(TEXT_A, 40)
    decoder = _sliced()
    results, works = _run(decoder, frames)
    assert [TEXT_A] in results and all(r in ([], [TEXT_A]) for r in results)
    assert decoder.stacked_reads >= 1
    assert max(works) <= CALL_BOUND
    assert len(decoder.frames_kept) <= decoder.stack - 1 and len(decoder.seen) <= decoder.frames


def test_the_hang_frame_held_costs_a_slice_a_call() -> None:
    if not HANG_FRAME.is_file():
        pytest.skip(f"field frame {HANG_FRAME} not present")
    gray = load_gray(HANG_FRAME)
    decoder = _sliced()
    results, works = _run(decoder, [gray] * 40)
    assert all(r == [] or (len(r) == 1 and r[0].startswith("ML1:")) for r in results)
    assert max(works) <= CALL_BOUND


def test_another_code_shown_drops_what_was_pending_and_is_never_mixed_in() -> None:
    a = noisy_frames(TEXT_A, 5, sigma=90)  # too few frames to read A
    b = noisy_frames(TEXT_B, 40, seed=1)
    decoder = _sliced()
    assert _run(decoder, a)[0] == [[]] * len(a)
    pending = decoder.pipeline.pending_frame, decoder.stacker.pending_frame, decoder._s.mean
    assert any(p is not None for p in pending)  # a job on A (or A's mean) was under way
    after_a, works = _run(decoder, b)
    assert decoder.changes >= 1  # B's frame no longer shows A's region: A's jobs dropped
    assert [TEXT_B] in after_a and all(r in ([], [TEXT_B]) for r in after_a)
    assert max(works) <= CALL_BOUND


def test_the_scan_loop_reads_a_replayed_clip_over_the_resumable_pipeline(tmp_path: Path) -> None:
    clip = list(itertools.islice(itertools.cycle(glare_frames(TEXT_A, MOVING)), 24))
    for i, gray in enumerate(clip):
        cv2.imwrite(str(tmp_path / f"frame{i:02d}.png"), gray)
    events: list[ScanEvent] = []
    source = _OneAtATime(ReplaySource(tmp_path, realtime=False))
    loop = ScanLoop(source, events.append, _sliced().decode)
    source.loop = loop
    loop.start()
    loop.join(timeout=60)
    assert loop.frames_decoded == len(clip)
    assert [e.text for e in events if isinstance(e, CodeEvent)][:1] == [TEXT_A]
    assert events[-1] == EndEvent()


def _zoomed(gray: np.ndarray, factor: float) -> np.ndarray:
    h, w = gray.shape
    big = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    y, x = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[y : y + h, x : x + w])


def test_a_phone_coming_closer_keeps_the_frame_being_read() -> None:
    """The code grows 4 % a frame (a phone brought to the camera): after a few frames the
    view no longer correlates with the first, as another code's would not, but the
    pipeline's job on the first frame is not dropped for it: it reads that frame, RS-checked,
    a few calls later, before zxing reads any of the newer frames."""
    gray = _grid_only_frame()
    frames = [gray] + [_zoomed(gray, 1 + 0.04 * i) for i in range(1, 6)]
    assert not any(zxing_texts(f) for f in frames)
    decoder = _sliced()
    calls, texts = 0, []
    while not texts and calls < len(frames):
        texts = decoder.decode(frames[calls])
        calls += 1
        assert decoder.last_work <= CALL_BOUND
    assert texts == PipelineDecoder(budget_s=None).decode(gray) != []
    assert decoder.last_stage.startswith("grid") and decoder.pipeline.last_resumed
    assert calls >= CHANGE_EVERY and decoder.changes >= 1  # the change was seen on the way


def test_zxing_beside_reads_what_the_calls_in_turn_read_and_the_newest_frame_wins() -> None:
    """zxing on a side thread (the scan loop's setting) while the slice goes on: the same
    codes read as with zxing first in each call, its CPU time counted apart, and a new frame
    zxing reads is what a call returns, the job on the older frame dropped."""
    import segno

    frames = list(itertools.islice(itertools.cycle(glare_frames(TEXT_A, MOVING)), 24))
    turns, beside = _sliced(), MultiFrameDecoder(
        PipelineDecoder(budget_s=None, frame_work=FRAME_WORK, stage_work=STAGE_WORK, beside=True)
    )
    in_turn, _ = _run(turns, frames)
    side: list[list[str]] = []
    spent = 0.0
    for gray in frames:
        side.append(beside.decode(gray))
        spent += beside.last_beside_cpu
        assert beside.last_work <= CALL_BOUND
    assert [TEXT_A] in side and {t for r in side for t in r} == {t for r in in_turn for t in r}
    assert spent > 0  # zxing's passes ran on the side thread
    pipeline = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK, beside=True)
    assert pipeline.decode(_grid_only_frame()) == [] and pipeline.pending
    sharp = np.kron(
        np.pad(np.array(segno.make("ML1:SHARP", micro=False).matrix, np.uint8), 4),
        np.ones((8, 8), np.uint8),
    )
    assert pipeline.decode(np.where(sharp > 0, 20, 235).astype(np.uint8)) == ["ML1:SHARP"]
    assert not pipeline.pending and pipeline.last_stage == "zxing"


class _OneFrameThenNothing:
    """A camera that delivers one frame, then none until closed (a frozen preview)."""

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = gray
        self.sent = False
        self.closed = threading.Event()

    def read(self) -> Frame | None:
        if not self.sent:
            self.sent = True
            return Frame(self.gray, 0.0)
        self.closed.wait(60)
        return None

    def close(self) -> None:
        self.closed.set()


def test_the_scan_loop_goes_on_with_pending_work_without_waiting_for_a_frame() -> None:
    """One frame whose read takes several slices, and no frame after it: the loop calls the
    decoder again on it while it has work pending (rather than wait for the camera), so the
    code is read, and decoding then waits, idle, for a new frame."""
    gray = _grid_only_frame()
    events: list[ScanEvent] = []
    seen = threading.Event()

    def on_event(event: ScanEvent) -> None:
        events.append(event)
        if isinstance(event, CodeEvent):
            seen.set()

    decoder = _sliced()
    source = _OneFrameThenNothing(gray)
    loop = ScanLoop(source, on_event, decoder.decode)
    loop.start()
    try:
        assert seen.wait(60)
    finally:
        source.close()
        loop.stop()
    assert [e.text for e in events if isinstance(e, CodeEvent)] == (
        PipelineDecoder(budget_s=None).decode(gray)
    )
    assert loop.frames_decoded == 1 and decoder.pipeline.resumed >= 2
    assert not decoder.pending
