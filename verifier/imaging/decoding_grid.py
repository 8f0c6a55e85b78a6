"""Module-grid reader: a QR symbol too small or too blurred for zxing's own sampler.

zxing binarises the frame first and then samples the binary image; at ~3 camera pixels per
module with lens blur, glare and moire the binarisation already loses the symbol. Here the
grid is fitted on the grey image instead, and each module is decided from grey levels:

1. a rough square view of the region the texture probe found;
2. the three finder patterns by normalised cross-correlation with blurred templates (the
   corner without one is the bottom right, which also gives the orientation);
3. per plausible version a four-point homography (finder centres, bottom-right alignment
   pattern), ranked on the fixed modules near the finders (version information from v7);
4. the best one polished by coordinate descent on its four corners: module-centre
   contrast over the whole symbol plus agreement with the fixed modules;
5. every module's mean grey level sampled through it from the frame;
6. a linear equaliser over each module's neighbourhood, trained on the modules the
   version fixes (finders, separators, timing, alignment, version information) and then
   on its own decisions, which undoes this frame's contrast, glare and blur smear;
7. a clean symbol rendered from the decisions for zxing's pure-symbol reader, which does
   the format checks and the Reed-Solomon correction: a wrong module costs a correctable
   codeword error, never a wrong text;
8. where that fails and glare saturated part of the symbol, its codewords corrected with
   the washed-out ones erased (``verifier.imaging.erasures``) and the result read again.

The view's polarity (dark mode is inverted) comes from its quiet zone being lighter than
its middle; glare lighting the middle fools that, so where the versions' grids agree with
the fixed modules less than chance (or none well on a glared view) the view is flipped and
its finders searched again.

If that read fails, ``refine_dense`` refits the grid to the symbol as read, tile by tile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from verifier.imaging.budget import Budget, remember, spend, units

#: Ratio between the module sizes tried for the finder search (normalised correlation
#: tolerates about this much scale mismatch).
PITCH_STEP = 1.18

#: Blur (Gaussian sigma, in modules) of the pattern templates tried on the finders; the best
#: one is then used for the alignment patterns, whose 1-module features blur out first.
BLURS = (0.0, 0.35, 0.6)


def symbol_size(version: int) -> int:
    return 17 + 4 * version


def alignment_positions(version: int) -> list[int]:
    """Row/column indices of alignment pattern centres (ISO/IEC 18004 table E.1)."""
    if version == 1:
        return []
    count = version // 7 + 2
    size = symbol_size(version)
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    return [6, *sorted(size - 7 - i * step for i in range(count - 1))]


def alignment_centres(version: int) -> list[tuple[int, int]]:
    """(row, col) of every alignment pattern, leaving out the three under finder patterns."""
    pos = alignment_positions(version)
    if not pos:
        return []
    first, last = pos[0], pos[-1]
    corners = {(first, first), (first, last), (last, first)}
    return [(r, c) for r in pos for c in pos if (r, c) not in corners]


def version_bits(version: int) -> int:
    """The 18-bit version information word: 6 bits of version, BCH(18, 6) remainder."""
    rem = version << 12
    for shift in range(5, -1, -1):
        if rem >> (shift + 12) & 1:
            rem ^= 0x1F25 << shift
    return version << 12 | rem


@dataclass(frozen=True)
class FixedModules:
    """Modules whose colour the version alone fixes: ``known`` mask and their ``dark`` value."""

    known: np.ndarray
    dark: np.ndarray


def _finder() -> np.ndarray:
    ring = np.ones((7, 7), bool)
    ring[1:6, 1:6] = False
    ring[2:5, 2:5] = True
    return ring


def _alignment() -> np.ndarray:
    ring = np.ones((5, 5), bool)
    ring[1:4, 1:4] = False
    ring[2, 2] = True
    return ring


@functools.lru_cache(maxsize=48)
def fixed_modules(version: int) -> FixedModules:
    n = symbol_size(version)
    known = np.zeros((n, n), bool)
    dark = np.zeros((n, n), bool)
    for r, c in ((0, 0), (0, n - 7), (n - 7, 0)):
        r0, c0 = max(r - 1, 0), max(c - 1, 0)
        known[r0 : r + 8, c0 : c + 8] = True  # finder with its light separator
        dark[r : r + 7, c : c + 7] = _finder()
    idx = np.arange(8, n - 8)
    known[6, idx] = known[idx, 6] = True
    dark[6, idx] = dark[idx, 6] = idx % 2 == 0
    for r, c in alignment_centres(version):
        known[r - 2 : r + 3, c - 2 : c + 3] = True
        dark[r - 2 : r + 3, c - 2 : c + 3] = _alignment()
    known[n - 8, 8] = dark[n - 8, 8] = True  # the always-dark module
    if version >= 7:
        bits = version_bits(version)
        for i in range(18):
            r, c = i // 3, n - 11 + i % 3  # next to the top-right finder, and mirrored
            known[r, c] = known[c, r] = True
            dark[r, c] = dark[c, r] = bool(bits >> i & 1)
    known.setflags(write=False)
    dark.setflags(write=False)
    return FixedModules(known, dark)


# --------------------------------------------------------------------------- work units

#: Pixels a unit of work (``verifier.imaging.budget``, ~0.1 ms of CPU here) buys, per kind
#: of step, measured on this machine (bench/bench_speed.py): a template match's window; a
#: warp (bilinear sampling) of the frame; an equaliser fit's modules; a rendered read's
#: modules; a row of refine_dense's tiles (window pixels). A polish evaluation is one unit.
MATCH_PX = 8000
WARP_PX = 12000
EQUALISE_MODULES = 1000
RENDERED_MODULES = 800
TILES_PX = 4000


# --------------------------------------------------------------------------- templates


@functools.lru_cache(maxsize=64)
def _template(kind: str, pitch_x100: int, blur_x100: int = 0) -> np.ndarray:
    """A finder (with a module of light margin) or alignment pattern at a module size,
    optionally blurred (sigma in modules) like the camera blurs it: the matched filter."""
    import cv2

    big = _big_template(kind, blur_x100)
    size = max(5, round(big.shape[0] / 16 * pitch_x100 / 100))
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


@functools.lru_cache(maxsize=8)
def _big_template(kind: str, blur_x100: int) -> np.ndarray:
    """The pattern at 16 px a module, blurred: the same for every module size, so made once
    (the module sizes tried change with each region, the blurs do not)."""
    import cv2

    core = _finder() if kind == "finder" else _alignment()
    big = np.kron(~np.pad(core, 1), np.ones((16, 16), bool)).astype(np.float32)
    if blur_x100:
        big = cv2.GaussianBlur(big, (0, 0), 16 * blur_x100 / 100, borderType=cv2.BORDER_REPLICATE)
    big.setflags(write=False)
    return big


def _peak(score: np.ndarray) -> tuple[float, float, float]:
    """Best (x, y, value) of a correlation map, the position refined to sub-pixel."""
    import cv2

    _lo, best, _lo_at, (x, y) = cv2.minMaxLoc(score)

    def refine(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return 0.5 * (a - c) / den if den < 0 else 0.0

    h, w = score.shape
    dx = refine(score[y, x - 1], best, score[y, x + 1]) if 0 < x < w - 1 else 0.0
    dy = refine(score[y - 1, x], best, score[y + 1, x]) if 0 < y < h - 1 else 0.0
    return x + dx, y + dy, float(best)


def match(
    image: np.ndarray,
    kind: str,
    pitch: float,
    centre: tuple[float, float],
    radius: float,
    blur: float = 0.0,
    budget: Budget | None = None,
) -> tuple[float, float, float] | None:
    """Centre (x, y) and correlation of the best ``kind`` pattern within ``radius`` px."""
    key = ("match", _fingerprint(image), kind, pitch, centre, radius, blur)
    return remember(budget, key, lambda: _match(image, kind, pitch, centre, radius, blur, budget))


def _fingerprint(image: np.ndarray) -> tuple:
    """A cheap key for an image's content (its shape and a sparse sample of its pixels),
    under which a step on it is remembered across the slices of a resumed budget."""
    return (image.shape, hash(np.ascontiguousarray(image[::7, ::5]).tobytes()))


def _match(
    image: np.ndarray,
    kind: str,
    pitch: float,
    centre: tuple[float, float],
    radius: float,
    blur: float,
    budget: Budget | None,
) -> tuple[float, float, float] | None:
    import cv2

    tpl = _template(kind, round(pitch * 100), round(blur * 100))
    half = (tpl.shape[0] - 1) / 2  # template centre, pixel centres at integers
    x0 = int(np.floor(centre[0] - radius - half))
    y0 = int(np.floor(centre[1] - radius - half))
    x1 = int(np.ceil(centre[0] + radius + half)) + 1
    y1 = int(np.ceil(centre[1] + radius + half)) + 1
    h, w = image.shape
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    spend(budget, units(max(x1 - x0, 1) * max(y1 - y0, 1), MATCH_PX))
    if x1 - x0 < tpl.shape[1] + 2 or y1 - y0 < tpl.shape[0] + 2:
        return None
    window = image[y0:y1, x0:x1]
    score = cv2.matchTemplate(window, tpl, cv2.TM_CCOEFF_NORMED)
    x, y, value = _peak(score)
    return x0 + x + half, y0 + y + half, value


# --------------------------------------------------------------------------- grid fitting


@dataclass(frozen=True)
class Finders:
    """The three finder centres in view pixels (top left, top right, bottom left) and the
    module size they were found at."""

    tl: np.ndarray
    tr: np.ndarray
    bl: np.ndarray
    pitch: float
    score: float
    blur: float = 0.0  # sigma in modules that matched the finders best


#: Smallest region side (frame px) worth a view: a version-1 symbol at MIN_PITCH.
MIN_VIEW_SIDE = 40


def rough_view(
    gray: np.ndarray, corners: np.ndarray, grow: float = 1.12
) -> tuple[np.ndarray, np.ndarray] | None:
    """The region (grown a little, the probe can clip the symbol's edge) warped to a square
    of about its own size; returns (view as float32, 3x3 frame->view matrix), or None for a
    region no symbol can fill: not finite, collapsed to a line or point, smaller than
    ``MIN_VIEW_SIDE`` or larger than the frame."""
    import cv2

    corners = np.asarray(corners, np.float64).reshape(-1, 2)
    if corners.shape != (4, 2) or not np.isfinite(corners).all():
        return None
    centre = corners.mean(axis=0)
    quad = (centre + (corners - centre) * grow).astype(np.float32)
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    side = round(float(sides.mean()))
    h, w = gray.shape
    if not MIN_VIEW_SIDE <= side <= 1.5 * max(h, w):
        return None
    if not (0 <= centre[0] < w and 0 <= centre[1] < h):
        return None
    if sides.min() < 0.25 * side or _quad_area(quad) < 0.2 * side * side:
        return None  # a sliver or a bow tie, not a symbol seen at any tilt
    target = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    matrix = cv2.getPerspectiveTransform(quad, target)
    view = cv2.warpPerspective(
        gray, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return view.astype(np.float32), matrix


def _quad_area(quad: np.ndarray) -> float:
    """Signed-area magnitude of a quadrilateral (shoelace); small when it is degenerate."""
    x, y = quad[:, 0].astype(np.float64), quad[:, 1].astype(np.float64)
    return abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1))) / 2


def find_finders(view: np.ndarray, budget: Budget | None = None) -> Finders | None:
    """The three finder patterns near three corners of the view (None if not three, or if
    they do not form the corner of a symbol: see ``plausible_finders``).

    Searched at half resolution over module sizes ~2-18 px first, then refined at full
    resolution around the best coarse hit at that size and its neighbours.
    """
    import cv2

    side = view.shape[0]
    coarse = cv2.resize(view, (side // 2, side // 2), interpolation=cv2.INTER_AREA)
    hits = [_coarse_finder(coarse, k, budget) for k in range(4)]
    scores = [h[2] for h in hits]
    missing = int(np.argmin(scores))
    if sorted(scores)[1] < 0.4:
        return None
    fine = [_fine_finder(view, hits[(missing + k) % 4], budget) for k in (2, 3, 1)]
    return _finders_from(fine)


#: Finder geometry a symbol can have in the rough view (which the region already roughly
#: rectifies): centres at least this many modules apart (version 1 has 14) ...
MIN_FINDER_SPACING = 10.0
#: ... the two sides from the top-left finder within this ratio of each other ...
MAX_SIDE_RATIO = 2.0
#: ... and the angle between them within this many degrees of a right angle.
MAX_SKEW_DEGREES = 45.0


def plausible_finders(finders: Finders) -> bool:
    """Whether three finder centres can be the corner of a QR symbol: finite, far enough
    apart for their module size, and a roughly right-angled, roughly isosceles corner.
    Rejects two finders found at the same place (which would make every grid singular)."""
    points = np.array([finders.tl, finders.tr, finders.bl], np.float64)
    if not np.isfinite(points).all() or not np.isfinite(finders.pitch) or finders.pitch <= 0:
        return False
    across, down = points[1] - points[0], points[2] - points[0]
    a, b = float(np.hypot(*across)), float(np.hypot(*down))
    if min(a, b, float(np.hypot(*(points[2] - points[1])))) < MIN_FINDER_SPACING * finders.pitch:
        return False
    if max(a, b) > MAX_SIDE_RATIO * min(a, b):
        return False
    cos = float(across @ down) / (a * b)
    return abs(cos) <= np.sin(np.deg2rad(MAX_SKEW_DEGREES))


def placed_finders(
    view: np.ndarray,
    to_view: np.ndarray,
    centres: np.ndarray,
    modules: int,
    budget: Budget | None = None,
) -> Finders | None:
    """The finders where the candidate search put them (``centres``: top left, top right,
    bottom left, frame px; ``modules`` across), each refined within a module by the
    template search, or kept where the template matches worse than the search's own check
    (glare over a finder). None if they are no plausible symbol corner."""
    pts = np.c_[np.asarray(centres, np.float64).reshape(3, 2), np.ones(3)] @ to_view.T
    if not np.isfinite(pts).all() or (np.abs(pts[:, 2]) < 1e-9).any():
        return None
    pts = pts[:, :2] / pts[:, 2:3]
    spacing = (np.hypot(*(pts[1] - pts[0])) + np.hypot(*(pts[2] - pts[0]))) / 2
    pitch = float(spacing / max(modules - 7, 1))
    # a symbol of 21-177 modules inside the view (the templates are made at this size)
    if not (21 <= modules <= 177 and np.isfinite(pitch) and 0 < pitch <= view.shape[0] / 21):
        return None
    placed = Finders(pts[0], pts[1], pts[2], pitch, 0.0)
    if not plausible_finders(placed):
        return None
    fine = []
    for x, y in pts:
        hit = _fine_finder(view, ((x - 0.5) / 2, (y - 0.5) / 2, 0.0, pitch / 2), budget)
        fine.append(hit if hit[2] >= 0.4 else (x, y, hit[2], pitch, 0.0))
    return _finders_from(fine)


def _finders_from(fine: list) -> Finders | None:
    """Three refined finder hits (x, y, score, pitch, blur; top left first) as Finders,
    or None if they are not a plausible symbol corner."""
    finders = Finders(
        np.array(fine[0][:2]),
        np.array(fine[1][:2]),
        np.array(fine[2][:2]),
        float(np.median([f[3] for f in fine])),
        float(np.mean([f[2] for f in fine])),
        float(np.median([f[4] for f in fine])),
    )
    return finders if plausible_finders(finders) else None


def _fine_finder(
    view: np.ndarray, coarse: tuple[float, float, float, float], budget: Budget | None = None
) -> tuple[float, float, float, float, float]:
    """(x, y, score, pitch, blur) of a coarse finder hit refined at full resolution: first
    the template blur at the coarse module size, then the module size +-10 % at that blur."""
    x, y, _score, pitch = coarse
    centre, radius = (2 * x + 0.5, 2 * y + 0.5), 2 * pitch

    def best(tries: list[tuple[float, float]]) -> tuple[float, float, float, float, float]:
        found = [
            (*m, p, b)
            for p, b in tries
            if (m := match(view, "finder", p, centre, radius, b, budget))
        ]
        return max(found, key=lambda h: h[2]) if found else (*centre, -1.0, 2 * pitch, 0.0)

    blurred = best([(2 * pitch, b) for b in BLURS])
    sized = best([(2 * pitch * f, blurred[4]) for f in (1 / 1.1, 1.1)])
    return max(blurred, sized, key=lambda h: h[2])


def _coarse_finder(
    coarse: np.ndarray, corner: int, budget: Budget | None = None
) -> tuple[float, float, float, float]:
    """Best (x, y, score, pitch) finder match near one corner (0 = top left, clockwise);
    module sizes from ~1 to 4.5 px grow by PITCH_STEP, so at most ~10 matches."""
    side = coarse.shape[0]
    cx, cy = [(0, 0), (side, 0), (side, side), (0, side)][corner]
    best = (0.0, 0.0, -1.0, 0.0)
    pitch = max(1.0, side / 190)
    while pitch <= min(4.5, side / 22):
        reach = 0.14 * side + 5 * pitch
        centre = (abs(cx - reach), abs(cy - reach))
        found = match(coarse, "finder", pitch, centre, reach, budget=budget)
        if found and found[2] > best[2]:
            best = (*found, pitch)
        pitch *= PITCH_STEP
    return best


def candidate_versions(finders: Finders, spread: int = 2) -> list[int]:
    """Versions whose size fits the finder spacing, nearest first."""
    dist = (np.linalg.norm(finders.tr - finders.tl) + np.linalg.norm(finders.bl - finders.tl)) / 2
    estimate = (dist / finders.pitch + 7 - 17) / 4
    centre = round(estimate)
    versions = [v for v in range(centre - spread, centre + spread + 1) if 1 <= v <= 40]
    return sorted(versions, key=lambda v: abs(v - estimate))


def project(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points (N x 2) through a 3x3 homography; a point sent to infinity comes out inf or
    nan (no warning): callers check for finite results."""
    homog = np.c_[pts, np.ones(len(pts))] @ matrix.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return homog[:, :2] / homog[:, 2:3]


def initial_grid(
    view: np.ndarray, finders: Finders, version: int, budget: Budget | None = None
) -> np.ndarray:
    """Module -> view homography for ``version``: the affine map fixed by the three finder
    centres, made projective by the bottom-right alignment pattern (searched widely)."""
    import cv2

    n = symbol_size(version)
    src = np.float32([[3.5, 3.5], [n - 3.5, 3.5], [3.5, n - 3.5]])
    dst = np.float32([finders.tl, finders.tr, finders.bl])
    affine = np.vstack([cv2.getAffineTransform(src, dst), [0, 0, 1]])
    centres = alignment_centres(version)
    if not centres:
        return affine
    r, c = max(centres)
    corner = np.float32([[c + 0.5, r + 0.5]])
    guess = project(affine, corner)[0]
    if not np.isfinite(guess).all():
        return affine
    found = match(
        view,
        "alignment",
        finders.pitch,
        (guess[0], guess[1]),
        3.0 * finders.pitch,
        finders.blur,
        budget,
    )
    if found is None or found[2] < 0.4:
        return affine
    return cv2.getPerspectiveTransform(
        np.vstack([src, corner]), np.vstack([dst, np.float32([found[:2]])])
    )


#: Most coordinate-descent rounds (16 evaluations each) of ``polish_grid``. Measured without
#: a cap (bench/bench_bounds.py): median 13 rounds on the corpus, 8 on the approach clips,
#: p95 27 and 18, max 52 and 47; capped at 16, 24 or 32 both read exactly as many frames.
#: Without any cap, a zero module size never ended (issue 16's field frame).
POLISH_ROUNDS = 24


def polish_grid(
    view: np.ndarray,
    matrix: np.ndarray,
    version: int,
    start: float = 0.5,
    stop: float = 0.1,
    max_rounds: int = POLISH_ROUNDS,
    budget: Budget | None = None,
) -> np.ndarray | None:
    """The module -> view homography moved, one symbol corner at a time, to where the module
    centres show the most contrast and the fixed modules match best.

    Sampled at the right places a blurred symbol's modules spread widest (samples off
    centre mix neighbours); the fixed modules' correlation stops a whole-module slip.
    Uses every module, so it holds where single alignment patterns are too blurred to
    find. Steps from ``start`` to ``stop`` modules, coordinate descent, for at most
    ``max_rounds`` rounds. None when ``matrix`` maps the symbol to a point, a line or
    outside the plane (no module size to step by).
    """
    import cv2

    n = symbol_size(version)
    fixed = fixed_modules(version)
    square = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    quad = project(matrix, square)
    if not _usable_quad(quad, n):
        return None
    quad = quad.astype(np.float32)

    key = ("polish", _fingerprint(view), version, quad.tobytes())
    every = _module_centres(n)
    to_centre = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])  # module (u, v) -> its centre

    def samples(q: np.ndarray, at: np.ndarray = every) -> np.ndarray:
        # module centres projected here and sampled with remap: the same bilinear samples
        # as a perspective warp of the symbol, in half the time (and a subset costs less)
        to_view = (cv2.getPerspectiveTransform(square, q) @ to_centre).astype(np.float32)
        xyw = to_view @ at
        return cv2.remap(view, xyw[0:1] / xyw[2:3], xyw[1:2] / xyw[2:3], cv2.INTER_LINEAR)

    first = samples(quad).reshape(n, n)
    mean = cv2.blur(first, (9, 9), borderType=cv2.BORDER_REFLECT).ravel()
    sq = cv2.blur(first * first, (9, 9), borderType=cv2.BORDER_REFLECT).ravel()
    scale = 1 / np.sqrt(np.maximum(sq - mean * mean, 1.0))
    dark_ok = np.where(fixed.dark, -1.0, 1.0).astype(np.float32).ravel()

    def scorer(chosen: np.ndarray) -> Callable[[np.ndarray], float]:
        """Contrast over the ``chosen`` modules plus agreement with the fixed ones among
        them, as a function of the outline."""
        at = every[:, chosen]
        offset, gain = mean[chosen], scale[chosen]
        known = np.flatnonzero(fixed.known.ravel()[chosen])
        target = dark_ok[chosen][known] / len(known)

        def evaluate(q: np.ndarray) -> float:
            spend(budget)  # one unit: ~0.1 ms for a version-25 symbol
            z = (samples(q, at).ravel() - offset) * gain
            return cv2.norm(z, cv2.NORM_L1) / z.size + float(z[known] @ target)

        def score(q: np.ndarray) -> float:
            return remember(budget, (*key, len(chosen), q.tobytes()), lambda: evaluate(q))

        return score

    fine = scorer(np.arange(n * n))
    coarse = scorer(_coarse_modules(version))
    pitch = float(np.linalg.norm(quad[1] - quad[0])) / n
    step = start * pitch
    score = coarse if step > COARSE_BELOW * pitch else fine
    best = score(quad)
    for _round in range(max_rounds):
        if step < stop * pitch:
            break
        if score is coarse and step <= COARSE_BELOW * pitch:
            score = fine
            best = score(quad)
        improved = False
        for k in range(4):
            for axis in (0, 1):
                for sign in (1, -1):
                    trial = quad.copy()
                    trial[k, axis] += sign * step
                    value = score(trial)
                    if value > best:
                        best, quad, improved = value, trial, True
                        break  # the way back is the outline just left: no need to score it
        if not improved:
            step /= 2
    return cv2.getPerspectiveTransform(square, quad)


