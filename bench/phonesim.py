"""Camera frames of a phone screen showing a QR code: a seeded model of the issue-16 corpus.

Everything is deterministic for a seed. The chain, in linear light:

1. the code's modules on the phone's screen (an app layout around it, dark mode inverts it),
   at the display's own resolution, display gamma 2.2 and a brightness; OLED black is 0, an
   LCD's backlight leaks;
2. the phone in a scene (bezel, a textured background, a thumb over part of the quiet zone),
   the screen's glass reflecting the ambient light;
3. the camera: a pinhole (Pi camera v2 field of view, 62 deg across) looking at the screen
   plane tilted about either axis and rolled, placed so the code centre has ``ppm`` camera px
   per module; the sub-pixel RGB stripe grid integrated over each camera pixel (the moire that
   survives); rolling-shutter skew; OLED PWM flicker as dark horizontal bands (rows integrate
   a duty-cycled screen over a short exposure); a specular glare blob; defocus (Gaussian) and
   motion blur (a line, or a shaken line for a train); auto exposure (centre weighted) with
   analog gain, shot and read noise; sRGB-like output gamma, optional video-range Y (YUV),
   optional JPEG.

``frame(text, cond, seed)`` gives one frame; ``clip(text, *conds, frames, seed)`` consecutive
30 fps frames in which hand jitter, PWM phase, noise and glare move; ``approach_clip`` a phone
brought closer while focus settles. ``PRESETS`` names one row per condition of issue 16, and
``sample(name, rng)`` draws a condition around it. ``ml1_text(15 | 27)`` makes a real signed
ML1 presentation with the issuer stub (fixed keys: the same text every run): 543 characters,
a version-15 code, for a credential without a photo; 1615 characters, version 27, with the
demo portrait (segno, error correction M, alphanumeric, as the wallet renders it).

Run ``python bench/phonesim.py --out DIR`` to write one PNG per preset row for a look.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

import cv2
import numpy as np

FPS = 30.0
HFOV_DEG = 62.2  # Raspberry Pi camera v2 (IMX219), horizontal, full sensor width
DISPLAY_GAMMA = 2.2


@dataclass(frozen=True)
class Condition:
    """One camera frame's conditions. Angles in degrees, lengths in camera pixels."""

    width: int = 1280
    height: int = 720
    ppm: float = 4.0  # camera px per module at the code's centre
    tilt_x: float = 0.0  # about the image's horizontal axis (top edge away from the camera)
    tilt_y: float = 0.0  # about the vertical axis
    roll: float = 0.0
    cx: float = 0.5  # where the code's centre is, as a fraction of the room left in the frame
    cy: float = 0.5
    display: str = "oled"  # "oled" or "lcd"
    screen: tuple[int, int] = (1440, 3200)  # display px, portrait
    code_fill: float = 0.8  # the code (with its quiet zone) across the screen's width
    brightness: float = 1.0  # screen white, 1 = comfortable indoor brightness
    dark_mode: bool = False  # light modules on black
    subpixel: float = 1.0  # depth of the stripe grid (0: a flat panel)
    finger: float = 0.0  # 0 none; else how far into the 4-module quiet zone a thumb reaches
    finger_side: int = 0  # 0..3: left, top, right, bottom of the code
    defocus: float = 0.6  # Gaussian sigma
    motion: float = 0.0  # length
    motion_angle: float = 0.0
    shake: float = 0.0  # train vibration: sideways wobble of the motion path, fraction
    skew: float = 0.0  # rolling shutter: horizontal shift from the top row to the bottom row
    pwm_depth: float = 0.0  # 0 none, 1 rows fully dark at the band's centre
    pwm_period: float = 90.0  # rows of a 720-row frame (same readout time: fewer at 480)
    pwm_duty: float = 0.35  # share of each PWM period the screen is lit
    pwm_phase: float = 0.0  # in periods
    glare: float = 0.0  # peak of the specular blob, in units of the screen's white
    glare_radius: float = 0.25  # sigma, as a fraction of the code's side in the frame
    glare_x: float = 0.0  # its centre from the code's centre, in code sides (-0.5..0.5: on it)
    glare_y: float = 0.0
    ambient: float = 0.35  # illuminance: a white paper's luminance, in units of screen white
    screen_reflect: float = 0.02  # the screen's diffuse reflectance (glass and stack)
    noise: float = 1.0  # multiplies the sensor's shot and read noise
    max_gain: float = 12.0
    video_range: bool = False  # Y in 16..235 as a YUV stream carries it
    jpeg: int | None = None  # quality, or None for the raw Y plane
    scene: int = 0  # background texture: 0 paper with print, 1 desk, 2 keyboard, 3 tiles
    show_code: bool = True  # False: the same phone with an app screen and no code
    decoy: bool = False  # with show_code False: a QR-like block texture with no finders there
    phone: bool = True  # False: the background alone


def interpolate(a: Condition, b: Condition, t: float) -> Condition:
    """Numeric fields blended from ``a`` (t=0) to ``b`` (t=1); the others taken from ``b``."""
    values = {}
    for f in fields(Condition):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(y, float) and isinstance(x, (int, float)) and not isinstance(x, bool):
            values[f.name] = float(x + (y - x) * t)
    return replace(b, **values)


