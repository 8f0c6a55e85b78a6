"""Raspberry Pi camera through picamera2 (imported only when this source is opened).

A 1280x720 YUV420 video stream: its first ``height`` rows are the Y (luma) plane, which is
exactly the greyscale frame the decoder wants, so no colour conversion is done per frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from verifier.imaging.camera.base import CameraError, Frame

#: libcamera's AfModeEnum.Continuous and AeExposureModeEnum.Short, as plain ints so that
#: libcamera need not be imported to build the controls.
AF_MODE_CONTINUOUS = 2
AE_EXPOSURE_SHORT = 1


def _default_factory() -> Callable[..., Any]:
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise CameraError(
            "picamera2 is not installed (on Raspberry Pi OS: apt install python3-picamera2, "
            "and create the venv with --system-site-packages)"
        ) from exc
    return Picamera2


class PicameraSource:
    """Frames from a Pi camera. ``camera_factory`` stands in for ``Picamera2`` in tests.

    ``max_frame_us`` fixes the frame duration (30 fps), which also caps exposure so a hand
    held phone is not smeared; ``short_exposure`` asks the AE for its short-exposure mode
    where the sensor tuning offers it. Continuous autofocus is switched on where supported.
    """

    def __init__(
        self,
        camera_num: int = 0,
        size: tuple[int, int] = (1280, 720),
        fps: float = 30.0,
        short_exposure: bool = True,
        autofocus: bool = True,
        camera_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self._clock = clock
        factory = camera_factory or _default_factory()
        try:
            self._cam = factory(camera_num)
        except IndexError as exc:  # picamera2 indexes its camera list: none attached
            raise CameraError(f"no Raspberry Pi camera number {camera_num} found") from exc
        except RuntimeError as exc:  # "Failed to acquire camera": another process holds it
            raise CameraError(
                f"Raspberry Pi camera {camera_num} is busy or failed to start: {exc}"
            ) from exc
        try:
            self._start(fps, short_exposure, autofocus)
        except CameraError:
            self._cam.close()
            raise
        except Exception as exc:  # libcamera reports configuration failures as various errors
            self._cam.close()
            raise CameraError(f"Raspberry Pi camera {camera_num} could not start: {exc}") from exc

    def _start(self, fps: float, short_exposure: bool, autofocus: bool) -> None:
        frame_us = int(1_000_000 / fps)
        controls: dict[str, Any] = {"FrameDurationLimits": (frame_us, frame_us)}
        available = getattr(self._cam, "camera_controls", {}) or {}
        if short_exposure and "AeExposureMode" in available:
            controls["AeExposureMode"] = AE_EXPOSURE_SHORT
        if autofocus and "AfMode" in available:
            controls["AfMode"] = AF_MODE_CONTINUOUS
        config = self._cam.create_video_configuration(
            main={"size": self.size, "format": "YUV420"}, controls=controls, buffer_count=4
        )
        self._cam.configure(config)
        self._cam.start()

    def read(self) -> Frame:
        try:
            yuv = self._cam.capture_array("main")
        except Exception as exc:
            raise CameraError(f"Raspberry Pi camera stopped delivering frames: {exc}") from exc
        width, height = self.size
        if yuv.ndim != 2 or yuv.shape[0] < height or yuv.shape[1] < width:
            raise CameraError(f"unexpected YUV420 frame shape {yuv.shape}")
        # Rows past ``height`` hold U and V; columns past ``width`` are stride padding.
        return Frame(yuv[:height, :width], self._clock())

    def set_controls(self, controls: dict[str, Any]) -> None:
        self._cam.set_controls(controls)

    def close(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()
