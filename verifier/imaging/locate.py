"""Candidate search by finder patterns: where a QR symbol is when the texture probe sees none.

A QR finder pattern is a dark 3x3-module core inside a light ring inside a dark ring (7x7),
with a light separator around it. Seen at any roll and tilted up to ~50 degrees it is still a
dark blob with a ring centred on it, and that nesting survives glare, low light and uneven
exposure once the frame is thresholded against its local mean. On an image pyramid (half
resolution; full resolution where the probe saw a code's texture or half resolution saw some
finder but no symbol; quarter resolution for frames over 1600 px):

1. dark and light connected components of the thresholded level (dark: below the 31 px
   mean and not lighter than the 5x5 around it, so a thin blurred light ring survives); a
   *core* is a dark component that a light or a dark component surrounds concentrically
   (its centroid on the core, its box around the core's, sizes in a finder's ratios), all
   vectorised over every component;
2. the ring's second moments, whitened, map frame vectors to modules up to a rotation (so
   foreshortening and roll drop out), its outline in that frame gives the rotation, and
   the grey levels at the 9x9 module centres must correlate with a finder and separator;
3. three candidates are a symbol when, seen from one of them (the top left) through its own
   whitening, the other two are 10-180 modules away, about as far as each other (as both
   ends see it) and at about a right angle, the angles at the other two about 45 degrees,
   and module sizes within 2.4x (perspective); all triples vectorised;
4. the outline: the affine map of the three centres, refined to a homography on the
   finders' own corners where it fits them, extrapolated to the fourth corner;
5. no triple: two strong finders along a side (the square on the side that shows module
   texture) or a diagonal stand in for the symbol, for the grid reader to search.

Bounded: at most ``MAX_CANDIDATES`` candidates a level (``MAX_RINGS`` rings looked at a
piece), six finders paired, ``MAX_SYMBOLS`` outlines a frame; never raises on any frame
(degenerate geometry is no region). Work: each level is searched in horizontal strips of at
most ``PIECE_PX`` pixels, two budget steps a strip (its pixel passes, its rings) that spend
units in proportion to the pixels and rings they touch, the calibration of
``verifier.imaging.budget`` (~0.1 ms here a unit), and are remembered, so a search cut by
the end of a decoder's slice goes on where it was (``search_units``: the most a frame
costs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from verifier.imaging.budget import Budget, remember, spend, units
from verifier.imaging.decoding_grid import project

#: Pyramid levels (downscale factors) searched. Each level covers modules of ~0.75 to ~5
#: of its px (the ``WINDOW`` must exceed a 3-module core), so full and half resolution hold
#: every code a 720p frame can show at version 15 or more (under 9.5 px a module); the
#: quarter level is for larger frames (stills), where such codes can be twice as coarse.
LEVELS = (1, 2, 4)
#: Frames whose longer side is at most this skip the quarter level.
QUARTER_FROM = 1600
#: Local-mean window of the threshold, px at each level: over 4 modules of the largest
#: finder a level is for, so the 3-module core stays darker than its surroundings.
WINDOW = 31
#: Smallest core (px at its level) worth a candidate: below it the rings are blurred away.
MIN_CORE = 3
#: Most finder candidates kept (best first) and symbol outlines returned per frame.
MAX_CANDIDATES = 40
MAX_SYMBOLS = 2

# Second moment per axis (module^2) of the light ring (5x5 minus 3x3) and the dark ring
# (7x7 minus 5x5) of a finder: (a^2 + b^2) / 12.
_RING_VAR = {"light": 34 / 12, "dark": 74 / 12}


@dataclass(frozen=True)
class Finder:
    """A finder candidate in frame pixels: its centre, ``axes`` (2x2, columns: one module
    along each of its sides, frame px), ``whiten`` (frame vector -> modules, up to a
    rotation), module size (px, geometric mean of the two axes), how well its 9x9 modules
    (with the light separator) match a finder's, and the pyramid level it was found at."""

    centre: np.ndarray
    axes: np.ndarray
    whiten: np.ndarray
    module: float
    score: float
    level: int


