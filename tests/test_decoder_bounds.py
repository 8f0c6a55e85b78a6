"""No frame hangs or crashes the decoder (issue 16): the field frames that did, degenerate
geometry at each stage, work bounded by iteration caps (counted, not timed), the deadline
checked inside the stages, and only QR codes proper taken from zxing-cpp."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.imaging import decoding_grid
from verifier.imaging.budget import Budget, OutOfBudget
from verifier.imaging.decoding import (
    FALLBACKS,
    MAX_WORK,
    PipelineDecoder,
    _Work,
    decode_gray,
    load_gray,
    zxing_read,
)
from verifier.imaging.decoding_grid import (
    POLISH_ROUNDS,
    Finders,
    Symbol,
    plausible_finders,
    polish_grid,
    symbol_size,
)

REPO = Path(__file__).resolve().parents[1]
FIELD = REPO.parent / "shared" / "field"
CORPUS = REPO.parent / "shared" / "corpus"
FIELD_FRAMES = ("decoder-hang-frame.png", "decoder-crash-frame.png")

#: Where zxing-cpp 3.1.1 reported a (failed) Micro QR symbol in each field frame: the region
#: the old pipeline fell back to, in which two finder patterns came out at the same place.
MICRO_QR_OUTLINES = {
    "decoder-hang-frame.png": [[800, 75], [851, 67], [860, 120], [810, 130]],
    "decoder-crash-frame.png": [[792, 59], [841, 51], [851, 105], [801, 114]],
}


def _field(name: str) -> np.ndarray:
    path = FIELD / name
    if not path.is_file():
        pytest.skip(f"field frame {path} not present (shared data is not in this checkout)")
    return load_gray(path)


def _returns(func, timeout: float = 60.0):
    """Run ``func`` in a thread; fail (rather than hang the suite) if it never returns.
    Not a timing assertion: a decode takes milliseconds, the old code took forever."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # handed back to the test below
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the decode never returned"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


# --------------------------------------------------------------------------- field frames


@pytest.mark.parametrize("name", FIELD_FRAMES)
def test_field_frame_gives_no_code_through_decode_gray(name: str) -> None:
    """Returns, within the work bound: no code, or (since the finder-pattern search, which
    reads the hang frame's version-35 code: tests/test_locate.py) one Reed-Solomon-checked
    ML1 text."""
    gray = _field(name)

    def no_code_or_one(texts: list[str]) -> bool:
        return texts == [] or (len(texts) == 1 and texts[0].startswith("ML1:"))

    assert no_code_or_one(_returns(lambda: decode_gray(gray)))
    decoder = PipelineDecoder(budget_s=None, max_work=None)
    assert no_code_or_one(_returns(lambda: decoder.decode(gray)))
    assert decoder.last_work <= MAX_WORK


@pytest.mark.parametrize("name", FIELD_FRAMES)
def test_the_old_fallback_region_is_rejected_not_fatal(name: str) -> None:
    """The Micro QR outline the old code searched: its two coincident finders are rejected
    as geometry no symbol has, and every fallback stage gives nothing, promptly."""
    gray = _field(name)
    budget = Budget()
    work = _Work(gray, np.float32(MICRO_QR_OUTLINES[name]), budget)
    assert _returns(lambda: [attempt(work) for _label, attempt in FALLBACKS]) == [[]] * 4
    assert work.symbol.finders is None
    assert budget.work <= MAX_WORK


