"""Codes under saturating glare (issue 16): the view's polarity is not fooled, lost modules
are erased, never a wrong symbol.

The codeword layer (format, mask, placement, blocks) is checked against codes segno makes;
the erasures against a saturated disc that zxing's own correction cannot read through; the
polarity on a phone-screen frame of the benchmark's saturating-glare row."""

from __future__ import annotations

import numpy as np
import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.imaging import erasures
from verifier.imaging.decoding import decode_gray, zxing_texts
from verifier.imaging.decoding_grid import fixed_modules, read_rendered, render

TEXT = "ML1:" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" * 9


def code(text: str = TEXT, error: str = "m", mask: int | None = None) -> tuple[np.ndarray, int]:
    symbol = segno.make_qr(text, error=error, mode="alphanumeric", boost_error=False, mask=mask)
    return np.array(symbol.matrix, bool), int(symbol.version)


def glare(dark: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The symbol with a disc washed out to light (as saturating glare leaves it), and the disc."""
    n = dark.shape[0]
    rows, cols = np.indices(dark.shape)
    disc = (rows - 0.6 * n) ** 2 + (cols - 0.45 * n) ** 2 < radius**2
    seen = dark.copy()
    seen[disc] = False
    return seen, disc


@pytest.mark.parametrize(("error", "mask"), [("l", 0), ("m", 3), ("m", 5), ("q", 6), ("h", 7)])
def test_a_clean_code_reads_back_as_itself_at_every_level(error: str, mask: int) -> None:
    """Format, mask, placement and block table agree with segno's codes: every block of a clean
    code decodes with no correction, and the symbol written back is the one read."""
    dark, version = code(error=error, mask=mask)
    none = np.zeros_like(dark)
    level = {"l": 0b01, "m": 0b00, "q": 0b11, "h": 0b10}[error]
    assert erasures.read_format(dark, none) == (level, mask)
    out = erasures.repaired(dark, none, version)
    assert out is not None and np.array_equal(out, dark)


def test_format_words_are_the_standards() -> None:
    from segno import consts

    assert [erasures.format_word(i >> 3, i & 7) for i in range(32)] == list(consts.FORMAT_INFO)


def test_saturated_disc_zxing_cannot_read_is_read_with_erasures() -> None:
    dark, version = code()
    seen, disc = glare(dark, 0.24 * dark.shape[0])
    assert read_rendered(seen) == []  # past what zxing's error correction covers
    out = erasures.repaired(seen, disc & ~erasures.function_modules(version), version)
    assert out is not None and read_rendered(out) == [TEXT]


def test_more_lost_than_the_check_symbols_cover_gives_nothing() -> None:
    dark, version = code()
    seen, disc = glare(dark, 0.3 * dark.shape[0])
    assert erasures.repaired(seen, disc, version) is None


@settings(max_examples=40, deadline=None)
@given(
    flips=st.lists(st.integers(0, 10**6), min_size=0, max_size=400),
    radius=st.floats(0.0, 0.3),
)
def test_never_a_wrong_symbol(flips: list[int], radius: float) -> None:
    """Whatever is wrong or lost, the data and format modules come out true or not at all
    (the fixed modules are the decoder's to set: they pass through as they came)."""
    dark, version = code()
    n = dark.shape[0]
    seen, disc = glare(dark, radius * n)
    for f in flips:
        seen[(f // n) % n, f % n] ^= True
    out = erasures.repaired(seen, disc, version)
    carried = ~fixed_modules(version).known
    assert out is None or np.array_equal(out[carried], dark[carried])


def test_saturation_marks_only_washed_out_neighbourhoods() -> None:
    dark, version = code()
    values = np.where(dark, 40.0, 210.0).astype(np.float32)
    assert erasures.saturated(values, version) is None  # an ordinary code: nothing lost
    _seen, disc = glare(dark, 0.2 * dark.shape[0])
    values[disc] = 255.0
    lost = erasures.saturated(values, version)
    assert lost is not None
    data = ~erasures.function_modules(version)
    assert lost[disc & data].mean() > 0.95 and not lost[~disc].any()
    assert erasures.saturated(values * 0.5, version) is None  # nothing near white: not glare


def test_glare_washed_frame_is_decoded() -> None:
    """A camera-like frame of the code with a saturated blob on it (light and dark modules the
    same 255) reads through the whole decoder; zxing alone does not read it."""
    import cv2

    dark, _version = code()
    n = dark.shape[0]
    image = render(dark, scale=3, quiet=6).astype(np.float32)
    image = cv2.GaussianBlur(image, (0, 0), 0.9) * 0.7 + 30
    side = image.shape[0]
    yy, xx = np.indices(image.shape)
    centre = (6 + 0.6 * n) * 3, (6 + 0.45 * n) * 3
    blob = np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * (0.1 * side) ** 2))
    frame = np.clip(image + 1200 * blob, 0, 255).astype(np.uint8)
    frame = np.pad(frame, 40, constant_values=90)
    assert zxing_texts(frame) == []
    assert decode_gray(frame) == [TEXT]


def test_glare_lighting_the_middle_does_not_invert_the_code(phonesim, monkeypatch) -> None:
    """The glare lights the middle of the view above its quiet zone, which made the view
    look like dark mode: the grid fitted upside down in polarity matched no version. The
    fixed modules show it (they agree less than chance), and the flipped view reads, here
    without any erasure."""
    text = phonesim.ml1_text(27)
    _cond, gray = phonesim.preset_frames(text, "glare-saturating", 3, seed=0)[2]
    assert zxing_texts(gray) == []
    monkeypatch.setattr(erasures, "saturated", lambda values, version: None)
    assert decode_gray(gray) == [text]


def test_the_erasure_decoding_goes_on_over_slices_without_paying_twice() -> None:
    """In the scan loop a slice of work can end between blocks: the next slice goes on
    from the block it stopped at, and the symbol comes out as in one go."""
    from verifier.imaging.budget import Budget, OutOfBudget

    dark, version = code()
    seen, disc = glare(dark, 0.24 * dark.shape[0])
    lost = disc & ~erasures.function_modules(version)
    whole = erasures.repaired(seen, lost, version)
    budget, slices, out = Budget(), 0, None
    while out is None and slices < 50:
        budget.resume(None, 8)  # a block of this code is 6-7 units
        slices += 1
        try:
            out = erasures.repaired(seen, lost, version, budget, ("k",))
        except OutOfBudget:
            continue
    assert whole is not None and out is not None and np.array_equal(out, whole)
    blocks = len(erasures.blocks(version, "M"))
    assert slices >= blocks // 2 and budget.work <= erasures.work(version)