# --------------------------------------------------------------------------- texts


@functools.lru_cache(maxsize=4)
def ml1_text(version: int = 27) -> str:
    """A real ML1 presentation made by the issuer stub with fixed keys: 27 = the demo student
    with a portrait, 15 = the same student without a photo (the two sizes of revision 2).
    Presented at a fixed time, so the text is the same on every run."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from issuer_stub.authority import YEAR, Ministry, University
    from issuer_stub.codesize import portrait_budget
    from issuer_stub.photos import synthetic_portrait
    from issuer_stub.signing import StudentData
    from issuer_stub.wallet import Wallet

    if version not in (15, 27):
        raise ValueError("ml1_text makes version 15 (no photo) or 27 (portrait) codes")
    now = 1_800_000_000
    key = functools.partial(ec.derive_private_key, curve=ec.SECP256R1())
    ministry = Ministry(key=key(1_000_001))
    uni = University("PL-9999", "Politechnika Demonstracyjna", key=key(1_000_002))
    ministry.admit(uni, nbf=now - YEAR, exp=now + YEAR)
    student = StudentData("Anna", "Kowalska", "2004-05-17", "Politechnika Demonstracyjna", "100234")
    if version == 27:
        budget = portrait_budget(student, uni.iss)
        student = replace(student, photo=synthetic_portrait("AnnaKowalska", budget))
    wallet = Wallet(device_key=key(1_000_003))
    wallet.credential = uni.issue(
        student, wallet.public_key, iat=now - 86400, exp=now + 100 * 86400, cti=bytes(range(16))
    )
    return wallet.present(now)


def qr_version(text: str) -> int:
    import segno

    return int(segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False).version)


@functools.lru_cache(maxsize=8)
def modules(text: str) -> np.ndarray:
    """The code's modules (1 = dark) with the 4-module quiet zone, rendered as the wallet does
    (alphanumeric mode, error correction M, ML1 section 4)."""
    import segno

    code = segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False)
    return np.pad(np.array(code.matrix, dtype=np.uint8), 4)


# --------------------------------------------------------------------------- the screen


@dataclass(frozen=True)
class _Screen:
    emission: np.ndarray  # linear light x 65535, display px, phone body included (0 there)
    screen_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the lit screen in the grid
    code_box: tuple[float, float, float, float]  # of the code with its quiet zone
    dppm: float  # display px per module
    levels: dict[int, np.ndarray] = field(default_factory=dict)  # area-averaged copies

    def level(self, k: int) -> np.ndarray:
        """The emission area-averaged by 2**k (so a texel is about a camera pixel)."""
        if k not in self.levels:
            img = self.emission
            for _ in range(k):
                img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2),
                                 interpolation=cv2.INTER_AREA)
            self.levels[k] = img
        return self.levels[k]


@functools.lru_cache(maxsize=12)
def _screen(
    text: str,
    screen: tuple[int, int],
    fill: float,
    dark: bool,
    lcd: bool,
    show_code: bool,
    decoy: bool = False,
) -> _Screen:
    """The phone: an app page around the code, at display resolution, with its bezel."""
    sw, sh = screen
    bezel = int(0.035 * sw)
    w, h = sw + 2 * bezel, sh + 2 * bezel
    bg, fg, card = (8, 225, 8) if dark else (238, 30, 255)
    page = np.full((sh, sw), bg, np.uint8)
    mods = modules(text)
    n = mods.shape[0]
    side = round(fill * sw)
    dppm = side / n
    x0 = (sw - side) // 2
    y0 = int(0.42 * sh - side / 2)
    s = sw / 1080  # layout scale
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(page, "mLegitymacja", (int(60 * s), int(150 * s)), font, 2.2 * s, fg, int(5 * s))
    cv2.rectangle(page, (int(60 * s), int(200 * s)), (int(300 * s), int(480 * s)), 140, -1)
    cv2.circle(page, (int(180 * s), int(300 * s)), int(70 * s), 90 if not dark else 170, -1)
    for k, line in enumerate(("Anna Kowalska", "Politechnika", "Wazna do 31.03.2027")):
        org = (int(340 * s), int((260 + 80 * k) * s))
        cv2.putText(page, line, org, font, 1.3 * s, fg, int(3 * s))
    top = y0 + side + int(60 * s)
    cv2.putText(page, "Kod odswiezy sie za 5 s", (int(150 * s), top), font, 1.4 * s, fg, int(3 * s))
    cv2.rectangle(page, (int(80 * s), top + int(60 * s)), (sw - int(80 * s), top + int(230 * s)),
                  90 if not dark else 60, -1)
    cv2.putText(page, "Pokaz dane", (int(380 * s), top + int(165 * s)), font, 1.6 * s,
                255 if not dark else 220, int(4 * s))
    if show_code:
        big = cv2.resize(mods, (side, side), interpolation=cv2.INTER_NEAREST)
        page[y0:y0 + side, x0:x0 + side] = np.where(big > 0, fg, card)
    elif decoy:  # blocks of the code's size and density, but no finder or timing pattern
        blocks = np.random.default_rng(n).integers(0, 2, (n - 8, n - 8)).astype(np.uint8)
        blocks = cv2.resize(np.pad(blocks, 4), (side, side), interpolation=cv2.INTER_NEAREST)
        page[y0:y0 + side, x0:x0 + side] = np.where(blocks > 0, fg, card)
    else:  # the same app page with a placeholder card where the code would be
        page[y0:y0 + side, x0:x0 + side] = card
        cv2.putText(page, "Brak polaczenia", (x0 + side // 6, y0 + side // 2), font, 1.8 * s,
                    fg, int(4 * s))
    linear = (page.astype(np.float32) / 255.0) ** DISPLAY_GAMMA
    if lcd:  # backlight leak: an LCD's black is not black
        linear = 0.002 + 0.998 * linear
    emission = np.zeros((h, w), np.uint16)
    emission[bezel:bezel + sh, bezel:bezel + sw] = np.rint(linear * 65535).astype(np.uint16)
    return _Screen(
        emission,
        (bezel, bezel, bezel + sw, bezel + sh),
        (bezel + x0, bezel + y0, bezel + x0 + side, bezel + y0 + side),
        dppm,
    )


# --------------------------------------------------------------------------- the scene


_WORDS = ("bilet", "ab", "cdef", "fghij", "klmn", "opq", "rstu", "wxyz")


@functools.lru_cache(maxsize=16)
def _background(kind: int, width: int, height: int, variant: int) -> np.ndarray:
    """A reflectance map behind the phone: printed paper, a desk, a keyboard or tiles."""
    rng = np.random.default_rng(1000 + 17 * kind + variant)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    k = kind % 4
    zoom = (0.6, 1.0, 1.6)[variant % 3]  # the same kind of surface nearer or farther
    if k == 0:  # paper with small print
        img = np.full((height, width), 0.72, np.float32)
        scale = width / 1280
        for row in range(int(height / (22 * scale)) + 1):
            y = int((row + 0.7) * 22 * scale)
            x = int(rng.integers(-200, 40))
            words = " ".join(_WORDS[int(j) % len(_WORDS)] for j in rng.integers(0, 8, 30))
            cv2.putText(img, words, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55 * scale, 0.15, 1)
    elif k == 1:  # a wooden desk
        grain = np.sin(yy / 7.0 + 3 * np.sin(xx / 160.0) + rng.uniform(0, 6))
        img = 0.32 + 0.06 * grain + 0.03 * np.sin(xx / 41.0)
    elif k == 2:  # a keyboard: dark keys with light legends
        img = np.full((height, width), 0.08, np.float32)
        pitch = int(54 * zoom * width / 1280)
        for y in range(0, height, pitch):
            for x in range(-(y // pitch) * pitch // 3, width, pitch):
                cv2.rectangle(img, (x + 4, y + 4), (x + pitch - 4, y + pitch - 4), 0.16, -1)
                ch = chr(int(rng.integers(65, 91)))
                cv2.putText(img, ch, (x + pitch // 3, y + 2 * pitch // 3),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.7 * pitch / 54, 0.7, 2)
    else:  # floor tiles with grout
        pitch = int(96 * zoom * width / 1280)
        tiles = ((xx // pitch + yy // pitch) % 2).astype(np.float32)
        img = 0.45 + 0.1 * tiles
        img[(xx % pitch < 3) | (yy % pitch < 3)] = 0.2
    img = img + rng.normal(0, 0.01, img.shape).astype(np.float32)
    return cv2.GaussianBlur(np.clip(img, 0.02, 0.95).astype(np.float32), (0, 0), 0.7)


def _homography(cond: Condition, scr: _Screen) -> np.ndarray:
    """Screen-grid px -> camera px: the screen plane tilted, rolled, at the distance that gives
    ``ppm`` at the code's centre, then moved so the whole code (quiet zone included) is in the
    frame, at (cx, cy) of the room left. A code that would not fit (a large ppm at a diagonal
    roll) is moved back until it does, as a user aiming at it would: ``ppm`` is an upper
    bound, ``effective_ppm`` tells the value used."""
    f = (cond.width / 2) / math.tan(math.radians(HFOV_DEG / 2))  # 4:3 too: binned, same field
    bx0, by0, bx1, by1 = scr.code_box
    ccx, ccy = (bx0 + bx1) / 2, (by0 + by1) / 2
    ax, ay, az = (math.radians(a) for a in (cond.tilt_x, cond.tilt_y, cond.roll))
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    # plane point (u, v) -> camera 3-D: rot @ (u - ccx, v - ccy, 0) + (0, 0, distance)
    plane = rx @ ry @ rz @ np.array([[1, 0, -ccx], [0, 1, -ccy], [0, 0, 0]], float)
    k = np.array([[f, 0, 0], [0, f, 0], [0, 0, 1.0]])
    corners = np.array([[bx0, by0, 1], [bx1, by0, 1], [bx1, by1, 1], [bx0, by1, 1]], float).T
    limit = np.array([cond.width, cond.height], float) - 8
    distance = f * scr.dppm / max(cond.ppm, 0.2)  # in display px
    for _ in range(4):
        h = k @ (plane + np.array([[0, 0, 0], [0, 0, 0], [0, 0, distance]]))
        p = h @ corners
        p = p[:2] / p[2]
        lo, hi = p.min(axis=1), p.max(axis=1)
        over = float(np.max((hi - lo) / limit))
        if over <= 1.0:
            break
        distance *= over * 1.01
    room = np.array([cond.width, cond.height]) - (hi - lo) - 8
    shift = -lo + 4 + np.maximum(room, 0) * np.array([cond.cx, cond.cy])
    t = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1.0]])
    if cond.skew:  # rolling shutter: later rows see the phone moved sideways
        t = np.array([[1, cond.skew / cond.height, 0], [0, 1, 0], [0, 0, 1.0]]) @ t
    return t @ h


def _screen_for(text: str, cond: Condition) -> _Screen:
    return _screen(text, cond.screen, cond.code_fill, cond.dark_mode, cond.display == "lcd",
                   cond.show_code, cond.decoy and not cond.show_code)


def effective_ppm(text: str, cond: Condition) -> float:
    """Camera px per module at the code's centre in ``frame(text, cond)`` (``cond.ppm``
    unless the code had to be moved back to fit the frame)."""
    scr = _screen_for(text, cond)
    hom = _homography(cond, scr)
    bx0, by0, bx1, by1 = scr.code_box
    c = ((bx0 + bx1) / 2, (by0 + by1) / 2)
    pts = np.float32([[c, (c[0] + scr.dppm, c[1]), (c[0], c[1] + scr.dppm)]])
    a, b, d = cv2.perspectiveTransform(pts, hom)[0]
    (x1, y1), (x2, y2) = b - a, d - a
    return float(math.sqrt(abs(x1 * y2 - x2 * y1)))


def code_corners(text: str, cond: Condition) -> np.ndarray:
    """Camera px of the code's four corners (quiet zone included), as ``frame`` places it."""
    scr = _screen_for(text, replace(cond, show_code=True))
    bx0, by0, bx1, by1 = scr.code_box
    pts = np.float32([[bx0, by0], [bx1, by0], [bx1, by1], [bx0, by1]]).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(pts, _homography(cond, scr)).reshape(4, 2)


