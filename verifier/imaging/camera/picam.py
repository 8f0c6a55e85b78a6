"""Raspberry Pi camera through picamera2 (imported only when this source is opened).

A 1280x720 YUV420 video stream: its first ``height`` rows are the Y (luma) plane, which is
exactly the greyscale frame the decoder wants, so no colour conversion is done per frame.

What a code on a phone screen needs from the camera, through picamera2's and libcamera's
documented controls (README "The camera" has the geometry and the figures):

- an exposure cap against hand-shake blur: the AE keeps its control of exposure and gain,
  but every exposure mode of the sensor's tuning (``rpi.agc``) has its exposure time
  clipped to ``max_exposure_us`` (and its gain allowed higher to make up), loaded with
  ``Picamera2.load_tuning_file`` and handed over as ``Picamera2(tuning=...)``. The frame
  duration is fixed at ``1/fps`` (``FrameDurationLimits``), which bounds it in any case;
- flicker avoidance (``AeFlickerMode`` manual, ``AeFlickerPeriod``): exposures are then a
  whole number of periods of the display's PWM (or of mains lighting), so a rolling
  shutter sees no dark bands; the cap itself is rounded down to a whole number of periods;
- focus on the Camera Module 3: continuous autofocus over the normal or only the macro
  range (``AfMode``, ``AfRange``), or a fixed lens position in dioptres (``LensPosition``);
- a sensor mode (``sensor={"output_size": ...}``) and a centred digital crop
  (``ScalerCrop``) so that a code at arm's length still gets ~3 camera pixels a module.

Controls the camera does not list in ``camera_controls`` are left out (and logged), so the
same settings work on a v2 module (no autofocus) and a Camera Module 3.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from verifier.imaging.camera.base import CameraError, Frame

if TYPE_CHECKING:
    from verifier.device.config import CameraConfig

log = logging.getLogger(__name__)

#: libcamera enum values as plain ints, so that libcamera need not be imported to build
#: the controls: AfModeEnum (Manual, Continuous), AfRangeEnum (Normal, Macro),
#: AeExposureModeEnum.Short and AeFlickerModeEnum.FlickerManual.
AF_MODE_MANUAL = 0
AF_MODE_CONTINUOUS = 2
AF_RANGE_NORMAL = 0
AF_RANGE_MACRO = 1
AE_EXPOSURE_SHORT = 1
AE_FLICKER_MANUAL = 1

FOCUS_MODES = ("continuous", "macro", "off")

#: Highest analogue gain asked of a capped exposure mode (the IMX708 reaches 16, the IMX219
#: 10.7; the AE clips to the sensor's own limit and adds digital gain beyond it).
MAX_CAPPED_GAIN = 16.0


@dataclass(frozen=True)
class PicameraSettings:
    """What to ask of the camera; the defaults suit a Camera Module 3 at 10-40 cm."""

    size: tuple[int, int] = (1280, 720)
    fps: float = 30.0
    max_exposure_us: int | None = 8000
    flicker_period_us: int = 0  # 0: no flicker avoidance
    short_exposure: bool = True
    autofocus: str = "continuous"  # FOCUS_MODES; "off": fixed at lens_position
    lens_position: float = 4.0  # dioptres (1 / metres): 4.0 is 25 cm
    sensor_size: tuple[int, int] | None = None  # None: libcamera picks the mode
    zoom: float = 1.0

    @classmethod
    def from_config(cls, cam: CameraConfig) -> PicameraSettings:
        sensor = (cam.sensor_width, cam.sensor_height) if cam.sensor_width else None
        return cls(
            size=(cam.width, cam.height),
            fps=cam.fps,
            max_exposure_us=cam.max_exposure_us,
            flicker_period_us=cam.flicker_period_us,
            autofocus=cam.autofocus,
            lens_position=cam.lens_position,
            sensor_size=sensor,
            zoom=cam.zoom,
        )

    @property
    def exposure_cap_us(self) -> int | None:
        """The exposure cap as used: rounded down to a whole number of flicker periods
        (where that leaves at least one), never longer than a frame."""
        frame_us = int(1_000_000 / self.fps)
        cap = min(self.max_exposure_us or frame_us, frame_us)
        period = self.flicker_period_us
        if period and cap >= period:
            cap = cap // period * period
        return cap if cap < frame_us else None


def start_controls(settings: PicameraSettings, available: dict[str, Any]) -> dict[str, Any]:
    """The controls to start with, of those the camera lists in ``available``."""
    frame_us = int(1_000_000 / settings.fps)
    wanted: dict[str, Any] = {"FrameDurationLimits": (frame_us, frame_us)}
    if settings.short_exposure:
        wanted["AeExposureMode"] = AE_EXPOSURE_SHORT
    if settings.flicker_period_us:
        wanted["AeFlickerMode"] = AE_FLICKER_MANUAL
        wanted["AeFlickerPeriod"] = settings.flicker_period_us
    if settings.autofocus in ("continuous", "macro"):
        wanted["AfMode"] = AF_MODE_CONTINUOUS
        wanted["AfRange"] = AF_RANGE_MACRO if settings.autofocus == "macro" else AF_RANGE_NORMAL
    elif settings.autofocus == "off":
        wanted["AfMode"] = AF_MODE_MANUAL
        wanted["LensPosition"] = float(settings.lens_position)
    controls = {k: v for k, v in wanted.items() if k == "FrameDurationLimits" or k in available}
    missing = sorted(set(wanted) - set(controls))
    if missing:
        log.info("camera has no %s control(s); left at the camera's default", ", ".join(missing))
    return controls


def cap_tuning(tuning: dict[str, Any], agc: dict[str, Any], cap_us: int) -> dict[str, Any]:
    """``tuning`` with every exposure mode of its AGC (``agc``, found in it by picamera2's
    ``find_tuning_algo``) clipped to ``cap_us``; the last gain is raised so that the
    longest total exposure (time x gain) is kept where the gain allows. Edits in place."""
    channels = agc.get("channels") or [agc]
    for channel in channels:
        for mode in (channel.get("exposure_modes") or {}).values():
            shutter = [int(s) for s in mode.get("shutter", [])]
            gain = [float(g) for g in mode.get("gain", [])]
            if not shutter or len(shutter) != len(gain):
                continue
            longest = shutter[-1] * gain[-1]
            mode["shutter"] = [min(s, cap_us) for s in shutter]
            if shutter[-1] > cap_us:
                gain[-1] = max(gain[-1], min(MAX_CAPPED_GAIN, longest / cap_us))
            mode["gain"] = gain
    return tuning


def capped_tuning(factory: Any, camera_num: int, cap_us: int) -> dict[str, Any] | None:
    """The sensor's default tuning with the exposure cap applied, through picamera2's
    documented static helpers; None (and a warning) where that is not possible. None and
    no warning when there is no such camera: opening it reports that."""
    try:
        cameras = factory.global_camera_info()
        if not 0 <= camera_num < len(cameras):
            return None
        model = cameras[camera_num]["Model"]
        tuning = copy.deepcopy(factory.load_tuning_file(f"{model}.json"))
        agc = factory.find_tuning_algo(tuning, "rpi.agc")
        return cap_tuning(tuning, agc, cap_us)
    except (AttributeError, IndexError, KeyError, RuntimeError, StopIteration, OSError) as exc:
        log.warning(
            "exposure cap of %d us not applied (tuning file unavailable: %s); exposure is "
            "bounded by the frame duration only",
            cap_us,
            exc,
        )
        return None


def centred_crop(
    limit: tuple[int, int, int, int], size: tuple[int, int], zoom: float
) -> tuple[int, int, int, int]:
    """A ``ScalerCrop`` rectangle (x, y, w, h, sensor pixels) centred in ``limit`` with the
    output's aspect ratio, 1/``zoom`` of the largest such rectangle across."""
    x, y, w, h = limit
    aspect = size[0] / size[1]
    width = min(w, h * aspect) / zoom
    height = width / aspect
    cw, ch = max(2, int(width) // 2 * 2), max(2, int(height) // 2 * 2)
    return x + (w - cw) // 2, y + (h - ch) // 2, cw, ch


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

    ``settings`` say what to ask of the camera (exposure cap, flicker, focus, mode, crop);
    ``size`` and ``fps``, where given, override those two fields.
    """

    def __init__(
        self,
        camera_num: int = 0,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
        settings: PicameraSettings | None = None,
        camera_factory: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings or PicameraSettings()
        if size is not None or fps is not None:
            settings = dataclasses.replace(
                settings, size=size or settings.size, fps=fps or settings.fps
            )
        self.settings = settings
        self.size = settings.size
        self._clock = clock
        factory = camera_factory or _default_factory()
        cap = settings.exposure_cap_us
        tuning = capped_tuning(factory, camera_num, cap) if cap is not None else None
        #: Whether the exposure cap is in the AE's tuning (False: only the frame duration).
        self.exposure_capped = tuning is not None
        try:
            self._cam = factory(camera_num, tuning=tuning) if tuning else factory(camera_num)
        except IndexError as exc:  # picamera2 indexes its camera list: none attached
            raise CameraError(f"no Raspberry Pi camera number {camera_num} found") from exc
        except RuntimeError as exc:  # "Failed to acquire camera": another process holds it
            raise CameraError(
                f"Raspberry Pi camera {camera_num} is busy or failed to start: {exc}"
            ) from exc
        try:
            self._start()
        except CameraError:
            self._cam.close()
            raise
        except Exception as exc:  # libcamera reports configuration failures as various errors
            self._cam.close()
            raise CameraError(f"Raspberry Pi camera {camera_num} could not start: {exc}") from exc

    def _start(self) -> None:
        s = self.settings
        available = getattr(self._cam, "camera_controls", {}) or {}
        extra: dict[str, Any] = {}
        if s.sensor_size is not None:
            extra["sensor"] = {"output_size": s.sensor_size}
        config = self._cam.create_video_configuration(
            main={"size": s.size, "format": "YUV420"},
            controls=start_controls(s, available),
            buffer_count=4,
            **extra,
        )
        self._cam.configure(config)
        if s.zoom > 1.0:
            self._set_crop()
        self._cam.start()

    def _set_crop(self) -> None:
        """The centred digital crop, within the limits of the configured sensor mode
        (``camera_controls["ScalerCrop"]`` after configuring, else the whole array)."""
        limits = (getattr(self._cam, "camera_controls", {}) or {}).get("ScalerCrop")
        limit = limits[1] if limits else None
        if limit is None:
            limit = (getattr(self._cam, "camera_properties", {}) or {}).get("ScalerCropMaximum")
        if limit is None:
            log.info("camera offers no ScalerCrop; zoom %.2f not applied", self.settings.zoom)
            return
        crop = centred_crop(tuple(limit), self.settings.size, self.settings.zoom)
        self._cam.set_controls({"ScalerCrop": crop})

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
