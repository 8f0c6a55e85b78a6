"""Combining frames (issue 16 item 3): what no single frame reads, several frames do;
never a text from a mix of two codes; bounded state; the scan loop decodes that way."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno

from verifier.imaging.camera import Frame
from verifier.imaging.camera.replay import ReplaySource
from verifier.imaging.decoding import PipelineDecoder, zxing_texts
from verifier.imaging.multiframe import MultiFrameDecoder
from verifier.imaging.scanloop import CodeEvent, EndEvent, ScanEvent, ScanLoop

TEXT_A = "ML1:" + "QWERTYUIOPASDFGHJKLZXCVBNM0123456789" * 6
TEXT_B = "ML1:" + "MNBVCXZLKJHGFDSAPOIUYTREWQ9876543210" * 6
_SPOTS = [(0.3, 0.55), (0.7, 0.45), (0.5, 0.8), (0.45, 0.3)]
#: Where the reflections sit in each frame, as fractions of the symbol (away from the
#: finders): two in each, so that more is lost than erasing it lets one frame read through
#: (``verifier.imaging.erasures``); the first two frames together see every module.
MOVING = [(_SPOTS[0], _SPOTS[2]), (_SPOTS[1], _SPOTS[3]), (_SPOTS[0], _SPOTS[3]),
          (_SPOTS[1], _SPOTS[2])]


def glare_frames(
    text: str, spots: list[tuple[tuple[float, float], ...]], seed: int = 0
) -> list[np.ndarray]:
    """A version-8 symbol at 4 px a module with saturating reflections at each entry of
    ``spots`` (one frame each), each covering about a tenth of it, and a little noise."""
    qr = segno.make(text, error="m", boost_error=False, micro=False)
    assert qr.version == 8
    modules = np.pad(np.array(qr.matrix, np.uint8), 4)
    ppm, side = 4, modules.shape[0] - 8
    image = np.where(np.kron(modules, np.ones((ppm, ppm), np.uint8)) > 0, 60, 200)
    image = cv2.GaussianBlur(np.pad(image.astype(np.float32), 40, constant_values=90), (0, 0), 0.8)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    rng = np.random.default_rng(seed)
    frames = []
    radius = 0.17 * side * ppm
    for frame_spots in spots:
        glare = np.zeros(image.shape)
        for cx, cy in frame_spots:
            x, y = 40 + 4 * ppm + np.array([cx, cy]) * side * ppm
            glare += 400 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * radius * radius))
        noisy = image + glare + rng.normal(0, 6, image.shape)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def noisy_frames(text: str, count: int, seed: int = 0, sigma: float = 80) -> list[np.ndarray]:
    """The version-8 symbol at 4 px a module, moved by up to 3 px between frames (a hand),
    under very heavy sensor noise (sigma 80 on a contrast of 110: the finder search reads
    single frames at sigma 60)."""
    modules = np.pad(np.array(segno.make(text, error="m", micro=False).matrix, np.uint8), 4)
    image = np.where(np.kron(modules, np.ones((4, 4), np.uint8)) > 0, 70, 180)
    image = cv2.GaussianBlur(np.pad(image.astype(np.float32), 40, constant_values=90), (0, 0), 1)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        shift = np.float32([[1, 0, rng.uniform(-3, 3)], [0, 1, rng.uniform(-3, 3)]])
        moved = cv2.warpAffine(image, shift, image.shape[::-1], borderMode=cv2.BORDER_REPLICATE)
        frames.append(np.clip(moved + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8))
    return frames


def _decoder(**kw: object) -> MultiFrameDecoder:
    """Without a time budget (the tests must not depend on the machine's speed); module
    combining alone unless ``stack`` is given."""
    kw.setdefault("stack", 0)
    return MultiFrameDecoder(PipelineDecoder(budget_s=None), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def moving_glare() -> list[np.ndarray]:
    frames = glare_frames(TEXT_A, MOVING)
    pipeline = PipelineDecoder(budget_s=None)
    for gray in frames:  # the point: no frame reads alone, with either decoder
        assert pipeline.decode(gray) == []
        assert zxing_texts(gray) == []
        assert pipeline.last_located is not None  # but the symbol is found in every one
    return frames


@pytest.mark.parametrize("how", ["vote", "mean"])
@pytest.mark.parametrize("track", [False, True])
def test_frames_none_of_which_reads_alone_read_together(
    moving_glare: list[np.ndarray], how: str, track: bool
) -> None:
    decoder = _decoder(combine=how, track=track)
    results = []
    for gray in moving_glare:
        results.append(decoder.decode(gray))
        if results[-1]:
            assert decoder.last_stage == "combined"
    assert results[0] == []  # one frame is not enough
    assert [TEXT_A] in results
    assert all(texts in ([], [TEXT_A]) for texts in results)
    assert decoder.combined_reads == sum(texts == [TEXT_A] for texts in results)


def test_a_glare_that_does_not_move_is_not_read_and_the_state_stays_bounded() -> None:
    decoder = _decoder(frames=3)
    for gray in glare_frames(TEXT_A, [MOVING[0]] * 7, seed=4):
        assert decoder.decode(gray) == []  # the same modules are lost in every frame
        assert len(decoder.seen) <= 3
    assert len(decoder.seen) == 3
    blank = np.full((300, 300), 128, np.uint8)
    for _ in range(decoder.max_gap + 1):  # the symbol is gone: everything kept is dropped
        assert decoder.decode(blank) == []
    assert len(decoder.seen) == 0


def test_another_code_shown_starts_afresh() -> None:
    first_a = glare_frames(TEXT_A, MOVING[:1])
    b = glare_frames(TEXT_B, MOVING, seed=1)
    fresh_decoder = _decoder()
    fresh = [fresh_decoder.decode(g) for g in b]
    decoder = _decoder()
    assert decoder.decode(first_a[0]) == [] and len(decoder.seen) == 1
    after_a = [decoder.decode(g) for g in b]
    assert after_a == fresh  # what A left behind changes nothing ...
    assert [TEXT_B] in after_a  # ... B is read as soon as a decoder that never saw A reads it
    assert all(TEXT_A not in texts for texts in after_a)


def test_a_frame_that_reads_alone_is_returned_at_once_and_clears_the_state() -> None:
    decoder = _decoder()
    decoder.decode(glare_frames(TEXT_A, MOVING[:1])[0])
    clean = glare_frames(TEXT_B, [((5.0, 5.0),)])[0]  # the reflection far off the symbol
    assert decoder.decode(clean) == [TEXT_B]
    assert decoder.last_stage == "zxing" and len(decoder.seen) == 0


class _OneAtATime:
    """A replayed clip handed out one frame at a time, the next only once the loop has
    decoded the last (a slow decoder drops frames; this test wants every frame decoded)."""

    def __init__(self, source: ReplaySource) -> None:
        self.source = source
        self.loop: ScanLoop | None = None
        self.handed = 0

    def read(self) -> Frame | None:
        assert self.loop is not None
        for _ in range(1000):
            if self.loop.frames_decoded >= self.handed:
                break
            threading.Event().wait(0.01)
        self.handed += 1
        return self.source.read()

    def close(self) -> None:
        self.source.close()


def test_the_scan_loop_reads_a_replayed_clip_no_frame_of_which_reads_alone(
    tmp_path: Path, moving_glare: list[np.ndarray]
) -> None:
    for i, gray in enumerate(moving_glare):
        cv2.imwrite(str(tmp_path / f"frame{i:02d}.png"), gray)
    events: list[ScanEvent] = []
    source = _OneAtATime(ReplaySource(tmp_path, realtime=False))
    # the scan loop's own configuration, without the time budget
    loop = ScanLoop(source, events.append, MultiFrameDecoder(PipelineDecoder(budget_s=None)).decode)
    source.loop = loop
    loop.start()
    loop.join(timeout=60)
    assert loop.frames_decoded == len(moving_glare)
    assert [e for e in events if isinstance(e, CodeEvent)][:1] == [CodeEvent(TEXT_A, 1 / 30)]
    assert events[-1] == EndEvent()


class NoFrames:
    """A camera with no frames: a ScanLoop made on it, for its default decoder."""

    def read(self) -> None:
        return None

    def close(self) -> None:
        pass


def test_each_scan_loop_has_a_combining_decoder_of_its_own() -> None:
    first, second = (ScanLoop(NoFrames(), lambda e: None) for _ in range(2))
    decoders = [getattr(loop.decode, "__self__", None) for loop in (first, second)]
    assert all(isinstance(d, MultiFrameDecoder) for d in decoders)
    assert decoders[0] is not decoders[1]


def test_noisy_frames_none_of_which_reads_alone_read_stacked() -> None:
    frames = noisy_frames(TEXT_A, 4)
    pipeline = PipelineDecoder(budget_s=None)
    for gray in frames:
        assert pipeline.decode(gray) == [] and zxing_texts(gray) == []
        assert pipeline.last_region is not None  # seen, not read
    modules_only = _decoder()
    assert all(modules_only.decode(g) == [] for g in frames)  # no grid fits: nothing to vote
    stacked = _decoder(stack=4)
    results = [stacked.decode(g) for g in frames]
    assert [TEXT_A] in results and all(r in ([], [TEXT_A]) for r in results)
    assert stacked.stacked_reads >= 1 and len(stacked.frames_kept) <= 4


def test_the_image_stack_never_mixes_in_another_code() -> None:
    a = noisy_frames(TEXT_A, 3, sigma=90)  # two frames not enough to read A
    b = noisy_frames(TEXT_B, 4, seed=1)
    fresh = _decoder(stack=4)
    expected = [fresh.decode(g) for g in b]
    decoder = _decoder(stack=4)
    assert [decoder.decode(g) for g in a[:2]] == [[], []]
    after_a = [decoder.decode(g) for g in b]
    assert after_a == expected and [TEXT_B] in after_a
    assert all(TEXT_A not in texts for texts in after_a)


FIELD = Path(__file__).resolve().parents[2] / "shared" / "field"


def test_the_field_frames_that_hung_the_decoder_end_through_the_combining_one() -> None:
    path = FIELD / "decoder-hang-frame.png"
    if not path.is_file():
        pytest.skip(f"field frame {path} not present (shared data is not in this checkout)")
    from verifier.imaging.decoding import load_gray

    gray = load_gray(path)
    decoder = MultiFrameDecoder(PipelineDecoder(budget_s=None))  # the scan loop's, unbudgeted
    for _ in range(3):  # the same frame again: the finder search reads it, or nothing
        texts = decoder.decode(gray)
        assert texts == [] or (len(texts) == 1 and texts[0].startswith("ML1:"))
    assert len(decoder.frames_kept) <= decoder.stack - 1 and len(decoder.seen) <= 6