# --------------------------------------------------------------------------- optics and sensor


@functools.lru_cache(maxsize=2)
def _stripe_table(lcd: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative luma of one display pixel's R, G, B stripes across the pixel (x) and its
    lit height (y): tables for integrating the grid over a camera pixel's footprint."""
    gap = 0.08 if lcd else 0.12
    xs = np.linspace(0, 1, 301)
    lum = np.zeros_like(xs)
    for c, wgt in enumerate((0.299, 0.587, 0.114)):
        lum += np.where((xs >= c / 3 + gap / 3) & (xs < (c + 1) / 3 - gap / 3), wgt * 3, 0.0)
    ys = np.linspace(0, 1, 301)
    lit = np.where((ys >= gap) & (ys < 1 - gap), 1.0, 0.0)
    return np.cumsum(lum) / len(xs), np.cumsum(lit) / len(ys)


def _box_average(coord: np.ndarray, width: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Mean of a 1-periodic function over [coord - width/2, coord + width/2], from its
    cumulative integral over one period (``table``, sampled on 0..1)."""
    steps = len(table) - 1
    total = float(table[-1])

    def integral(x: np.ndarray) -> np.ndarray:
        whole = np.floor(x)
        return whole * total + table[((x - whole) * steps).astype(np.int32)]

    half = np.maximum(width, 1e-3) * 0.5
    return (integral(coord + half) - integral(coord - half)) / (2 * half * max(total, 1e-6))


def _pwm_profile(cond: Condition, rows: int) -> np.ndarray:
    """Per-row brightness of a PWM-dimmed screen seen by a rolling shutter: each row
    integrates a square wave (lit ``pwm_duty`` of the period) over an exposure of 0.4 period,
    scaled so the band's floor is ``1 - pwm_depth``."""
    period = max(cond.pwm_period * rows / 720, 4.0)
    t = np.arange(rows) / period + cond.pwm_phase
    fine = np.linspace(0, 1, 200, endpoint=False)
    lit = (fine < cond.pwm_duty).astype(np.float32)
    window = max(1, int(0.4 * len(fine)))
    profile = np.convolve(np.concatenate([lit, lit]), np.ones(window) / window, "valid")[:200]
    profile = (profile - profile.min()) / max(profile.max() - profile.min(), 1e-6)
    values = np.interp((t % 1) * 200, np.arange(200), profile)
    return (1 - cond.pwm_depth * (1 - values)).astype(np.float32)


def _motion_kernel(cond: Condition) -> np.ndarray | None:
    if cond.motion < 0.5:
        return None
    size = math.ceil(cond.motion) | 1
    size += 2
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    a = math.radians(cond.motion_angle)
    steps = max(8, int(cond.motion * 4))
    for i in range(steps + 1):
        s = (i / steps - 0.5) * cond.motion
        wob = cond.shake * cond.motion * 0.5 * math.sin(2 * math.pi * 2 * i / steps)
        x = c + s * math.cos(a) - wob * math.sin(a)
        y = c + s * math.sin(a) + wob * math.cos(a)
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                            (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= x0 + dx < size and 0 <= y0 + dy < size:
                kernel[y0 + dy, x0 + dx] += wgt
    return kernel / kernel.sum()


def _exposure(linear: np.ndarray, cond: Condition) -> tuple[float, float]:
    """Centre-weighted auto exposure to a mean of 0.18 of full scale; returns (exposure,
    analog gain). Gain rises above 1 once the exposure time would pass the motion cap."""
    h, w = linear.shape
    yy, xx = np.ogrid[0:h, 0:w]
    weight = np.exp(-(((xx - w / 2) / (0.35 * w)) ** 2 + ((yy - h / 2) / (0.35 * h)) ** 2))
    mean = float((linear[::4, ::4] * weight[::4, ::4]).sum() / weight[::4, ::4].sum())
    exposure = 0.18 / max(mean, 1e-6)
    base = 0.6  # exposure reachable at gain 1 within the motion-blur cap
    gain = min(max(exposure / base, 1.0), cond.max_gain)
    return min(exposure, base * gain), gain


def frame(text: str, cond: Condition, seed: int = 0) -> np.ndarray:
    """One camera frame (uint8 grey, ``cond.height`` x ``cond.width``) of the phone showing
    ``text`` as a QR code under ``cond``; the same seed gives the same frame."""
    rng = np.random.default_rng(seed)
    lcd = cond.display == "lcd"
    scr = _screen_for(text, cond)
    hom = _homography(cond, scr)
    w, h = cond.width, cond.height
    inv = np.linalg.inv(hom)
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    den = inv[2, 0] * xx + inv[2, 1] * yy + inv[2, 2]
    u = ((inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]) / den).astype(np.float32)
    v = ((inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]) / den).astype(np.float32)
    # display px under one camera px (the footprint): area sampling of texture and grid
    fu = np.hypot(np.gradient(u, axis=1), np.gradient(u, axis=0))
    fv = np.hypot(np.gradient(v, axis=1), np.gradient(v, axis=0))
    bx0, by0, bx1, by1 = scr.code_box
    centre = cv2.perspectiveTransform(np.float32([[[(bx0 + bx1) / 2, (by0 + by1) / 2]]]), hom)
    code_cam = cv2.perspectiveTransform(
        np.float32([[[bx0, by0], [bx1, by0], [bx1, by1], [bx0, by1]]]), hom)
    px = np.clip(np.rint(centre.reshape(2)), 0, [w - 1, h - 1]).astype(int)
    foot = float(fu[px[1], px[0]])
    level = max(0, min(4, math.floor(math.log2(max(foot, 1.0)))))
    scale = 2.0 ** level
    mu, mv = (u + 0.5) / scale - 0.5, (v + 0.5) / scale - 0.5
    emission = cv2.remap(scr.level(level), mu, mv, cv2.INTER_LINEAR, borderValue=0)
    emission = emission.astype(np.float32) * (1 / 65535)
    gh, gw = scr.emission.shape
    x0, y0, x1, y1 = scr.screen_box
    phone = (u >= 0) & (u < gw) & (v >= 0) & (v < gh) & cond.phone
    on_screen = phone & (u >= x0) & (u < x1) & (v >= y0) & (v < y1)
    emission *= on_screen
    rows, cols = np.nonzero(on_screen.any(axis=1))[0], np.nonzero(on_screen.any(axis=0))[0]
    if cond.subpixel > 0 and rows.size:  # the stripe grid, over each camera pixel's footprint
        tx, ty = _stripe_table(lcd)
        win = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        grid = _box_average(u[win], fu[win], tx) * _box_average(v[win], fv[win], ty)
        emission[win] *= (1 - cond.subpixel + cond.subpixel * grid).astype(np.float32)
    emission *= cond.brightness
    if cond.pwm_depth > 0:
        emission *= _pwm_profile(cond, h)[:, None]
    variant = seed % 3
    background = _background(cond.scene, w, h, variant)
    scene = np.where(phone, np.float32(0.04), background) * cond.ambient  # black bezel
    scene[on_screen] = cond.screen_reflect * cond.ambient
    light = (emission + scene).astype(np.float32)
    if cond.finger > 0 and cond.phone:
        light = _thumb(light, cond, scr, hom, rng)
    if cond.glare > 0:
        side = float(np.sqrt(cv2.contourArea(code_cam)))
        gx, gy = centre.reshape(2) + side * np.array([cond.glare_x, cond.glare_y])
        r = cond.glare_radius * side
        blob = np.exp(-(((xx - gx) ** 2 + ((yy - gy) * 1.4) ** 2) / (2 * r * r)))
        light += (cond.glare * cond.brightness * blob * phone).astype(np.float32)
    sigma = max(cond.defocus, 0.0)
    if sigma > 0.05:
        light = cv2.GaussianBlur(light, (0, 0), sigma)
    kernel = _motion_kernel(cond)
    if kernel is not None:
        light = cv2.filter2D(light, -1, kernel, borderType=cv2.BORDER_REFLECT)
    exposure, gain = _exposure(light, cond)
    signal = np.clip(light * exposure, 0, 1)
    full_well, read = 2500.0, 3.0  # electrons at gain 1; small-pixel sensor
    electrons = signal * full_well / gain
    sd = np.sqrt(electrons + read * read) * cond.noise
    electrons = electrons + rng.standard_normal(signal.shape).astype(np.float32) * sd
    signal = np.clip(electrons * gain / full_well, 0, 1)
    y = 255.0 * _srgb(signal)
    if cond.video_range:
        y = 16 + y * (219 / 255)
    out = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    if cond.jpeg is not None:
        _ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(cond.jpeg)])
        out = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    return out


