"""PWM banding and the candidate search (issue 16, item 4 in part).

Run from the repository root: ``.venv/bin/python bench/bench_banding.py`` (~2 min).

The field frames of issue 16 show an OLED's PWM as dark horizontal bands (a rolling shutter
and an exposure that is no whole number of PWM periods); the texture probe then finds no
region. Here every corpus frame gets square-wave bands (softened, 90-130 rows a period, a
depth of 0.4 or 0.6 of the light) and the pipeline (no time budget) is run with three
candidate searches: the texture probe as it was; the same probe on a locally
contrast-normalised frame (each pixel over the mean of its 41x41 neighbourhood); the
normalised probe wherever the first finds nothing; and that only where the frame shows
row-wise bands (``verifier.imaging.decoding.banding`` at least ``band_gate``), which is
what the pipeline now does. The cost side: how many of the benchmark's code-free frames get
a region (each then costs a finder search or more), and the most work any took.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "bench"))

from bench_decode import synth_empty_frames  # noqa: E402

from verifier.imaging.decoding import (  # noqa: E402
    PipelineDecoder,
    TextureProbe,
    load_gray,
    local_contrast,
)

CORPUS = REPO.parent / "shared" / "corpus"


class NormalisedProbe(TextureProbe):
    """The texture probe on the frame divided by its local mean, always."""

    def find(self, gray: np.ndarray) -> np.ndarray | None:
        return self._find(local_contrast(gray))


class FallbackProbe(TextureProbe):
    """Today's probe, and the normalised one wherever it finds nothing (no gate)."""

    def find(self, gray: np.ndarray) -> np.ndarray | None:
        found = self._find(gray)
        return found if found is not None else self._find(local_contrast(gray))


def banded(gray: np.ndarray, depth: float, period: float, phase: float) -> np.ndarray:
    import cv2

    rows = np.arange(gray.shape[0], dtype=np.float32)[:, None]
    on = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * rows / period + phase))
    gain = cv2.GaussianBlur(np.repeat(1 - depth * on, gray.shape[1], 1), (0, 0), 6)
    return np.clip(gray.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def main() -> int:
    if not (CORPUS / "manifest.json").is_file():
        print(f"corpus not found at {CORPUS}")
        return 1
    frames = json.loads((CORPUS / "manifest.json").read_text())["frames"]
    grays = [(load_gray(CORPUS / f["image"]), f["text"]) for f in frames]
    probes = {
        "texture probe alone (before)": TextureProbe(band_gate=0),
        "normalised, always": NormalisedProbe(),
        "probe, then normalised": FallbackProbe(),
        "probe, then normalised where banded (the pipeline's)": TextureProbe(),
    }
    depths = (0.0, 0.4, 0.6)
    head = " | ".join(f"read, bands {d:g}" if d else "read, no bands" for d in depths)
    print(f"| candidate search | {head} | code-free frames with a region | most work there |")
    print("|---|" + "---|" * (len(depths) + 2))
    empties = synth_empty_frames(CORPUS, 24)
    for name, probe in probes.items():
        decoder = PipelineDecoder(budget_s=None, probe=probe)
        cells = []
        for depth in depths:
            read = 0
            for i, (gray, text) in enumerate(grays):
                frame = banded(gray, depth, 90 + 7 * i % 40, i) if depth else gray
                read += text in decoder.decode(frame)
            cells.append(f"{read} of {len(grays)}")
        works = []
        for gray in empties:
            decoder.decode(gray)
            works.append(decoder.last_work)
        regions = sum(probe.find(g) is not None for g in empties)
        print(f"| {name} | {' | '.join(cells)} | {regions} of {len(empties)} | {max(works)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
