"""The decode pipeline on the shared camera-like corpus, dark mode, empty frames, ``decode``."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from verifier.commands.decode import run_decode
from verifier.imaging.decoding import (
    Decoder,
    PipelineDecoder,
    PyzbarDecoder,
    ZxingDecoder,
    decode_gray,
    load_gray,
    remove_moire,
)
from verifier.imaging.decoding_grid import (
    alignment_positions,
    fixed_modules,
    symbol_size,
    version_bits,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"

needs_corpus = pytest.mark.skipif(
    not (CORPUS / "manifest.json").is_file(), reason="shared corpus not present"
)


def _frames() -> list[dict]:
    return json.loads((CORPUS / "manifest.json").read_text())["frames"]


def _render(text: str, scale: int = 4, dark: bool = False) -> np.ndarray:
    """A clean code on a 1280x720 frame, dark-on-light or (dark mode) light-on-dark."""
    import segno

    code = segno.make(text, error="m", micro=False)
    modules = np.array(code.matrix, dtype=np.uint8)
    modules = np.pad(modules, 4)
    img = np.where(np.kron(modules, np.ones((scale, scale), np.uint8)) > 0, 20, 235)
    frame = np.full((720, 1280), 235, np.uint8)
    h, w = img.shape
    frame[100 : 100 + h, 400 : 400 + w] = img
    return (255 - frame) if dark else frame.astype(np.uint8)


def _has_zbar() -> bool:
    try:
        from pyzbar import pyzbar  # noqa: F401  (raises ImportError without libzbar0)
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def corpus_results() -> dict[str, Counter]:
    """Per decoder, how many frames of each tier it read correctly (and nothing wrong)."""
    decoders: dict[str, Decoder] = {
        "pipeline": PipelineDecoder(budget_s=None),  # no time bound: same result on any CPU
        "zxing": ZxingDecoder(),
    }
    if _has_zbar():  # only a comparison: the pipeline itself does not use pyzbar
        decoders["pyzbar"] = PyzbarDecoder()
    counts = {name: Counter() for name in decoders}
    for frame in _frames():
        gray = load_gray(CORPUS / frame["image"])
        for name, decoder in decoders.items():
            texts = decoder.decode(gray)
            assert set(texts) <= {frame["text"]}, f"{name} returned a wrong text"
            counts[name][frame["tier"]] += frame["text"] in texts
    return counts


@needs_corpus
def test_pipeline_reads_every_easy_frame(corpus_results: dict[str, Counter]) -> None:
    assert corpus_results["pipeline"]["easy"] == 12


@needs_corpus
def test_pipeline_reads_every_medium_frame(corpus_results: dict[str, Counter]) -> None:
    assert corpus_results["pipeline"]["medium"] == 12


@needs_corpus
def test_pipeline_floor_hard(corpus_results: dict[str, Counter]) -> None:
    # Measured: 7 of 12 hard frames (bench/RESULTS.md); the rest are too blurred.
    assert corpus_results["pipeline"]["hard"] >= 7


@needs_corpus
def test_pipeline_beats_each_single_library(corpus_results: dict[str, Counter]) -> None:
    pipeline = corpus_results["pipeline"]
    for single in ("zxing", "pyzbar") if _has_zbar() else ("zxing",):
        assert pipeline.total() > corpus_results[single].total()
        assert pipeline["hard"] > corpus_results[single]["hard"]


@needs_corpus
@pytest.mark.parametrize("index", [0, 3, 12, 13, 18, 20])
def test_dark_mode_corpus_frames(index: int) -> None:
    """Inverted frames (light modules on a dark screen), including fallback-only ones."""
    frame = _frames()[index]
    gray = 255 - load_gray(CORPUS / frame["image"])
    assert PipelineDecoder(budget_s=None).decode(gray) == [frame["text"]]


@pytest.mark.parametrize("dark", [False, True])
def test_rendered_code_both_polarities(dark: bool) -> None:
    assert decode_gray(_render("ML1:HELLO WORLD 123", dark=dark)) == ["ML1:HELLO WORLD 123"]


def _camera_like(text: str, ppm: float, sigma: float, seed: int = 0) -> np.ndarray:
    """A code at ``ppm`` camera px/module, rotated 12 degrees, keystoned, blurred, noisy."""
    import cv2
    import segno

    rng = np.random.default_rng(seed)
    code = segno.make(text, error="m", micro=False, boost_error=False)
    modules = np.pad(np.array(code.matrix, np.uint8), 6)
    screen = np.where(np.kron(modules, np.ones((8, 8), np.uint8)) > 0, 60, 215).astype(np.uint8)
    half = ppm * modules.shape[0] / 2
    quad = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    quad[:, 0] *= 1 + 0.1 * quad[:, 1] / half
    a = np.deg2rad(12.0)
    quad = quad @ np.float32([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) + [640, 360]
    side = screen.shape[0]
    src = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    matrix = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    img = cv2.warpPerspective(screen, matrix, (1280, 720), flags=cv2.INTER_AREA, borderValue=90)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), sigma) + rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("dark", [False, True])
def test_grid_reader_small_blurred_tilted_code(dark: bool) -> None:
    """2.8 px/module with blur sigma 1.2 px: zxing 3.1 and pyzbar alone read neither."""
    chars = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    text = "ML1:" + "".join(np.random.default_rng(1).choice(chars, 585))
    gray = _camera_like(text, 2.8, 1.2)
    decoder = PipelineDecoder(budget_s=None)
    assert decoder.decode(255 - gray if dark else gray) == [text]
    assert decoder.last_stage.startswith("grid")


def test_version_information_words() -> None:
    # ISO/IEC 18004 table D.1: versions 7 and 40.
    assert (version_bits(7), version_bits(40)) == (0x07C94, 0x28C69)


def test_alignment_positions_match_the_standard() -> None:
    from segno import consts

    for version in range(2, 41):
        assert alignment_positions(version) == list(consts.ALIGNMENT_POS[version - 2])
    assert alignment_positions(1) == []


@pytest.mark.parametrize("version", [1, 2, 7, 15, 27, 40])
def test_fixed_modules_match_every_mask(version: int) -> None:
    import segno

    fixed = fixed_modules(version)
    assert fixed.known.shape == (symbol_size(version),) * 2
    for mask in range(8):
        code = segno.make_qr("ML1", version=version, error="m", mask=mask, boost_error=False)
        dark = np.array(code.matrix, bool)
        assert np.array_equal(dark[fixed.known], fixed.dark[fixed.known])


def test_empty_frames_give_nothing() -> None:
    rng = np.random.default_rng(7)
    noise = rng.normal(128, 20, (720, 1280)).clip(0, 255).astype(np.uint8)
    flat = np.full((720, 1280), 90, np.uint8)
    for gray in (noise, flat):
        assert PipelineDecoder(budget_s=None).decode(gray) == []


def test_decode_rejects_colour_frames() -> None:
    with pytest.raises(ValueError):
        decode_gray(np.zeros((10, 10, 3), np.uint8))


def test_remove_moire_removes_stripes_only() -> None:
    yy, xx = np.mgrid[0:256, 0:256]
    stripes = 128 + 40 * np.sin(2 * np.pi * (xx + yy) / 16.0)
    out = remove_moire(stripes.astype(np.uint8)).astype(float)
    assert out.std() < 0.25 * stripes.std()
    blocks = np.kron(np.random.default_rng(1).integers(0, 2, (64, 64)), np.ones((4, 4))) * 200
    assert np.array_equal(remove_moire(blocks.astype(np.uint8)), blocks.astype(np.uint8))


# --------------------------------------------------------------------------- decode command


def _save(tmp_path: Path, name: str, gray: np.ndarray) -> str:
    import cv2

    path = tmp_path / name
    assert cv2.imwrite(str(path), gray)
    return str(path)


def test_decode_cmd_human_and_exit_codes(tmp_path: Path) -> None:
    good = _save(tmp_path, "good.png", _render("ML1:ABC"))
    empty = _save(tmp_path, "empty.png", np.full((720, 1280), 200, np.uint8))
    out, err = io.StringIO(), io.StringIO()
    assert run_decode([good], False, out, err) == 0
    assert out.getvalue() == f"{good}: 1 code\n  ML1:ABC\n"
    out = io.StringIO()
    assert run_decode([good, empty], False, out, err) == 1
    assert f"{empty}: 0 codes\n" in out.getvalue()
    assert err.getvalue() == ""


def test_decode_cmd_json(tmp_path: Path) -> None:
    good = _save(tmp_path, "good.png", _render("ML1:XYZ"))
    out, err = io.StringIO(), io.StringIO()
    assert run_decode([good], True, out, err) == 0
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"input": good, "texts": ["ML1:XYZ"]}
    ]


def test_decode_cmd_unreadable_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.jpg"
    bogus.write_bytes(b"not an image")
    good = _save(tmp_path, "good.png", _render("ML1:OK"))
    out, err = io.StringIO(), io.StringIO()
    code = run_decode([str(bogus), str(tmp_path / "missing.png"), good], False, out, err)
    assert code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: cannot read image") for line in lines)
    assert "Traceback" not in err.getvalue()
    assert out.getvalue().startswith(f"{good}: 1 code")


# --------------------------------------------------------------------------- PWM bands


def _bands(gray: np.ndarray, depth: float, period: float = 110.0) -> np.ndarray:
    """Dark horizontal bands, as an OLED's PWM leaves them under a rolling shutter."""
    import cv2

    rows = np.arange(gray.shape[0], dtype=np.float32)[:, None]
    on = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * rows / period))
    gain = cv2.GaussianBlur(np.repeat(1 - depth * on, gray.shape[1], 1), (0, 0), 6)
    return np.clip(gray.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def test_a_code_under_pwm_bands_is_still_found() -> None:
    """Bands split the texture probe's patch into strips (no region at all); where the frame
    is banded the probe looks again on the frame over its local mean, and the code reads."""
    from verifier.imaging.decoding import TextureProbe, banding

    chars = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    text = "ML1:" + "".join(np.random.default_rng(2).choice(chars, 300))
    gray = _bands(_camera_like(text, 4.0, 0.8), depth=0.6)
    assert banding(gray) >= TextureProbe().band_gate > banding(_camera_like(text, 4.0, 0.8))
    assert TextureProbe(band_gate=0).find(gray) is None  # what the pipeline did before
    assert ZxingDecoder().decode(gray) == []
    decoder = PipelineDecoder(budget_s=None)
    assert decoder.decode(gray) == [text]
    assert decoder.last_stage.startswith("grid")


def test_bands_alone_are_no_code() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(128, 20, (720, 1280)).clip(0, 255).astype(np.uint8)
    assert PipelineDecoder(budget_s=None).decode(_bands(noise, 0.6)) == []