def _srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def _thumb(
    light: np.ndarray, cond: Condition, scr: _Screen, hom: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A thumb lying over one side of the code, its tip ``finger`` modules into the quiet
    zone (4 = touching the code), drawn in the screen's plane so it tilts with the phone."""
    bx0, by0, bx1, by1 = scr.code_box
    m = scr.dppm
    reach = cond.finger * m  # into the quiet zone
    width = 50 * m  # a thumb ~18 mm across, a module ~0.38 mm on a phone
    along = float(rng.uniform(0.25, 0.75))
    t = np.linspace(0, 2 * np.pi, 60)
    length = 160 * m
    side = cond.finger_side % 4
    # an ellipse with its tip at the code's edge minus the quiet zone plus the reach
    if side == 0:
        tip = np.array([bx0 + reach, by0 + along * (by1 - by0)])
        centre, axes = tip - np.array([length / 2, 0]), (length / 2, width / 2)
    elif side == 2:
        tip = np.array([bx1 - reach, by0 + along * (by1 - by0)])
        centre, axes = tip + np.array([length / 2, 0]), (length / 2, width / 2)
    elif side == 1:
        tip = np.array([bx0 + along * (bx1 - bx0), by0 + reach])
        centre, axes = tip - np.array([0, length / 2]), (width / 2, length / 2)
    else:
        tip = np.array([bx0 + along * (bx1 - bx0), by1 - reach])
        centre, axes = tip + np.array([0, length / 2]), (width / 2, length / 2)
    pts = np.stack([centre[0] + axes[0] * np.cos(t), centre[1] + axes[1] * np.sin(t)], axis=1)
    cam = cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float32), hom)
    mask = np.zeros(light.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(cam).astype(np.int32)], 1)
    shade = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2.0)
    skin = 0.35 * cond.ambient + 0.08 * cond.brightness  # lit by the room and the screen
    return light * (1 - shade) + skin * shade