def find_finders(
    gray: np.ndarray, budget: Budget | None = None, fine: bool | None = None
) -> list[Finder]:
    """Finder-pattern candidates over the pyramid, coarsest level first; a candidate found
    again on a finer level replaces the coarser one. The full-resolution level (finders of
    modules under ~2 px, or foreshortened to that) costs ~4x the others together: it is
    searched when ``fine``, or (None) when the coarser levels found some candidate but no
    three that make a symbol.

    Each level is searched in pieces (``pieces``: horizontal strips of at most ``PIECE_PX``
    pixels with ``OVERLAP`` rows either side), each two steps that spend units in
    proportion to the pixels and the rings they look at (``SEARCH_PX``, ``RINGS_PER_UNIT``)
    and are remembered by the budget: a search cut by the end of a slice goes on with the
    next piece when resumed."""
    h, w = gray.shape
    # the frame's content in the keys: a budget's remembered steps are never another image's
    seen = (gray.shape, hash(np.ascontiguousarray(gray[::7, ::5]).tobytes()))
    found: list[Finder] = []
    for level in sorted(LEVELS, reverse=True):
        if min(h, w) // level < 2 * WINDOW or (level == 4 and max(h, w) <= QUARTER_FROM):
            continue
        if level == 1 and not (fine or (fine is None and found and not group(found))):
            break
        scaled = _Level(gray, level, budget)
        level_found: list[Finder] = []
        for k, piece in enumerate(pieces(h // level, w // level)):
            key = ("locate", seen, level, k)
            rings = remember(budget, key, lambda s=scaled, p=piece: s.rings(p))
            level_found += _piece_finders(scaled, piece, rings, key)
        level_found.sort(key=lambda f: -f.score)
        found = _merge(found, level_found[:MAX_CANDIDATES])
    found.sort(key=lambda f: -f.score)
    return found[:MAX_CANDIDATES]


#: Level pixels a unit of work buys in a piece's pixel passes (blur, two thresholds, one or
#: two connected-component labellings; ``verifier.imaging.budget``: ~0.1 ms here a unit),
#: rings a unit buys in the close look at each (moments, outline, the 9x9-module score), and
#: frame pixels a unit buys in the downscale of a level. Fitted here (bench/RESULTS.md).
SEARCH_PX = 2500
RINGS_PER_UNIT = 1 / 3
RESIZE_PX = 300_000
#: Rings looked at closely in one remembered step (72 units, ~7 ms here).
RING_STEP = 24
#: Most level pixels of one piece (its pixel passes are one remembered step, ~8 ms here)
#: and the rows a strip reaches past its own either side (level px): a finder of up to
#: ~2 px a module at any roll centred in a strip's own rows lies wholly inside it with the
#: 5x5 test of its threshold (the larger ones are found on the coarser level too).
PIECE_PX = 240_000
OVERLAP = 24


@dataclass(frozen=True)
class Piece:
    """Rows ``own`` (start, stop) of a level, whose finders this piece gives, searched in
    rows ``rows`` (start, stop): ``own`` with ``OVERLAP`` rows either side."""

    own: tuple[int, int]
    rows: tuple[int, int]


def pieces(h: int, w: int) -> list[Piece]:
    """A level of ``h`` x ``w`` px in horizontal strips of at most ~``PIECE_PX`` pixels
    (one strip if it fits; strips of at least ``2 * WINDOW`` own rows)."""
    if h * w <= PIECE_PX:
        return [Piece((0, h), (0, h))]
    rows = max(PIECE_PX // max(w, 1) - 2 * OVERLAP, 2 * WINDOW)
    edges = np.linspace(0, h, -(-h // rows) + 1).round().astype(int)
    return [
        Piece((int(a), int(b)), (max(0, int(a) - OVERLAP), min(h, int(b) + OVERLAP)))
        for a, b in itertools.pairwise(edges)
    ]


def search_units(shape: tuple[int, int]) -> int:
    """The most units ``find_finders`` can spend on a frame of ``shape`` (every level, every
    piece, every ring looked at): the bound its work stays within."""
    h, w = shape
    total = 0
    for level in LEVELS:
        if min(h, w) // level < 2 * WINDOW or (level == 4 and max(h, w) <= QUARTER_FROM):
            continue
        for piece in pieces(h // level, w // level):
            total += _piece_units(piece, w // level) + units(MAX_RINGS, RINGS_PER_UNIT)
            total += -(-MAX_RINGS // RING_STEP) - 1  # a unit at least a step, rounded up
            total += units(h * w, RESIZE_PX) if level > 1 else 0
    return total


def _piece_units(piece: Piece, w: int) -> int:
    """Units of a piece's pixel passes (``SEARCH_PX``: the mean over frames with and without
    the second labelling)."""
    return units((piece.rows[1] - piece.rows[0]) * w, SEARCH_PX)


class _Level:
    """One pyramid level of a frame, downscaled on first use (and then once per call: it is
    not remembered, so a resumed search pays it again where it needs a piece)."""

    def __init__(self, gray: np.ndarray, level: int, budget: Budget | None) -> None:
        self.gray, self.level, self.budget = gray, level, budget
        self._image: np.ndarray | None = None
        self._pieces: dict[Piece, np.ndarray] = {}

    @property
    def image(self) -> np.ndarray:
        import cv2

        if self._image is None:
            h, w = self.gray.shape
            if self.level == 1:
                self._image = self.gray
            else:
                spend(self.budget, units(h * w, RESIZE_PX))
                size = (w // self.level, h // self.level)
                self._image = cv2.resize(self.gray, size, interpolation=cv2.INTER_AREA)
        return self._image

    def _rows(self, piece: Piece) -> np.ndarray:
        import cv2

        if piece not in self._pieces:
            r0, r1 = piece.rows
            image = self.image[r0:r1]
            self._pieces[piece] = cv2.GaussianBlur(image, (3, 3), 0) if self.level == 1 else image
        return self._pieces[piece]

    def rings(self, piece: Piece) -> list[_Ring]:
        """The piece's pixel passes: its ring components, best first (``_rings_of``)."""
        spend(self.budget, _piece_units(piece, self.image.shape[1]))
        return _rings_of(self._rows(piece))

    def finders(
        self, piece: Piece, rings: list[_Ring], skip: frozenset[int]
    ) -> list[tuple[int, Finder]]:
        """The close look at some of a piece's rings (those whose core is not in ``skip``):
        (core, finder) for the finders centred in its own rows."""
        todo = [r for r in rings if r.core not in skip]
        if not todo:
            return []
        spend(self.budget, units(len(todo), RINGS_PER_UNIT))
        image = self._rows(piece)
        out = []
        for ring in todo:
            finder = _finder(image, ring, self.level, piece.rows[0])
            own = finder is not None and (
                piece.own[0] <= (finder.centre[1] + 0.5) / self.level - 0.5 < piece.own[1]
            )
            if own:  # (a finder centred in the overlap is another strip's, found there whole)
                out.append((ring.core, finder))
        return out


def _piece_finders(scaled: _Level, piece: Piece, rings: list[_Ring], key: tuple) -> list[Finder]:
    """The finders of a piece's rings, best ring first, one a core, at most
    ``MAX_CANDIDATES``: looked at ``RING_STEP`` rings a remembered step."""
    out: list[Finder] = []
    cores: set[int] = set()
    for start in range(0, len(rings), RING_STEP):
        chunk = rings[start : start + RING_STEP]
        skip = frozenset(cores)
        found = remember(
            scaled.budget,
            (*key, "finders", start),
            lambda c=chunk, s=skip: scaled.finders(piece, c, s),
        )
        for core, finder in found:
            if core not in cores:
                cores.add(core)
                out.append(finder)
            if len(out) >= MAX_CANDIDATES:
                return out
    return out


def _merge(coarse: list[Finder], fine: list[Finder]) -> list[Finder]:
    """``fine`` and those of ``coarse`` that are not at the same place as one of them."""
    if not coarse or not fine:
        return coarse + fine
    a = np.array([f.centre for f in coarse])
    b = np.array([f.centre for f in fine])
    reach = 2.0 * np.maximum.outer([f.module for f in coarse], [f.module for f in fine])
    close = (np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1)) < reach).any(axis=1)
    return [f for f, c in zip(coarse, close, strict=True) if not c] + fine


def binarise(image: np.ndarray) -> np.ndarray:
    """1 where a pixel is dark against the mean of its ``WINDOW`` neighbourhood and not
    lighter than the 5x5 pixels around it (so a thin, blurred light ring between two dark
    ones, as a tilted finder has, stays light), else 0."""
    import cv2

    wide = cv2.adaptiveThreshold(
        image, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, WINDOW, 3
    )
    near = cv2.adaptiveThreshold(image, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 5, -2)
    return cv2.bitwise_and(wide, near)


@dataclass(frozen=True)
class _Ring:
    """A ring component centred on a core: its kind ("dark" or "light"), its box's top
    left (piece px), its mask over that box and its core's label."""

    kind: str
    x0: int
    y0: int
    mask: np.ndarray
    core: int


def _rings_of(image: np.ndarray) -> list[_Ring]:
    """The ring components of an image (a level or a piece of one), thresholded: dark cores
    with a light or a dark ring centred on them, best first, at most ``MAX_RINGS``."""
    import cv2

    if min(image.shape) < 2 * WINDOW:
        return []
    dark = binarise(image)
    _n, dark_labels, dark_stats, dark_cent = cv2.connectedComponentsWithStats(dark, 4)
    cores = _cores(dark_stats)
    pairs = _rings("dark", dark_stats, dark_cent, dark_labels, dark_stats, cores, True)
    light_labels = light_stats = None
    if _ringed(dark, dark_stats, cores).any():  # the light components cost a second pass
        _n, light_labels, light_stats, light_cent = cv2.connectedComponentsWithStats(1 - dark, 4)
        pairs += _rings("light", light_stats, light_cent, dark_labels, dark_stats, cores, False)
    pairs.sort(key=lambda p: p[0])  # best first: ring to core size nearest a finder's
    out = []
    for _err, kind, ring, core in pairs[:MAX_RINGS]:
        labels = dark_labels if kind == "dark" else light_labels
        stats = dark_stats if kind == "dark" else light_stats
        assert labels is not None and stats is not None
        x0, y0, bw, bh, _area = (int(v) for v in stats[ring])
        mask = (labels[y0 : y0 + bh, x0 : x0 + bw] == ring).astype(np.uint8)
        out.append(_Ring(kind, x0, y0, mask, core))
    return out


#: Most ring components looked at closely per level (each a few small OpenCV calls).
MAX_RINGS = 120


def _cores(stats: np.ndarray) -> np.ndarray:
    """Dark components shaped like a finder's core: compact, a few px, not too elongated."""
    w = stats[:, 2].astype(np.float64)
    h = stats[:, 3].astype(np.float64)
    area = stats[:, 4].astype(np.float64)
    ok = (np.minimum(w, h) >= MIN_CORE) & (np.maximum(w, h) <= 3.5 * np.minimum(w, h))
    ok &= area >= 0.3 * w * h
    ok[0] = False  # background label
    return ok


def _ringed(dark: np.ndarray, stats: np.ndarray, cores: np.ndarray) -> np.ndarray:
    """Which cores look ringed, by 8 pixels: light at 1.33 of the core's half size from its
    centre (mid light ring, at any roll) and dark at 2 (mid dark ring), each in at least 3 of
    the 4 directions along the axes. Only where some core is does the light ring search
    run (a scene of blobs, text and texture mostly has none)."""
    h, w = dark.shape
    x0, y0, bw, bh = (stats[:, i].astype(np.float64) for i in range(4))
    cx, cy = x0 + bw / 2 - 0.5, y0 + bh / 2 - 0.5
    votes = []
    for reach, want in ((1.33, 0), (2.0, 1)):
        hits = np.zeros(len(stats), np.int64)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            x = np.clip(np.round(cx + dx * reach * bw / 2).astype(np.int64), 0, w - 1)
            y = np.clip(np.round(cy + dy * reach * bh / 2).astype(np.int64), 0, h - 1)
            hits += dark[y, x] == want
        votes.append(hits >= 3)
    return cores & votes[0] & votes[1]


def _rings(
    kind: str,
    stats: np.ndarray,
    cent: np.ndarray,
    dark_labels: np.ndarray,
    dark_stats: np.ndarray,
    cores: np.ndarray,
    own: bool,
) -> list[tuple[float, str, int, int]]:
    """(error, kind, ring label, core label) for components of ``kind`` centred on a core."""
    h, w = dark_labels.shape
    ok = np.isfinite(cent).all(axis=1)  # a label with no pixels has a NaN centroid
    cent = np.where(ok[:, None], cent, -1.0)
    cx = np.clip(np.round(cent[:, 0]).astype(np.int64), 0, w - 1)
    cy = np.clip(np.round(cent[:, 1]).astype(np.int64), 0, h - 1)
    ok[0] = False
    core = dark_labels[cy, cx]
    ok &= core > 0
    ok &= cores[core]
    if own:
        ok &= core != np.arange(len(stats))
    x0, y0, bw, bh, area = (stats[:, i].astype(np.float64) for i in range(5))
    c = dark_stats[core]
    cx0, cy0, cw, ch, carea = (c[:, i].astype(np.float64) for i in range(5))
    # the ring's box holds the core's, with room on every side
    ok &= (x0 < cx0) & (y0 < cy0) & (x0 + bw > cx0 + cw) & (y0 + bh > cy0 + ch)
    ratio = np.sqrt(bw * bh / np.maximum(cw * ch, 1.0))
    want = 5 / 3 if kind == "light" else 7 / 3
    ok &= (ratio > 0.6 * want) & (ratio < 1.9 * want)
    ok &= (area > 0.5 * carea) & (area < 12 * carea)
    # the ring is a ring: its box is not mostly filled (a core fills 1, a 5-3 ring 0.64)
    ok &= area < 0.9 * bw * bh
    # centred: the ring's centroid near the core's box centre (in core sizes)
    off = np.hypot(cent[:, 0] - (cx0 + cw / 2), cent[:, 1] - (cy0 + ch / 2))
    ok &= off < 0.35 * np.sqrt(np.maximum(cw * ch, 1.0))
    idx = np.flatnonzero(ok)
    err = np.abs(np.log(ratio[idx] / want))
    return [(float(e), kind, int(i), int(core[i])) for e, i in zip(err, idx, strict=True)]


def _finder(image: np.ndarray, ring: _Ring, level: int, row0: int = 0) -> Finder | None:
    """The candidate from its ring component: the ring's second moments whitened give the
    finder's shape up to a rotation, the ring's outline in that frame the rotation; kept
    if the grey modules there correlate with a finder's. ``image``: the piece the ring is
    in, ``row0`` its first row in the level."""
    import cv2

    x0, y0, mask, kind = ring.x0, ring.y0, ring.mask, ring.kind
    m = cv2.moments(mask, binaryImage=True)
    if m["m00"] <= 0:
        return None
    cov = np.array([[m["mu20"], m["mu11"]], [m["mu11"], m["mu02"]]]) / m["m00"]
    vals, vecs = np.linalg.eigh(cov)
    if not np.isfinite(vals).all() or vals[0] <= 0.25 or vals[1] > 6.0 * vals[0]:
        return None  # a line, or foreshortened far past 50 degrees
    var = _RING_VAR[kind]
    whiten = (vecs / np.sqrt(vals / var)) @ vecs.T  # level px -> modules, up to a rotation
    centre = np.array([x0 + m["m10"] / m["m00"], y0 + m["m01"] / m["m00"]])
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea).reshape(-1, 2) + np.array([x0, y0]) - centre
    _c, _size, angle = cv2.minAreaRect((outline @ whiten.T).astype(np.float32))
    a = np.deg2rad(angle)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    axes = np.linalg.inv(whiten) @ rotation  # columns: a module along each side, level px
    score = finder_score(image, centre, axes)
    if score < MIN_SCORE:
        return None
    centre = centre + np.array([0.0, row0])
    return Finder(
        (centre + 0.5) * level - 0.5,
        axes * level,
        whiten / level,
        float(level * np.sqrt(abs(np.linalg.det(axes)))),
        score,
        level,
    )


#: Least correlation of the 9x9 modules around a candidate with a finder and its separator.
MIN_SCORE = 0.5

_PATTERN = np.pad(np.pad(np.pad(np.ones((3, 3)), 1), 1, constant_values=1), 1)  # 1 = dark
_GRID = np.stack(np.meshgrid(np.arange(-4, 5), np.arange(-4, 5)), axis=-1).reshape(-1, 2)


def finder_score(image: np.ndarray, centre: np.ndarray, axes: np.ndarray) -> float:
    """Correlation of the grey levels at the 9x9 module centres around ``centre`` (``axes``
    one module along each side, px) with a finder and its light separator (dark: high);
    -1 where they fall outside the image or are flat."""
    import cv2

    pts = (centre + _GRID @ axes.T).astype(np.float32)
    h, w = image.shape
    if not ((pts >= 0).all() and (pts[:, 0] <= w - 1).all() and (pts[:, 1] <= h - 1).all()):
        return -1.0
    values = (
        cv2.remap(image, pts[:, 0].reshape(1, -1), pts[:, 1].reshape(1, -1), cv2.INTER_LINEAR)
        .astype(np.float64)
        .ravel()
    )
    # the pattern is symmetric under the square's rotations: no orientation needed
    dark = -values
    spread = dark.std()
    if spread < 1e-6:
        return -1.0
    pattern = _PATTERN.ravel()
    return float(np.corrcoef(dark, pattern)[0, 1])


# --------------------------------------------------------------------------- grouping


#: How far the triple may be from a square symbol's corner, in the whitened frame of the
#: top-left finder: the two sides' lengths within this ratio, their angle within this
#: cosine of a right angle; the three finders' module sizes within this ratio.
SIDE_RATIO = 1.35
MAX_COS = 0.35
MODULE_RATIO = 2.4  # measured: 2.0 between the near and far finders of a v27 code at 50 deg
#: Finder centre spacing in modules: version 1 (14) to 40 (170), with a margin.
MIN_SPACING, MAX_SPACING = 10.0, 180.0


@dataclass(frozen=True)
class Triple:
    """Three finders as a symbol's top left, top right, bottom left, and the symbol's size
    in modules estimated from their spacing."""

    tl: Finder
    tr: Finder
    bl: Finder
    modules: int
    error: float


def group(finders: list[Finder], limit: int = MAX_SYMBOLS) -> list[Triple]:
    """The likeliest symbol corners among the candidates, best first, no finder used twice."""
    k = len(finders)
    if k < 3:
        return []
    centres = np.array([f.centre for f in finders])
    whiten = np.array([f.whiten for f in finders])
    module = np.array([f.module for f in finders])
    diff = centres[None, :, :] - centres[:, None, :]  # [i, j] = c_j - c_i
    local = np.einsum("iab,ijb->ija", whiten, diff)  # c_j - c_i in i's modules
    dist = np.hypot(local[..., 0], local[..., 1])
    side = (dist >= MIN_SPACING) & (dist <= MAX_SPACING)
    size_ok = np.maximum(module[:, None], module[None, :]) <= MODULE_RATIO * np.minimum(
        module[:, None], module[None, :]
    )
    side &= size_ok
    i, j, m = np.nonzero(side[:, :, None] & side[:, None, :])
    keep = j < m
    i, j, m = i[keep], j[keep], m[keep]
    if i.size == 0:
        return []
    keep = size_ok[j, m]
    i, j, m = i[keep], j[keep], m[keep]
    a, b = local[i, j], local[i, m]
    cos = np.abs(np.einsum("na,na->n", a, b)) / (dist[i, j] * dist[i, m])
    # the sides in modules as both their ends see them (perspective scales each finder's
    # own view: the geometric mean of the two is nearer the truth than either)
    sym = np.sqrt(dist * dist.T)
    da, db = sym[i, j], sym[i, m]
    ratio = np.maximum(da, db) / np.minimum(da, db)
    # from either far finder, the other two are ~45 degrees apart
    far = np.abs(_cos(local, j, i, m) - np.sqrt(0.5)) + np.abs(_cos(local, m, i, j) - np.sqrt(0.5))
    ok = (ratio <= SIDE_RATIO) & (cos <= MAX_COS) & (far < 0.5)
    if not ok.any():
        return []
    i, j, m, ratio, cos, far = i[ok], j[ok], m[ok], ratio[ok], cos[ok], far[ok]
    error = np.log(ratio) + cos + far / 2
    order = np.argsort(error)
    out: list[Triple] = []
    used: set[int] = set()
    for n in order[: 50 * limit]:
        ids = {int(i[n]), int(j[n]), int(m[n])}
        if ids & used:
            continue
        tl, p, q = finders[int(i[n])], finders[int(j[n])], finders[int(m[n])]
        u, v = p.centre - tl.centre, q.centre - tl.centre
        if u[0] * v[1] - u[1] * v[0] < 0:  # image y points down: tl -> tr -> bl is clockwise
            p, q = q, p
        spacing = (float(sym[i[n], j[n]]) + float(sym[i[n], m[n]])) / 2
        out.append(Triple(tl, p, q, _symbol_size(spacing), float(error[n])))
        used |= ids
        if len(out) >= limit:
            break
    return out


def _cos(local: np.ndarray, at: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """|cos| of the angle at finder ``at`` between the directions to ``p`` and ``q``, in
    ``at``'s whitened frame."""
    u, v = local[at, p], local[at, q]
    norm = np.hypot(u[:, 0], u[:, 1]) * np.hypot(v[:, 0], v[:, 1])
    return np.abs(np.einsum("na,na->n", u, v)) / np.maximum(norm, 1e-9)


def _symbol_size(spacing: float) -> int:
    version = int(np.clip(round((spacing + 7 - 17) / 4), 1, 40))
    return 17 + 4 * version


# --------------------------------------------------------------------------- outline


def outline(triple: Triple) -> np.ndarray | None:
    """The symbol's four corners (frame px, clockwise from its top left), or None where the
    geometry is degenerate. The affine map of the three centres, then a homography fitted
    to the centres and the finders' ring corners where that fits them better."""
    import cv2

    n = triple.modules
    src = np.float32([[3.5, 3.5], [n - 3.5, 3.5], [3.5, n - 3.5]])
    dst = np.float32([triple.tl.centre, triple.tr.centre, triple.bl.centre])
    if not np.isfinite(dst).all():
        return None
    affine = cv2.getAffineTransform(src, dst).astype(np.float64)
    matrix = np.vstack([affine, [0, 0, 1]])
    if abs(np.linalg.det(affine[:, :2])) < 1.0:
        return None
    refined = _ring_homography(triple, matrix)
    corners = np.float64([[0, 0], [n, 0], [n, n], [0, n]])
    best = refined if refined is not None else matrix
    quad = project(best, corners)
    if not np.isfinite(quad).all() or not _convex(quad):
        quad = project(matrix, corners)
    if not np.isfinite(quad).all() or not _convex(quad):
        return None
    return quad.astype(np.float32)


def _convex(quad: np.ndarray) -> bool:
    edges = np.roll(quad, -1, axis=0) - quad
    cross = (
        edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1]
        - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    )
    return bool((cross > 0).all() or (cross < 0).all())


def _ring_homography(triple: Triple, affine: np.ndarray) -> np.ndarray | None:
    """Module -> frame homography on the three finder centres and each finder's corners as
    its own shape puts them (matched to the module corners the affine map puts nearest):
    each finder's local size and slant carry the perspective the centres alone lack."""
    import cv2

    inverse = np.linalg.inv(affine)
    n = triple.modules
    module_pts, frame_pts = [], []
    origins = ((3.5, 3.5), (n - 3.5, 3.5), (3.5, n - 3.5))
    square = np.float64([[-3.5, -3.5], [3.5, -3.5], [3.5, 3.5], [-3.5, 3.5]])
    for finder, origin in zip((triple.tl, triple.tr, triple.bl), origins, strict=True):
        module_pts.append(origin)
        frame_pts.append(tuple(finder.centre))
        corners = finder.centre + square @ finder.axes.T
        seen = project(inverse, corners) - origin  # in modules, by the affine map
        for corner, at in zip(corners, seen, strict=True):
            target = np.sign(at) * 3.5
            if np.hypot(*(at - target)) < 2.0 and (target != 0).all():
                module_pts.append(tuple(np.add(origin, target)))
                frame_pts.append(tuple(corner))
    if len(module_pts) < 9:
        return None
    matrix, _mask = cv2.findHomography(np.float64(module_pts), np.float64(frame_pts), 0)
    if matrix is None or not np.isfinite(matrix).all():
        return None
    err = np.hypot(*(project(matrix, np.float64(module_pts)) - np.float64(frame_pts)).T)
    pitch = min(triple.tl.module, triple.tr.module, triple.bl.module)
    return matrix if float(np.median(err)) < 0.7 * pitch else None


@dataclass(frozen=True)
class Candidate:
    """A probable symbol: its outline (4x2 frame px, clockwise), its finder centres (3x2:
    top left, top right, bottom left; None when only two were seen) and modules across."""

    corners: np.ndarray
    centres: np.ndarray | None
    modules: int


#: Least finder score of both finders of a pair that stands in for a symbol (where the
#: third finder is lost: foreshortened, blurred or under glare), and how much more texture
#: the symbol's side of the pair must show than the other side.
PAIR_SCORE = 0.75
PAIR_TEXTURE = 1.3


def pair_candidate(gray: np.ndarray, finders: list[Finder]) -> Candidate | None:
    """A symbol from two finders along one of its sides or its diagonal, the best-scoring
    such pair first (at most 6 pairs tried): the square they span, on the side of the side
    pair that shows more module texture. The grid reader then searches all three finders
    in its view of that square."""
    strong = sorted((f for f in finders if f.score >= PAIR_SCORE), key=lambda f: -f.score)[:6]
    best: tuple[float, Candidate] | None = None
    for k, a in enumerate(strong):
        for b in strong[k + 1 :]:
            if max(a.module, b.module) > MODULE_RATIO * min(a.module, b.module):
                continue
            try:
                found = _pair_squares(a, b)
            except (np.linalg.LinAlgError, ArithmeticError, ValueError):
                continue
            scored = [(_texture(gray, quad, n), quad, n) for quad, n in found]
            scored = [t for t in scored if np.isfinite(t[0])]
            if not scored:
                continue
            scored.sort(key=lambda t: -t[0])
            if len(scored) == 2 and scored[0][0] < PAIR_TEXTURE * max(scored[1][0], 1e-6):
                continue  # no side looks like the symbol's
            texture, quad, n = scored[0]
            if best is None or texture > best[0]:
                best = (texture, Candidate(quad.astype(np.float32), None, n))
    return None if best is None else best[1]


def _pair_squares(a: Finder, b: Finder) -> list[tuple[np.ndarray, int]]:
    """Symbol outlines two finders allow, with their size in modules: both squares beside
    a side pair, the one square of a diagonal pair; none for any other angle."""
    u = np.linalg.solve(a.axes, b.centre - a.centre)  # in a's modules, along its sides
    v = np.linalg.solve(b.axes, a.centre - b.centre)
    dist = float(np.sqrt(np.hypot(*u) * np.hypot(*v)))
    lo, hi = sorted(np.abs(u))
    out = []
    if lo <= 0.2 * hi and MIN_SPACING <= dist <= MAX_SPACING:  # a side: the square beside
        n = _symbol_size(dist)
        perp = a.axes @ np.array([-u[1], u[0]])  # the side turned a right angle, frame px
        for sign in (1.0, -1.0):
            out.append((_centres_square(a.centre, b.centre, b.centre + sign * perp, n), n))
    elif abs(hi - lo) <= 0.2 * hi and MIN_SPACING * 1.41 <= dist <= MAX_SPACING * 1.41:
        n = _symbol_size(dist / np.sqrt(2))
        mid, half = (a.centre + b.centre) / 2, a.axes @ np.array([-u[1], u[0]]) / 2
        out.append((_centres_square(a.centre, mid + half, b.centre, n), n))
    return out


def _centres_square(p: np.ndarray, q: np.ndarray, r: np.ndarray, n: int) -> np.ndarray:
    """The symbol outline (clockwise) whose finder-centre square has consecutive corners
    ``p``, ``q``, ``r`` (3.5 modules in from the symbol's corners)."""
    import cv2

    src = np.float32([[3.5, 3.5], [n - 3.5, 3.5], [n - 3.5, n - 3.5]])
    affine = cv2.getAffineTransform(src, np.float32([p, q, r])).astype(np.float64)
    quad = project(np.vstack([affine, [0, 0, 1]]), np.float64([[0, 0], [n, 0], [n, n], [0, n]]))
    x, y = quad[:, 0], quad[:, 1]
    if float(x @ np.roll(y, -1) - y @ np.roll(x, -1)) < 0:  # counter-clockwise (y down)
        quad = quad[::-1]
    return quad


def _texture(gray: np.ndarray, quad: np.ndarray, n: int) -> float:
    """Module-scale texture inside an outline: mean absolute difference between grey
    levels one module apart on a grid of module centres over its middle (data modules
    differ at random; a screen, bezel or wall mostly do not); NaN outside the frame."""
    import cv2

    grid = np.arange(6.5, n - 6.5, max(1.0, (n - 13) / 24))
    uu, vv = np.meshgrid(grid, grid)
    pts = np.c_[uu.ravel(), vv.ravel()]
    src = np.float32([[0, 0], [n, 0], [n, n]])
    affine = cv2.getAffineTransform(src, quad[:3].astype(np.float32)).astype(np.float64)
    at = pts @ affine[:, :2].T + affine[:, 2]
    step = at + (affine[:, 0] * 1.0)  # one module along the first side
    h, w = gray.shape
    inside = (at >= 0).all(1) & (at[:, 0] < w - 1) & (at[:, 1] < h - 1)
    inside &= (step >= 0).all(1) & (step[:, 0] < w - 1) & (step[:, 1] < h - 1)
    if inside.mean() < 0.8:
        return float("nan")

    def sample(p: np.ndarray) -> np.ndarray:
        m = p[inside].astype(np.float32)
        return cv2.remap(gray, m[:, 0].reshape(1, -1), m[:, 1].reshape(1, -1), cv2.INTER_LINEAR)

    return float(np.mean(np.abs(sample(at).astype(np.float64) - sample(step))))


def symbols(
    gray: np.ndarray, budget: Budget | None = None, fine: bool | None = None
) -> list[Candidate]:
    """The likeliest QR symbols in the frame, best first (at most ``MAX_SYMBOLS``); empty
    when no three finders make a symbol. ``fine``: as for ``find_finders``."""
    out = []
    finders = find_finders(gray, budget, fine)
    for triple in group(finders):
        try:
            quad = outline(triple)
        except (np.linalg.LinAlgError, ArithmeticError, ValueError):
            quad = None
        if quad is not None:
            centres = np.array([triple.tl.centre, triple.tr.centre, triple.bl.centre])
            out.append(Candidate(quad, centres.astype(np.float32), triple.modules))
    if not out and PAIRS:
        pair = pair_candidate(gray, finders)
        if pair is not None:
            out.append(pair)
    return out


#: Whether two finders alone may stand in for a symbol (``pair_candidate``).
PAIRS = True


def symbol_outlines(gray: np.ndarray, budget: Budget | None = None) -> list[np.ndarray]:
    """Just the outlines of ``symbols``."""
    return [c.corners for c in symbols(gray, budget)]
