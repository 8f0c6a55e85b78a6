"""The grid reader's work per camera frame is capped (issue 16, item 5): with
``frame_work`` each call does at most its slice of work (counted in units calibrated to CPU
time, never timed), and a symbol not read in one call is read over the next calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.test_decoder_bounds import frames
from verifier.imaging.budget import Budget, OutOfBudget, units
from verifier.imaging.decoding import (
    FRAME_WORK,
    MAX_WORK,
    STAGE_WORK,
    ZXING_PX,
    PipelineDecoder,
    load_gray,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HANG_FRAME = SHARED / "field" / "decoder-hang-frame.png"
CORPUS = SHARED / "corpus"

#: A slice ends before a step that would cross it once one remembered step is done in it,
#: so it runs over by at most the largest such step (a read of a version-40 symbol).
LARGEST_STEP = 200


def held_slice(gray: np.ndarray) -> int:
    """Most units a call on the same image again may spend: its slice, plus zxing's pass
    it skips (zxing failed on that image already) given to the slice, plus the one step a
    slice may finish past its end."""
    return FRAME_WORK + units(gray.size, ZXING_PX) + LARGEST_STEP


def _grid_only_frame() -> tuple[np.ndarray, str]:
    from tests.test_decoder_bounds import _grid_only_frame, work_text

    return _grid_only_frame(), work_text()


def _held(decoder: PipelineDecoder, gray: np.ndarray, calls: int) -> tuple[list[str], list[int]]:
    """The same frame decoded up to ``calls`` times (a phone held still): the first texts
    and the work each call took."""
    works = []
    for _ in range(calls):
        texts = decoder.decode(gray)
        works.append(decoder.last_work)
        if texts or decoder._pending is None:
            return texts, works
    return [], works


def test_a_grid_read_spread_over_frames_still_reads() -> None:
    gray, text = _grid_only_frame()
    whole = PipelineDecoder(budget_s=None)
    assert whole.decode(gray) == [text]
    assert whole.last_work > 2 * FRAME_WORK  # the read does not fit one slice
    sliced = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK)
    texts, works = _held(sliced, gray, 30)
    assert texts == [text]
    assert len(works) > 2 and sliced.resumed == len(works) - 1
    assert max(works) <= held_slice(gray)
    # every step done once: the slices add up to about the one-call read's work
    assert sum(works) <= whole.last_work + LARGEST_STEP * len(works)


def test_zxing_reading_a_new_frame_drops_the_pending_symbol() -> None:
    import segno

    gray, _text = _grid_only_frame()
    decoder = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK)
    assert decoder.decode(gray) == [] and decoder._pending is not None
    sharp = np.kron(
        np.pad(np.array(segno.make("ML1:SHARP", micro=False).matrix, np.uint8), 4),
        np.ones((8, 8), np.uint8),
    )
    assert decoder.decode(np.where(sharp > 0, 20, 235).astype(np.uint8)) == ["ML1:SHARP"]
    assert decoder._pending is None


def test_the_hang_frame_costs_a_bounded_slice_a_call() -> None:
    if not HANG_FRAME.is_file():
        pytest.skip(f"field frame {HANG_FRAME} not present")
    gray = load_gray(HANG_FRAME)
    decoder = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK)
    texts, works = _held(decoder, gray, MAX_WORK // FRAME_WORK + 5)
    assert texts == PipelineDecoder(budget_s=None).decode(gray)  # what one call reads
    assert max(works) <= held_slice(gray)
    assert decoder._pending is None  # its work ended (within the job's cap), no endless resume
    assert sum(works) <= MAX_WORK + LARGEST_STEP


@pytest.mark.skipif(not (CORPUS / "manifest.json").is_file(), reason="shared corpus not present")
def test_corpus_frames_read_within_a_few_sliced_calls() -> None:
    """Every corpus frame the one-call decoder reads, the sliced one reads too when the
    frame is held for a second (30 calls); a sample of frames keeps this fast."""
    frames = json.loads((CORPUS / "manifest.json").read_text())["frames"]
    for frame in frames[::5]:
        gray = load_gray(CORPUS / frame["image"])
        whole = PipelineDecoder(budget_s=None).decode(gray)
        sliced = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK)
        texts, works = _held(sliced, gray, 30)
        assert texts == whole
        assert max(works) <= held_slice(gray)


def test_a_slice_always_completes_a_remembered_step() -> None:
    """A step longer than the slice still finishes (so a resumed job gets somewhere); the
    next step then waits for the next slice."""
    budget = Budget()
    budget.resume(None, 10)

    def big() -> int:
        for _ in range(4):
            budget.spend(8)  # 32 units in a 10-unit slice
        return 1

    assert budget.remember("big", big) == 1
    with pytest.raises(OutOfBudget):
        budget.spend(1)
    budget.resume(None, 10)
    assert budget.remember("big", big) == 1 and budget.work == 32  # remembered, not redone
    budget.spend(5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_any_frame_held_costs_a_bounded_slice_a_call_and_ends(gray: np.ndarray) -> None:
    """Noise, flat frames and finder-like squares held in front of the camera: every call
    stays within its slice (plus one step), and the work on the frame ends."""
    decoder = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK)
    texts, works = _held(decoder, gray, MAX_WORK // FRAME_WORK + 5)
    assert isinstance(texts, list)
    assert max(works) <= held_slice(gray)
    assert decoder._pending is None


def test_a_job_gives_its_frame_up_where_the_time_budget_would() -> None:
    """A frame that does not read held in front of the camera: with ``stage_work`` (the
    scan loop's setting) the job starts no stage after STAGE_WORK units, as the 80 ms
    budget starts none after 80 ms, so the next frame gets its turn long before the work
    cap; without it the job goes on through every stage and region."""
    from tests.test_decoding import _camera_like

    _, text = _grid_only_frame()
    gray = _camera_like(text, 2.8, 2.2)  # found, its grid fitted, too blurred to read
    whole = PipelineDecoder(budget_s=None)
    assert whole.decode(gray) == [] and whole.last_work > 2 * STAGE_WORK
    capped = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK, stage_work=STAGE_WORK)
    texts, works = _held(capped, gray, MAX_WORK // FRAME_WORK + 5)
    uncapped = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK)
    texts_uncapped, works_uncapped = _held(uncapped, gray, MAX_WORK // FRAME_WORK + 5)
    assert texts == texts_uncapped == [] and capped._pending is None
    assert sum(works) < sum(works_uncapped)
    # one stage may run on past STAGE_WORK to its end (its steps are each bounded)
    assert sum(works) <= STAGE_WORK + MAX_WORK // 3
    capped.decode(_camera_like(text, 2.8, 2.3))
    assert not capped.last_resumed  # the next frame: a job of its own


def test_the_scan_loops_settings_still_read_a_grid_frame_over_several_calls() -> None:
    gray, text = _grid_only_frame()
    decoder = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK, stage_work=STAGE_WORK)
    texts, works = _held(decoder, gray, 30)
    assert texts == [text] and len(works) > 2
    assert max(works) <= held_slice(gray)


def test_a_slice_also_ends_on_its_time_once_a_step_is_done() -> None:
    """``slice_seconds``: past it the next step waits for the next slice, but not before a
    remembered step was completed in this one (so a slow machine still gets somewhere)."""
    now = [0.0]
    budget = Budget(clock=lambda: now[0])
    budget.resume(None, 1000, slice_seconds=1.0)
    now[0] = 5.0
    budget.spend(1)  # no step done yet in this slice: it goes on
    assert budget.remember("step", lambda: 1) == 1
    with pytest.raises(OutOfBudget):
        budget.spend(1)
    budget.resume(None, 1000, slice_seconds=1.0)
    budget.spend(1)  # a new slice, a new second


def test_call_s_ends_a_call_before_its_units_on_a_slow_machine() -> None:
    """A clock 10 ms later at every look: ``call_s`` of 50 ms ends each call after a few
    steps, well before ``frame_work``'s units, and the symbol is still read in the end."""
    gray, text = _grid_only_frame()
    ticks = iter(range(10**9))
    slow = PipelineDecoder(
        budget_s=None, frame_work=FRAME_WORK, call_s=0.05, clock=lambda: next(ticks) * 0.01
    )
    texts, works = _held(slow, gray, 200)
    plain = PipelineDecoder(budget_s=None, frame_work=FRAME_WORK)
    texts_plain, works_plain = _held(plain, gray, 200)
    assert texts == texts_plain == [text]
    assert len(works) > len(works_plain) and max(works) <= held_slice(gray)
