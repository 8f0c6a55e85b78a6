"""A V4L2 / USB camera through OpenCV's VideoCapture."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from verifier.imaging.camera.base import CameraError, Frame, to_gray


class OpenCVSource:
    """Frames from ``device``: an index (0 for /dev/video0) or a device path."""

    def __init__(
        self,
        device: int | str = 0,
        size: tuple[int, int] = (1280, 720),
        fps: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import cv2

        self._clock = clock
        self.device = device
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = cv2.VideoCapture(device, api)
        if not cap.isOpened():
            cap.release()
            raise CameraError(
                f"cannot open camera {self.device}: no such device, or it is busy "
                "(check the cable, `v4l2-ctl --list-devices`, and that no other program uses it)"
            )
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a backlog
        self._cap = cap

    def read(self) -> Frame:
        ok, image = self._cap.read()
        if not ok or image is None:
            raise CameraError(f"camera {self.device} stopped delivering frames")
        return Frame(to_gray(image), self._clock())

    def close(self) -> None:
        self._cap.release()
