"""Combining frames (issue 16 item 3): reads and time to verdict with and without it.

Run from the repository root: ``.venv/bin/python bench/bench_multiframe.py`` (``--help``).

Per clip condition, for zxing alone, the pipeline, and the pipeline with frames combined
(``verifier.imaging.multiframe``: averaging vs voting, K frames, refitting every frame's
grid vs tracking the last one), each variant measured on its own:

- frames read: every frame of the clip decoded in order by one decoder (no time budget:
  the figure does not depend on the machine);
- time to first verdict, newest-frame-only (``bench_decode.time_to_verdict``'s schedule) at
  Pi 4 speed: each decode lasts its decoding thread's CPU time x ``--pi`` (4.0; the issue's
  range is 2.6-6; OpenCV's worker threads off so all its work is counted), and the
  pipeline's time budget runs on that scaled clock too (80 ms of Pi time is 20 ms of CPU
  here), as it would on the Pi, and so does the resumable pipeline's ``call_s``. A decoder
  with ``pending`` work is called again at once (as the scan loop does). With ``beside``
  a call lasts the longer of the decoding thread's CPU time and zxing's on its side
  thread: a free second core is assumed (the Pi 4 and Zero 2 W have four).

Clips: bench_decode's approach clips (a phone brought to the camera, then held; every
variant), and phonesim's (``bench/phonesim.py``) clips of a phone held at arm's length in
the issue's hard rows, where noise, PWM bands and glare move between frames, at QR
versions 15 and 27 (the main variants). Then the corpus, frame after frame through one
combining decoder: it must read what the pipeline reads and never return a wrong text.
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
    CALL_S,
    FRAME_WORK,
    STAGE_WORK,
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


def _resumable(scale: float | None, **kw: object) -> PipelineDecoder:
    """``frame_work`` slices, bounded in units only (the same with and without a scale);
    a ``call_s`` runs on the scaled clock (a call's time at Pi speed), as the budget does."""
    kw.setdefault("frame_work", FRAME_WORK)
    call_s = kw.pop("call_s", None)
    if call_s is not None and scale is not None:
        kw.update(call_s=float(call_s) / scale, clock=time.thread_time)  # type: ignore[arg-type]
    return PipelineDecoder(budget_s=None, **kw)  # type: ignore[arg-type]


def _resumables() -> dict[str, Factory]:
    """The resumable pipeline's settings added one by one (``stage_work``, ``call_s``,
    ``beside``), alone and under the combining decoder; the last is the scan loop's."""
    out: dict[str, Factory] = {}
    ms = f"{CALL_S * 1000:.0f} ms"
    for label, kw in (
        (f"stage {STAGE_WORK}", {"stage_work": STAGE_WORK}),
        (f"stage {STAGE_WORK} call {ms}", {"stage_work": STAGE_WORK, "call_s": CALL_S}),
        (
            f"stage {STAGE_WORK} call {ms} beside",
            {"stage_work": STAGE_WORK, "call_s": CALL_S, "beside": True},
        ),
    ):
        out[f"resumable {label}"] = lambda scale, kw=kw: _resumable(scale, **kw)
        out[f"resumable {label} + mean K=6 + stack 4"] = (
            lambda scale, kw=kw: MultiFrameDecoder(_resumable(scale, **kw))
        )
    return out


#: The scan loop's decoder, item 3 + 5 together (``--scanloop``): zxing alone, the pipeline
#: (80 ms budget) and the combining decoder over it (the scan loop's before), the resumable
#: pipeline under the combining decoder as it was, with ``stage_work``, with ``call_s``,
#: and with zxing beside: the last is the scan loop's (``scan_decoder()``).
SCANLOOP = f"resumable stage {STAGE_WORK} call {CALL_S * 1000:.0f} ms beside + mean K=6 + stack 4"
SCANLOOP_VARIANTS = (
    "zxing", "pipeline", "+ mean K=6 + image stack 4", "resumable + mean K=6 + stack 4",
    f"resumable stage {STAGE_WORK} + mean K=6 + stack 4",
    f"resumable stage {STAGE_WORK} call {CALL_S * 1000:.0f} ms + mean K=6 + stack 4",
    SCANLOOP,
)


def variants() -> dict[str, Factory]:
    def multi(**kw: object) -> Factory:
        kw.setdefault("stack", 0)  # each addition on its own
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
        "+ mean K=6 + image stack 4 first": multi(
            frames=6, combine="mean", stack=4, stack_first=True
        ),
        "resumable": _resumable,
        "resumable + mean K=6 + stack 4": lambda scale: MultiFrameDecoder(_resumable(scale)),
        **_resumables(),
    }