# --------------------------------------------------------------------------- clips


def _jitter(cond: Condition, i: int, rng_phase: np.ndarray, amount: float) -> Condition:
    """Hand jitter at frame ``i``: slow drift and ~9 Hz tremor of position, roll and tilt;
    the PWM bands roll, the glare wanders with the phone."""
    t = i / FPS
    p = rng_phase
    dx = amount * (0.012 * math.sin(2 * math.pi * 0.7 * t + p[0]) + 0.004 * math.sin(
        2 * math.pi * 9 * t + p[1]))
    dy = amount * (0.012 * math.sin(2 * math.pi * 0.5 * t + p[2]) + 0.004 * math.sin(
        2 * math.pi * 8 * t + p[3]))
    return replace(
        cond,
        cx=min(max(cond.cx + dx * 3, 0.0), 1.0),
        cy=min(max(cond.cy + dy * 3, 0.0), 1.0),
        roll=cond.roll + amount * 0.8 * math.sin(2 * math.pi * 0.4 * t + p[4]),
        tilt_x=cond.tilt_x + amount * 1.0 * math.sin(2 * math.pi * 0.3 * t + p[5]),
        tilt_y=cond.tilt_y + amount * 1.0 * math.sin(2 * math.pi * 0.35 * t + p[6]),
        pwm_phase=cond.pwm_phase + i * (0.23 + 0.1 * math.sin(p[7])),
        glare_x=cond.glare_x + 0.08 * amount * math.sin(2 * math.pi * 0.6 * t + p[8]),
        glare_y=cond.glare_y + 0.06 * amount * math.sin(2 * math.pi * 0.5 * t + p[9]),
    )


