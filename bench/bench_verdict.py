"""From the camera frame to the verdict on the inspector's screen: how long, and where it goes.

Run: ``.venv/bin/python bench/bench_verdict.py [--shows 20]``

The real ``InspectorApp`` runs headless (Textual's ``run_test``) with the real camera service
(``SourceScanner``: grabber and decoder threads, newest frame only) reading a fake 30 fps camera
that shows an empty 1280x720 frame, then a phone's code (the demo's valid student, a fresh
presentation each time, so every showing is a new code), then nothing
again. Measured per showing: from the moment the camera delivers the first frame with the code
to the moment the app holds the verdict (``submit_texts`` returned on the UI thread). Baselines
in the same run: the pipeline's decode of the same frame alone, and ``check_texts`` alone
(base45, zlib, CBOR, two ES256 signatures, the policy). The end-to-end figure includes up to
one frame interval of waiting (the decoder may be busy with the previous empty frame).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time

import numpy as np

from issuer_stub.demo import build_world, qr_frame
from verifier.core.reasons import Verdict
from verifier.device.clock import SystemClock
from verifier.imaging.camera.base import Frame
from verifier.imaging.decoding import PipelineDecoder
from verifier.imaging.pipeline import check_texts
from verifier.ui.app import InspectorApp
from verifier.ui.feedback import NoFeedback
from verifier.ui.services import Services, SourceScanner

FPS = 30.0
EMPTY = np.full((720, 1280), 128, np.uint8)


class ShowingCamera:
    """A 30 fps camera; ``show(frame)`` puts a code in view, ``hide()`` takes it away."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame = EMPTY
        self.code_visible_at: float | None = None
        self._next = time.monotonic()

    def show(self, frame: np.ndarray) -> None:
        with self._lock:
            self._frame, self.code_visible_at = frame, None

    def hide(self) -> None:
        with self._lock:
            self._frame = EMPTY

    def read(self) -> Frame:
        self._next += 1 / FPS
        time.sleep(max(0.0, self._next - time.monotonic()))
        with self._lock:
            frame = self._frame
            now = time.monotonic()
            if frame is not EMPTY and self.code_visible_at is None:
                self.code_visible_at = now  # the first frame that carries the code
        return Frame(frame, now)

    def close(self) -> None:
        return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(shows: int) -> dict[str, list[float]]:
    clock = SystemClock()
    world = build_world(clock.now())
    valid = world.cases[0]
    assert valid.expect_verdict is Verdict.VALID
    camera = ShowingCamera()
    services = Services(
        load_trust=world.trust_data,
        clock=clock,
        feedback=NoFeedback(),
        scanner=SourceScanner(lambda: camera),
    )
    app = InspectorApp(services, language="en", clear_after=3600)
    verdict_at: list[float] = []
    submit = app.submit_texts

    def timed_submit(texts: list[str]):  # type: ignore[no-untyped-def]
        result = submit(texts)
        verdict_at.append(time.monotonic())
        return result

    app.submit_texts = timed_submit  # type: ignore[method-assign]
    end_to_end: list[float] = []
    decode_only: list[float] = []
    verify_only: list[float] = []
    decoder = PipelineDecoder()
    data = world.trust_data()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(1.0)  # the camera service is up and decoding empty frames
        base = clock.now()
        for n in range(shows):
            # A new code each time (signatures are deterministic: a new time makes a new text;
            # the scan loop rightly does not re-announce the same text within 5 s).
            text = valid.present(base - n)
            frame = qr_frame(text)
            started = time.perf_counter()
            texts = decoder.decode(frame)
            decode_only.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = check_texts(texts, data, clock.now())
            verify_only.append(time.perf_counter() - started)
            assert result.verdict is Verdict.VALID, result.reason
            verdict_at.clear()
            camera.show(frame)
            for _ in range(400):
                await pilot.pause(0.005)
                if verdict_at:
                    break
            assert verdict_at and camera.code_visible_at is not None, (
                f"no verdict: {verdict_at} {camera.code_visible_at} {app.camera_state} {app.fps}"
            )
            assert app.result is not None and app.result.verdict is Verdict.VALID
            end_to_end.append(verdict_at[0] - camera.code_visible_at)
            camera.hide()
            await pilot.pause(0.4)
    return {"decode only (pipeline)": decode_only, "verify only (check_texts)": verify_only,
            "frame -> verdict in the app": end_to_end}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shows", type=int, default=20, help="at most 40 (codes stay fresh)")
    args = parser.parse_args(argv)
    if not 1 <= args.shows <= 40:
        parser.error("--shows must be between 1 and 40")
    figures = asyncio.run(measure(args.shows))
    base = statistics.median(figures["decode only (pipeline)"])
    print(f"{args.shows} showings of a valid code, camera at {FPS:.0f} fps, 1280x720")
    print("| step | median ms | p95 ms | median vs decode only |")
    print("|---|---|---|---|")
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"| {name} | {median * 1000:.1f} | {percentile(values, 0.95) * 1000:.1f} | "
              f"{median / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
