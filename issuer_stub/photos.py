"""Portraits for credentials: any ordinary photo in, a small WebP head-and-shoulders out.

Every photo takes the same path, a phone's 3 MB JPEG, a PNG, a WebP or the synthetic demo faces
made here: read with its declared size checked before any pixel is decoded, turned upright
(EXIF), the face found with OpenCV's bundled Haar cascade, cropped to head and shoulders at 3:4,
resized, and encoded as WebP at the highest quality that fits the byte budget (binary search).
Nothing is passed through: a photo in which no face is found, or one that cannot be read, is
refused with a sentence. WebP, not AVIF: at 400-1024 bytes AVIF's container alone takes about
300 bytes, and WebP gave the better face (bench/RESULTS.md, "Small codes"); JPEG is far behind.
"""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import warnings
from dataclasses import dataclass, replace
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageOps

from issuer_stub import codesize
from issuer_stub.codesize import MAX_PORTRAIT_BYTES
from issuer_stub.errors import InvalidInput
from issuer_stub.signing import StudentData
from verifier.core.credential import photo_format

# What a photo handed to the issuer may be. A phone's camera makes 12-50 megapixels.
INPUT_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF")
MAX_INPUT_BYTES = 25 * 1024 * 1024
MAX_INPUT_PIXELS = 64_000_000
MAX_INPUT_SIDE = 16_384
# A portrait already made (stored with a student): ML1 never decodes more than 256 x 256.
MAX_PORTRAIT_SIDE = 256
_WORK_SIDE = 1024  # faces are searched for on a copy at most this large
# What Pillow may raise on a damaged or hostile file (its plugins use struct and plain indexing).
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, TypeError, KeyError, IndexError,
               RuntimeError, struct.error)  # RuntimeError: the AVIF plugin's "failed to decode"
# Portrait pixel sizes (3:4) by byte budget: the smaller budget gets fewer pixels, which at
# these sizes looks better than more pixels at a lower quality (measured on a real face).
_SIZES = ((560, (60, 80)), (760, (72, 96)), (MAX_PORTRAIT_BYTES + 1, (96, 128)))


@dataclass(frozen=True)
class Face:
    x: int
    y: int
    w: int
    h: int


def _refuse(message: str, code: str) -> InvalidInput:
    return InvalidInput(message, code)


def _open(data: bytes, formats: tuple[str, ...], max_side: int, max_pixels: int) -> Image.Image:
    """The image, decoded only after its header's size has been checked."""
    if len(data) > MAX_INPUT_BYTES:
        raise _refuse(f"the photo file is {len(data)} bytes; at most {MAX_INPUT_BYTES} are read",
                      "photo_size")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(formats))
    except Image.DecompressionBombError:  # Pillow's own bound, far above ours
        declared = "more pixels than any camera makes"
        raise _refuse(_too_many_pixels(declared, max_side, max_pixels),
                      "photo_dimensions") from None
    except _UNREADABLE:
        raise _refuse("the photo is not a JPEG, PNG, WebP or AVIF image that can be read",
                      "photo_type") from None
    width, height = image.size
    if width < 1 or height < 1 or max(width, height) > max_side or width * height > max_pixels:
        raise _refuse(_too_many_pixels(f"{width} x {height} pixels", max_side, max_pixels),
                      "photo_dimensions")
    return image


def _too_many_pixels(declared: str, max_side: int, max_pixels: int) -> str:
    return (f"the photo declares {declared}; at most {max_side} pixels on a side and "
            f"{max_pixels} in all are accepted (is it a photo?)")


def _decode(image: Image.Image, side: int) -> np.ndarray:
    """RGB pixels, upright, at most ``side`` on the longer edge (JPEG decodes scaled down)."""
    try:
        if image.format == "JPEG":
            scale = max(image.size) / side
            if scale > 1:
                image.draft("RGB", (int(image.size[0] / scale), int(image.size[1] / scale)))
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        return np.asarray(image)
    except (*_UNREADABLE, Image.DecompressionBombError):
        raise _refuse("the photo is damaged or truncated and cannot be read",
                      "photo_type") from None