#: Steps of ``polish_grid`` larger than this many modules are scored on half the modules
#: and all fixed ones (``_coarse_modules``), the finer steps on every module. (A quarter of
#: them lost a read on the approach clips; half reads exactly as many frames as all.)
COARSE_BELOW = 0.3


@functools.lru_cache(maxsize=48)
def _coarse_modules(version: int) -> np.ndarray:
    """Flat indices of half the modules (a checkerboard) and of every fixed module."""
    n = symbol_size(version)
    rows, cols = np.mgrid[0:n, 0:n]
    chosen = np.flatnonzero(((rows + cols) % 2 == 0) | fixed_modules(version).known)
    chosen.setflags(write=False)
    return chosen


@functools.lru_cache(maxsize=16)
def _module_centres(n: int) -> np.ndarray:
    """Homogeneous (u, v, 1) of every module, row by row (3 x n*n); ``polish_grid``'s
    ``half`` takes them to the module centres."""
    v, u = np.mgrid[0:n, 0:n].astype(np.float32)
    centres = np.stack([u.ravel(), v.ravel(), np.ones(n * n, np.float32)])
    centres.setflags(write=False)
    return centres


def _usable_quad(quad: np.ndarray, n: int) -> bool:
    """A symbol outline (view px) a grid can be fitted in: finite, every side at least half
    a pixel a module, and not collapsed (area of at least a quarter of its bounding box)."""
    if not np.isfinite(quad).all():
        return False
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    if sides.min() < 0.5 * n:
        return False
    extent = quad.max(axis=0) - quad.min(axis=0)
    return _quad_area(quad) >= 0.25 * float(extent[0] * extent[1])


