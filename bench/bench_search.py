"""Candidate search (issue 16, item 4): regions found and codes read per condition, and the
cost on empty scenes, for the pipeline with and without the finder-pattern search.

Run from the repository root: ``.venv/bin/python bench/bench_search.py`` (``--help``).
Frames: ``bench/phonesim.py`` when it is there (the shared generator; ``--frames own`` forces
``bench/search_frames.py``). Both decoders run without a time budget (the work cap holds),
so reads do not depend on this machine's load; times are CPU time of this thread
(``time.thread_time``) with OpenCV held to one thread, so they count all the work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "bench"))

from verifier.imaging.decoding import PipelineDecoder, zxing_read  # noqa: E402

CONDITIONS = ("baseline", "tilt30", "tilt40", "tilt50", "glare", "saturating", "sun", "night")
TEXTS = {15: "ML1:" + "0123456789ABCDEFGHIJ" * 20, 27: "ML1:" + "0123456789ABCDEFGHIJ" * 75}


def decoders() -> dict[str, PipelineDecoder]:
    return {
        "before (texture probe)": PipelineDecoder(budget_s=None, finders=False),
        "after (+ finder search)": PipelineDecoder(budget_s=None),
    }


def own_frames(condition: str, version: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from search_frames import code_frames

    return code_frames(
        condition, TEXTS[version][: 300 if version == 15 else 1500], version, count, seed=version
    )


def _inside(point: np.ndarray, quad: np.ndarray) -> bool:
    import cv2

    return (
        cv2.pointPolygonTest(quad.astype(np.float32), (float(point[0]), float(point[1])), False)
        >= 0
    )


def _area(quad: np.ndarray) -> float:
    x, y = quad[:, 0].astype(np.float64), quad[:, 1].astype(np.float64)
    return abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1))) / 2


def found(region: np.ndarray, truth: np.ndarray) -> bool:
    """A region on the symbol: its centre inside the true outline and the true centre inside
    it, areas within 2x of each other."""
    ratio = _area(region) / max(_area(truth), 1.0)
    return (
        _inside(region.mean(axis=0), truth)
        and _inside(truth.mean(axis=0), region)
        and 0.5 <= ratio <= 2.0
    )


def cpu_ms(func: Callable[[], object]) -> tuple[object, float]:
    start = time.thread_time()
    out = func()
    return out, (time.thread_time() - start) * 1000


def condition_rows(
    frames: Callable[[str, int, int], list[tuple[np.ndarray, np.ndarray]]],
    count: int,
    conditions: tuple[str, ...],
) -> list[str]:
    lines = [
        "| condition | frames | zxing alone read | "
        + " | ".join(f"{name}: region found, read" for name in decoders())
        + " | ms median / p95 (after) |",
        "|---|---|---|" + "---|" * len(decoders()) + "---|",
    ]
    for condition in conditions:
        tally = {name: [0, 0] for name in decoders()}
        zx, total, times = 0, 0, []
        for version in (15, 27):
            text = TEXTS[version][: 300 if version == 15 else 1500]
            for gray, truth in frames(condition, version, count):
                total += 1
                results = zxing_read(gray, errors=True, invert=False)
                zx += any(r.valid and r.text == text for r in results)
                for name, decoder in decoders().items():
                    regions = list(decoder.regions(gray, results))
                    tally[name][0] += any(found(r.corners, truth) for r in regions)
                    texts, ms = cpu_ms(lambda d=decoder, g=gray: d.decode(g))
                    tally[name][1] += text in texts  # type: ignore[operator]
                    if name.startswith("after"):
                        times.append(ms)
        cells = " | ".join(
            f"{f} ({f / total:.0%}), {r} ({r / total:.0%})" for f, r in tally.values()
        )
        lines.append(
            f"| {condition} | {total} | {zx} ({zx / total:.0%}) | {cells} | "
            f"{statistics.median(times):.0f} / {np.percentile(times, 95):.0f} |"
        )
    return lines


def empty_frames(count: int) -> list[tuple[str, np.ndarray]]:
    """bench_decode's code-free frames, and textured scenes: keyboards, tiles, a grid of
    squares with squares inside (finder-like), printed text."""
    import cv2
    from bench_decode import synth_empty_frames

    corpus = REPO.parent / "shared" / "corpus"
    out = [("bench_decode", f) for f in synth_empty_frames(corpus, count)]
    rng = np.random.default_rng(7)
    for i in range(count):
        img = np.full((720, 1280), 120, np.uint8)
        kind = i % 3
        if kind == 0:  # a keyboard: rows of keys with letters
            for r in range(6):
                for c in range(18):
                    x, y = 40 + c * 68, 120 + r * 80
                    cv2.rectangle(img, (x, y), (x + 60, y + 70), 40, -1)
                    cv2.rectangle(img, (x + 4, y + 4), (x + 56, y + 62), 70, -1)
                    cv2.putText(
                        img,
                        chr(65 + (r * 18 + c) % 26),
                        (x + 16, y + 48),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        1.2,
                        230,
                        2,
                    )
        elif kind == 1:  # floor tiles with grout, at an angle
            tile = int(rng.integers(30, 90))
            yy, xx = np.mgrid[0:720, 0:1280]
            a = rng.uniform(0, np.pi)
            u = (xx * np.cos(a) + yy * np.sin(a)) % tile
            v = (-xx * np.sin(a) + yy * np.cos(a)) % tile
            img = np.where((u < 4) | (v < 4), 60, 190).astype(np.uint8)
        else:  # nested squares everywhere (finder-like), random sizes
            img = np.full((720, 1280), 210, np.uint8)
            for _ in range(60):
                size = int(rng.integers(14, 80))
                x, y = int(rng.integers(0, 1240)), int(rng.integers(0, 680))
                for k, value in ((0, 20), (1, 210), (2, 20)):
                    a = k * size // 7
                    cv2.rectangle(img, (x + a, y + a), (x + size - a, y + size - a), value, -1)
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        out.append(("textured", img))
    return out


def empty_rows(count: int) -> list[str]:
    lines = [
        "| frames | decoder | with a region | texts | work units median / max | "
        "CPU ms median / p95 / max |",
        "|---|---|---|---|---|---|",
    ]
    frames = empty_frames(count)
    for kind in ("bench_decode", "textured"):
        subset = [f for k, f in frames if k == kind]
        for name, decoder in decoders().items():
            times, works, regions, texts = [], [], 0, 0
            for gray in subset:
                out, ms = cpu_ms(lambda d=decoder, g=gray: d.decode(g))
                times.append(ms)
                works.append(decoder.last_work)
                texts += bool(out)
                results = zxing_read(gray, errors=True, invert=False)
                regions += any(True for _ in decoder.regions(gray, results))
            lines.append(
                f"| {kind} ({len(subset)}) | {name} | {regions} | {texts} | "
                f"{statistics.median(works):.0f} / {max(works)} | "
                f"{statistics.median(times):.1f} / {np.percentile(times, 95):.1f} / "
                f"{max(times):.1f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    import cv2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10, help="frames per condition and version")
    parser.add_argument("--empty", type=int, default=30, help="empty frames of each kind")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--frames", choices=["auto", "own"], default="auto")
    parser.add_argument("--sections", default="12")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    frames = own_frames
    if args.frames == "auto":
        try:
            from phonesim_adapter import phonesim_frames  # type: ignore[import-not-found]

            frames = phonesim_frames
        except ImportError:
            pass
    conditions = tuple(c for c in args.conditions.split(",") if c)
    if "1" in args.sections:
        print(f"## Code frames per condition ({frames.__module__})\n")
        print("\n".join(condition_rows(frames, args.count, conditions)))
    if "2" in args.sections:
        print("\n## Empty scenes\n")
        print("\n".join(empty_rows(args.empty)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
