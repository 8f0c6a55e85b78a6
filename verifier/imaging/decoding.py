"""Image -> QR texts. The one decode path shared by image files and camera frames.

Stable API (the CLI, the scan loop and the UI call only these):
``decode_gray(gray) -> list[str]`` and ``load_gray(path) -> ndarray``.

The default pipeline (measured in ``bench/RESULTS.md``):

1. zxing-cpp (QR only, no inverted pass) on the whole frame; a sharp code stops here, and
   a frame with no code costs only this plus a cheap texture probe.
2. Otherwise find the symbol, at most two regions a frame: the largest dense, roughly
   square patch of fine texture (the probe; on a frame banded by a display's PWM, looked
   for again on the frame over its local mean); then, where that region is missing or
   failed, three finder patterns that make a symbol (``locate``: finder cores and rings on
   an image pyramid of the locally thresholded frame, at any roll and up to ~50 degrees of
   tilt, its outline with the perspective; full resolution only where the probe saw
   texture or the coarser level saw finders); else zxing's position for a QR symbol it
   detected but could not decode. No region found: give up (the cheap empty-frame path).
3. Fallbacks within a time budget, all the module-grid reader of ``decoding_grid``
   (finder patterns, found by template in a rough view of the region or, for a finder
   region, taken from the search; a homography polished on every module, module centres
   sampled and equalised, a clean symbol re-rendered for zxing): on the crop, on its
   de-moired copy, with the grid refitted to the symbol as first read, with the next
   likeliest version.

Only texts a decoder actually decoded (Reed-Solomon checked) are ever returned.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

import verifier.imaging.erasures  # noqa: F401 - reedsolo loaded at start, not on the first glare
from verifier.core.errors import ConfigError
from verifier.imaging.budget import Budget, OutOfBudget, remember, spend, units
from verifier.imaging.decoding_grid import Located, Symbol, qr_results, read_located
from verifier.imaging.locate import symbols

log = logging.getLogger(__name__)

#: Modules across an ML1 code (version 23-24 QR); the warp aims at this grid size.
ML1_MODULES = 113


#: Bounds on an image file, checked on its header before anything is decoded: a few hundred
#: bytes can declare gigapixels. 24 megapixels takes a 12 or 20 MP phone photo and the Pi
#: cameras' stills (12 MP); the greyscale frame is then at most 24 MB, and a small file that
#: declares the most allowed still decodes in seconds (a mutated 300-byte PNG declaring 50 MP
#: took 15 s here on a loaded machine).
MAX_IMAGE_PIXELS = 24_000_000
MAX_IMAGE_SIDE = 10_000
MAX_IMAGE_BYTES = 128 * 1024 * 1024
#: What Pillow must identify the header as; cv2 decodes the same formats (allow-list).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "PPM")


def image_size(data: bytes, name: str = "image") -> tuple[int, int]:
    """(width, height) from the header alone; ConfigError if it is no image or too large.

    Pillow's ``Image.open`` reads only the header (PNG's IHDR, JPEG's SOF, ...); the pixels are
    decoded later, by cv2, only once the declared size is within the bounds above.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
    except Image.DecompressionBombError as exc:  # Pillow's own refusal, past 179 megapixels
        pixels = re.search(r"\(([0-9]+) pixels\)", str(exc))
        raise _too_large(name, f"{int(pixels[1]):,} pixels" if pixels else "a huge size") from None
    except (UnidentifiedImageError, Exception):
        # Pillow's plugins raise many kinds on a damaged header (OSError, SyntaxError for "not
        # this format", struct.error, IndexError, ...): every one of them is a refusal
        raise ConfigError(f"cannot read image {name}: not a PNG/JPEG image") from None
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE) or (
        width * height > MAX_IMAGE_PIXELS
    ):
        raise _too_large(name, f"{width} x {height} pixels")
    return width, height


def _too_large(name: str, declared: str) -> ConfigError:
    return ConfigError(
        f"cannot read image {name}: it declares {declared}, more than the "
        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels an image may have"
    )


def load_gray(path: str | Path) -> np.ndarray:
    """Read an image file as an 8-bit greyscale array; ConfigError if it can't be read.

    The file's size and the dimensions its header declares are bounded before any pixel is
    decoded (``image_size``): a bomb is a one-sentence refusal, never gigabytes or a traceback.
    """
    import cv2

    file = Path(path)
    try:
        if not file.is_file():
            raise ConfigError(f"cannot read image {path}: no such file")
        if file.stat().st_size > MAX_IMAGE_BYTES:
            raise ConfigError(
                f"cannot read image {path}: larger than {MAX_IMAGE_BYTES // 2**20} MiB"
            )
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image_size(data, str(path))
    try:
        gray = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    except cv2.error:  # cv2 refuses some damaged files by raising instead of returning None
        gray = None
    if gray is None:
        raise ConfigError(f"cannot read image {path}: not a PNG/JPEG image")
    return gray