class Clip(Sequence[np.ndarray]):
    """Consecutive 30 fps frames, each rendered when first asked for (a live-loop simulation
    that skips frames never pays for them) and kept."""

    def __init__(
        self,
        text: str,
        conds: tuple[Condition, ...],
        frames: int,
        seed: int,
        hold: int = 0,
        jitter: float = 1.0,
    ) -> None:
        if not conds:
            raise ValueError("a clip needs at least one Condition")
        self.text, self.conds, self.frames, self.seed = text, conds, frames, seed
        self.hold, self.jitter = hold, jitter
        self.phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, 10)
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.frames + self.hold

    def condition(self, i: int) -> Condition:
        conds = self.conds
        if len(conds) == 1 or i >= self.frames:
            base = conds[-1]
        else:
            x = i / max(self.frames - 1, 1) * (len(conds) - 1)
            k = min(int(x), len(conds) - 2)
            s = x - k
            base = interpolate(conds[k], conds[k + 1], s * s * (3 - 2 * s))
        return _jitter(base, i, self.phases, self.jitter)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        if i not in self._cache:
            self._cache[i] = frame(self.text, self.condition(i), self.seed * 100_003 + i)
        return self._cache[i]


def clip(
    text: str,
    *conds: Condition,
    frames: int = 30,
    seed: int = 0,
    hold: int = 0,
    jitter: float = 1.0,
) -> list[np.ndarray]:
    """Consecutive 30 fps frames. One condition: the phone held there (hand jitter, PWM band
    phase, glare position and noise move between frames). Several: the conditions are
    keyframes passed through evenly over ``frames`` frames (eased), then ``hold`` more
    frames at the last one. ``Clip`` is the same, rendered lazily."""
    return list(Clip(text, conds, frames, seed, hold, jitter))


