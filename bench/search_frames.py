"""Frames for the candidate search (issue 16 item 4): a phone screen seen in 3-D.

Used by ``bench_search.py`` when ``bench/phonesim.py`` (the shared frame generator) is not
there, and by the tests. The screen is a plane turned by ``tilt`` degrees about an axis in
it at ``axis`` degrees and rolled by ``roll``, seen by a pinhole camera of a Pi's field of
view (~62 degrees across 1280 px) at the distance that gives ``ppm`` camera pixels per
module at the code's centre; then light (``glare``, ``sun``, ``night``), blur, noise, JPEG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

W, H = 1280, 720
FOCAL = 1060.0  # px: a 62-degree horizontal field of view over 1280 px


@dataclass(frozen=True)
class Scene:
    tilt: float = 0.0  # degrees the screen is turned away from the camera
    axis: float = 0.0  # direction of the tilt axis in the screen, degrees
    roll: float = 0.0  # rotation of the whole phone in the image, degrees
    ppm: float = 3.6  # camera px per module at the code's centre
    light: str = "indoor"  # indoor, glare, saturating, sun, night
    blur: float = 0.9  # Gaussian sigma, px
    dx: float = 0.0  # code centre offset from the frame centre, px
    dy: float = 0.0


def symbol_modules(text: str, version: int | None = None) -> np.ndarray:
    """The code's modules (True = dark), without a quiet zone."""
    import segno

    code = segno.make(text, error="m", micro=False, version=version, boost_error=False)
    return np.array(code.matrix, bool)


def screen_corners(scene: Scene, n: int) -> np.ndarray:
    """Where the symbol's four outer corners (clockwise from top left) land in the frame."""
    half = n / 2
    pts = np.array([[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0]])
    a = np.deg2rad(scene.axis)
    axis = np.array([np.cos(a), np.sin(a), 0.0])
    t = np.deg2rad(scene.tilt)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k  # Rodrigues
    r = np.deg2rad(scene.roll)
    roll = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    world = pts @ (roll @ rot).T
    distance = FOCAL / scene.ppm  # module units: ppm px a module at the centre
    z = distance + world[:, 2]
    x = FOCAL * world[:, 0] / z + W / 2 + scene.dx
    y = FOCAL * world[:, 1] / z + H / 2 + scene.dy
    return np.stack([x, y], axis=1).astype(np.float32)


def render(modules: np.ndarray, scene: Scene, seed: int = 0) -> np.ndarray:
    """A 1280x720 greyscale frame of ``modules`` on a phone screen under ``scene``."""
    import cv2

    rng = np.random.default_rng(seed)
    n = modules.shape[0]
    px = 8
    quiet = 4
    screen = np.pad(modules, quiet)
    big = np.where(np.kron(screen, np.ones((px, px), bool)), 25.0, 235.0).astype(np.float32)
    big = np.pad(big, 6 * px, constant_values=235.0)  # the rest of the screen
    side = big.shape[0]
    margin = (quiet + 6) * px
    corners = screen_corners(scene, n)
    far = side - margin
    src = np.float32([[margin, margin], [far, margin], [far, far], [margin, far]])
    matrix = cv2.getPerspectiveTransform(src, corners)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    background = 80 + 30 * np.sin(xx / 97 + seed) + 25 * np.cos(yy / 61 + seed)
    background += (
        30 * (rng.random((H // 16 + 1, W // 16 + 1)) - 0.5).repeat(16, 0).repeat(16, 1)[:H, :W]
    )
    warped = cv2.warpPerspective(big, matrix, (W, H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones_like(big), matrix, (W, H)) > 0.5
    img = np.where(mask, warped, background).astype(np.float32)
    img *= 1 + 0.05 * np.sin((xx * 0.8 + yy * 0.6) / 1.9)  # display moire
    centre = corners.mean(axis=0)
    size = float(np.linalg.norm(corners[0] - corners[2]))
    noise = 4.0
    if scene.light in ("glare", "saturating"):
        gx, gy = centre + rng.uniform(-0.25, 0.25, 2) * size
        spot = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.22 * size) ** 2))
        img = img * (1 - 0.35 * spot) + spot * (190.0 if scene.light == "glare" else 330.0)
    elif scene.light == "sun":  # daylight on the screen: washed out, bright surround
        img = 150 + 0.35 * img + 40 * np.sin(xx / 300 + yy / 500)
        noise = 3.0
    elif scene.light == "night":  # dim screen, long exposure, high gain
        img = img * 0.16 + 4
        noise = 6.0
    img = cv2.GaussianBlur(img, (0, 0), scene.blur)
    img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    _ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)


def code_frames(
    condition: str, text: str, version: int, count: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` frames of ``condition`` with the code's true outline beside each."""
    rng = np.random.default_rng(seed)
    modules = symbol_modules(text, version)
    out = []
    for i in range(count):
        tilt = {"tilt30": 30.0, "tilt40": 40.0, "tilt50": 50.0}.get(condition, rng.uniform(0, 15))
        light = {"glare": "glare", "saturating": "saturating", "sun": "sun", "night": "night"}.get(
            condition, "indoor"
        )
        for _try in range(100):  # a code held so that it is all in the frame
            scene = Scene(
                tilt=tilt,
                axis=float(rng.uniform(0, 180)),
                roll=float(rng.uniform(-180, 180)),
                ppm=float(rng.uniform(3.2, 4.5)),
                light=light,
                blur=float(rng.uniform(0.6, 1.1)),
                dx=float(rng.uniform(-150, 150)),
                dy=float(rng.uniform(-60, 60)),
            )
            corners = screen_corners(scene, len(modules))
            if (corners.min(axis=0) > 8).all() and (corners.max(axis=0) < [W - 8, H - 8]).all():
                break
        out.append((render(modules, scene, seed * 1000 + i), corners))
    return out
