"""The candidate search by finder patterns (issue 16, item 4): a code tilted 50 degrees in low
light that the texture probe misses is found and read; empty textured scenes give no region
for little work; no frame makes the search raise or exceed its work bound."""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.imaging import locate
from verifier.imaging.budget import Budget, OutOfBudget, units
from verifier.imaging.decoding import PipelineDecoder, TextureProbe, zxing_read

TEXT = "ML1:TILTED FIFTY DEGREES " + "0123456789ABCDEF" * 2  # version 3, 29 modules


def _tilted(text: str, tilt: float, roll: float, ppm: float, dim: float, seed: int = 0):
    """A code on a screen turned ``tilt`` degrees about a diagonal axis and rolled ``roll``,
    seen by a pinhole camera (62-degree field of view over 1280 px) at ``ppm`` px per
    module at its centre, its light scaled by ``dim``; returns (frame, true outline)."""
    import cv2
    import segno

    code = segno.make(text, error="m", micro=False, boost_error=False)
    modules = np.array(code.matrix, bool)
    n = modules.shape[0]
    screen = np.where(np.kron(np.pad(modules, 4), np.ones((8, 8), bool)), 25.0, 235.0)
    screen = np.pad(screen, 48, constant_values=235.0).astype(np.float32)
    half = n / 2
    plane = np.array([[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0]])
    t, r = np.deg2rad(tilt), np.deg2rad(roll)
    axis = np.array([np.cos(0.6), np.sin(0.6), 0.0])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    turn = np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k
    spin = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    world = plane @ (spin @ turn).T
    focal = 1060.0
    z = focal / ppm + world[:, 2]
    truth = np.stack([focal * world[:, 0] / z + 640, focal * world[:, 1] / z + 360], 1)
    side, margin = screen.shape[0], 80
    src = np.float32(
        [[margin, margin], [side - margin, margin], [side - margin] * 2, [margin, side - margin]]
    )
    matrix = cv2.getPerspectiveTransform(src, truth.astype(np.float32))
    img = cv2.warpPerspective(screen, matrix, (1280, 720), flags=cv2.INTER_AREA, borderValue=90)
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(img * dim + 4, (0, 0), 0.9) + rng.normal(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), truth


@functools.lru_cache(maxsize=1)
def _night_tilt50() -> tuple[np.ndarray, np.ndarray]:
    return _tilted(TEXT, 50.0, 70.0, 5.0, 0.16)


def test_a_code_tilted_50_degrees_in_low_light_is_found_and_read() -> None:
    gray, truth = _night_tilt50()
    assert TextureProbe().find(gray) is None  # the probe alone has nowhere to look
    assert PipelineDecoder(budget_s=None, finders=False).decode(gray) == []  # nor zxing
    outlines = locate.symbol_outlines(gray)
    assert len(outlines) == 1
    # the outline is the symbol's, to within a module or two (5 px a module here)
    assert np.abs(outlines[0] - truth).max() < 12
    decoder = PipelineDecoder(budget_s=None)
    assert decoder.decode(gray) == [TEXT]
    assert decoder.last_stage.startswith("grid")


def test_finder_candidates_carry_the_symbol_shape() -> None:
    """Each finder of the tilted code is found with its module size along its own sides."""
    gray, truth = _night_tilt50()
    finders = locate.find_finders(gray)
    corners = [truth[0], truth[1], truth[3]]
    for corner, inward in zip(corners, (truth[2], truth[3], truth[1]), strict=True):
        centre = corner + (inward - corner) * 3.5 / 29  # 29 modules: version 3
        near = [f for f in finders if np.hypot(*(f.centre - centre)) < 6]
        assert near, f"no finder near {centre}"
        assert 3.0 < near[0].module < 6.5


def _keyboard() -> np.ndarray:
    import cv2

    img = np.full((720, 1280), 120, np.uint8)
    for r in range(6):
        for c in range(18):
            x, y = 40 + c * 68, 120 + r * 80
            cv2.rectangle(img, (x, y), (x + 60, y + 70), 40, -1)
            cv2.rectangle(img, (x + 4, y + 4), (x + 56, y + 62), 70, -1)
            letter = chr(65 + (r * 18 + c) % 26)
            cv2.putText(img, letter, (x + 16, y + 48), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 230, 2)
    noise = np.random.default_rng(2).normal(0, 4, img.shape)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.0) + noise, 0, 255).astype(np.uint8)


def _tiles() -> np.ndarray:
    yy, xx = np.mgrid[0:720, 0:1280]
    u, v = (xx * 0.8 + yy * 0.6) % 47, (-xx * 0.6 + yy * 0.8) % 47
    return np.where((u < 4) | (v < 4), 60, 190).astype(np.uint8)