def approach_clip(
    text: str, cond: Condition, seed: int = 0, frames: int = 60, hold: int = 45
) -> Clip:
    """A phone brought towards the camera over ``frames`` frames (2 s) while autofocus
    settles: from 1.2 px/module and defocus 3.0 to ``cond``, then held for ``hold`` frames
    (bench_decode's ``approach_clip`` on a phone screen; lazily rendered)."""
    far = replace(cond, ppm=min(1.2, cond.ppm), defocus=max(3.0, cond.defocus), cx=0.5, cy=0.5)
    return Clip(text, (far, cond), frames, seed, hold)


# --------------------------------------------------------------------------- presets

@dataclass(frozen=True)
class Preset:
    """A named condition row: fixed values and (lo, hi) ranges drawn per frame."""

    name: str
    about: str
    values: dict[str, object]


def _p(name: str, about: str, **values: object) -> Preset:
    return Preset(name, about, values)


#: Applied to every row before its own values: moderate variation of an ordinary scan.
COMMON: dict[str, object] = {
    "ppm": (3.0, 4.2),
    "tilt": (0.0, 15.0),
    "roll": (0.0, 360.0),
    "defocus": (0.7, 1.2),
    "motion": (0.5, 2.0),
    "motion_angle": (0.0, 180.0),
    "skew": (-4.0, 4.0),
    "brightness": (0.7, 1.2),
    "ambient": (0.25, 0.6),
    "cx": (0.2, 0.8),
    "cy": (0.2, 0.8),
    "subpixel": (0.7, 1.0),
    "noise": (1.0, 1.5),
}

PRESETS: tuple[Preset, ...] = (
    _p("easy", "baseline: 4-5 px/module, sharp, little tilt, indoor light",
       ppm=(4.0, 5.0), tilt=(0.0, 8.0), defocus=(0.5, 0.7), motion=(0.0, 0.8), noise=(0.8, 1.2)),
    _p("pwm-low", "OLED PWM at low brightness: deep dark bands every 50-120 rows",
       brightness=(0.25, 0.4), pwm_depth=(0.75, 0.95), pwm_period=(50.0, 120.0),
       pwm_duty=(0.15, 0.35), pwm_phase=(0.0, 1.0), ambient=(0.08, 0.15)),
    _p("pwm-none", "the same dim screen without PWM (DC dimming)",
       brightness=(0.25, 0.4), ambient=(0.08, 0.15)),
    _p("tilt-30", "tilt 30 deg about either axis", tilt=(28.0, 32.0)),
    _p("tilt-40", "tilt 40 deg about either axis", tilt=(38.0, 42.0)),
    _p("tilt-50", "tilt 50 deg about either axis", tilt=(48.0, 50.0)),
    _p("defocus-1.5", "defocus sigma 1.5 px (at 3.5-4.5 px/module)", defocus=(1.4, 1.6),
       ppm=(3.5, 4.5)),
    _p("defocus-2.5", "defocus sigma 2.5 px (at 3.5-4.5 px/module)", defocus=(2.4, 2.6),
       ppm=(3.5, 4.5)),
    _p("motion-3.5", "hand motion blur 3.5 px, any direction",
       motion=(3.3, 3.7), motion_angle=(0.0, 180.0), skew=(-6.0, 6.0)),
    _p("motion-6-train", "train: 6 px mostly horizontal, shaken",
       motion=(5.7, 6.3), motion_angle=(-15.0, 15.0), shake=(0.15, 0.35), skew=(-10.0, 10.0)),
    _p("glare-strong", "a soft specular blob on the code, 1.5-3x the screen's white",
       glare=(1.5, 3.0), glare_radius=(0.15, 0.3), glare_x=(-0.3, 0.3), glare_y=(-0.3, 0.3)),
    _p("glare-saturating", "glare that saturates the sensor over part of the code",
       glare=(5.0, 12.0), glare_radius=(0.1, 0.22), glare_x=(-0.3, 0.3), glare_y=(-0.3, 0.3)),
    _p("sun", "sunlit scene: screen at full brightness, washed out by reflections",
       ambient=(15.0, 30.0), brightness=(1.8, 2.5), screen_reflect=(0.04, 0.1)),
    _p("night", "dark scene, screen at its dimmest, high gain, strong noise, longer exposure",
       ambient=(0.0005, 0.003), brightness=(0.015, 0.04), noise=(1.5, 2.5), max_gain=10.7,
       motion=(1.0, 3.0)),
    _p("ppm-2.5", "2.5 px per module", ppm=(2.4, 2.6)),
    _p("ppm-2.75", "2.75 px per module", ppm=(2.65, 2.85)),
    _p("ppm-3", "3 px per module", ppm=(2.9, 3.1)),
    _p("ppm-4", "4 px per module", ppm=(3.9, 4.1)),
    _p("vga-640x480", "640x480 frames: the code at most ~2.3 px/module",
       width=640, height=480, ppm=(1.9, 2.4)),
    _p("dark-mode", "dark mode: light modules on black", dark_mode=True),
    _p("finger", "a thumb over the quiet zone (reaching 1.5-3.5 of its 4 modules)",
       finger=(1.5, 3.5), finger_side=(0.0, 3.99)),
    _p("jpeg", "JPEG quality 50-75 of a video-range YUV frame",
       jpeg=(50.0, 75.0), video_range=True),
    _p("lcd", "an LCD (backlight leak, no PWM) instead of an OLED", display="lcd"),
)