#: The variants run on the held clips (all of them on the approach clips).
HELD_VARIANTS = (
    "zxing", "pipeline", "+ mean K=6", "+ vote K=6", "+ mean K=6 tracked",
    "+ mean K=6 + image stack 4", "+ mean K=6 + image stack 4 first",
)


# --------------------------------------------------------------------------- clips


#: phonesim presets with something that moves between frames (noise, PWM bands, glare) or
#: that leaves single frames just short of a read.
PHONESIM_ROWS = ("pwm-low", "night", "glare-strong", "glare-saturating", "sun", "ppm-2.75")


def held_clips(
    version: int, frames: int, seeds: int, rows: tuple[str, ...], cache: Path | None
) -> list[tuple[str, list[tuple[list[np.ndarray], str]]]]:
    """[(row, [(frames, text)] per seed)]: phonesim's held clips, one condition drawn per
    row and seed (hand jitter, PWM phase, glare and noise moving between frames), rendered
    once into ``cache`` if given (rendering costs ~0.4 s a frame)."""
    import phonesim  # type: ignore[import-not-found]

    text = phonesim.ml1_text(version)
    out = []
    for name in rows or PHONESIM_ROWS:
        clips = []
        for seed in range(seeds):
            path = cache / f"{name}-v{version}-s{seed}-{frames}.npy" if cache else None
            if path is not None and path.is_file():
                clips.append((list(np.load(path)), text))
                continue
            cond = phonesim.sample(name, np.random.default_rng([seed, version, 16]))
            grays = phonesim.clip(text, cond, frames=frames, seed=1000 * version + seed)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, np.stack(grays))
            clips.append((grays, text))
        out.append((name, clips))
    return out


# --------------------------------------------------------------------------- measures


def frames_read(
    decoder: Decoder, clip: list[np.ndarray], text: str, cpu: list[float] | None = None
) -> tuple[int, int]:
    """(frames whose decode returned ``text``, frames that returned another text); each
    call's thread CPU ms appended to ``cpu``."""
    good = wrong = 0
    for gray in clip:
        start = time.thread_time()
        texts = decoder.decode(gray)
        if cpu is not None:
            cpu.append(1000 * _call_cpu(decoder, start))
        good += text in texts
        wrong += any(t != text for t in texts)
    return good, wrong


def _call_cpu(decoder: Decoder, start: float) -> float:
    """A call's time in CPU seconds: the decoding thread's since ``start``, or the side
    thread's (``beside``: zxing's pass at the same time on another core) if that was
    longer. Assumes a free second core (the Pi 4 and Zero 2 W have four)."""
    return max(time.thread_time() - start, getattr(decoder, "last_beside_cpu", 0.0))


def time_to_verdict(
    decoder: Decoder, clip: list[np.ndarray], text: str, scale: float, fps: float = FPS
) -> float | None:
    """Seconds to the first correct decode with newest-frame-only decoding, a decode lasting
    its thread CPU time x ``scale`` (bench_decode.time_to_verdict's schedule). A decoder
    with ``pending`` work is called again at once, on the newest frame (the same one if no
    new frame has come), as the scan loop does; otherwise the next frame is waited for."""
    now = 0.0
    while True:
        index = int(now * fps + 1e-9)
        if index >= len(clip):
            return None
        start = time.thread_time()
        texts = decoder.decode(clip[index])
        now += _call_cpu(decoder, start) * scale
        if text in texts:
            return now
        if not getattr(decoder, "pending", False):
            now = max(now, (index + 1) / fps)


#: Per-call thread CPU ms of every call, by variant, over every clip measured (``--scanloop``:
#: the calls of the frames-read pass, each variant as the scan loop would run it, budget on).
CALLS: dict[str, list[float]] = {}
LIVE = False  # --scanloop: frames read with the time budget on the scaled clock


def measure(
    clips: list[tuple[list[np.ndarray], str]], factories: dict[str, Factory], scale: float
) -> dict[str, tuple[int, int, int, list[float | None]]]:
    """Per variant: (frames read, wrong texts, frames, time to verdict per clip)."""
    out = {}
    for name, make in factories.items():
        good = wrong = total = 0
        secs: list[float | None] = []
        for clip, text in clips:
            cpu = CALLS.setdefault(name, [])
            g, x = frames_read(make(scale if LIVE else None), clip, text, cpu)
            good, wrong, total = good + g, wrong + x, total + len(clip)
            secs.append(time_to_verdict(make(scale), clip, text, scale))
        out[name] = (good, wrong, total, secs)
    return out


