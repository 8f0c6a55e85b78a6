"""Image -> QR texts. The one decode path shared by image files and camera frames.

Stable API (the CLI, the scan loop and the UI call only these):
``decode_gray(gray) -> list[str]`` and ``load_gray(path) -> ndarray``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verifier.errors import ConfigError


def load_gray(path: str | Path) -> np.ndarray:
    """Read an image file as an 8-bit greyscale array; ConfigError if it can't be read."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    if data is None:
        raise ConfigError(f"cannot read image {path}: no such file")
    gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise ConfigError(f"cannot read image {path}: not a PNG/JPEG image")
    return gray


def decode_gray(gray: np.ndarray) -> list[str]:
    """Texts of every QR code found in a greyscale frame (possibly none)."""
    import zxingcpp

    results = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results if r.valid and r.text]