PRESET_NAMES = tuple(p.name for p in PRESETS)

#: Where an approach clip ends (not a row of its own): an ordinary scan at arm's length.
APPROACH = _p("approach", "the end of an approach: 3-4 px/module, focus settled",
              ppm=(3.0, 4.0), defocus=(0.6, 1.0))

_SCREENS = ((1440, 3200), (1080, 2400), (1080, 2340), (1170, 2532))


def sample(name: str, rng: np.random.Generator) -> Condition:
    """A condition drawn around preset ``name``: its ranges, else the common ones."""
    preset = next((p for p in (*PRESETS, APPROACH) if p.name == name), None)
    if preset is None:
        raise KeyError(f"no preset {name!r}; presets: {', '.join(PRESET_NAMES)}")
    values = {**COMMON, **preset.values}
    draw: dict[str, object] = {}
    for key, value in values.items():
        draw[key] = float(rng.uniform(*value)) if isinstance(value, tuple) else value
    tilt = float(draw.pop("tilt"))
    axis = float(rng.uniform(0, 2 * np.pi))  # which way the phone leans
    # mostly about one axis, as a hand tips a phone, with some of the other
    axis = round(axis / (np.pi / 2)) * (np.pi / 2) + float(rng.uniform(-0.35, 0.35))
    draw["tilt_x"] = tilt * math.cos(axis)
    draw["tilt_y"] = tilt * math.sin(axis)
    for key in ("finger_side", "jpeg"):
        if key in draw:
            draw[key] = int(draw[key])  # type: ignore[call-overload]
    draw["screen"] = _SCREENS[int(rng.integers(len(_SCREENS)))]
    draw["scene"] = int(rng.integers(4))
    draw.setdefault("pwm_phase", float(rng.uniform(0, 1)))
    return Condition(**draw)  # type: ignore[arg-type]


def preset_frames(
    text: str, name: str, count: int, seed: int = 0
) -> list[tuple[Condition, np.ndarray]]:
    """``count`` frames of preset ``name``, each its own draw; seeded per row and frame."""
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, PRESET_NAMES.index(name), i])
        cond = sample(name, rng)
        out.append((cond, frame(text, cond, int(rng.integers(2**31)))))
    return out


def empty_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Scenes without a code, as the camera sees them, in turn: the phone's app page with no
    code on it; the phone showing a QR-like block texture without finder patterns (a
    picture, another app's pattern); the textured background alone (paper with print, a
    desk, a keyboard, tiles; at three distances)."""
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, 999, i])
        cond = sample("easy", rng)
        kind = i % 3
        cond = replace(cond, show_code=False, decoy=kind == 1, phone=kind < 2, scene=i % 4)
        out.append(frame(ml1_text(27 if i % 2 else 15), cond, int(rng.integers(2**31))))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description="write one frame per preset row as PNG")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--version", type=int, default=27, choices=(15, 27))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    text = ml1_text(args.version)
    for name in PRESET_NAMES:
        (_cond, gray), = preset_frames(text, name, 1, args.seed)
        cv2.imwrite(str(args.out / f"{name}-v{args.version}.png"), gray)
    print(f"{len(PRESET_NAMES)} frames in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "PRESETS",
    "PRESET_NAMES",
    "Clip",
    "Condition",
    "Preset",
    "approach_clip",
    "clip",
    "code_corners",
    "effective_ppm",
    "empty_frames",
    "frame",
    "interpolate",
    "ml1_text",
    "modules",
    "preset_frames",
    "qr_version",
    "sample",
]
