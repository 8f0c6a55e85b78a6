"""Decode benchmark: corpus read rate and speed, empty-frame cost, time to verdict.

Run from the repository root: ``.venv/bin/python bench/bench_decode.py`` (``--help``).
Prints Markdown tables; ``--output bench/RESULTS.md`` also writes them with machine info.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verifier.imaging.decoding import (  # noqa: E402
    Decoder,
    OpenCVDecoder,
    PipelineDecoder,
    PyzbarDecoder,
    TextureProbe,
    ZxingDecoder,
    load_gray,
)

FPS = 30.0
BASELINE = "pyzbar-plain"


# --------------------------------------------------------------------------- helpers


def timed(decoder: Decoder, gray: np.ndarray) -> tuple[list[str], float]:
    start = time.perf_counter()
    texts = decoder.decode(gray)
    return texts, (time.perf_counter() - start) * 1000


def pct(values: Iterable[float], q: float) -> float:
    return float(np.percentile(list(values), q))


def ratio(value: float, base: float) -> str:
    if not (0 < base < float("inf")) or value == float("inf"):
        return "n/a"
    return f"{value / base:.2f}x"


def make_decoders(with_opencv: bool) -> dict[str, Decoder]:
    decoders: dict[str, Decoder] = {
        BASELINE: PyzbarDecoder(invert=False),
        "zxing": ZxingDecoder(),
        "pipeline": PipelineDecoder(),
    }
    if with_opencv:
        decoders["opencv"] = OpenCVDecoder()
    return decoders


# --------------------------------------------------------------------------- (a) corpus


@dataclass
class CorpusRow:
    name: str
    correct: dict[str, int]
    totals: dict[str, int]
    wrong: int
    ms: list[float]
    stages: dict[str, int] = field(default_factory=dict)  # pipeline: frames read per stage


def bench_corpus(corpus: Path, decoders: dict[str, Decoder], repeat: int) -> list[CorpusRow]:
    """Read counts from the first run of each frame; its time is the fastest of ``repeat``."""
    frames = json.loads((corpus / "manifest.json").read_text())["frames"]
    grays = [(f, load_gray(corpus / f["image"])) for f in frames]
    rows = []
    for name, decoder in decoders.items():
        row = CorpusRow(name, {}, {}, 0, [])
        for frame, gray in grays:
            texts, ms = timed(decoder, gray)
            stage = getattr(decoder, "last_stage", "")
            ms = min([ms] + [timed(decoder, gray)[1] for _ in range(repeat - 1)])
            tier = frame["tier"]
            row.totals[tier] = row.totals.get(tier, 0) + 1
            row.correct[tier] = row.correct.get(tier, 0) + (frame["text"] in texts)
            row.wrong += any(t != frame["text"] for t in texts)
            row.ms.append(ms)
            if frame["text"] in texts and stage:
                row.stages[stage] = row.stages.get(stage, 0) + 1
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- (b) empty frames


def synth_empty_frames(corpus: Path | None, count: int, seed: int = 1) -> list[np.ndarray]:
    """Camera-like frames without a code: gradients, noise, stripes, text, shapes, and corpus
    frames shifted with the code area painted over."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = 720, 1280
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(count):
        base = 90 + 50 * np.sin(xx / rng.uniform(150, 400) + i) + 40 * np.cos(yy / 170)
        base += 8 * np.sin((xx * np.cos(i) + yy * np.sin(i)) / rng.uniform(1.5, 3.0))  # moire
        img = np.clip(base + rng.normal(0, 5, (h, w)), 0, 255).astype(np.uint8)
        kind = i % 4
        if kind == 1:  # printed text, a poster on the wall
            for k in range(25):
                org = (int(rng.integers(0, 1100)), int(rng.integers(20, 700)))
                scale = float(rng.uniform(0.5, 1.8))
                cv2.putText(
                    img,
                    f"Legitymacja studencka {k}",
                    org,
                    cv2.FONT_HERSHEY_SIMPLEX,
                    scale,
                    int(rng.integers(0, 255)),
                    2,
                )
        elif kind == 2:  # furniture: random boxes
            for _ in range(15):
                p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                cv2.rectangle(img, p1, p2, int(rng.integers(0, 255)), -1)
        elif kind == 3:  # a phone with a blank, bright screen held up
            centre = (float(rng.uniform(400, 880)), float(rng.uniform(250, 470)))
            box = cv2.boxPoints((centre, (300, 520), float(rng.uniform(-30, 30)))).astype(np.int32)
            cv2.fillConvexPoly(img, box, 40)
            inner = cv2.boxPoints((centre, (270, 480), 0.0)).astype(np.int32)
            cv2.fillConvexPoly(img, inner, 210)
        frames.append(cv2.GaussianBlur(img, (0, 0), 0.8))
    if corpus is not None and (corpus / "manifest.json").is_file():
        frames.extend(_masked_corpus_frames(corpus, rng))
    return frames