@pytest.mark.parametrize("scene", [_keyboard, _tiles])
def test_an_empty_textured_scene_gives_no_region_cheaply(scene) -> None:
    gray = scene()
    budget = Budget()
    assert locate.symbol_outlines(gray, budget) == []
    # the half-resolution level only (one piece, its rings): under ~20 ms here (a unit is
    # ~0.1 ms), ~80 ms on a Pi 4, a small share of what searching every level may cost
    assert budget.work <= 200
    assert budget.work >= units(gray.size // 4, locate.SEARCH_PX)  # and it is all counted
    assert budget.work < locate.search_units(gray.shape) / 3
    assert budget.remembered <= 3  # its pixel passes and a step or two of rings
    decoder = PipelineDecoder(budget_s=None)
    assert decoder.decode(gray) == []
    results = zxing_read(gray, errors=True, invert=False)
    assert [r.source for r in decoder.regions(gray, results)] == []
    assert decoder.last_work <= 200  # no grid stage ran


def test_a_search_cut_into_slices_goes_on_where_it_was() -> None:
    """The full search of the tilted code, run in slices of 20 units (~2 ms here) as the
    resumable decoder does: the same finders as in one go, no piece searched twice, and no
    slice running past its end by more than one piece (~10 ms here)."""
    gray, _truth = _night_tilt50()
    whole = Budget()
    expected = locate.find_finders(gray, whole, fine=True)
    sliced = Budget()
    slices, found = 0, None
    while found is None:
        slices += 1
        assert slices < 200
        sliced.resume(None, 20)
        before = sliced.work
        with contextlib.suppress(OutOfBudget):
            found = locate.find_finders(gray, sliced, fine=True)
        largest = max(units(locate.PIECE_PX, locate.SEARCH_PX), 24 / locate.RINGS_PER_UNIT)
        assert sliced.work - before <= 20 + largest
    assert slices > 3
    assert [f.centre.tolist() for f in found] == [f.centre.tolist() for f in expected]
    # only the downscales (not remembered, ~0.3 ms) are paid again in a later slice
    assert sliced.work <= whole.work + slices * 4
    assert sliced.remembered == whole.remembered


@st.composite
def frames(draw: st.DrawFn) -> np.ndarray:
    """Noise, flat frames, and finder-like nested squares (some on top of each other, some
    squashed flat or cut by the edge), blurred or not: geometry for the grouping to trip on."""
    import cv2

    h = draw(st.integers(8, 300))
    w = draw(st.integers(8, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "flat", "squares"]))
    if kind == "noise":
        return rng.integers(0, 256, (h, w)).astype(np.uint8)
    if kind == "flat":
        return np.full((h, w), draw(st.integers(0, 255)), np.uint8)
    img = np.full((h, w), 210, np.uint8)
    for _ in range(draw(st.integers(1, 8))):
        size = draw(st.integers(3, 80))
        x, y = draw(st.integers(-20, w)), draw(st.integers(-20, h))
        squash = draw(st.sampled_from([1.0, 0.5, 0.1]))
        for k, value in ((0, 20), (1, 210), (2, 20)):
            a = k * size // 7
            y1 = y + a + int((size - 2 * a) * squash)
            cv2.rectangle(img, (x + a, y + a), (x + size - a, y1), value, -1)
    sigma = draw(st.sampled_from([0.0, 0.7, 2.0]))
    return cv2.GaussianBlur(img, (0, 0), sigma) if sigma else img


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_any_frame_gives_bounded_outlines_and_never_raises(gray: np.ndarray) -> None:
    budget = Budget()
    finders = locate.find_finders(gray, budget, fine=True)
    assert len(finders) <= locate.MAX_CANDIDATES
    outlines = locate.symbol_outlines(gray, budget)
    assert len(outlines) <= locate.MAX_SYMBOLS
    for quad in outlines:
        assert quad.shape == (4, 2) and np.isfinite(quad).all()
    # the second search replays the first's remembered steps: one search's bound for both
    assert budget.work <= locate.search_units(gray.shape)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)), min_size=3, max_size=12))
def test_any_finder_geometry_groups_without_raising(points) -> None:
    """Finders anywhere, at the same place or in a line: grouping and outlining never raise
    and never give a non-finite or crossed outline."""
    finders = [
        locate.Finder(np.array(p), np.eye(2) * 3, np.eye(2) / 3, 3.0, 1.0, 1) for p in points
    ]
    for triple in locate.group(finders):
        quad = locate.outline(triple)
        assert quad is None or (np.isfinite(quad).all() and locate._convex(quad))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.floats(-300, 900), st.floats(-300, 900)), min_size=3, max_size=3),
    st.integers(-5, 200),
)
def test_the_grid_reader_takes_any_finder_positions_without_raising(centres, modules) -> None:
    """Finder centres handed to the grid reader anywhere (the same point, in a line, outside
    the region): it reads the code or nothing, within the work bound, and never raises."""
    from verifier.imaging.decoding import FALLBACKS, MAX_WORK, Region, _Work

    gray, truth = _night_tilt50()
    region = Region(truth.astype(np.float32), "finders", np.float32(centres), modules)
    budget = Budget()
    work = _Work(gray, region.corners, budget, region)
    for _label, attempt in FALLBACKS:
        assert attempt(work) in ([], [TEXT])
    assert budget.work <= MAX_WORK


def test_the_field_frame_that_hung_the_decoder_is_read_by_its_finders() -> None:
    """Issue 16's hang frame (a version-35 code at ~3.2 px a module): the probe's region
    gives no read; the symbol its three finders make does (no time budget: the work cap)."""
    from pathlib import Path

    from verifier.imaging.decoding import load_gray

    path = Path(__file__).resolve().parents[2] / "shared" / "field" / "decoder-hang-frame.png"
    if not path.is_file():
        pytest.skip(f"field frame {path} not present (shared data is not in this checkout)")
    gray = load_gray(path)
    assert PipelineDecoder(budget_s=None, finders=False).decode(gray) == []
    decoder = PipelineDecoder(budget_s=None)
    texts = decoder.decode(gray)
    assert len(texts) == 1 and texts[0].startswith("ML1:") and len(texts[0]) > 2000
    assert decoder.last_stage.startswith("grid")
