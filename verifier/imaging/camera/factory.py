"""Choose a frame source by name, and keep trying to open a camera that is not there yet."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from verifier.imaging.camera.base import CameraError, FrameSource

SOURCE_KINDS = ("picamera2", "opencv", "replay")


def open_source(kind: str, **options: Any) -> FrameSource:
    """Open a frame source: ``"picamera2"``, ``"opencv"`` or ``"replay"`` (needs ``path``).

    Options go to the source's constructor; a missing or busy camera raises CameraError.
    """
    if kind == "picamera2":
        from verifier.imaging.camera.picam import PicameraSource

        return PicameraSource(**options)
    if kind == "opencv":
        from verifier.imaging.camera.opencv import OpenCVSource

        return OpenCVSource(**options)
    if kind == "replay":
        from verifier.imaging.camera.replay import ReplaySource

        if "path" not in options:
            raise CameraError("the replay source needs a path (an image directory or a video)")
        return ReplaySource(**options)
    raise CameraError(f"unknown camera kind {kind!r}; choose one of {', '.join(SOURCE_KINDS)}")


def open_with_retry(
    opener: Callable[[], FrameSource],
    *,
    attempts: int | None = None,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
    on_error: Callable[[CameraError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FrameSource:
    """Call ``opener`` until it returns a source, doubling the wait after each CameraError.

    ``on_error(error, delay)`` is told about each failure (to show "camera not found,
    retrying in 4 s"). ``attempts=None`` keeps trying forever; otherwise the last error is
    raised after that many tries.
    """
    delay = first_delay
    tried = 0
    while True:
        try:
            return opener()
        except CameraError as exc:
            tried += 1
            if attempts is not None and tried >= attempts:
                raise
            if on_error is not None:
                on_error(exc, delay)
            sleep(delay)
            delay = min(max_delay, delay * 2)
