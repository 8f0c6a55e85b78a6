"""Replay a directory of images or a video file as if it were a camera."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from verifier.core.errors import ConfigError
from verifier.imaging.camera.base import CameraError, Frame, to_gray

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff"})


class ReplaySource:
    """Frames from ``path`` (an image directory, read in name order, or a video file).

    ``realtime`` paces frames at the file's frame rate (``fps`` for image directories) and
    stamps them with the clock; with ``realtime=False`` frames come as fast as they are read
    and stamps are ``index / fps``, so tests and benchmarks are deterministic. ``loop``
    restarts at the end instead of returning None.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float = 30.0,
        loop: bool = False,
        realtime: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self._clock = clock
        self._sleep = sleep
        self._index = 0
        self._start: float | None = None
        self._cap = None
        self._images: list[Path] = []
        if self.path.is_dir():
            self._images = sorted(
                p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not self._images:
                raise CameraError(f"no images (.jpg, .png, ...) in {self.path}")
            self.fps = fps
        elif self.path.is_file():
            self._open_video()
            self.fps = self._video_fps() or fps
        else:
            raise CameraError(f"replay source {self.path} does not exist")
        if self.fps <= 0:
            raise CameraError(f"replay frame rate must be positive, got {self.fps}")

    def _open_video(self) -> None:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open video {self.path}")
        self._cap = cap

    def _video_fps(self) -> float:
        import cv2

        assert self._cap is not None
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return fps if 0 < fps < 1000 else 0.0

    def _next_image(self) -> np.ndarray | None:
        if self._cap is not None:
            ok, image = self._cap.read()
            if not ok and self.loop and self._index > 0:
                self._cap.release()
                self._open_video()
                ok, image = self._cap.read()
            return to_gray(image) if ok else None
        if self._index >= len(self._images) and not self.loop:
            return None
        from verifier.imaging.decoding import load_gray

        try:
            return load_gray(self._images[self._index % len(self._images)])
        except ConfigError as exc:
            raise CameraError(exc.message) from exc

    def read(self) -> Frame | None:
        gray = self._next_image()
        if gray is None:
            return None
        index = self._index
        self._index += 1
        if not self.realtime:
            return Frame(gray, index / self.fps)
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + index / self.fps
        if due > now:
            self._sleep(due - now)
            now = due
        return Frame(gray, now)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