def invert_homography(matrix: np.ndarray | None) -> np.ndarray | None:
    """The inverse of a 3x3 homography, or None if it is singular or not finite (degenerate
    geometry: an outline collapsed to a line or a point)."""
    if matrix is None or not np.isfinite(matrix).all():
        return None
    if abs(np.linalg.det(matrix)) < 1e-12 * max(1.0, float(np.abs(matrix).max()) ** 3):
        return None
    try:
        inverse = np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return None
    return inverse if np.isfinite(inverse).all() else None


# --------------------------------------------------------------------------- sampling


def warp_modules(gray: np.ndarray, frame_to_module: np.ndarray, n: int, px: int = 4) -> np.ndarray:
    """The symbol resampled to ``px`` pixels a module (float32, n*px square)."""
    import cv2

    to_module = np.array([[px, 0, 0], [0, px, 0], [0, 0, 1]], np.float64) @ frame_to_module
    to_module[:2] -= 0.5 * to_module[2]  # pixel centres at integers on both sides
    warped = cv2.warpPerspective(
        gray, to_module, (n * px, n * px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return warped.astype(np.float32)


def sample_modules(
    gray: np.ndarray, frame_to_module: np.ndarray, n: int, px: int = 4
) -> np.ndarray:
    """Mean grey level of each module (an area resize is that block mean, ~10x faster than
    numpy's)."""
    import cv2

    warped = warp_modules(gray, frame_to_module, n, px)
    return cv2.resize(warped, (n, n), interpolation=cv2.INTER_AREA)


def refine_dense(
    gray: np.ndarray,
    frame_to_module: np.ndarray,
    dark: np.ndarray,
    tile: int = 12,
    px: int = 4,
    budget: Budget | None = None,
) -> np.ndarray | None:
    """The frame -> module homography refitted to the whole symbol, not just its patterns.

    The symbol as first read (``dark``, mostly right) is rendered and matched tile by tile
    against the image resampled through the current grid; each tile's offset (sub-pixel)
    says where its modules really are, and a homography is fitted to those points
    (RANSAC drops tiles that matched wrongly). Where the first grid drifts by a third of a
    module towards the far corners, this brings every tile back to the module centres.
    """
    import cv2

    to_frame = invert_homography(frame_to_module)
    if to_frame is None:
        return None
    n = dark.shape[0]
    spend(budget, units((n * px) ** 2, WARP_PX))
    warped = warp_modules(gray, frame_to_module, n, px)
    expected = cv2.resize(
        np.where(dark, 0.0, 1.0).astype(np.float32),
        None,
        fx=px,
        fy=px,
        interpolation=cv2.INTER_NEAREST,
    )
    module_pts, frame_pts = [], []
    starts = range(0, n - tile // 2, tile)
    for y0 in starts:
        spend(budget, units(n * (tile + 2) * px * px, TILES_PX))  # a row of tiles
        for x0 in starts:
            y1, x1 = min(y0 + tile, n), min(x0 + tile, n)
            tpl = expected[y0 * px : y1 * px, x0 * px : x1 * px]
            if tpl.std() < 0.2:
                continue
            pad = px
            wy0, wx0 = y0 * px - pad, x0 * px - pad
            window = warped[max(wy0, 0) : y1 * px + pad, max(wx0, 0) : x1 * px + pad]
            if window.shape[0] < tpl.shape[0] + 2 or window.shape[1] < tpl.shape[1] + 2:
                continue
            score = cv2.matchTemplate(window, tpl, cv2.TM_CCOEFF_NORMED)
            sx, sy, value = _peak(score)
            if value < 0.3:
                continue
            dx = (sx + max(wx0, 0) - x0 * px) / px  # offset in modules
            dy = (sy + max(wy0, 0) - y0 * px) / px
            centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            module_pts.append(centre)
            frame_pts.append(project(to_frame, (centre + np.array([dx, dy]))[None])[0])
    if len(module_pts) < 8:
        return None
    fitted, _mask = cv2.findHomography(
        np.float32(frame_pts), np.float32(module_pts), cv2.RANSAC, 0.25
    )
    return None if invert_homography(fitted) is None else fitted


def neighbourhood(values: np.ndarray, reach: int = 2) -> np.ndarray:
    """Equaliser inputs per module: its value and the sums of each point-symmetric pair of
    neighbours within ``reach`` (blur is point-symmetric, so this halves the unknowns),
    all normalised by the local mean and spread over 9x9 modules (glare, vignetting,
    contrast), and a constant."""
    import cv2

    mean = cv2.blur(values, (9, 9), borderType=cv2.BORDER_REFLECT)
    sq = cv2.blur(values * values, (9, 9), borderType=cv2.BORDER_REFLECT)
    z = (values - mean) / np.sqrt(np.maximum(sq - mean * mean, 1.0))
    n = values.shape[0]
    padded = np.pad(z, reach, mode="edge")

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[reach + dy : reach + dy + n, reach + dx : reach + dx + n]

    offsets = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
    half = [(dy, dx) for dy, dx in offsets if (dy, dx) > (0, 0)]
    pairs = [at(dy, dx) + at(-dy, -dx) for dy, dx in half]
    return np.stack([z, *pairs, np.ones_like(values)], axis=-1)


def equalise(
    values: np.ndarray, fixed: FixedModules, rounds: int = 2, budget: Budget | None = None
) -> np.ndarray:
    """Darkness score per module (> 0: dark) from a linear equaliser over each module's 5x5
    neighbourhood (measured: 7x7 does no better, 3x3 worse). Fitted first on the modules
    the version fixes, then refitted on all modules with its own decisions
    (decision-directed), it undoes this frame's blur smear and contrast far better than a
    threshold."""
    cost = units(values.size, EQUALISE_MODULES)
    spend(budget, cost)
    feats = neighbourhood(values).astype(np.float64)  # once, not in every fit and product
    target = np.where(fixed.dark, 1.0, -1.0)
    score = feats @ _least_squares(feats[fixed.known], target[fixed.known])
    flat = feats.reshape(-1, feats.shape[-1])
    for _ in range(rounds):
        spend(budget, cost)
        decided = np.where(fixed.known, target, np.where(score > 0, 1.0, -1.0))
        score = feats @ _least_squares(flat, decided.ravel())
    return score


def _least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights minimising |x w - y| via the normal equations (a few features, many rows:
    ~20x faster than an SVD), with a tiny ridge so flat patches stay solvable."""
    x = x.astype(np.float64, copy=False)
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += 1e-6 * len(x)
    return np.linalg.solve(gram, x.T @ y)


def fixed_agreement(values: np.ndarray, fixed: FixedModules, near: bool = False) -> float:
    """Fraction of fixed modules a plain local threshold gets right: high only when the grid
    (version and homography) is right. ``near``: only those within 11 modules of a finder
    (finders, version information), which even a rough grid samples well."""
    import cv2

    mean = cv2.blur(values, (9, 9), borderType=cv2.BORDER_REFLECT)
    dark = values < mean
    known = fixed.known & _near_finders(values.shape[0]) if near else fixed.known
    return float(np.mean(dark[known] == fixed.dark[known]))


@functools.lru_cache(maxsize=48)
def _near_finders(n: int) -> np.ndarray:
    near = np.zeros((n, n), bool)
    near[:11, :11] = near[:11, -11:] = near[-11:, :11] = True
    return near


def render(dark: np.ndarray, scale: int = 4, quiet: int = 4) -> np.ndarray:
    """A clean symbol image (dark = 0) with a quiet zone, for zxing's pure-symbol reader."""
    import cv2

    modules = np.where(np.pad(dark, quiet), 0, 255).astype(np.uint8)
    return cv2.resize(modules, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def qr_results(results: list) -> list:
    """The zxing-cpp results that are QR codes proper. zxing-cpp 3 made
    ``BarcodeFormat.QRCode`` a family that also returns Micro QR and rMQR results; neither
    is ever an ML1 code, and a failed detection of one is no QR symbol's outline. (Asking
    for ``QRCodeModel2`` alone instead fails on pure symbols in zxing-cpp 3.1.1.)"""
    import zxingcpp

    formats = zxingcpp.BarcodeFormat
    accept = {formats.QRCode, getattr(formats, "QRCodeModel2", formats.QRCode)}
    return [r for r in results if r.format in accept]


def read_rendered(dark: np.ndarray, budget: Budget | None = None) -> list[str]:
    import zxingcpp

    spend(budget, units(dark.size, RENDERED_MODULES))
    results = zxingcpp.read_barcodes(
        render(dark),
        formats=zxingcpp.BarcodeFormat.QRCode,
        is_pure=True,
        try_downscale=False,
        try_invert=False,
    )
    return [r.text for r in qr_results(results) if r.valid and r.text]


# --------------------------------------------------------------------------- entry point


def light_quiet_zone(view: np.ndarray) -> bool:
    """Dark modules on a light screen: the view's border (quiet zone) is lighter than its
    middle. False for dark mode, where the whole view is inverted before the search."""
    ring = max(2, view.shape[0] // 20)
    grey = view.astype(np.uint8)  # whole grey levels (a warp of the 8-bit frame): exact
    border = np.concatenate(
        [grey[:ring].ravel(), grey[-ring:].ravel(), grey[:, :ring].ravel(), grey[:, -ring:].ravel()]
    )
    return _median(border) >= _median(grey[2 * ring : -2 * ring, 2 * ring : -2 * ring])


def _median(grey: np.ndarray) -> float:
    """``np.median`` of 8-bit values from their histogram (~10x faster on a view)."""
    count = grey.size
    if count == 0:
        return float("nan")
    cum = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    lower, upper = np.searchsorted(cum, [(count - 1) // 2, count // 2], side="right")
    return (float(lower) + float(upper)) / 2


@dataclass(frozen=True)
class Located:
    """A fitted grid: frame -> module coordinates (x = column, y = row; module (r, c)
    spans [c, c+1) x [r, r+1)), the frame's polarity, and how well the fixed modules
    agree with it."""

    version: int
    frame_to_module: np.ndarray
    inverted: bool
    agreement: float


#: Fraction of fixed modules a polished grid must get right for further attempts on the
#: same symbol to be worth their time: every read on the corpus and the approach clips
#: came from grids at 0.82 or more; a phone still too far or too defocused scores 0.5-0.75.
PROMISING = 0.75

#: Smallest module size (view px, about camera px) worth a grid fit: below it camera blur
#: leaves too little of the modules (no corpus or approach-clip frame reads below ~2.5 px;
#: this leaves a margin), so frames of a far-away phone cost only the finder search.
MIN_PITCH = 1.9

#: A version whose near agreement is below this says the view's polarity is backwards:
#: chance is 0.5, and every version's grid shares the finders, so a wrong version of the
#: right polarity scores 0.8-0.9; the right version of a wrongly inverted view scored
#: 0.00-0.29 on saturating glare (a wrong one up to 0.52).
BACKWARDS = 0.35

#: A raw grey level at or above which a 7x7 pixel mean counts as saturated (the sensor's
#: clip, not the relative rule of ``erasures.saturated``: a light quiet zone is often the
#: brightest part of an ordinary view), and the share of the view that must be for the
#: view to count as glared.
SATURATED_GREY = 250
GLARED = 0.02


def _prepared_view(
    gray: np.ndarray, corners: np.ndarray, budget: Budget | None
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The rough view of a region, dark modules on light (inverted if needed), its matrix,
    and whether it was inverted; None where ``rough_view`` finds no view."""
    rough = rough_view(gray, corners)
    if rough is None:
        return None
    view, to_view = rough
    spend(budget, units(3 * view.size, WARP_PX))  # the warp, the polarity's medians
    inverted = not light_quiet_zone(view)
    return (255 - view if inverted else view), to_view, inverted


class Symbol:
    """The symbol near a region of a frame, located lazily.

    The finder search runs once; then every plausible version gets the cheap four-point
    grid, ranked on the fixed modules near the finders (from version 7 these include the
    version information, which differs between versions). ``grid(rank)`` polishes the
    ``rank``-th best on first use only, as the first is nearly always right.
    """

    def __init__(
        self,
        gray: np.ndarray,
        corners: np.ndarray,
        budget: Budget | None = None,
        known: tuple[np.ndarray, int] | None = None,
    ) -> None:
        self.gray = gray
        self.budget = budget
        self.finders: Finders | None = None
        self.inverted = False
        key = ("view", _fingerprint(gray), np.asarray(corners, np.float64).tobytes())
        prepared = remember(budget, key, lambda: _prepared_view(gray, corners, budget))
        self._known = known  # finder centres (frame px) and modules across
        self._glare: bool | None = None
        if prepared is not None:
            self.view, self.to_view, self.inverted = prepared
            self.finders = self._find()
            if self.finders is None and self._glared():
                self._flip()
                self.finders = self._find()
                if self.finders is None:
                    self._flip()
        self._ranked: list[tuple[int, np.ndarray]] | None = None
        self._grids: dict[int, Located | None] = {}

    def _find(self) -> Finders | None:
        finders = None
        if self._known is not None:
            finders = placed_finders(self.view, self.to_view, *self._known, self.budget)
        return finders if finders is not None else find_finders(self.view, self.budget)

    def _flip(self) -> None:
        self.view, self.inverted = 255 - self.view, not self.inverted

    def _glared(self) -> bool:
        """Part of the view is saturated throughout (7x7 px means, so not sensor noise
        clipping): glare, which can fool the polarity's choice."""
        import cv2

        if self._glare is None:
            raw = 255 - self.view if self.inverted else self.view
            spend(self.budget, units(raw.size, WARP_PX))
            clipped = np.count_nonzero(cv2.blur(raw, (7, 7)) >= SATURATED_GREY)
            self._glare = clipped > GLARED * raw.size
        return self._glare

    @property
    def readable(self) -> bool:
        return self.finders is not None and self.finders.pitch >= MIN_PITCH

    @property
    def promising(self) -> bool:
        """Worth more than the first read: finders found, and the best grid (if already
        fitted) agrees well enough with the fixed modules."""
        if not self.readable:
            return False
        if 0 not in self._grids:
            return True
        best = self._grids[0]
        return best is not None and best.agreement >= PROMISING

    def grid(self, rank: int = 0) -> Located | None:
        if not self.readable:
            return None
        ranked = self._rank()
        if rank >= len(ranked):
            return None
        if rank not in self._grids:
            version, matrix = ranked[rank]
            polished = polish_grid(self.view, matrix, version, budget=self.budget)
            self._grids[rank] = self._located(polished, version)
        return self._grids[rank]

    def _rank(self) -> list[tuple[int, np.ndarray]]:
        """Every plausible version's four-point grid, best first (a degenerate one last)."""
        if self._ranked is None:
            scored = self._scored()
            lowest = min(a if a >= 0 else 1.0 for a, _v, _m in scored)
            if lowest < BACKWARDS or (scored[0][0] < PROMISING and self._glared()):
                # Fewer fixed modules right than chance, or none well under glare: the
                # polarity may be backwards (glare lit the middle of the view above its
                # quiet zone). The finders are searched again on the flipped view: found
                # on the wrong polarity they sit off their true centres.
                found = self.finders
                self._flip()
                self.finders = self._find()
                flipped = self._scored() if self.finders is not None else None
                if flipped is not None and flipped[0][0] > scored[0][0]:
                    scored = flipped
                else:
                    self._flip()
                    self.finders = found
            self._ranked = [(version, matrix) for _a, version, matrix in scored]
        return self._ranked

    def _scored(self) -> list[tuple[float, int, np.ndarray]]:
        """(near agreement, version, four-point grid) of every plausible version, best first."""
        assert self.finders is not None
        scored = []
        for version in candidate_versions(self.finders):
            matrix = initial_grid(self.view, self.finders, version, self.budget)
            near = self._located(matrix, version, near=True)
            scored.append((near.agreement if near else -1.0, version, matrix))
        scored.sort(key=lambda s: -s[0])
        return scored

    def _located(
        self, matrix: np.ndarray | None, version: int, near: bool = False
    ) -> Located | None:
        """The grid through ``matrix`` (module -> view) in frame coordinates, scored on the
        fixed modules; None where ``matrix`` is degenerate."""
        to_module = invert_homography(matrix)
        if to_module is None:
            return None
        frame_to_module = to_module @ self.to_view
        key = ("located", _fingerprint(self.gray), version, near, self.inverted,
               frame_to_module.tobytes())
        return remember(self.budget, key, lambda: self._score(frame_to_module, version, near))

    def _score(self, frame_to_module: np.ndarray, version: int, near: bool) -> Located:
        n = symbol_size(version)
        if near and n >= 2 * _NEAR_BLOCK:
            spend(self.budget, units(3 * (2 * _NEAR_BLOCK) ** 2, WARP_PX))
            agreement = _near_agreement(self.gray, frame_to_module, version, self.inverted)
        else:
            spend(self.budget, units((2 * n) ** 2, WARP_PX))
            values = sample_modules(self.gray, frame_to_module, n, px=2)
            if self.inverted:
                values = 255 - values
            agreement = fixed_agreement(values, fixed_modules(version), near)
        return Located(version, frame_to_module, self.inverted, agreement)


#: Modules a side of the corner blocks ``_near_agreement`` samples: the 11 near a finder
#: and the 4 more the 9x9 local mean of ``fixed_agreement`` reaches.
_NEAR_BLOCK = 15


def _near_agreement(
    gray: np.ndarray, frame_to_module: np.ndarray, version: int, inverted: bool, px: int = 2
) -> float:
    """``fixed_agreement(..., near=True)`` of the whole symbol sampled, from only the three
    finder corners sampled (the same value: the local mean never reaches further): for the
    version ranking, 5-15 % of the sampling."""
    import cv2

    n = symbol_size(version)
    fixed = fixed_modules(version)
    size, near = _NEAR_BLOCK, 11
    hits, total = 0, 0
    for r0, c0 in ((0, 0), (0, n - size), (n - size, 0)):
        shift = np.array([[1, 0, -c0], [0, 1, -r0], [0, 0, 1]], np.float64)
        values = sample_modules(gray, shift @ frame_to_module, size, px)
        if inverted:
            values = 255 - values
        dark = values < cv2.blur(values, (9, 9), borderType=cv2.BORDER_REFLECT)
        rows = slice(0, near) if r0 == 0 else slice(size - near, size)
        cols = slice(0, near) if c0 == 0 else slice(size - near, size)
        known = fixed.known[r0 : r0 + size, c0 : c0 + size][rows, cols]
        want = fixed.dark[r0 : r0 + size, c0 : c0 + size][rows, cols]
        hits += int(np.count_nonzero(dark[rows, cols][known] == want[known]))
        total += int(np.count_nonzero(known))
    return hits / total  # never 0: the finders are always there


def read_located(
    gray: np.ndarray, where: Located, refine: int = 0, budget: Budget | None = None
) -> list[str]:
    """Sample, equalise and read one located grid from ``gray`` (which may be a cleaned
    copy of the frame the grid was located on); if that fails, refine the grid on the
    symbol as read (``refine`` times) and read again."""
    seen = (_fingerprint(gray), where.version, where.inverted)
    frame_to_module = where.frame_to_module
    for attempt in range(refine + 1):
        grid = frame_to_module
        texts, dark = _read_once(gray, where, grid, (*seen, grid.tobytes()), budget)
        if texts or attempt == refine:
            return texts
        image = 255 - gray if where.inverted else gray
        refit = functools.partial(refine_dense, image, grid, dark, budget=budget)
        refined = remember(budget, ("refine", *seen, grid.tobytes()), refit)
        if refined is None:
            return []
        frame_to_module = refined
    return []


def _read_once(
    gray: np.ndarray,
    where: Located,
    frame_to_module: np.ndarray,
    key: tuple,
    budget: Budget | None,
) -> tuple[list[str], np.ndarray]:
    """Texts read through one grid, and the modules as decided; each step remembered under
    ``key`` on its own (a slice can end between them). Where zxing cannot read the symbol
    and part of it is saturated, its codewords are corrected with those modules erased
    (``verifier.imaging.erasures``) and the corrected symbol read instead."""
    from verifier.imaging import erasures

    n = symbol_size(where.version)
    fixed = fixed_modules(where.version)

    def sample() -> np.ndarray:
        spend(budget, units((4 * n) ** 2, WARP_PX))
        return sample_modules(gray, frame_to_module, n)

    values = remember(budget, ("sample", *key), sample)

    def decide() -> np.ndarray:
        dark = equalise(255 - values if where.inverted else values, fixed, budget=budget) > 0
        dark[fixed.known] = fixed.dark[fixed.known]
        return dark

    dark = remember(budget, ("decide", *key), decide)
    texts = remember(budget, ("rendered", *key), lambda: read_rendered(dark, budget))
    lost = None if texts else erasures.saturated(values, where.version)
    if lost is None:
        return texts, dark
    erased = functools.partial(
        erasures.read_erased, dark, lost, where.version, budget, ("erasures", *key)
    )
    return remember(budget, ("erased", *key), erased), dark
