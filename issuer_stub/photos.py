"""Small synthetic portrait JPEGs (ML1 caps the photo at 2048 bytes)."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from verifier.core.credential import MAX_PHOTO_BYTES


def synthetic_portrait(seed: str, width: int = 48, height: int = 64) -> bytes:
    """A deterministic cartoon face, different per seed, JPEG-encoded under the size cap."""
    h = hashlib.sha256(seed.encode()).digest()
    img = np.full((height, width, 3), (200 + h[0] % 40, 190 + h[1] % 50, 180), np.uint8)
    skin = (120 + h[2] % 60, 160 + h[3] % 50, 200 + h[4] % 50)
    hair = (h[5] % 80, h[6] % 60, h[7] % 70)
    cx = width // 2
    cv2.ellipse(img, (cx, height), (width // 2 - 2, height // 4), 0, 180, 360, (90, 60, h[8]), -1)
    cv2.ellipse(img, (cx, height // 2 - 2), (width // 4 + 2, height // 3), 0, 0, 360, skin, -1)
    cv2.ellipse(img, (cx, height // 4), (width // 4 + 4, height // 7), 0, 180, 360, hair, -1)
    for dx in (-width // 9, width // 9):
        cv2.circle(img, (cx + dx, height // 2 - 6), 2, (40, 30, 20), -1)
    cv2.ellipse(img, (cx, height // 2 + 8), (6, 3), 0, 0, 180, (60, 60, 160), 1)
    for quality in (80, 60, 40, 25):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) <= MAX_PHOTO_BYTES:
            return buf.tobytes()
    raise RuntimeError("portrait does not fit the photo cap")