def _masked_corpus_frames(corpus: Path, rng: np.random.Generator) -> list[np.ndarray]:
    import cv2

    probe = TextureProbe()
    out = []
    manifest = json.loads((corpus / "manifest.json").read_text())["frames"]
    for frame in manifest[::4]:
        gray = load_gray(corpus / frame["image"])
        corners = probe.find(gray)
        if corners is None:
            continue
        centre = corners.mean(axis=0)
        grown = (centre + (corners - centre) * 1.25).astype(np.int32)
        fill = int(np.median(gray))
        masked = gray.copy()
        cv2.fillConvexPoly(masked, grown, fill)
        shift = np.float32([[1, 0, rng.integers(-120, 120)], [0, 1, rng.integers(-60, 60)]])
        out.append(cv2.warpAffine(masked, shift, (1280, 720), borderMode=cv2.BORDER_REFLECT))
    return out


# --------------------------------------------------------------------------- (c) approach clip


def render_code(text: str) -> np.ndarray:
    """The code's modules (1 = dark), with a 4-module quiet zone, as segno would put it on
    a phone screen."""
    import segno

    return np.pad(np.array(segno.make(text, micro=False).matrix, dtype=np.uint8), 4)


FRAMES, HOLD = 60, 45  # approach and hold, at FPS


def approach_clip(text: str, seed: int, frames: int = FRAMES, hold: int = HOLD) -> list[np.ndarray]:
    """A phone brought towards the camera over ``frames`` frames at 30 fps, then held.

    The code grows from ~1 to ~4.5 camera pixels per module while focus improves, then stays
    there (with hand jitter) for ``hold`` frames; tilted screen, display stripes, sensor noise
    and JPEG artefacts throughout.
    """
    import cv2

    rng = np.random.default_rng(seed)
    modules = render_code(text)
    n = modules.shape[0]
    screen = np.where(np.kron(modules, np.ones((8, 8), np.uint8)) > 0, 70, 205).astype(np.uint8)
    screen = np.pad(screen, 60, constant_values=205)
    side = screen.shape[0]
    yy, xx = np.mgrid[0:720, 0:1280].astype(np.float32)
    background = (70 + 25 * np.sin(xx / 90 + seed) + 20 * np.cos(yy / 130)).astype(np.float32)
    angle = float(rng.uniform(-25, 25))
    tilt = float(rng.uniform(-0.12, 0.12))
    out = []
    for i in range(frames + hold):
        progress = min(1.0, i / (frames - 1))
        ppm = 1.0 + 3.5 * progress  # camera px per module
        sigma = 3.0 - 1.9 * progress  # defocus shrinking as autofocus settles
        size = ppm * (n + 15)  # screen square incl. the margin, in camera px
        centre = np.array([640 + 40 * np.sin(i / 9), 360 + 25 * np.cos(i / 7)])
        rad = np.deg2rad(angle + 3 * np.sin(i / 11))
        rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]])
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * size / 2
        corners[:, 0] *= 1 + tilt * corners[:, 1] / (size / 2)  # keystone: a tilted phone
        dst = (corners @ rot.T + centre).astype(np.float32)
        src = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
        matrix = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(screen, matrix, (1280, 720), flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.ones_like(screen), matrix, (1280, 720)) > 0
        img = np.where(mask, warped.astype(np.float32), background)
        img *= 1 + 0.06 * np.sin((xx * 0.8 + yy * 0.6) / 1.9)  # display moire
        img = cv2.GaussianBlur(img, (0, 0), sigma)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        _ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
        out.append(cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE))
    return out


