"""Frame sources: the Pi camera, a V4L2/USB camera, or replayed files, behind one Protocol.

Everything here hands out greyscale uint8 frames; nothing imports a camera library until
a source of that kind is opened.
"""

from verifier.imaging.camera.base import CameraError, Frame, FrameSource
from verifier.imaging.camera.factory import SOURCE_KINDS, open_source, open_with_retry

__all__ = [
    "SOURCE_KINDS",
    "CameraError",
    "Frame",
    "FrameSource",
    "open_source",
    "open_with_retry",
]
