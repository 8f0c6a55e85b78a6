"""Camera pixels per QR module for the Pi camera modules, modes and zooms (issue 16, item 2).

Run from the repository root: ``python bench/camera_geometry.py [--code-mm 50]``. Pure
arithmetic (pinhole camera, sensor data from the Raspberry Pi camera documentation), no
hardware: it prints the table README "The camera" quotes.

Pixels per module at distance d (mm) for a frame ``out_w`` px wide made from a centred crop
of a sensor mode: the sensor sees ``f / (pixel * d)`` native pixels per mm; the mode bins
``b`` of them into one; the crop is ``mode_w / zoom`` mode pixels across, scaled to
``out_w`` (never more than 1:1, upscaling adds no detail). A module is ``code_mm / modules``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    camera: str
    sensor: str
    focal_mm: float
    pixel_um: float
    width: int  # mode width in mode pixels
    height: int
    binning: int
    fps: float
    zoom: float


#: Camera Module v2 (IMX219: 3280x2464, 1.12 um, f = 3.04 mm) and Camera Module 3 (IMX708:
#: 4608x2592, 1.4 um, f = 4.74 mm); modes as libcamera lists them (picamera2 sensor_modes).
MODES = [
    Mode("v2", "IMX219", 3.04, 1.12, 1640, 1232, 2, 41.8, 1.0),
    Mode("v2", "IMX219", 3.04, 1.12, 1920, 1080, 1, 47.6, 1.0),
    Mode("v2", "IMX219", 3.04, 1.12, 1920, 1080, 1, 47.6, 1.25),
    Mode("v2", "IMX219", 3.04, 1.12, 1920, 1080, 1, 47.6, 1.5),
    Mode("3", "IMX708", 4.74, 1.4, 2304, 1296, 2, 56.0, 1.0),
    Mode("3", "IMX708", 4.74, 1.4, 2304, 1296, 2, 56.0, 1.8),
    Mode("3", "IMX708", 4.74, 1.4, 4608, 2592, 1, 14.3, 2.4),
]


def px_per_mm(mode: Mode, distance_mm: float, out_w: int) -> float:
    native = mode.focal_mm / (mode.pixel_um / 1000 * distance_mm)
    scale = min(1.0, out_w * mode.zoom / mode.width)
    return native / mode.binning * scale


def field_mm(mode: Mode, distance_mm: float, out_w: int, out_h: int) -> tuple[float, float]:
    """Width and height (mm) of what the frame shows at that distance."""
    per_mode_px = mode.focal_mm / (mode.pixel_um / 1000 * distance_mm) / mode.binning
    crop_w = mode.width / mode.zoom
    return crop_w / per_mode_px, crop_w * out_h / out_w / per_mode_px


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-mm", type=float, default=50.0, help="code width on the phone")
    parser.add_argument("--size", default="1280x720", help="frame size asked for")
    args = parser.parse_args(argv)
    out_w, out_h = (int(v) for v in args.size.split("x"))
    distances = (200, 250, 300, 400)
    versions = {15: 77, 27: 125}
    print(f"Code {args.code_mm:.0f} mm across; frame {out_w}x{out_h}.\n")
    head = " | ".join(f"v27 at {d // 10} cm" for d in distances)
    print(
        f"| module | mode | fps | zoom | {head} | v15 at 30 cm | field at 30 cm (mm) | "
        "v27 >= 3 px/module up to |"
    )
    print("|---|---|---|---|" + "---|" * len(distances) + "---|---|---|")
    for mode in MODES:
        cells = [
            f"{px_per_mm(mode, d, out_w) * args.code_mm / versions[27]:.2f}" for d in distances
        ]
        v15 = px_per_mm(mode, 300, out_w) * args.code_mm / versions[15]
        fw, fh = field_mm(mode, 300, out_w, out_h)
        # px/module falls as 1/d: the distance where it is 3.
        reach = 300 * px_per_mm(mode, 300, out_w) * args.code_mm / versions[27] / 3
        print(
            f"| {mode.camera} ({mode.sensor}) | {mode.width}x{mode.height} | {mode.fps:g} | "
            f"{mode.zoom:g} | {' | '.join(cells)} | {v15:.2f} | {fw:.0f} x {fh:.0f} | "
            f"{reach / 10:.0f} cm |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