def time_to_verdict(
    decoder: Decoder, clip: list[np.ndarray], text: str, fps: float = FPS
) -> tuple[float | None, int]:
    """Seconds from the first frame to the first correct decode, as a live loop would see it.

    The decoder always takes the newest frame that has arrived when it gets free, so a
    decoder slower than the frame interval skips frames. Returns (seconds or None, decodes).
    """
    now = 0.0  # when the decoder is free
    decodes = 0
    while True:
        index = int(now * fps + 1e-9)  # the newest frame that has arrived by then
        if index >= len(clip):
            return None, decodes
        texts, ms = timed(decoder, clip[index])
        decodes += 1
        now += ms / 1000
        if text in texts:
            return now, decodes
        now = max(now, (index + 1) / fps)  # nothing newer yet: wait for the next frame


# --------------------------------------------------------------------------- report


def machine_info() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in ("zxing-cpp", "pyzbar", "opencv-python-headless", "numpy"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores ({platform.machine()})",
        f"- Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- {', '.join(versions)}",
    ]


def report(args: argparse.Namespace, emit: Callable[[str], None]) -> None:
    decoders = make_decoders(not args.no_opencv)
    corpus = args.corpus if (args.corpus / "manifest.json").is_file() else None
    emit("## Machine\n")
    for line in machine_info():
        emit(line)

    if corpus is None:
        emit(f"\n(corpus not found at {args.corpus}: section (a) skipped)")
    elif "a" in args.sections:
        rows = bench_corpus(corpus, decoders, args.repeat)
        base = next(r for r in rows if r.name == BASELINE)
        emit(f"\n## (a) Corpus: {sum(base.totals.values())} camera-like frames ({corpus})\n")
        emit(f"Times: per frame the fastest of {args.repeat} runs.\n")
        tiers = list(base.totals)
        head = " | ".join(f"{t} (of {base.totals[t]})" for t in tiers)
        emit(f"| decoder | {head} | all | wrong | median ms | p95 ms | median vs {BASELINE} |")
        emit("|---|" + "---|" * (len(tiers) + 5))
        for r in rows:
            med = statistics.median(r.ms)
            cells = " | ".join(str(r.correct[t]) for t in tiers)
            emit(
                f"| {r.name} | {cells} | {sum(r.correct.values())} | {r.wrong} | {med:.1f} | "
                f"{pct(r.ms, 95):.1f} | {ratio(med, statistics.median(base.ms))} |"
            )
        for r in rows:
            if r.stages:
                shown = ", ".join(f"{k} {v}" for k, v in r.stages.items())
                emit(f"\n{r.name}: frames read per stage: {shown}")

    if "b" in args.sections:
        empty_section(args, corpus, decoders, emit)
    if "c" in args.sections:
        clip_section(args, corpus, decoders, emit)


def empty_section(
    args: argparse.Namespace,
    corpus: Path | None,
    decoders: dict[str, Decoder],
    emit: Callable[[str], None],
) -> None:
    empties = synth_empty_frames(corpus, args.empty)
    emit(f"\n## (b) Frames without a code: {len(empties)} synthetic 1280x720 frames\n")
    emit(
        f"Each frame decoded {args.repeat} times; per frame the fastest run (other processes "
        "on a shared machine only ever add time), then median/p95/max over frames; "
        "all runs' median in the last column.\n"
    )
    emit(
        f"| decoder | median ms | p95 ms | max ms | texts returned | median vs {BASELINE} | "
        "all runs: median / p95 ms |"
    )
    emit("|---|---|---|---|---|---|---|")
    empty_base = None
    for name, decoder in decoders.items():
        runs = [[0.0] * len(empties) for _ in range(args.repeat)]
        found = 0
        for k in range(args.repeat):
            for i, gray in enumerate(empties):
                texts, runs[k][i] = timed(decoder, gray)
                found += len(texts)
        best = [min(col) for col in zip(*runs, strict=True)]
        every = [ms for run in runs for ms in run]
        med = statistics.median(best)
        if empty_base is None:
            empty_base = med
        emit(
            f"| {name} | {med:.2f} | {pct(best, 95):.2f} | {max(best):.1f} | {found} | "
            f"{ratio(med, empty_base)} | {statistics.median(every):.2f} / {pct(every, 95):.2f} |"
        )