def call_table(emit: Callable[[str], None], pi: float) -> None:
    """Per-call CPU ms here and at Pi 4 / Zero 2 W speed, over every call measured."""
    emit(f"\n### Per call (every frame of every clip above), CPU ms here and x {pi} / x 8.0\n")
    emit("| decoder | calls | here median / p95 / max | Pi 4 p95 (x2.6-6) / max | Zero 2 W p95 |")
    emit("|---|---|---|---|---|")
    for name, cpu in CALLS.items():
        if not cpu:
            continue
        med, p95, top = statistics.median(cpu), float(np.percentile(cpu, 95)), max(cpu)
        emit(
            f"| {name} | {len(cpu)} | {med:.1f} / {p95:.1f} / {top:.1f} | "
            f"{pi * p95:.0f} ({2.6 * p95:.0f}-{6 * p95:.0f}) / {pi * top:.0f} | {8 * p95:.0f} |"
        )


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
        ("mean K=6 + stack 4 over the pipeline", MultiFrameDecoder(PipelineDecoder(budget_s=None))),
        ("+ vote K=6 tracked", MultiFrameDecoder(
            PipelineDecoder(budget_s=None), combine="vote", stack=0, track=True
        )),
    ):
        good = wrong = 0
        for text, gray in grays:
            texts = dec.decode(gray)
            good += text in texts
            wrong += any(t != text for t in texts)
        combined = getattr(dec, "combined_reads", 0)
        emit(f"| {name} | {good}/{len(grays)} | {wrong} | {combined} |")
    # the scan loop's, over the resumable pipeline: each frame held up to 30 calls (a
    # second), then the next code shown (what is pending must never be read as the next)
    dec = MultiFrameDecoder(
        PipelineDecoder(budget_s=None, frame_work=FRAME_WORK, stage_work=STAGE_WORK)
    )
    good = wrong = 0
    for text, gray in grays:
        for _ in range(30):
            texts = dec.decode(gray)
            wrong += any(t != text for t in texts)
            if texts:
                good += text in texts
                break
    emit(
        f"| the scan loop's (resumable stage {STAGE_WORK} + mean K=6 + stack 4), each held "
        f"up to 30 calls | {good}/{len(grays)} | "
        f"{wrong} | {dec.combined_reads} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=5, help="approach clips (0: none)")
    parser.add_argument("--seeds", type=int, default=1, help="held clips per condition/version")
    parser.add_argument("--frames", type=int, default=45, help="frames per held clip (1.5 s)")
    parser.add_argument("--cache", type=Path, help="keep rendered phonesim clips here")
    parser.add_argument("--all-held", action="store_true", help="every variant on held clips")
    parser.add_argument("--versions", default="15,27")
    parser.add_argument("--conds", default="", help="comma-separated (default: all)")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--pi", type=float, default=PI4, help="CPU time x this = Pi time")
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument(
        "--scanloop", action="store_true",
        help="the scan loop's candidates only (items 3 + 5), frames read with the budget on",
    )
    args = parser.parse_args(argv)
    global LIVE
    import cv2

    cv2.setNumThreads(0)  # all of OpenCV's work on the decoding thread, where it is timed

    def emit(line: str) -> None:
        print(line, flush=True)

    factories = variants()
    if args.scanloop:
        LIVE = True
        factories = {k: factories[k] for k in SCANLOOP_VARIANTS}
        args.all_held = True
    if args.only:  # (any variant, also with --scanloop)
        keep = set(args.only.split(","))
        factories = {k: v for k, v in variants().items() if k in keep or k == "pipeline"}
    emit(f"Decodes timed by thread CPU time x {args.pi} (Pi 4); misses count as the clip length.")
    if args.clips:
        manifest = json.loads((CORPUS / "manifest.json").read_text())["frames"]
        texts = [manifest[i]["text"] for i in range(0, len(manifest), len(manifest) // 5)]
        # more than 5: the texts again with other seeds (the first 5 stay the same)
        clips = [
            (approach_clip(texts[i % len(texts)], i), texts[i % len(texts)])
            for i in range(args.clips)
        ]
        results = measure(clips, factories, args.pi)
        table(f"Approach clips ({len(clips)} x 105 frames)", results, 105 / FPS, emit)
    rows = tuple(args.conds.split(",")) if args.conds else ()
    emit(
        f"\nHeld clips: bench/phonesim.py clip() on one sample() per row and seed, "
        f"{args.frames} frames each, {args.seeds} seed(s)."
    )
    held = factories
    if not args.all_held:  # K and voting are measured on the approach clips
        held = {k: v for k, v in factories.items() if k in HELD_VARIANTS}
    for version in (int(v) for v in args.versions.split(",") if v):
        conds = held_clips(version, args.frames, args.seeds, rows, args.cache)
        for cond, clips in conds:
            results = measure(clips, held, args.pi)
            table(f"{cond}, version {version}", results, args.frames / FPS, emit)
    call_table(emit, args.pi)
    if not args.no_corpus:
        corpus_check(emit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