def decode_gray(gray: np.ndarray) -> list[str]:
    """Texts of every QR code found in a greyscale frame (possibly none)."""
    return _default_pipeline().decode(gray)


# --------------------------------------------------------------------------- decoders


class Decoder(Protocol):
    """Anything that turns a greyscale frame into the QR texts it could decode."""

    name: str

    def decode(self, gray: np.ndarray) -> list[str]: ...


def _as_gray(gray: np.ndarray) -> np.ndarray:
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 greyscale frame, got {gray.shape} {gray.dtype}")
    return gray if gray.flags.c_contiguous else np.ascontiguousarray(gray)


def _unique(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t))


def zxing_read(
    gray: np.ndarray, *, downscale: bool = True, errors: bool = False, invert: bool = True
) -> list:
    """zxing-cpp results for QR codes proper only, never Micro QR or rMQR (with undecodable
    detections when ``errors``; ``invert`` also tries the inverted image, which doubles the
    cost on a busy frame)."""
    import zxingcpp

    results = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormat.QRCode,
        try_downscale=downscale,
        try_invert=invert,
        return_errors=errors,
    )
    return qr_results(results)


def zxing_texts(gray: np.ndarray, *, downscale: bool = True) -> list[str]:
    return _unique([r.text for r in zxing_read(gray, downscale=downscale) if r.valid])


def pyzbar_texts(gray: np.ndarray) -> list[str]:
    """pyzbar (libzbar) QR texts; zbar hands back bytes, ML1 texts are ASCII."""
    from pyzbar import pyzbar

    found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return _unique([r.data.decode("latin-1") for r in found])


class ZxingDecoder:
    """zxing-cpp once on the whole frame (it tries inverted and downscaled copies itself)."""

    name = "zxing"

    def decode(self, gray: np.ndarray) -> list[str]:
        return zxing_texts(_as_gray(gray))


class PyzbarDecoder:
    """pyzbar on the frame, then (``invert``) on its inverse if nothing was found (dark mode)."""

    def __init__(self, invert: bool = True) -> None:
        self.invert = invert
        self.name = "pyzbar" if invert else "pyzbar-plain"

    def decode(self, gray: np.ndarray) -> list[str]:
        gray = _as_gray(gray)
        texts = pyzbar_texts(gray)
        if not texts and self.invert:
            texts = pyzbar_texts(255 - gray)
        return texts


class OpenCVDecoder:
    """OpenCV's QRCodeDetector, for comparison only (slow and weak on these frames)."""

    name = "opencv"

    def __init__(self) -> None:
        import cv2

        self._detector = cv2.QRCodeDetector()

    def decode(self, gray: np.ndarray) -> list[str]:
        ok, texts, _points, _codes = self._detector.detectAndDecodeMulti(_as_gray(gray))
        return _unique(list(texts)) if ok else []


# --------------------------------------------------------------------------- region finding


@dataclass(frozen=True)
class Region:
    """A probable QR symbol: four corners (x, y) in frame pixels, clockwise from top left."""

    corners: np.ndarray
    source: str  # "texture", "finders" or "zxing" (detected, not decoded)
    #: "finders": the three finder centres (top left, top right, bottom left, frame px) and
    #: the modules across the symbol they suggest, for the grid reader to start from.
    centres: np.ndarray | None = None
    modules: int = 0


def _order_clockwise(pts: np.ndarray) -> np.ndarray:
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    return pts[np.argsort(angles)].astype(np.float32)


def _position_corners(result: object) -> np.ndarray:
    pos = result.position  # type: ignore[attr-defined]
    pts = [pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left]
    return _order_clockwise(np.array([[p.x, p.y] for p in pts], dtype=np.float32))


