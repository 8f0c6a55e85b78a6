"""Decoder bounds (issue 16, item 1): field frames, work per frame, polish rounds.

Run from the repository root: ``.venv/bin/python bench/bench_bounds.py`` (``--help``).
``--src DIR`` imports ``verifier`` from another checkout (an exported copy of main, say) so
the same script measures the code before a change; a decode that hangs is reported as such
(each field frame is decoded in a child process with a timeout), and figures the older code
has no counter for are shown as "-".

Sections: (1) the two field frames, through ``decode_gray`` (default budget) and without a
time budget; (2) the corpus and the approach clips of ``bench_decode.py`` without a time
budget: read counts, units of work per frame and polish rounds (machine independent), and
time; (3) seeded random and degenerate frames: the most work any took.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FIELD = REPO.parent / "shared" / "field"
CORPUS = REPO.parent / "shared" / "corpus"


def _use_src(src: Path | None) -> None:
    sys.path.insert(0, str(src or REPO))
    sys.path.insert(1, str(REPO / "bench"))


# --------------------------------------------------------------------------- (1) field


def _field_child(src: str | None, path: str, budget: bool, repeat: int, out: Any) -> None:
    _use_src(Path(src) if src else None)
    from verifier.imaging.decoding import PipelineDecoder, load_gray

    gray = load_gray(path)
    decoder = PipelineDecoder() if budget else PipelineDecoder(budget_s=None)
    best, outcome = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            texts = decoder.decode(gray)
            outcome = f"{len(texts)} code(s)" if texts else "no code"
        except Exception as exc:  # the point: report what the old code raised
            outcome = f"raised {type(exc).__module__}.{type(exc).__name__}: {exc}"
        best = min(best, (time.perf_counter() - start) * 1000)
    out.put((outcome, best, getattr(decoder, "last_work", None)))


def field_section(src: Path | None, timeout: float, repeat: int) -> list[str]:
    lines = [
        "| frame | decoder | outcome | fastest ms | work units |",
        "|---|---|---|---|---|",
    ]
    ctx = multiprocessing.get_context("spawn")
    for name in ("decoder-hang-frame.png", "decoder-crash-frame.png"):
        path = FIELD / name
        if not path.is_file():
            lines.append(f"| {name} | - | not present at {FIELD} | - | - |")
            continue
        for budget in (True, False):
            queue = ctx.Queue()
            args = (str(src) if src else None, str(path), budget, repeat, queue)
            child = ctx.Process(target=_field_child, args=args)
            child.start()
            child.join(timeout)
            label = "decode_gray (80 ms budget)" if budget else "no time budget"
            if child.is_alive():
                child.kill()
                child.join()
                lines.append(f"| {name} | {label} | did not return in {timeout:.0f} s | - | - |")
                continue
            outcome, ms, work = queue.get(timeout=5)
            shown = "-" if work is None else str(work)
            lines.append(f"| {name} | {label} | {outcome} | {ms:.1f} | {shown} |")
    return lines


# --------------------------------------------------------------------------- (2) corpus, clips


class PolishCounter:
    """Counts ``polish_grid`` calls and their score evaluations (rounds = (evals - 1) / 16)."""

    def __init__(self, max_rounds: int | None = None) -> None:
        from verifier.imaging import decoding_grid

        self.max_rounds = max_rounds
        self.evals: list[int] = []
        self._module = decoding_grid
        self._real = decoding_grid.polish_grid
        self._has_budget = "budget" in self._real.__code__.co_varnames
        decoding_grid.polish_grid = self._wrapped

    def _wrapped(self, *args: Any, **kwargs: Any) -> Any:
        if not self._has_budget:
            return self._real(*args, **kwargs)
        from verifier.imaging.budget import Budget

        outer = kwargs.pop("budget", None)
        if self.max_rounds is not None:
            kwargs["max_rounds"] = self.max_rounds
        inner = Budget()
        try:
            return self._real(*args, **kwargs, budget=inner)
        finally:
            self.evals.append(inner.work)
            if outer is not None:
                outer.spend(inner.work)

    def rounds(self) -> list[int]:
        return [max(0, (e - 1 + 15) // 16) for e in self.evals]


def _stats(values: list[float]) -> str:
    if not values:
        return "- / - / -"
    return (
        f"{statistics.median(values):.0f} / {float(np.percentile(values, 95)):.0f} / "
        f"{max(values):.0f}"
    )


def frames_section(clips: int, max_rounds: int | None = None) -> list[str]:
    from verifier.imaging.decoding import PipelineDecoder, load_gray

    # bench_decode puts this checkout first on sys.path: import it after ``verifier``.
    approach_clip = importlib.import_module("bench_decode").approach_clip

    counter = PolishCounter(max_rounds)
    sets: list[tuple[str, list[tuple[np.ndarray, str, str]]]] = []
    if (CORPUS / "manifest.json").is_file():
        manifest = json.loads((CORPUS / "manifest.json").read_text())["frames"]
        sets.append(
            (
                f"corpus ({len(manifest)} frames)",
                [(load_gray(CORPUS / f["image"]), f["text"], f["tier"]) for f in manifest],
            )
        )
        texts = [manifest[i]["text"] for i in range(0, len(manifest), max(1, len(manifest) // 5))]
    else:
        texts = ["ML1:" + "0123456789ABCDEFGHIJ" * 75]
    clip_frames = []
    for seed, text in enumerate(texts[:clips]):
        clip_frames += [(g, text, "clip") for g in approach_clip(text, seed)]
    sets.append(
        (f"approach clips ({clips} x {len(clip_frames) // max(clips, 1)} frames)", clip_frames)
    )

    lines = [
        "| frames | read | read per tier | work units median / p95 / max | polish rounds "
        "median / p95 / max (grids polished) | ms median / p95 / max |",
        "|---|---|---|---|---|---|",
    ]
    for label, frames in sets:
        decoder = (
            PipelineDecoder(budget_s=None, max_work=None)
            if _has_work()
            else PipelineDecoder(budget_s=None)
        )
        counter.evals.clear()
        read, tiers, works, times = 0, {}, [], []
        for gray, text, tier in frames:
            start = time.perf_counter()
            found = decoder.decode(gray)
            times.append((time.perf_counter() - start) * 1000)
            ok = text in found
            read += ok
            tiers[tier] = tiers.get(tier, 0) + ok
            if hasattr(decoder, "last_work"):
                works.append(decoder.last_work)
        rounds = counter.rounds()
        per_tier = ", ".join(f"{k} {v}" for k, v in tiers.items()) if len(tiers) > 1 else "-"
        lines.append(
            f"| {label} | {read} | {per_tier} | {_stats(works)} | "
            f"{_stats(rounds)} ({len(rounds)}) | {_stats(times)} |"
        )
    return lines


def _has_work() -> bool:
    from verifier.imaging.decoding import PipelineDecoder

    return hasattr(PipelineDecoder(), "last_work")


# --------------------------------------------------------------------------- (3) random


def random_frames(count: int, seed: int = 3) -> list[np.ndarray]:
    """Noise, flat frames, and frames of finder-like squares at random places (some on top
    of each other, the geometry that made the old grid reader hang or raise)."""
    import cv2

    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        h, w = (720, 1280) if i % 3 else (int(rng.integers(40, 400)), int(rng.integers(40, 400)))
        kind = i % 4
        if kind == 0:
            img = rng.integers(0, 256, (h, w)).astype(np.uint8)
        elif kind == 1:
            img = np.full((h, w), int(rng.integers(0, 256)), np.uint8)
        else:
            img = np.full((h, w), 200, np.uint8)
            for _ in range(int(rng.integers(1, 6))):
                size = int(rng.integers(7, 60))
                x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
                cv2.rectangle(img, (x, y), (x + size, y + size), 20, -1)
                cv2.rectangle(
                    img,
                    (x + size // 7, y + size // 7),
                    (x + 6 * size // 7, y + 6 * size // 7),
                    200,
                    -1,
                )
                cv2.rectangle(
                    img,
                    (x + 2 * size // 7, y + 2 * size // 7),
                    (x + 5 * size // 7, y + 5 * size // 7),
                    20,
                    -1,
                )
            if kind == 3:
                img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 3)))
        frames.append(img)
    return frames


def random_section(count: int) -> list[str]:
    from verifier.imaging.decoding import PipelineDecoder

    if not _has_work():
        return ["(no work counter in this code)"]
    decoder = PipelineDecoder(budget_s=None, max_work=None)
    works, errors = [], 0
    for gray in random_frames(count):
        try:
            decoder.decode(gray)
        except Exception:
            errors += 1
        works.append(decoder.last_work)
    return [
        f"{count} frames: work units median / p95 / max {_stats(works)}; "
        f"exceptions {errors}; regions given up on a geometry error {decoder.geometry_errors}"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, help="import verifier from this checkout instead")
    parser.add_argument("--timeout", type=float, default=20.0, help="per field frame decode, s")
    parser.add_argument(
        "--repeat", type=int, default=3, help="decodes per field frame (fastest kept)"
    )
    parser.add_argument("--clips", type=int, default=5, help="approach clips")
    parser.add_argument("--random", type=int, default=200, help="random frames")
    parser.add_argument("--sections", default="123")
    parser.add_argument(
        "--polish-rounds", type=int, help="override the polish round cap (to measure it)"
    )
    args = parser.parse_args(argv)
    _use_src(args.src)
    if "1" in args.sections:
        print("## (1) Field frames\n")
        print("\n".join(field_section(args.src, args.timeout, args.repeat)))
    if "2" in args.sections:
        print("\n## (2) Corpus and approach clips, no time budget\n")
        print("\n".join(frames_section(args.clips, args.polish_rounds)))
    if "3" in args.sections:
        print("\n## (3) Random and degenerate frames, no time budget, no work cap\n")
        print("\n".join(random_section(args.random)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
