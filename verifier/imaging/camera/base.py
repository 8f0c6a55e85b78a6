"""The frame-source Protocol and its error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from verifier.core.errors import VerifierError


class CameraError(VerifierError):
    """A camera that is missing, busy or stopped delivering frames; the message says which."""

    title = "Camera error"


@dataclass(frozen=True)
class Frame:
    """One greyscale frame (2-D uint8) and when it was captured (seconds, monotonic clock)."""

    gray: np.ndarray
    timestamp: float


@runtime_checkable
class FrameSource(Protocol):
    """Something that yields greyscale frames until closed.

    ``read()`` blocks until the next frame and returns None at the end of a finite source
    (a replayed file); a live camera that fails raises CameraError.
    """

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


def to_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 view or copy of a camera image (BGR, BGRA or already grey)."""
    import cv2

    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    raise CameraError(f"unexpected frame shape {image.shape}")