def test_field_frames_through_the_commands(tmp_path: Path) -> None:
    """``verifier decode`` and ``verifier check`` on both frames: exit 1, no code, no traceback."""
    frames = [str(FIELD / name) for name in FIELD_FRAMES]
    if not all(Path(f).is_file() for f in frames):
        pytest.skip(f"field frames not present in {FIELD}")
    if not (CORPUS / "anchor.pem").is_file():
        pytest.skip(f"corpus trust data not present in {CORPUS}")
    run = [sys.executable, "-m", "verifier.commands.cli"]
    env_config = tmp_path / "none.toml"
    env_config.write_text("")
    decode = subprocess.run(
        [*run, "--config", str(env_config), "decode", *frames],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert decode.returncode == 1, decode.stderr
    assert decode.stdout.splitlines() == [f"{f}: 0 codes" for f in frames]
    assert "Traceback" not in decode.stderr
    check = subprocess.run(
        [
            *run,
            "--config",
            str(env_config),
            "check",
            "--json",
            "--anchor",
            str(CORPUS / "anchor.pem"),
            "--trust-list",
            str(CORPUS / "trustlist.cbor"),
            "--revocation-list",
            str(CORPUS / "revocations.cbor"),
            *frames,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 1, check.stderr
    assert "Traceback" not in check.stderr
    import json

    answers = [json.loads(line) for line in check.stdout.splitlines()]
    assert [(a["input"], a["reason"]) for a in answers] == [(f, "no_code_found") for f in frames]


# --------------------------------------------------------------------------- zxing results


def test_micro_qr_is_never_taken_for_a_code() -> None:
    """zxing-cpp 3's QRCode family also reads Micro QR; the pipeline keeps QR codes only."""
    import segno

    micro = np.array(segno.make("ML1:12345", micro=True).matrix, np.uint8)
    assert micro.shape[0] < 21  # really a Micro QR symbol
    big = np.kron(np.pad(micro, 2), np.ones((8, 8), np.uint8))
    frame = np.full((480, 640), 230, np.uint8)
    frame[100 : 100 + big.shape[0], 100 : 100 + big.shape[1]] = np.where(big > 0, 20, 230)
    assert zxing_read(frame, errors=True) == []
    assert PipelineDecoder(budget_s=None).decode(frame) == []


# --------------------------------------------------------------------------- geometry


def _finders(tl: tuple[float, float], tr: tuple[float, float], bl: tuple[float, float]) -> Finders:
    return Finders(np.array(tl), np.array(tr), np.array(bl), pitch=3.0, score=0.8)


def test_finder_geometry_of_a_symbol_is_plausible() -> None:
    assert plausible_finders(_finders((20, 20), (200, 24), (16, 204)))  # v~12, slightly rotated
    assert plausible_finders(_finders((20, 20), (150, 30), (30, 190)))  # keystoned


@pytest.mark.parametrize(
    "points",
    [
        ((29.2, 23.3), (29.2, 23.3), (47.3, 16.4)),  # the hang frame: top left = top right
        ((29.0, 22.5), (47.4, 16.2), (29.0, 22.5)),  # the crash frame: top left = bottom left
        ((20, 20), (100, 20), (180, 20)),  # collinear
        ((20, 20), (40, 20), (20, 40)),  # closer than a version-1 symbol allows
        ((20, 20), (300, 20), (20, 60)),  # sides 7:1
        ((20, 20), (200, 20), (190, 60)),  # a 13 degree corner
        ((20, 20), (float("nan"), 20), (20, 200)),
    ],
)
def test_degenerate_finder_geometry_is_rejected(points) -> None:
    assert not plausible_finders(_finders(*points))


@pytest.mark.parametrize(
    "matrix",
    [
        [[0, 0, 10], [0, 0, 10], [0, 0, 1]],  # every module at one point: the hang's zero pitch
        [[4, 0, 10], [0, 0, 10], [0, 0, 1]],  # the symbol squashed onto a line
        [[4, 0, 10], [0, 4, 10], [0, 0, float("inf")]],
        [[4, 0, 10], [0, 4, 10], [0, 0, float("nan")]],
    ],
)
def test_polish_grid_rejects_a_collapsed_grid_at_once(matrix: list[list[float]]) -> None:
    view = np.random.default_rng(0).uniform(0, 255, (120, 260)).astype(np.float32)
    budget = Budget()
    with np.errstate(all="ignore"):
        assert polish_grid(view, np.array(matrix), 5, budget=budget) is None
    assert budget.work == 0


def test_polish_grid_stops_after_its_round_cap() -> None:
    """A view where moving the outline keeps paying (a steep ramp, the grid sliding off it)
    would make the descent run on; the cap ends it after POLISH_ROUNDS rounds."""
    import cv2

    n = symbol_size(3)
    view = np.tile(np.linspace(0, 255, 400, dtype=np.float32) ** 2 / 255, (400, 1))
    square = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    matrix = cv2.getPerspectiveTransform(
        square, np.float32([[150, 150], [250, 150], [250, 250], [150, 250]])
    )
    capped, free = Budget(), Budget()
    polish_grid(view, matrix, 3, budget=capped)
    polish_grid(view, matrix, 3, max_rounds=10_000, budget=free)
    assert capped.work <= 1 + 16 * POLISH_ROUNDS
    assert free.work > capped.work  # this view does run past the cap without it


# --------------------------------------------------------------------------- budget


def _grid_only_frame() -> np.ndarray:
    """A small, blurred, tilted code zxing cannot read: the grid reader's work."""
    from tests.test_decoding import _camera_like

    chars = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    text = "ML1:" + "".join(np.random.default_rng(1).choice(chars, 585))
    return _camera_like(text, 2.8, 1.2)


def test_the_deadline_is_checked_inside_the_stages() -> None:
    """A clock that moves one tick per look: with a hard deadline of 20 ticks the decode
    stops after ~20 steps of work, inside the finder search, not at the end of a stage
    (a small part of the work the read takes); the soft budget alone would have let the
    first stage finish."""
    ticks = iter(range(10**9))
    clock = lambda: float(next(ticks))  # noqa: E731
    decoder = PipelineDecoder(budget_s=10, deadline_s=20, max_work=None, clock=clock)
    assert decoder.decode(_grid_only_frame()) == []
    assert decoder.out_of_budget == 1
    unbounded = PipelineDecoder(budget_s=None, max_work=None)
    assert unbounded.decode(_grid_only_frame()) != []  # the same frame, read given the time
    assert decoder.last_work < unbounded.last_work / 4


def test_a_stage_started_within_the_budget_may_finish() -> None:
    """A slow machine (every look at the clock 10 ms later): the 80 ms budget passes during
    the first grid read, which still finishes and reads the code (a Pi needs that)."""
    ticks = iter(range(10**9))
    clock = lambda: next(ticks) * 0.01  # noqa: E731
    decoder = PipelineDecoder(budget_s=0.08, deadline_s=1000, max_work=None, clock=clock)
    assert decoder.decode(_grid_only_frame()) != []
    assert decoder.last_stage == "grid" and decoder.out_of_budget == 0


def test_the_work_cap_ends_a_decode() -> None:
    decoder = PipelineDecoder(budget_s=None, max_work=50)
    assert decoder.decode(_grid_only_frame()) == []
    assert decoder.last_work <= 50
    assert decoder.out_of_budget == 1


def test_budget_raises_once_spent() -> None:
    budget = Budget(max_work=2)
    budget.spend()
    budget.spend()
    with pytest.raises(OutOfBudget):
        budget.spend()
    assert budget.work == 2 and budget.exhausted


@pytest.mark.parametrize(
    "error",
    [np.linalg.LinAlgError("Singular matrix"), ZeroDivisionError("x"), IndexError("y")],
)
def test_a_geometry_error_deep_in_the_reader_is_no_code(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(decoding_grid, "polish_grid", broken)
    decoder = PipelineDecoder(budget_s=None)
    gray = _grid_only_frame()
    assert decoder.decode(gray) == []
    regions = list(decoder.regions(gray, zxing_read(gray, errors=True, invert=False)))
    assert decoder.geometry_errors == len(regions) >= 1  # each region given up, none fatal


# --------------------------------------------------------------------------- random frames


@st.composite
def frames(draw: st.DrawFn) -> np.ndarray:
    """Noise, flat, and finder-like squares (several at one spot, overlapping, clipped by the
    edge), optionally blurred: what sends the grid reader into its corners."""
    import cv2

    h = draw(st.integers(24, 360))
    w = draw(st.integers(24, 360))
    kind = draw(st.sampled_from(["noise", "flat", "finders"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.integers(0, 256, (h, w)).astype(np.uint8)
    if kind == "flat":
        return np.full((h, w), draw(st.integers(0, 255)), np.uint8)
    img = np.full((h, w), draw(st.integers(150, 255)), np.uint8)
    spots = draw(
        st.lists(st.tuples(st.integers(-20, w), st.integers(-20, h)), min_size=1, max_size=4)
    )
    size = draw(st.integers(7, 70))
    for x, y in spots + spots[: draw(st.integers(0, len(spots)))]:  # some drawn twice
        for k, value in ((0, 20), (1, 230), (2, 20)):
            a = k * size // 7
            cv2.rectangle(img, (x + a, y + a), (x + size - a, y + size - a), value, -1)
    sigma = draw(st.sampled_from([0.0, 0.8, 2.5]))
    return cv2.GaussianBlur(img, (0, 0), sigma) if sigma else img


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_any_frame_is_bounded_work_and_no_exception(gray: np.ndarray) -> None:
    decoder = PipelineDecoder(budget_s=None, max_work=None)  # only the loops' own caps
    assert isinstance(decoder.decode(gray), list)
    assert decoder.last_work <= MAX_WORK


quads = st.lists(
    st.tuples(st.floats(-400, 800), st.floats(-400, 800)), min_size=4, max_size=4
) | st.tuples(st.floats(0, 300), st.floats(0, 300)).map(lambda p: [p, p, p, p])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), quads)
def test_any_region_of_any_frame_reads_nothing_or_text(gray: np.ndarray, quad) -> None:
    """Every fallback stage on any outline (collapsed, outside the frame, crossed): no
    exception escapes, and the work stays under the bound."""
    budget = Budget()
    work = _Work(gray, np.float32(quad), budget)
    for _label, attempt in FALLBACKS:
        assert isinstance(attempt(work), list)
    assert budget.work <= MAX_WORK
    assert isinstance(Symbol(gray, np.float32(quad)).promising, bool)


@functools.lru_cache(maxsize=1)
def _symbol_crop() -> tuple[np.ndarray, np.ndarray]:
    """The grid-only code, cropped, and its outline as the texture probe finds it."""
    from verifier.imaging.decoding import TextureProbe

    gray = _grid_only_frame()
    corners = TextureProbe().find(gray)
    assert corners is not None
    x0, y0 = (corners.min(axis=0) - 60).astype(int)
    x1, y1 = (corners.max(axis=0) + 60).astype(int)
    return gray[y0:y1, x0:x1].copy(), corners - np.float32([x0, y0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.floats(-80, 80), st.floats(-80, 80)), min_size=4, max_size=4),
    st.sampled_from([0, 1, 2, 3]),
)
def test_a_real_symbol_under_any_outline_is_bounded(offsets, collapse: int) -> None:
    """The outline of a real symbol moved, shrunk, crossed or (``collapse`` corners) merged:
    the finder search, grid fits and reads run on a real symbol with wrong geometry."""
    gray, corners = _symbol_crop()
    quad = corners + np.float32(offsets)
    quad[1 : 1 + collapse] = quad[0]
    budget = Budget()
    work = _Work(gray, quad, budget)
    for _label, attempt in FALLBACKS:
        assert attempt(work) in ([], [work_text()])
    assert budget.work <= MAX_WORK


def work_text() -> str:
    chars = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    return "ML1:" + "".join(np.random.default_rng(1).choice(chars, 585))
