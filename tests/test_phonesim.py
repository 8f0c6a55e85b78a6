"""The benchmark's phone-screen frame generator (bench/phonesim.py): seeded, well formed,
and its conditions mean what they say (the easy row is readable, a steep tilt stays framed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from verifier.imaging.decoding import ZxingDecoder


@pytest.fixture(scope="module")
def text(phonesim) -> str:
    return phonesim.ml1_text(15)


def test_texts_are_real_presentations_of_the_two_sizes(phonesim, text) -> None:
    assert text.startswith("ML1:")
    assert phonesim.qr_version(text) == 15
    assert phonesim.qr_version(phonesim.ml1_text(27)) == 27
    assert phonesim.ml1_text.__wrapped__(15) == text  # fixed keys: the same text every run


def test_same_seed_same_frame_and_other_seed_other_frame(phonesim, text) -> None:
    cond = phonesim.sample("night", np.random.default_rng(4))
    a, b = phonesim.frame(text, cond, 7), phonesim.frame(text, cond, 7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, phonesim.frame(text, cond, 8))  # the noise moved


@pytest.mark.parametrize("size", [(1280, 720), (640, 480)])
def test_frames_are_grey_uint8_of_the_asked_size(phonesim, text, size) -> None:
    cond = replace(phonesim.Condition(), width=size[0], height=size[1], ppm=2.0, jpeg=60)
    gray = phonesim.frame(text, cond, 1)
    assert gray.shape == (size[1], size[0]) and gray.dtype == np.uint8
    assert 20 < gray.mean() < 235 and gray.std() > 10  # an exposed picture, not a flat field


def test_the_easy_row_is_read_by_zxing_alone(phonesim, text) -> None:
    frames = phonesim.preset_frames(text, "easy", 2, seed=0)
    zxing = ZxingDecoder()
    assert all(zxing.decode(gray) == [text] for _cond, gray in frames)


def test_a_code_tilted_50_degrees_stays_inside_the_frame(phonesim, text) -> None:
    for seed in range(3):
        cond = phonesim.sample("tilt-50", np.random.default_rng(seed))
        assert max(abs(cond.tilt_x), abs(cond.tilt_y)) > 40
        corners = phonesim.code_corners(text, cond)
        assert (corners >= 0).all()
        assert (corners[:, 0] < cond.width).all() and (corners[:, 1] < cond.height).all()


def test_a_clip_moves_between_frames_and_an_approach_grows(phonesim, text) -> None:
    cond = phonesim.sample("pwm-low", np.random.default_rng(2))
    frames = phonesim.clip(text, cond, frames=2, seed=3)
    assert len(frames) == 2 and not np.array_equal(frames[0], frames[1])
    near = replace(cond, ppm=3.0, pwm_depth=0.0)
    assert phonesim.effective_ppm(text, phonesim.interpolate(
        replace(near, ppm=1.2), near, 0.0)) < phonesim.effective_ppm(text, near)
