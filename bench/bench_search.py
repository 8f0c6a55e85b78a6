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

#: Issue 16's rows for this item (phonesim preset names), and the baseline.
CONDITIONS = (
    "easy",
    "tilt-30",
    "tilt-40",
    "tilt-50",
    "glare-strong",
    "glare-saturating",
    "sun",
    "night",
)
OWN = {
    "easy": "baseline",
    "tilt-30": "tilt30",
    "tilt-40": "tilt40",
    "tilt-50": "tilt50",
    "glare-strong": "glare",
    "glare-saturating": "saturating",
    "sun": "sun",
    "night": "night",
}
OWN_TEXTS = {15: "ML1:" + "0123456789ABCDEFGHIJ" * 15, 27: "ML1:" + "0123456789ABCDEFGHIJ" * 75}

Frames = Callable[[str, int, int, int], tuple[str, list[tuple[np.ndarray, np.ndarray]]]]


def decoders() -> dict[str, PipelineDecoder]:
    return {
        "before (texture probe)": PipelineDecoder(budget_s=None, finders=False),
        "after (+ finder search)": PipelineDecoder(budget_s=None),
    }


def phonesim_frames(
    condition: str, version: int, count: int, seed: int
) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The text and (frame, code outline) pairs of a phonesim preset row."""
    import phonesim

    text = phonesim.ml1_text(version)
    frames = phonesim.preset_frames(text, condition, count, seed)
    return text, [(gray, phonesim.code_corners(text, cond)) for cond, gray in frames]


def own_frames(
    condition: str, version: int, count: int, seed: int
) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    from search_frames import code_frames

    text = OWN_TEXTS[version]
    return text, code_frames(OWN.get(condition, condition), text, version, count, seed + version)


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


def condition_rows(frames: Frames, count: int, seed: int, conditions: tuple[str, ...]) -> list[str]:
    names = list(decoders())
    lines = [
        "| condition | frames | zxing alone read | "
        + " | ".join(f"{name}: region found, read" for name in names)
        + " | CPU ms median / p95, before | after |",
        "|---|---|---|" + "---|" * len(names) + "---|---|",
    ]
    for condition in conditions:
        tally = {name: [0, 0] for name in names}
        times: dict[str, list[float]] = {name: [] for name in names}
        zx, total = 0, 0
        for version in (15, 27):
            text, pairs = frames(condition, version, count, seed)
            for gray, truth in pairs:
                total += 1
                results = zxing_read(gray, errors=True, invert=False)
                zx += any(r.valid and r.text == text for r in results)
                for name, decoder in decoders().items():
                    regions = list(decoder.regions(gray, results))
                    tally[name][0] += any(found(r.corners, truth) for r in regions)
                    texts, ms = cpu_ms(lambda d=decoder, g=gray: d.decode(g))
                    tally[name][1] += text in texts  # type: ignore[operator]
                    times[name].append(ms)
        cells = " | ".join(
            f"{f} ({f / total:.0%}), {r} ({r / total:.0%})" for f, r in tally.values()
        )
        spent = " | ".join(
            f"{statistics.median(t):.0f} / {np.percentile(t, 95):.0f}" for t in times.values()
        )
        lines.append(f"| {condition} | {total} | {zx} ({zx / total:.0%}) | {cells} | {spent} |")
        print(lines[-1], file=sys.stderr)
    return lines


def empty_frames(count: int) -> list[tuple[str, np.ndarray]]:
    """phonesim's scenes without a code (textured backgrounds, a phone with an app page)
    when it is there; bench_decode's code-free frames; finder-like nested squares."""
    import cv2
    from bench_decode import synth_empty_frames

    out = []
    try:
        import phonesim

        out += [("phonesim", f) for f in phonesim.empty_frames(count)]
    except ImportError:
        pass
    corpus = REPO.parent / "shared" / "corpus"
    out += [("bench_decode", f) for f in synth_empty_frames(corpus, count)]
    rng = np.random.default_rng(7)
    for _ in range(max(1, count // 3)):  # nested squares everywhere (finder-like)
        img = np.full((720, 1280), 210, np.uint8)
        for _ in range(60):
            size = int(rng.integers(14, 80))
            x, y = int(rng.integers(0, 1240)), int(rng.integers(0, 680))
            for k, value in ((0, 20), (1, 210), (2, 20)):
                a = k * size // 7
                cv2.rectangle(img, (x + a, y + a), (x + size - a, y + size - a), value, -1)
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
        out.append(("nested squares", img))
    return out


def empty_rows(count: int) -> list[str]:
    lines = [
        "| frames | decoder | with a region | texts | work units median / max | "
        "CPU ms median / p95 / max |",
        "|---|---|---|---|---|---|",
    ]
    frames = empty_frames(count)
    for kind in dict.fromkeys(k for k, _f in frames):
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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--empty", type=int, default=30, help="empty frames of each kind")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--frames", choices=["auto", "own"], default="auto")
    parser.add_argument("--sections", default="12")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    frames: Frames = own_frames
    if args.frames == "auto" and (REPO / "bench" / "phonesim.py").is_file():
        frames = phonesim_frames
    conditions = tuple(c for c in args.conditions.split(",") if c)
    if "1" in args.sections:
        print(f"## Code frames per condition ({frames.__name__})\n")
        print("\n".join(condition_rows(frames, args.count, args.seed, conditions)))
    if "2" in args.sections:
        print("\n## Empty scenes\n")
        print("\n".join(empty_rows(args.empty)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
