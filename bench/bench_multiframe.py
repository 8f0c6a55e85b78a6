"""Combining frames (issue 16 item 3): reads and time to verdict with and without it.

Run from the repository root: ``.venv/bin/python bench/bench_multiframe.py`` (``--help``).

Per clip condition, for zxing alone, the pipeline, and the pipeline with frames combined
(``verifier.imaging.multiframe``: averaging vs voting, K frames, refitting every frame's
grid vs tracking the last one), each variant measured on its own:

- frames read: every frame of the clip decoded in order by one decoder (no time budget:
  the figure does not depend on the machine);
- time to first verdict, newest-frame-only (``bench_decode.time_to_verdict``'s schedule) at
  Pi 4 speed: each decode lasts its decoding thread's CPU time x ``--pi`` (4.0; the issue's
  range is 2.6-6), and the pipeline's time budget runs on that scaled clock too (80 ms of
  Pi time is 20 ms of CPU here), as it would on the Pi.

Clips: bench_decode's approach clips (a phone brought to the camera, then held), and clips
of a phone held at arm's length with what moves between frames: ``bench/phonesim.py``'s
``clip(text, cond, frames, seed)`` when that module exists, otherwise this script's own
(hand jitter with sensor noise, rolling PWM bands, moving glare, all three), at QR versions
15 and 27. Then the corpus, frame after frame through one combining decoder: it must read
what the pipeline reads and never return a wrong text.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_decode import FPS, approach_clip  # noqa: E402

from verifier.imaging.decoding import (  # noqa: E402
    Decoder,
    PipelineDecoder,
    ZxingDecoder,
    load_gray,
)
from verifier.imaging.multiframe import MultiFrameDecoder  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
PI4 = 4.0

Factory = Callable[[float | None], Decoder]  # time scale (None: no time budget) -> decoder


def _pipeline(scale: float | None) -> PipelineDecoder:
    if scale is None:
        return PipelineDecoder(budget_s=None)
    base = PipelineDecoder()
    assert base.budget_s is not None
    return PipelineDecoder(
        budget_s=base.budget_s / scale, deadline_s=base.deadline_s / scale, clock=time.thread_time
    )


def variants() -> dict[str, Factory]:
    def multi(**kw: object) -> Factory:
        return lambda scale: MultiFrameDecoder(_pipeline(scale), **kw)  # type: ignore[arg-type]

    return {
        "zxing": lambda scale: ZxingDecoder(),
        "pipeline": _pipeline,
        "+ mean K=6": multi(frames=6, combine="mean"),
        "+ vote K=6": multi(frames=6, combine="vote"),
        "+ mean K=4": multi(frames=4, combine="mean"),
        "+ mean K=8": multi(frames=8, combine="mean"),
        "+ mean K=6 tracked": multi(frames=6, combine="mean", track=True),
        "+ vote K=6 tracked": multi(frames=6, combine="vote", track=True),
        "+ mean K=6 + image stack 4": multi(frames=6, combine="mean", stack=4),
    }


# --------------------------------------------------------------------------- clips


def code_text(version: int, seed: int) -> str:
    """An ML1-like text that makes a version-``version`` QR code at level M (segno)."""
    import segno

    rng = np.random.default_rng(seed)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
    lo, hi = 4, 3000
    while lo < hi:  # the longest text that still fits the version
        mid = (lo + hi + 1) // 2
        text = "ML1:" + "".join(rng.choice(list(alphabet), mid))
        if segno.make(text, error="m", boost_error=False, micro=False).version <= version:
            lo = mid
        else:
            hi = mid - 1
        rng = np.random.default_rng(seed)
    return "ML1:" + "".join(rng.choice(list(alphabet), lo))


HELD = ("noise", "pwm", "glare", "all")


def held_clip(text: str, cond: str, frames: int, seed: int) -> list[np.ndarray]:
    """A phone held at arm's length (~3 camera px a module, mild defocus), hand jitter in
    position, angle and distance, with ``cond`` moving between frames: "noise" (night-like
    sensor noise on a dim screen), "pwm" (an OLED's dark bands rolling down the frame),
    "glare" (a saturating reflection wandering over the symbol), "all" (the three, milder)."""
    import cv2
    import segno

    rng = np.random.default_rng(seed)
    qr = segno.make(text, error="m", boost_error=False, micro=False)
    modules = np.pad(np.array(qr.matrix, dtype=np.uint8), 4)
    n = modules.shape[0]
    dim = cond in ("noise", "all")
    dark, light = (60, 150) if dim else (70, 205)
    screen = np.where(np.kron(modules, np.ones((8, 8), np.uint8)) > 0, dark, light)
    screen = np.pad(screen.astype(np.uint8), 60, constant_values=light)
    side = screen.shape[0]
    h, w = 720, 1280
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    background = (70 + 25 * np.sin(xx / 90 + seed) + 20 * np.cos(yy / 130)).astype(np.float32)
    ppm = min(3.1, 0.9 * h / (n + 15))
    angle, tilt = float(rng.uniform(-20, 20)), float(rng.uniform(-0.1, 0.1))
    centre = np.array([640.0, 360.0])
    band_phase, band_period = float(rng.uniform(0, 1)), float(rng.uniform(90, 160))
    glare_at = rng.uniform(-0.3, 0.3, 2)
    out = []
    for i in range(frames):
        centre += rng.normal(0, 1.5, 2)  # hand jitter: a random walk, ~1.5 px a frame
        size = ppm * (n + 15) * (1 + 0.01 * np.sin(i / 5))
        rad = np.deg2rad(angle + 0.6 * np.sin(i / 4))
        rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]])
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * size / 2
        corners[:, 0] *= 1 + tilt * corners[:, 1] / (size / 2)
        dst = (corners @ rot.T + centre).astype(np.float32)
        src = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
        matrix = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(screen, matrix, (w, h), flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.ones_like(screen), matrix, (w, h)) > 0
        lit = warped.astype(np.float32)
        if cond in ("pwm", "all"):  # the screen's bands roll ~ a third of a period a frame
            depth = 0.45 if cond == "pwm" else 0.35
            phase = (yy[:, :1] / band_period + band_phase + 0.37 * i) % 1.0
            lit *= np.where(phase < 0.4, 1 - depth, 1.0).astype(np.float32)
        img = np.where(mask, lit, background)
        img *= 1 + 0.05 * np.sin((xx * 0.8 + yy * 0.6) / 1.9)  # display moire
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
        if cond in ("glare", "all"):  # a reflection wandering over the screen
            glare_at += rng.normal(0, 0.1, 2)
            glare_at = np.clip(glare_at, -0.4, 0.4)
            gx, gy = centre + glare_at * size
            radius = 0.22 * size
            blob = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius**2))
            img += (230 if cond == "glare" else 150) * blob
        sigma = {"noise": 30.0, "all": 14.0}.get(cond, 5.0)
        img = np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)
        _ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
        out.append(cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE))
    return out


APPROACH = ("noise", "pwm", "glare", "all")


def approach_with(text: str, cond: str, seed: int) -> list[np.ndarray]:
    """bench_decode's approach clip (hand jitter included) with ``cond`` moving between
    frames on top: "noise" (sensor noise, sigma 20), "pwm" (dark bands 45 % deep rolling
    down the frame, a third of a period a frame), "glare" (a bright reflection wandering
    near the symbol's centre), "all" (the three, milder)."""
    rng = np.random.default_rng(1000 + seed)
    frames = approach_clip(text, seed)
    h, w = frames[0].shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period, phase0 = float(rng.uniform(90, 160)), float(rng.uniform(0, 1))
    at = np.array([640.0, 360.0])
    out = []
    for i, frame in enumerate(frames):
        img = frame.astype(np.float32)
        if cond in ("pwm", "all"):
            depth = 0.45 if cond == "pwm" else 0.3
            phase = (yy[:, :1] / period + phase0 + 0.37 * i) % 1.0
            img *= np.where(phase < 0.4, 1 - depth, 1.0).astype(np.float32)
        if cond in ("glare", "all"):
            at = np.clip(at + rng.normal(0, 12, 2), [540, 280], [740, 440])
            blob = np.exp(-((xx - at[0]) ** 2 + (yy - at[1]) ** 2) / (2 * 70.0**2))
            img += (200 if cond == "glare" else 130) * blob
        sigma = {"noise": 20.0, "all": 10.0}.get(cond, 0.0)
        if sigma:
            img += rng.normal(0, sigma, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def clip_maker() -> tuple[str, Callable[[str, str, int, int], list[np.ndarray]], tuple[str, ...]]:
    """(source name, clip(text, cond, frames, seed), conditions): bench/phonesim.py's if
    present, else ``held_clip``."""
    try:
        import phonesim  # type: ignore[import-not-found]
    except ImportError:
        return "bench_multiframe.held_clip", held_clip, HELD
    conds = tuple(getattr(phonesim, "CLIP_CONDITIONS", HELD))
    return "bench/phonesim.py clip()", phonesim.clip, conds


# --------------------------------------------------------------------------- measures


def frames_read(decoder: Decoder, clip: list[np.ndarray], text: str) -> tuple[int, int]:
    """(frames whose decode returned ``text``, frames that returned another text)."""
    good = wrong = 0
    for gray in clip:
        texts = decoder.decode(gray)
        good += text in texts
        wrong += any(t != text for t in texts)
    return good, wrong


def time_to_verdict(
    decoder: Decoder, clip: list[np.ndarray], text: str, scale: float, fps: float = FPS
) -> float | None:
    """Seconds to the first correct decode with newest-frame-only decoding, a decode lasting
    its thread CPU time x ``scale`` (bench_decode.time_to_verdict's schedule)."""
    now = 0.0
    while True:
        index = int(now * fps + 1e-9)
        if index >= len(clip):
            return None
        start = time.thread_time()
        texts = decoder.decode(clip[index])
        now += (time.thread_time() - start) * scale
        if text in texts:
            return now
        now = max(now, (index + 1) / fps)


def measure(
    clips: list[tuple[list[np.ndarray], str]], factories: dict[str, Factory], scale: float
) -> dict[str, tuple[int, int, int, list[float | None]]]:
    """Per variant: (frames read, wrong texts, frames, time to verdict per clip)."""
    out = {}
    for name, make in factories.items():
        good = wrong = total = 0
        secs: list[float | None] = []
        for clip, text in clips:
            g, x = frames_read(make(None), clip, text)
            good, wrong, total = good + g, wrong + x, total + len(clip)
            secs.append(time_to_verdict(make(scale), clip, text, scale))
        out[name] = (good, wrong, total, secs)
    return out


def table(title: str, results: dict, clip_s: float, emit: Callable[[str], None]) -> None:
    emit(f"\n### {title}\n")
    emit(
        "| decoder | frames read | wrong | time to verdict per clip (s) | median s "
        f"(a miss as {clip_s:.1f} s) | vs pipeline |"
    )
    emit("|---|---|---|---|---|---|")
    base = None
    for name, (good, wrong, total, secs) in results.items():
        capped = [clip_s if s is None else min(s, clip_s) for s in secs]
        med = statistics.median(capped)
        if name == "pipeline":
            base = med
        shown = ", ".join("miss" if s is None else f"{s:.2f}" for s in secs)
        vs = f"{med / base:.2f}x" if base and name != "zxing" else "-"
        emit(
            f"| {name} | {good}/{total} ({100 * good / total:.0f} %) | {wrong} | {shown} | "
            f"{med:.2f} | {vs} |"
        )


def corpus_check(emit: Callable[[str], None]) -> None:
    if not (CORPUS / "manifest.json").is_file():
        emit(f"\n(corpus not found at {CORPUS}: skipped)")
        return
    frames = json.loads((CORPUS / "manifest.json").read_text())["frames"]
    grays = [(f["text"], load_gray(CORPUS / f["image"])) for f in frames]
    emit(f"\n### The corpus ({len(grays)} frames) in order, one decoder, no time budget\n")
    emit("| decoder | read | wrong | combined reads |")
    emit("|---|---|---|---|")
    for name, dec in (
        ("pipeline", PipelineDecoder(budget_s=None)),
        ("+ mean K=6", MultiFrameDecoder(PipelineDecoder(budget_s=None), combine="mean")),
        ("+ vote K=6 tracked", MultiFrameDecoder(PipelineDecoder(budget_s=None), track=True)),
    ):
        good = wrong = 0
        for text, gray in grays:
            texts = dec.decode(gray)
            good += text in texts
            wrong += any(t != text for t in texts)
        combined = getattr(dec, "combined_reads", 0)
        emit(f"| {name} | {good}/{len(grays)} | {wrong} | {combined} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5, help="approach clips (0: none)")
    parser.add_argument("--seeds", type=int, default=2, help="held clips per condition/version")
    parser.add_argument("--frames", type=int, default=45, help="frames per held clip (1.5 s)")
    parser.add_argument("--versions", default="15,27")
    parser.add_argument("--conds", default="", help="comma-separated (default: all)")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--pi", type=float, default=PI4, help="CPU time x this = Pi time")
    parser.add_argument("--no-corpus", action="store_true")
    args = parser.parse_args(argv)

    def emit(line: str) -> None:
        print(line, flush=True)

    factories = variants()
    if args.only:
        keep = set(args.only.split(","))
        factories = {k: v for k, v in factories.items() if k in keep or k == "pipeline"}
    emit(f"Decodes timed by thread CPU time x {args.pi} (Pi 4); misses count as the clip length.")
    if args.clips:
        manifest = json.loads((CORPUS / "manifest.json").read_text())["frames"]
        texts = [manifest[i]["text"] for i in range(0, len(manifest), len(manifest) // 5)]
        clips = [(approach_clip(t, seed), t) for seed, t in enumerate(texts[: args.clips])]
        results = measure(clips, factories, args.pi)
        table(f"Approach clips ({len(clips)} x 105 frames)", results, 105 / FPS, emit)
    source, make_clip, conds = clip_maker()
    if args.conds:
        conds = tuple(args.conds.split(","))
    emit(f"\nHeld clips from {source}, {args.frames} frames each, {args.seeds} seed(s).")
    for cond in conds:
        for version in (int(v) for v in args.versions.split(",")):
            clips = []
            for seed in range(args.seeds):
                text = code_text(version, seed)
                clips.append((make_clip(text, cond, args.frames, 100 * version + seed), text))
            results = measure(clips, factories, args.pi)
            table(f"{cond}, version {version}", results, args.frames / FPS, emit)
    if not args.no_corpus:
        corpus_check(emit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