def clip_section(
    args: argparse.Namespace,
    corpus: Path | None,
    decoders: dict[str, Decoder],
    emit: Callable[[str], None],
) -> None:
    if corpus is not None:
        manifest = json.loads((corpus / "manifest.json").read_text())["frames"]
        texts = [manifest[i]["text"] for i in range(0, len(manifest), max(1, len(manifest) // 5))]
    else:
        texts = ["ML1:" + "0123456789ABCDEFGHIJ" * 75]
    texts = texts[: args.clips]
    emit(
        f"\n## (c) Phone approaching the camera: {len(texts)} clips at 30 fps, 2 s approach "
        "(~1 to 4.5 px/module, defocus easing) then 1.5 s held\n"
    )
    emit("Time from the first frame to the first correct decode, newest-frame scheduling.\n")
    clip_s = (FRAMES + HOLD) / FPS
    emit(
        f"| decoder | per clip (s) | median s | decodes run | vs {BASELINE}, clips it reads | "
        f"vs {BASELINE}, a miss as {clip_s:.1f} s |"
    )
    emit("|---|---|---|---|---|---|")
    clips = [approach_clip(t, seed) for seed, t in enumerate(texts)]
    base_secs: list[float] | None = None
    for name, decoder in decoders.items():
        results = [time_to_verdict(decoder, c, t) for c, t in zip(clips, texts, strict=True)]
        secs = [s if s is not None else float("inf") for s, _ in results]
        if base_secs is None:
            base_secs = secs
        shown = ", ".join("miss" if s == float("inf") else f"{s:.2f}" for s in secs)
        med = statistics.median(secs)
        med_shown = "miss" if med == float("inf") else f"{med:.2f}"
        runs = sum(n for _, n in results)
        emit(
            f"| {name} | {shown} | {med_shown} | {runs} | {read_ratio(secs, base_secs)} | "
            f"{capped_ratio(secs, base_secs, clip_s)} |"
        )


def read_ratio(secs: list[float], base: list[float]) -> str:
    """Mean of per-clip time ratios over the clips both read (n/a if none)."""
    pairs = [(s, b) for s, b in zip(secs, base, strict=True) if s < float("inf") > b]
    if not pairs:
        return "n/a"
    return f"{statistics.mean(s / b for s, b in pairs):.2f}x (n={len(pairs)})"


def capped_ratio(secs: list[float], base: list[float], cap: float) -> str:
    """Ratio of medians with a miss counted as the clip's length. For the baseline that is
    a lower bound of its real time (it may never read), so this ratio is an upper bound."""
    capped = [min(s, cap) for s in secs]
    base_capped = [min(b, cap) for b in base]
    return ratio(statistics.median(capped), statistics.median(base_capped))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=REPO.parent / "shared" / "corpus",
        help="the shared corpus directory (default: ../shared/corpus from the repo root)",
    )
    parser.add_argument("--empty", type=int, default=24, help="synthetic empty frames")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per corpus and empty frame (fastest kept)"
    )
    parser.add_argument("--clips", type=int, default=5, help="approach clips")
    parser.add_argument("--no-opencv", action="store_true", help="skip OpenCV QRCodeDetector")
    parser.add_argument("--output", type=Path, help="also write the report here (Markdown)")
    parser.add_argument(
        "--sections", default="abc", help="which sections to run (default abc: all)"
    )
    args = parser.parse_args(argv)

    lines: list[str] = []

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    report(args, emit)
    if args.output:
        args.output.write_text("# Decode benchmark\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