@dataclass(frozen=True)
class TextureProbe:
    """Finds the densest roughly-square patch of fine texture, cheaply, at half resolution.

    A QR code seen by the camera is a compact block of strong module edges; phone frames,
    text lines and smooth backgrounds are not. Thresholds are relative to the frame's
    strongest texture so exposure does not matter, with an absolute floor for flat frames.

    An OLED's PWM seen by a rolling shutter lays dark bands across the frame, which split the
    texture into strips; where none is found and the frame shows such bands (``banding``
    at least ``band_gate``), the search is repeated on the frame divided by its local mean
    (bench/bench_banding.py has what this buys and costs).
    """

    scale: int = 2
    window: int = 9
    floor: float = 25.0
    min_side: int = 40  # at probe scale: 80 camera px, far below any readable ML1 symbol
    max_aspect: float = 2.5
    min_solidity: float = 0.8
    band_gate: float = 0.2  # 0: never look again. Measured (bench/bench_banding.py): the
    # benchmark's code-free frames up to 0.17, the corpus under 0.03, bands of depth 0.4 0.26+

    def find(self, gray: np.ndarray) -> np.ndarray | None:
        found = self._find(gray)
        if found is None and self.band_gate and banding(gray) >= self.band_gate:
            found = self._find(local_contrast(gray))
        return found

    def _find(self, gray: np.ndarray) -> np.ndarray | None:
        import cv2

        h, w = gray.shape
        small = cv2.resize(gray, (w // self.scale, h // self.scale), interpolation=cv2.INTER_AREA)
        grad = cv2.morphologyEx(small, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        density = cv2.boxFilter(grad, -1, (self.window, self.window))
        peak = float(density.max())
        if peak < self.floor:
            return None
        mask = (density > max(self.floor, 0.5 * peak)).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((self.window, self.window), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return None
        blob = max(contours, key=cv2.contourArea)
        (_cx, _cy), (rw, rh), _angle = cv2.minAreaRect(blob)
        if min(rw, rh) < self.min_side or max(rw, rh) > self.max_aspect * min(rw, rh):
            return None
        hull = cv2.convexHull(blob)
        if cv2.contourArea(blob) < self.min_solidity * cv2.contourArea(hull):
            return None
        quad = _four_corners(hull)
        return _order_clockwise(quad * self.scale + (self.scale - 1) / 2)


def banding(gray: np.ndarray, shortest: int = 25, longest: int = 220) -> float:
    """How strongly the frame is banded row-wise with a period of ``shortest`` to
    ``longest`` rows: the amplitude of the strongest such period in the row means, over the
    frame's mean (0.19-0.20 on issue 16's field frames, under 0.03 on the corpus)."""
    import cv2

    if gray.shape[0] < 2 * longest:
        return 0.0
    rows = cv2.reduce(gray, 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()
    mean = float(rows.mean())
    reach = 60  # a moving mean over 121 rows: the slow shading of the scene, removed
    padded = np.pad(rows, reach, mode="edge")
    rows = rows - np.convolve(padded, np.full(2 * reach + 1, 1 / (2 * reach + 1)), "valid")
    spectrum = np.abs(np.fft.rfft(rows * np.hanning(rows.size)))
    freq = np.fft.rfftfreq(rows.size)
    band = (freq >= 1 / longest) & (freq <= 1 / shortest)
    return float(spectrum[band].max() * 4 / rows.size / (mean + 1.0))


def local_contrast(gray: np.ndarray, window: int = 41) -> np.ndarray:
    """Each pixel over the mean of its neighbourhood (x 128): bands of light change the
    brightness, not the ratio of a module to its neighbours."""
    import cv2

    g = gray.astype(np.float32)
    return np.clip(g / (cv2.blur(g, (window, window)) + 8.0) * 128, 0, 255).astype(np.uint8)


def _four_corners(hull: np.ndarray) -> np.ndarray:
    import cv2

    perimeter = cv2.arcLength(hull, True)
    for eps in np.linspace(0.01, 0.1, 19):
        approx = cv2.approxPolyDP(hull, float(eps) * perimeter, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    return cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)


def finder_regions(
    gray: np.ndarray, budget: Budget | None = None, fine: bool | None = None
) -> list[Region]:
    """Symbols made of three finder patterns (``locate.symbols``; ``fine``: search the full
    resolution too); none on a geometry error (counted nowhere: the search is only a guess
    at where to look)."""
    try:
        found = symbols(gray, budget, fine)
    except _geometry_errors():
        return []
    return [Region(c.corners, "finders", c.centres, c.modules) for c in found]


# --------------------------------------------------------------------------- image fixes


def remove_moire(gray: np.ndarray, min_period: float = 4.5, max_period: float = 30.0) -> np.ndarray:
    """Notch out sharp periodic peaks (display moire, screen-door stripes) from the spectrum.

    QR modules spread their energy over the spectrum; stripes put it in a few spikes far
    above their neighbourhood, so only those are zeroed, within a band of stripe periods.
    Returns ``gray`` itself when there are none (or it is too small to have a spectrum).
    """
    import cv2

    if min(gray.shape) < 2 * max_period:
        return gray
    f = gray.astype(np.float32)
    spectrum = np.fft.rfft2(f - f.mean())
    log_mag = np.log1p(np.abs(spectrum)).astype(np.float32)
    shifted = np.fft.fftshift(log_mag, axes=0)
    background = np.fft.ifftshift(cv2.medianBlur(shifted, 5), axes=0)
    fy = np.fft.fftfreq(f.shape[0])[:, None]
    fx = np.fft.rfftfreq(f.shape[1])[None, :]
    radius = np.hypot(fy, fx)
    band = (radius > 1 / max_period) & (radius < 1 / min_period)
    peaks = (band & (log_mag - background > np.log(6.0))).astype(np.uint8)
    if not peaks.any():
        return gray
    peaks = cv2.dilate(peaks, np.ones((5, 5), np.uint8))
    spectrum[peaks > 0] = 0
    out = np.fft.irfft2(spectrum, s=f.shape) + f.mean()
    return np.clip(out, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- the pipeline


class _Work:
    """One region of a frame and what the fallback stages share: the crop around it, its
    de-moired copy and the located symbol, each computed on first use."""

    def __init__(
        self,
        gray: np.ndarray,
        corners: np.ndarray,
        budget: Budget | None = None,
        region: Region | None = None,
    ) -> None:
        pad = 30
        self.budget = budget
        h, w = gray.shape
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)) - pad, 0).astype(int)
        x1 = int(min(w, np.ceil(corners[:, 0].max()) + pad))
        y1 = int(min(h, np.ceil(corners[:, 1].max()) + pad))
        self.crop = gray[y0:y1, x0:x1]
        self.corners = (corners - np.float32([x0, y0])).astype(np.float32)
        self.known = None  # finder centres (crop px) and modules the region came with
        if region is not None and region.centres is not None:
            self.known = (region.centres - np.float32([x0, y0]), region.modules)
        self.origin = (int(x0), int(y0))  # of the crop in the frame
        self._clean: np.ndarray | None = None
        self._symbol: Symbol | None = None
        #: The best version candidate's grid (crop coordinates), once a stage has fitted it.
        self.located: Located | None = None

    @property
    def clean(self) -> np.ndarray:
        if self._clean is None:
            spend(self.budget, units(self.crop.size, MOIRE_PX))  # two FFTs of the crop
            self._clean = remove_moire(self.crop)
        return self._clean

    @property
    def symbol(self) -> Symbol:
        if self._symbol is None:
            self._symbol = Symbol(self.crop, self.corners, self.budget, self.known)
        return self._symbol

    def read(self, rank: int = 0, clean: bool = False, refine: int = 0) -> list[str]:
        """Grid-read the ``rank``-th version candidate from the crop or (``clean``) its
        de-moired copy; nothing to do without a symbol or, for ``clean``, without moire."""
        where = self.symbol.grid(rank)
        if where is None:
            return []
        if rank == 0:
            self.located = where
        image = self.clean if clean else self.crop
        if clean and image is self.crop:
            return []
        return read_located(image, where, refine, self.budget)

    def located_in_frame(self) -> Located | None:
        """``located`` with its homography taking frame (not crop) coordinates."""
        if self.located is None:
            return None
        x0, y0 = self.origin
        shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
        return replace(self.located, frame_to_module=self.located.frame_to_module @ shift)

    def read_refined(self) -> list[str]:
        """The best candidate again with its grid refitted to the whole symbol as read."""
        if self.symbol.grid(0) is None:
            return []
        return self.read(clean=self.clean is not self.crop, refine=1)


Attempt = Callable[[_Work], list[str]]

#: Crop pixels a unit of work buys in ``remove_moire`` (two FFTs; ``verifier.imaging.budget``).
MOIRE_PX = 6500
#: Frame pixels a unit buys in the texture probe (~1-2 ms here at 720p).
PROBE_PX = 80_000

#: Fallback stages, most productive first, each bounded by the budget (bench/RESULTS.md
#: has what each adds). All are the module-grid reader (verifier.imaging.decoding_grid).
FALLBACKS: tuple[tuple[str, Attempt], ...] = (
    ("grid", lambda w: w.read()),
    ("grid-demoire", lambda w: w.read(clean=True)),
    ("grid-refit", lambda w: w.read_refined()),
    ("grid-next-version", lambda w: w.read(rank=1)),
)


#: Most units of fallback work (``verifier.imaging.budget``, ~0.1 ms of CPU here each, so
#: ~0.4 ms on a Pi 4) any frame can take with the loops capped as they are: measured at most
#: ~1650 on the corpus and the approach clips (the candidate search included), with room
#: above for the largest versions. The default ``max_work``, a second bound beside the time budget
#: that does not depend on the machine; the tests check that no frame needs more even
#: without it.
MAX_WORK = 3000

#: Units of fallback work per camera frame for ``PipelineDecoder(frame_work=...)``: with
#: zxing's first pass (~3-6 ms here at 720p) a call stays within ~16 ms of CPU here, 66 ms
#: (two camera frames at 30 fps) at Pi 4 speed (x4); the rest of a symbol's work goes on
#: in the next frames' slices.
FRAME_WORK = 60

#: Pixels of zxing's first pass a unit buys (measured ~19 000-35 000 at 720p, median per
#: frame; the busier frames' figure): what a call that skips the pass gives its slice instead.
ZXING_PX = 18_000

#: With ``frame_work``: the time (s) after which a call's slice ends whatever its units
#: (``PipelineDecoder.call_s``), zxing's pass included: with the one step a slice may finish
#: past its end a call keeps within two camera frames (66 ms at 30 fps) on the machine it
#: runs on.
CALL_S = 0.045

#: With ``frame_work``: the units of a job's work after which it starts no further stage or
#: region, the units form of ``budget_s`` (80 ms at Pi 4 speed is ~20 ms here, ~200 units),
#: so a resumed job gives up on its frame where the budgeted pipeline would, and a newer
#: frame gets its turn (a stage running goes on to its end, as with the budget).
STAGE_WORK = 200

#: Most regions looked at per frame: each costs up to a polished grid and its reads (on the
#: corpus ~350 units median, ~1060 at most, ~0.1 ms here a unit), the candidate search
#: before the second up to ~620 (its full-resolution strips; ``locate.search_units`` is
#: the bound), so two keep a frame within MAX_WORK.
MAX_REGIONS = 2

#: What degenerate geometry can still raise from numpy and OpenCV deep in the grid reader
#: (a singular matrix, a NaN made an index, an empty window). Caught per region: the frame
#: then reads as "no code" there, never as a traceback.
GEOMETRY_ERRORS: tuple[type[Exception], ...] = (
    np.linalg.LinAlgError,
    ArithmeticError,  # ZeroDivisionError, OverflowError, FloatingPointError
    ValueError,
    IndexError,
)


def _geometry_errors() -> tuple[type[Exception], ...]:
    import cv2

    return (*GEOMETRY_ERRORS, cv2.error)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _beside_pool() -> ThreadPoolExecutor:
    """One side thread for the process, shared by every decoder (``beside``) and by the
    image stack's pipeline: the scan loop decodes one frame at a time, so one is enough,
    and a camera reopened (a new loop, a new decoder) adds no thread."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zxing-beside")
        return _POOL


class _Beside:
    """zxing's pass on one frame on the pipeline's side thread: ``read()`` tells (without
    waiting) whether it is done and decoded a code; calling it waits for its results."""

    def __init__(self, owner: PipelineDecoder, gray: np.ndarray, pool: ThreadPoolExecutor):
        self._owner, self._gray = owner, gray
        self._future = pool.submit(self._timed)
        self._results: list | None = None

    def _timed(self) -> tuple[list, float]:
        begin = time.thread_time()
        results = zxing_read(self._gray, errors=True, invert=False)
        return results, time.thread_time() - begin

    def read(self) -> bool:
        if not self._future.done() or self._future.exception() is not None:
            return False
        return any(r.valid for r in self._future.result()[0])

    def __call__(self) -> list:
        if self._results is None:
            results, cpu = self._future.result()
            self._owner.last_beside_cpu += cpu
            self._owner._zxing_seen = (self._gray, results)
            self._results = results
        return self._results


@dataclass
class _Job:
    """One frame's fallback work as far as it went: the frame and zxing's results on it, the
    regions tried so far (``taken``), the region being read and the next stage for it, and
    the budget over all its slices."""

    gray: np.ndarray
    results: list
    budget: Budget
    regions: Iterator[Region] | None = None
    taken: int = 0
    region: Region | None = None
    work: _Work | None = None
    stage: int = 0
    attempts: int = 0


@dataclass
class PipelineDecoder:
    """zxing on every frame; bounded fallbacks only where a symbol seems to be present.

    Three bounds on the fallback work per frame:

    - ``budget_s``: no fallback stage starts after this long (a stage already running may
      finish: on a Pi the first grid read alone takes 0.1-0.7 s, and cutting it would leave
      the grid reader nothing to read);
    - ``deadline_s``: a hard limit, checked inside every loop of the grid reader, so a frame
      costs at most this plus one step (a template match, a warp of the symbol); it only
      cuts a stage that runs far past the budget on a machine far slower than the Pi's;
    - ``max_work``: units of work (``verifier.imaging.budget``, calibrated to ~0.1 ms of
      CPU here), the machine-independent bound (None: no cap); ``max_attempts`` counts
      fallback stages over all regions.

    ``frame_work`` (None: off) makes the decoder resumable, for camera frames: each call
    does at most that many units of fallback work (``FRAME_WORK``: ~66 ms a frame at Pi 4
    speed with zxing's pass); a symbol not finished then is kept, and the next call, if
    zxing does not read its own frame, goes on with it (on the frame it came from; the
    steps done are not redone) until it reads, fails, or ``max_work`` is spent in all.
    A text can so come from a frame a few calls old. Never for unrelated images (files):
    ``decode_gray`` has it off.

    ``stage_work`` (with ``frame_work``): no stage or region starts once the job has spent
    that many units (the budget's rule in units, so on any machine): the job then gives its
    frame up where the budgeted pipeline would, and a newer frame gets its turn. A call on
    the same image as the last call (``pending`` work going on before the next camera
    frame comes, the image stack's mean) skips zxing's pass, which failed on it already,
    and gives the pass's units to the slice.

    ``call_s`` (with ``frame_work``): a call's slice also ends that long after the call
    began (zxing's pass included), once a step is done: the units bound the work the same
    on every machine, this bounds the time on the machine it runs on (on the Pi the units
    under-count the steps of noisy and glared frames by up to ~1.7x, bench/RESULTS.md).

    ``beside`` (with ``frame_work``): while a job on an earlier frame goes on, zxing's
    pass over the new frame runs on a side thread (another core: the Pi 4 and Zero 2 W have
    four; zxing-cpp lets go of the GIL), so such a call lasts about its slice, not the slice
    and the pass; the slice stops once zxing has read the new frame, whose text is returned.

    ``budget_s=None`` means no time bound at all (neither one), for reproducible tests; the
    work cap still holds. zxing's first pass over the frame is one call, bounded only by the
    frame's size.
    """

    budget_s: float | None = 0.08
    deadline_s: float = 1.0
    max_attempts: int = len(FALLBACKS)
    max_work: int | None = MAX_WORK
    frame_work: int | None = None
    stage_work: int | None = None
    call_s: float | None = None
    beside: bool = False
    probe: TextureProbe = TextureProbe()
    #: Also look for symbols by their finder patterns (``verifier.imaging.locate``).
    finders: bool = True
    name: str = "pipeline"
    clock: Callable[[], float] = time.perf_counter
    #: The stage that read the last frame ("zxing" or a FALLBACKS label; "" if none).
    last_stage: str = field(default="", init=False, compare=False)
    #: Units of fallback work the last frame took.
    last_work: int = field(default=0, init=False, compare=False)
    #: Whether the last call went on with an earlier frame's symbol (``frame_work``).
    last_resumed: bool = field(default=False, init=False, compare=False)
    #: The last frame's symbol when a grid was fitted to it but it was not read (frame
    #: coordinates, on ``last_frame``; the most fixed-module agreement over its regions),
    #: else None: what ``verifier.imaging.multiframe`` combines over consecutive frames.
    last_located: Located | None = field(default=None, init=False, compare=False)
    #: The last frame's first region looked at (None: none found), read or not.
    last_region: Region | None = field(default=None, init=False, compare=False)
    #: The frame ``last_located`` and ``last_region`` are on: the call's own, or with
    #: ``frame_work`` the earlier frame a resumed job works on (None: no fallback ran).
    last_frame: np.ndarray | None = field(default=None, init=False, compare=False, repr=False)
    #: Frames whose budget ran out, and regions given up on a geometry error, so far.
    out_of_budget: int = field(default=0, init=False, compare=False)
    geometry_errors: int = field(default=0, init=False, compare=False)
    #: Calls that went on with an earlier frame's symbol, so far.
    resumed: int = field(default=0, init=False, compare=False)
    _pending: _Job | None = field(default=None, init=False, compare=False, repr=False)
    _zxing_seen: tuple[np.ndarray, list] | None = field(
        default=None, init=False, compare=False, repr=False
    )
    _logged: set[str] = field(default_factory=set, init=False, compare=False, repr=False)
    #: CPU seconds the last call spent on the side thread (``beside``), beside its own.
    last_beside_cpu: float = field(default=0.0, init=False, compare=False)

    def decode(self, gray: np.ndarray) -> list[str]:
        self.last_stage = ""
        self.last_work = 0
        self.last_resumed = False
        self.last_located = None
        self.last_region = None
        self.last_frame = None
        self.last_beside_cpu = 0.0
        gray = _as_gray(gray)
        start = self.clock()
        slice_work = self.frame_work
        job = self._pending
        if self.beside and job is not None and self.zxing_seen_on(gray) is None:
            # zxing reads this frame on another core while the pending job's slice goes on
            # (a new job waits for zxing: most frames it reads, and running both at once
            # costs ~20 MiB more at the peak, measured in the app, than the time it saves)
            assert slice_work is not None
            wait = self.zxing_beside(gray)
            try:  # (the slice ends early once zxing has read the new frame)
                texts = self._slice(job, start, slice_work, True, stop=wait.read)
            finally:
                results = wait()
            new = _unique([r.text for r in results if r.valid])
            # the newest frame read: what the job read of an older one is not shown
            return self._read_by_zxing(new) if new else texts
        results, fresh = self.zxing(gray)
        texts = _unique([r.text for r in results if r.valid])
        if texts:
            return self._read_by_zxing(texts)
        if not fresh and slice_work is not None:
            slice_work += units(gray.size, ZXING_PX)  # the pass's time, given to the job
        if job is None:
            return self._slice(_Job(gray, results, Budget(None, self.max_work, self.clock)),
                               start, slice_work, False)
        return self._slice(job, start, slice_work, True)

    def _read_by_zxing(self, texts: list[str]) -> list[str]:
        """zxing read the call's frame: the pending job, on an older one, is dropped."""
        self._pending = None
        self.last_stage = "zxing"
        return texts

    def _slice(
        self,
        job: _Job,
        start: float,
        slice_work: int | None,
        resumed: bool,
        stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """One slice of ``job``'s fallback work (all of it without ``frame_work``);
        ``resumed``: the job began in an earlier call; ``stop``: the slice ends as soon as
        it says so."""
        self._pending = None
        if resumed:
            self.last_resumed = True
            self.resumed += 1
            self.last_region = job.region
        self.last_frame = job.gray
        deadline = None if self.budget_s is None else max(self.deadline_s, self.budget_s)
        before = job.budget.work
        slice_s = None if self.call_s is None else self.call_s - (self.clock() - start)
        job.budget.resume(deadline, slice_work, slice_s, stop)
        try:
            return self._fallbacks(job, start)
        except OutOfBudget:
            if self.frame_work is not None and not job.budget.spent:
                self._pending = job  # this frame's slice is over: the next one goes on
            else:
                self.out_of_budget += 1
            return []
        finally:
            self.last_work = job.budget.work - before

    def zxing(self, gray: np.ndarray) -> tuple[list, bool]:
        """zxing's results on ``gray`` and whether they are new: the same image again (the
        scan loop going on with a pending job before the next frame comes, the image stack's
        mean) reuses the last results rather than run the pass again (with ``frame_work``;
        zxing is deterministic)."""
        seen = self.zxing_seen_on(gray)
        if seen is not None:
            return seen, False
        # try_invert off: it doubles zxing's cost on busy empty frames, and dark-mode
        # symbols are read by the grid stage, which checks the polarity itself.
        results = zxing_read(gray, errors=True, invert=False)
        if self.frame_work is not None:
            self._zxing_seen = (gray, results)
        return results, True

    def zxing_seen_on(self, gray: np.ndarray) -> list | None:
        """zxing's results from the last pass if it was on this very image, else None."""
        seen = self._zxing_seen
        if self.frame_work is None or seen is None or seen[0] is not gray:
            return None
        return seen[1]

    def zxing_beside(self, gray: np.ndarray) -> _Beside:
        """zxing's pass on ``gray`` started on the side thread (``beside``; zxing-cpp lets
        go of the GIL while it reads, so it runs on another core). The caller must wait for
        it (call the result), also when its own work raised."""
        return _Beside(self, gray, _beside_pool())

    @property
    def pending(self) -> bool:
        """A symbol's work is under way (``frame_work``): a call goes on with it, with or
        without a new frame."""
        return self._pending is not None

    def _given_up(self, job: _Job) -> bool:
        """``stage_work`` reached: the job starts nothing more (its frame is given up)."""
        cap = self.stage_work
        return cap is not None and job.attempts > 0 and job.budget.work >= cap

    def _fallbacks(self, job: _Job, start: float) -> list[str]:
        """The job's fallback stages from where it stands; a stage cut short by the budget
        (OutOfBudget) is run again when the job is resumed, its finished steps remembered."""
        budget = job.budget
        while True:
            if job.work is None:
                if self._given_up(job):
                    return []
                job.region = self._next_region(job)
                if job.region is None:
                    return []
                self.last_region = self.last_region or job.region
                job.work = _Work(job.gray, job.region.corners, budget, job.region)
                job.stage = 0
            try:
                while job.stage < len(FALLBACKS):
                    if job.attempts >= self.max_attempts or budget.spent or self._given_up(job):
                        return []
                    if self._over(start) or budget.exhausted:
                        if self.frame_work is None:
                            return []
                        raise OutOfBudget("slice spent between stages")
                    label, attempt = FALLBACKS[job.stage]
                    texts = attempt(job.work)
                    job.stage += 1
                    job.attempts += 1
                    if texts:
                        self.last_stage = label
                        return texts
                    if not job.work.symbol.promising:
                        break
            except _geometry_errors() as exc:
                self._geometry_error(job.region, exc)
            finally:
                self._keep_located(job.work)  # (on job.gray: ``last_frame``)
            job.work = None

    def _next_region(self, job: _Job) -> Region | None:
        """The job's next region. A search for regions that spends the budget and is cut by
        the end of a slice is a finished generator: it is made again in the next slice and
        the regions already taken are skipped (their steps remembered, so quickly)."""
        try:
            if job.regions is None:
                job.regions = iter(self.regions(job.gray, job.results, job.budget))
                for _ in range(job.taken):
                    next(job.regions, None)
            region = next(job.regions, None)
        except OutOfBudget:
            job.regions = None
            raise
        job.taken += region is not None
        return region

    @property
    def pending_frame(self) -> np.ndarray | None:
        """The frame a job cut at the end of its slice works on (None: nothing pending)."""
        return None if self._pending is None else self._pending.gray

    @property
    def pending_region(self) -> Region | None:
        """The region (on ``pending_frame``) the pending job is reading, if it has one."""
        return None if self._pending is None else self._pending.region

    def forget(self) -> None:
        """Drop the pending job (the code in front of the camera changed)."""
        self._pending = None

    def _keep_located(self, work: _Work) -> None:
        if self.last_stage:  # read: nothing left to combine
            self.last_located = None
            return
        located = work.located_in_frame()
        best = self.last_located
        if located is not None and (best is None or located.agreement > best.agreement):
            self.last_located = located

    def _over(self, start: float) -> bool:
        return self.budget_s is not None and self.clock() - start > self.budget_s

    def _geometry_error(self, region: Region, exc: Exception) -> None:
        """Count it; log the first of each kind with its traceback (it is a bug to fix
        where it arises), later ones only at debug level."""
        self.geometry_errors += 1
        kind = type(exc).__name__
        first = kind not in self._logged
        self._logged.add(kind)
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "grid reader gave up on a %s region: %s: %s",
            region.source,
            kind,
            exc,
            exc_info=first,
        )

    def regions(
        self, gray: np.ndarray, results: list, budget: Budget | None = None
    ) -> Iterator[Region]:
        """Where to look harder: the texture probe's region; then (``finders``, searched only
        once the probe's region has failed or there is none) symbols made of three finder
        patterns; where the probe found nothing, where zxing failed to decode. The probe and
        the search spend ``budget`` and are remembered by it: made again in the next slice,
        this goes on where it was."""

        def probe() -> np.ndarray | None:
            spend(budget, units(gray.size, PROBE_PX))
            return self.probe.find(gray)

        seen = (gray.shape, hash(np.ascontiguousarray(gray[::7, ::5]).tobytes()))
        corners = remember(budget, ("probe", seen), probe)
        yielded = 0
        if corners is not None:
            yield Region(corners, "texture")
            yielded += 1
        if self.finders:
            # also where the probe's region is on the same symbol: the finders' outline has
            # its perspective, which the rough view then takes out (tilted codes)
            # at full resolution too where the probe saw a code's texture (small modules)
            fine = True if corners is not None else None
            for region in finder_regions(gray, budget, fine)[: MAX_REGIONS - yielded]:
                yield region
                yielded += 1
        if yielded >= MAX_REGIONS or corners is not None:
            return
        for r in results:
            if not r.valid:
                yield Region(_position_corners(r), "zxing")
                return


_DEFAULT: PipelineDecoder | None = None


def _default_pipeline() -> PipelineDecoder:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PipelineDecoder()
    return _DEFAULT


def all_decoders() -> dict[str, Decoder]:
    """Every decoder variant by name, for the benchmark and comparisons."""
    decoders: dict[str, Decoder] = {
        "zxing": ZxingDecoder(),
        "pyzbar": PyzbarDecoder(),
        "pipeline": PipelineDecoder(),
    }
    with contextlib.suppress(ImportError, AttributeError):  # cv2 built without objdetect
        decoders["opencv"] = OpenCVDecoder()
    return decoders