_CASCADE_LOCK = threading.Lock()  # a CascadeClassifier is not safe to share between threads


@cache
def _cascade() -> cv2.CascadeClassifier:
    # Bundled with the opencv-python wheels (4.x) in cv2.data.
    classifier = cv2.CascadeClassifier(
        cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    if classifier.empty():
        raise RuntimeError("OpenCV's frontal face cascade is missing from cv2.data")
    return classifier


def find_face(rgb: np.ndarray) -> Face | None:
    """The largest frontal face, or None."""
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    smallest = max(24, min(gray.shape) // 12)
    with _CASCADE_LOCK:  # the API makes portraits in worker threads
        found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                            minSize=(smallest, smallest))
    if len(found) == 0:
        return None
    x, y, w, h = max(found, key=lambda f: int(f[2]) * int(f[3]))
    return Face(int(x), int(y), int(w), int(h))


def head_and_shoulders(rgb: np.ndarray, face: Face) -> np.ndarray:
    """A 3:4 crop twice the face's width, the face centred a little above the middle; shifted
    (and if need be shrunk) to stay inside the picture."""
    height, width = rgb.shape[:2]
    crop_w = min(2.0 * face.w, width, height * 3 / 4)
    crop_h = crop_w * 4 / 3
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    left = min(max(cx - crop_w / 2, 0), width - crop_w)
    top = min(max(cy - 0.42 * crop_h, 0), height - crop_h)
    return rgb[int(top):int(top + crop_h), int(left):int(left + crop_w)]


def size_for(budget: int) -> tuple[int, int]:
    return next(size for limit, size in _SIZES if budget < limit)


def _webp(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=quality, method=6)
    return out.getvalue()


def encode_to_budget(rgb: np.ndarray, budget: int) -> bytes:
    """WebP at the size for ``budget``, the highest quality (0-100) that fits it."""
    budget = min(budget, MAX_PORTRAIT_BYTES)
    image = Image.fromarray(rgb).resize(size_for(budget), Image.Resampling.LANCZOS)
    best, low, high = None, 0, 100
    while low <= high:
        quality = (low + high) // 2
        data = _webp(image, quality)
        if len(data) <= budget:
            best, low = data, quality + 1
        else:
            high = quality - 1
    if best is None:
        raise _refuse(f"no portrait fits in {budget} bytes", "photo_size")
    return best


def portrait_from_photo(data: bytes, budget: int = MAX_PORTRAIT_BYTES) -> bytes:
    """The credential portrait made from an ordinary photo; refused without a face."""
    image = _open(data, INPUT_FORMATS, MAX_INPUT_SIDE, MAX_INPUT_PIXELS)
    return portrait_from_pixels(_decode(image, _WORK_SIDE), budget)


def portrait_from_pixels(rgb: np.ndarray, budget: int = MAX_PORTRAIT_BYTES) -> bytes:
    face = find_face(rgb)
    if face is None:
        raise _refuse("no face was found in the photo: use a photo of the student's face, "
                      "looking at the camera", "photo_no_face")
    return encode_to_budget(head_and_shoulders(rgb, face), budget)


def refit(portrait: bytes, budget: int) -> bytes:
    """A stored portrait (made here, or an older JPEG) re-encoded to a smaller budget."""
    image = _open(portrait, ("JPEG", "WEBP", "AVIF"), MAX_PORTRAIT_SIDE,
                  MAX_PORTRAIT_SIDE * MAX_PORTRAIT_SIDE)
    return encode_to_budget(_decode(image, MAX_PORTRAIT_SIDE), budget)


def portrait_for(photo: bytes, student: StudentData, iss: str) -> StudentData:
    """``student`` with the portrait made from ``photo`` to the room its other fields leave;
    raises ``InvalidInput`` (a sentence) when the photo is refused or no QR code would fit."""
    budget = codesize.portrait_budget(replace(student, photo=None), iss)
    fitted = replace(student, photo=portrait_from_photo(photo, budget))
    codesize.require_fits(fitted, iss)
    return fitted


def fit_student(student: StudentData, iss: str) -> StudentData:
    """At issuance: the stored portrait re-encoded smaller if the fields now leave less room
    (a changed name, a renamed university); raises ``InvalidInput`` if no QR code would fit."""
    if student.photo is not None:
        budget = codesize.portrait_budget(replace(student, photo=None), iss)
        if len(student.photo) > budget or photo_type(student.photo) is None:
            student = replace(student, photo=refit(student.photo, budget))
    codesize.require_fits(student, iss)
    return student


def photo_type(data: bytes) -> str | None:
    """The MIME type ML1 tells by the first bytes (section 3), or None."""
    kind = photo_format(data)
    return None if kind is None else f"image/{kind}"


def synthetic_face(seed: str, width: int = 240, height: int = 320) -> np.ndarray:
    """A deterministic cartoon head and shoulders (RGB), different per seed, that the face
    detector finds like a real one."""
    h = hashlib.sha256(seed.encode()).digest()
    img = np.full((height, width, 3), (175 + h[9] % 50, 185 + h[1] % 50, 190 + h[0] % 50),
                  np.uint8)
    skin = (215 + h[4] % 35, 175 + h[3] % 45, 150 + h[2] % 50)
    shade = tuple(int(v * 0.82) for v in skin)
    hair = (30 + h[7] % 60, 25 + h[6] % 50, 20 + h[5] % 60)
    shirt = (40 + h[11] % 120, 50 + h[10] % 100, 60 + h[8] % 120)
    cx, cy = width // 2, int(height * 0.42)
    fw, fh = int(width * 0.22), int(height * 0.21)
    cv2.ellipse(img, (cx, height + 10), (int(width * 0.48), int(height * 0.30)), 0, 180, 360,
                shirt, -1)
    cv2.rectangle(img, (cx - fw // 2, cy + fh - 20), (cx + fw // 2, cy + fh + 40), shade, -1)
    cv2.ellipse(img, (cx, cy - fh // 3), (fw + 8, fh), 0, 0, 360, hair, -1)
    cv2.ellipse(img, (cx, cy), (fw, fh), 0, 0, 360, skin, -1)
    cv2.ellipse(img, (cx, cy - fh + 8), (fw + 4, fh // 3), 0, 180, 360, hair, -1)
    eyes_y = cy - fh // 5
    for dx in (-fw // 2, fw // 2):
        cv2.ellipse(img, (cx + dx, eyes_y - 14), (fw // 4, 4), 0, 180, 360, hair, 3)
        cv2.ellipse(img, (cx + dx, eyes_y), (fw // 5, fw // 9), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(img, (cx + dx, eyes_y), fw // 10, (30, 50, 40 + h[12] % 60), -1)
        cv2.circle(img, (cx + dx, eyes_y), fw // 22, (10, 10, 10), -1)
    cv2.line(img, (cx + 2, eyes_y + 6), (cx + 6, cy + fh // 4), shade, 3)
    cv2.ellipse(img, (cx, cy + fh // 4 + 2), (fw // 6, 4), 0, 0, 180, shade, 2)
    cv2.ellipse(img, (cx, cy + fh // 2), (fw // 3, fh // 10), 0, 0, 180,
                (150 + h[13] % 60, 60, 70), -1)
    return cv2.GaussianBlur(img, (0, 0), 1.5)


def synthetic_photo(seed: str) -> bytes:
    """The synthetic face as a PNG file: what ``student add --synthetic-photo`` and a CSV row
    without a photo hand in instead of a real photo."""
    out = io.BytesIO()
    Image.fromarray(synthetic_face(seed)).save(out, "PNG")
    return out.getvalue()


def synthetic_portrait(seed: str, budget: int = MAX_PORTRAIT_BYTES) -> bytes:
    """A demo portrait: a synthetic face through the same path as a real photo."""
    return portrait_from_pixels(synthetic_face(seed), budget)
