"""Frame sources: replay (image dir, video), the picamera2 source with a fake camera,
OpenCV failure without a device, the factory, and retry with backoff."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from verifier.imaging.camera import CameraError, Frame, FrameSource, open_source, open_with_retry
from verifier.imaging.camera.picam import (
    AF_MODE_CONTINUOUS,
    PicameraSettings,
    PicameraSource,
    cap_tuning,
    centred_crop,
)
from verifier.imaging.camera.replay import ReplaySource


def _gray(value: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    return np.full((size[1], size[0]), value, np.uint8)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    import cv2

    for i, value in enumerate((10, 100, 200)):
        cv2.imwrite(str(tmp_path / f"f{i:02d}.png"), _gray(value))
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def _drain(source: FrameSource) -> list[Frame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


# --------------------------------------------------------------------------- replay


def test_replay_image_dir_in_name_order(image_dir: Path) -> None:
    source = ReplaySource(image_dir, fps=10, realtime=False)
    frames = _drain(source)
    assert [int(f.gray[0, 0]) for f in frames] == [10, 100, 200]
    assert [f.timestamp for f in frames] == [0.0, 0.1, 0.2]
    assert all(f.gray.ndim == 2 and f.gray.dtype == np.uint8 for f in frames)
    source.close()


def test_replay_loops(image_dir: Path) -> None:
    source = ReplaySource(image_dir, realtime=False, loop=True)
    values = [int(source.read().gray[0, 0]) for _ in range(7)]
    assert values == [10, 100, 200, 10, 100, 200, 10]


def test_replay_realtime_paces_with_injected_clock(image_dir: Path) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    source = ReplaySource(image_dir, fps=4, clock=lambda: now[0], sleep=sleep)
    stamps = [f.timestamp for f in _drain(source)]
    assert stamps == [100.0, 100.25, 100.5]
    assert slept == [0.25, 0.25]


def test_replay_video_file(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (64, 48))
    assert writer.isOpened()
    for value in (30, 120, 220, 120):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()

    source = ReplaySource(path, realtime=False)
    frames = _drain(source)
    source.close()
    assert source.fps == pytest.approx(15.0)
    assert len(frames) == 4
    assert frames[0].gray.shape == (48, 64) and frames[0].gray.dtype == np.uint8
    means = [round(float(f.gray.mean())) for f in frames]
    assert all(abs(m - v) <= 3 for m, v in zip(means, (30, 120, 220, 120), strict=True)), means
    assert frames[1].timestamp == pytest.approx(1 / 15)


@pytest.mark.parametrize("name", ["missing", "empty"])
def test_replay_bad_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "empty":
        path.mkdir()
    with pytest.raises(CameraError):
        ReplaySource(path)


# --------------------------------------------------------------------------- picamera2 (fake)


#: A version-2 tuning file as libcamera ships it (imx708.json, trimmed): the AGC has one
#: channel per HDR channel, each with its exposure modes.
TUNING = {
    "version": 2.0,
    "target": "bcm2835",
    "algorithms": [
        {"rpi.black_level": {"black_level": 4096}},
        {
            "rpi.agc": {
                "channels": [
                    {
                        "exposure_modes": {
                            "normal": {
                                "shutter": [100, 15000, 30000, 60000, 120000],
                                "gain": [1.0, 1.0, 2.0, 4.0, 6.0],
                            },
                            "short": {
                                "shutter": [100, 5000, 10000, 20000, 120000],
                                "gain": [1.0, 2.0, 4.0, 6.0, 6.0],
                            },
                        }
                    },
                    {"exposure_modes": {"normal": {"shutter": [100, 66666], "gain": [1.0, 8.0]}}},
                ]
            }
        },
    ],
}

#: What ``camera_controls`` lists (name: (min, max, default)) on a Camera Module 3 and on a
#: v2 module with an older libcamera (no autofocus, no flicker controls).
IMX708_CONTROLS = {
    "AfMode": (0, 2, 0),
    "AfRange": (0, 2, 0),
    "LensPosition": (0.0, 15.0, 1.0),
    "AeExposureMode": (0, 3, 0),
    "AeFlickerMode": (0, 1, 0),
    "AeFlickerPeriod": (100, 1000000, None),
    "ExposureTime": (26, 220417486, 20000),
    "FrameDurationLimits": (17849, 220495551, 33333),
    "ScalerCrop": ((0, 0, 64, 64), (0, 0, 4608, 2592), (0, 0, 4608, 2592)),
}
IMX219_CONTROLS = {
    "AeExposureMode": (0, 3, 0),
    "ExposureTime": (75, 11766829, 20000),
    "FrameDurationLimits": (21368, 11767556, 33333),
    "ScalerCrop": ((0, 0, 64, 64), (0, 0, 3280, 2464), (0, 0, 3280, 2464)),
}
#: Sensor modes' crop limits (picamera2's ``sensor_modes`` "crop_limits"), by output size.
IMX219_MODES = {(1640, 1232): (0, 0, 3280, 2464), (1920, 1080): (680, 692, 1920, 1080)}


class FakePicamera2:
    """Stands in for picamera2.Picamera2, following its documented API: the constructor's
    ``tuning``, the static ``global_camera_info`` / ``load_tuning_file`` /
    ``find_tuning_algo``, ``camera_controls`` (whose ScalerCrop limits follow the sensor mode
    once configured) and ``camera_properties``; YUV420 frames with stride padding."""

    instances: ClassVar[list[FakePicamera2]] = []
    model: ClassVar[str] = "imx708"
    tuning_files: ClassVar[dict[str, dict]] = {"imx708.json": TUNING, "imx219.json": TUNING}

    def __init__(
        self,
        camera_num: int = 0,
        tuning: dict | None = None,
        *,
        frames: int = 3,
        busy: bool = False,
    ) -> None:
        if busy:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self.camera_num = camera_num
        self.tuning = tuning
        self.camera_controls = dict(IMX708_CONTROLS if self.model == "imx708" else IMX219_CONTROLS)
        self.camera_properties = {"Model": self.model, "ScalerCropMaximum": (0, 0, 4608, 2592)}
        self.config: dict[str, Any] | None = None
        self.started = self.closed = False
        self.controls: dict[str, Any] = {}
        self._left = frames
        self._count = 0
        FakePicamera2.instances.append(self)

    @staticmethod
    def global_camera_info() -> list[dict]:
        return [{"Model": FakePicamera2.model, "Num": 0, "Location": 2, "Rotation": 180}]

    @staticmethod
    def load_tuning_file(tuning_file: str, dir: str | None = None) -> dict:
        if tuning_file not in FakePicamera2.tuning_files:
            raise RuntimeError("Tuning file not found")
        return FakePicamera2.tuning_files[tuning_file]

    @staticmethod
    def find_tuning_algo(tuning: dict, name: str) -> dict:
        if tuning.get("version", 1) == 1:
            return tuning[name]
        return next(algo for algo in tuning["algorithms"] if name in algo)[name]

    def create_video_configuration(
        self, main: dict, controls: dict, sensor: dict | None = None, **kw: Any
    ) -> dict:
        return {"main": dict(main), "controls": dict(controls), "sensor": dict(sensor or {}), **kw}

    def configure(self, config: dict) -> None:
        self.config = config
        mode = tuple(config["sensor"].get("output_size", ()))
        if mode in IMX219_MODES:
            low, _high, default = self.camera_controls["ScalerCrop"]
            self.camera_controls["ScalerCrop"] = (low, IMX219_MODES[mode], default)

    def start(self) -> None:
        assert self.config is not None
        self.started = True

    def set_controls(self, controls: dict) -> None:
        self.controls.update(controls)

    def capture_array(self, name: str = "main") -> np.ndarray:
        if not self.started or self._left == 0:
            raise RuntimeError("camera stopped")
        self._left -= 1
        self._count += 1
        width, height = self.config["main"]["size"]
        yuv = np.full((height * 3 // 2, width + 32), 128, np.uint8)  # U/V rows, stride padding
        yuv[:height, :width] = self._count
        yuv[:height, width:] = 255
        return yuv

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def imx219(monkeypatch: pytest.MonkeyPatch) -> None:
    """A camera module v2 (IMX219, fixed focus) instead of a Camera Module 3."""
    monkeypatch.setattr(FakePicamera2, "model", "imx219")


def _exposure_modes(tuning: dict) -> list[dict]:
    agc = FakePicamera2.find_tuning_algo(tuning, "rpi.agc")
    return [mode for ch in agc["channels"] for mode in ch["exposure_modes"].values()]


def test_picamera_source_hands_over_the_y_plane() -> None:
    clock = iter([1.0, 1.033, 1.066])
    source = PicameraSource(camera_factory=FakePicamera2, clock=lambda: next(clock))
    cam = FakePicamera2.instances[-1]
    assert cam.config["main"] == {"size": (1280, 720), "format": "YUV420"}
    controls = cam.config["controls"]
    assert controls["FrameDurationLimits"] == (33333, 33333)
    assert controls["AfMode"] == AF_MODE_CONTINUOUS
    assert "AeExposureMode" in controls
    frames = [source.read() for _ in range(3)]
    assert [f.timestamp for f in frames] == [1.0, 1.033, 1.066]
    for i, f in enumerate(frames, start=1):
        assert f.gray.shape == (720, 1280)
        assert np.all(f.gray == i)  # no chroma rows, no padding columns
    with pytest.raises(CameraError, match="stopped delivering"):
        source.read()
    source.close()
    assert cam.closed and not cam.started


def test_exposure_cap_goes_into_every_exposure_mode_of_the_tuning() -> None:
    """Today's 8 ms default: the AE keeps working, but never exposes longer (the sensor's
    tuning said up to 120 ms); the last gain rises to keep some of the night-time range."""
    source = PicameraSource(camera_factory=FakePicamera2)
    cam = FakePicamera2.instances[-1]
    assert source.exposure_capped and cam.tuning is not None
    modes = _exposure_modes(cam.tuning)
    assert len(modes) == 3
    for mode in modes:
        assert max(mode["shutter"]) == 8000
        assert len(mode["shutter"]) == len(mode["gain"])
        assert mode["shutter"] == sorted(mode["shutter"]) and mode["gain"] == sorted(mode["gain"])
    assert _exposure_modes(cam.tuning)[0]["gain"][-1] == 16.0  # 6 x 120 ms / 8 ms, clipped
    assert _exposure_modes(TUNING)[0]["shutter"][-1] == 120000  # the loaded file is untouched
    source.close()


@pytest.mark.parametrize(
    ("cap", "period", "expected"),
    [
        (8000, 4167, 4167),  # a 240 Hz OLED PWM: one whole period under the cap
        (8000, 2083, 6249),  # 480 Hz PWM: three periods
        (12000, 10000, 10000),  # 50 Hz mains lighting (100 Hz flicker)
        (8000, 0, 8000),  # no flicker avoidance: the cap as set
    ],
)
def test_flicker_period_rounds_the_cap_and_asks_libcamera(
    cap: int, period: int, expected: int
) -> None:
    settings = PicameraSettings(max_exposure_us=cap, flicker_period_us=period)
    assert settings.exposure_cap_us == expected
    PicameraSource(settings=settings, camera_factory=FakePicamera2).close()
    cam = FakePicamera2.instances[-1]
    assert all(max(m["shutter"]) == expected for m in _exposure_modes(cam.tuning))
    controls = cam.config["controls"]
    if period:
        assert (controls["AeFlickerMode"], controls["AeFlickerPeriod"]) == (1, period)
    else:
        assert "AeFlickerMode" not in controls


@pytest.mark.parametrize(
    ("autofocus", "expected"),
    [
        ("continuous", {"AfMode": 2, "AfRange": 0}),
        ("macro", {"AfMode": 2, "AfRange": 1}),
        ("off", {"AfMode": 0, "LensPosition": 5.0}),
    ],
)
def test_focus_modes_on_a_camera_module_3(autofocus: str, expected: dict) -> None:
    settings = PicameraSettings(autofocus=autofocus, lens_position=5.0)
    PicameraSource(settings=settings, camera_factory=FakePicamera2).close()
    controls = FakePicamera2.instances[-1].config["controls"]
    focus = {k: v for k, v in controls.items() if k.startswith(("Af", "Lens"))}
    assert focus == expected


@pytest.mark.usefixtures("imx219")
def test_a_module_without_autofocus_or_flicker_controls_gets_neither() -> None:
    settings = PicameraSettings(autofocus="off", flicker_period_us=4167)
    PicameraSource(settings=settings, camera_factory=FakePicamera2).close()
    controls = FakePicamera2.instances[-1].config["controls"]
    assert set(controls) == {"FrameDurationLimits", "AeExposureMode"}


@pytest.mark.usefixtures("imx219")
def test_sensor_mode_and_centred_crop() -> None:
    """The IMX219's 1920x1080 mode (a native-pixel crop of the array) and zoom 1.5: a
    1280x720 window of sensor pixels, 1:1 with the frame, centred in the mode's limits."""
    settings = PicameraSettings(sensor_size=(1920, 1080), zoom=1.5)
    PicameraSource(settings=settings, camera_factory=FakePicamera2).close()
    cam = FakePicamera2.instances[-1]
    assert cam.config["sensor"] == {"output_size": (1920, 1080)}
    assert cam.controls["ScalerCrop"] == (680 + 320, 692 + 180, 1280, 720)


def test_centred_crop_keeps_the_frame_aspect_inside_the_limits() -> None:
    assert centred_crop((0, 0, 4608, 2592), (1280, 720), 1.0) == (0, 0, 4608, 2592)
    x, y, w, h = centred_crop((0, 0, 3280, 2464), (1280, 720), 2.0)
    assert (w, h) == (1640, 922) and (x, y) == (820, 771)


def test_without_a_tuning_file_the_camera_still_opens(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(FakePicamera2, "tuning_files", {})
    source = PicameraSource(camera_factory=FakePicamera2)
    assert not source.exposure_capped and FakePicamera2.instances[-1].tuning is None
    assert "exposure cap of 8000 us not applied" in caplog.text
    source.close()


def test_cap_tuning_of_a_version_1_file() -> None:
    tuning = {
        "rpi.agc": {"exposure_modes": {"normal": {"shutter": [100, 30000], "gain": [1.0, 4.0]}}}
    }
    cap_tuning(tuning, tuning["rpi.agc"], 10000)
    assert tuning["rpi.agc"]["exposure_modes"]["normal"] == {
        "shutter": [100, 10000],
        "gain": [1.0, 12.0],  # 4 x 30 ms / 10 ms: the same longest exposure
    }


def test_camera_config_reaches_the_camera(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[camera] keys -> verifier app's opener -> the picamera2 controls and tuning."""
    import sys
    import types

    from verifier.commands.app import camera_opener
    from verifier.device.config import load_config

    path = tmp_path / "config.toml"
    path.write_text(
        "[camera]\nmax_exposure_us = 6000\nflicker_period_us = 2000\nautofocus = 'macro'\n"
        "sensor_width = 2304\nsensor_height = 1296\nzoom = 1.25\n"
    )
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    source = camera_opener(load_config(path))()
    cam = FakePicamera2.instances[-1]
    assert all(max(m["shutter"]) == 6000 for m in _exposure_modes(cam.tuning))
    controls = cam.config["controls"]
    assert (controls["AfRange"], controls["AeFlickerPeriod"]) == (1, 2000)
    assert cam.config["sensor"] == {"output_size": (2304, 1296)}
    assert cam.controls["ScalerCrop"] == centred_crop((0, 0, 4608, 2592), (1280, 720), 1.25)
    source.close()


def test_picamera_busy_and_missing(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(CameraError, match="busy"):
        PicameraSource(camera_factory=lambda n: FakePicamera2(n, busy=True))

    class NoCamera(FakePicamera2):
        def __init__(self, camera_num: int = 0, tuning: dict | None = None) -> None:
            raise IndexError("list index out of range")

    no_camera = NoCamera

    caplog.clear()
    with pytest.raises(CameraError, match="no Raspberry Pi camera"):
        PicameraSource(camera_num=1, camera_factory=no_camera)
    assert "exposure cap" not in caplog.text  # no camera: that is the one message


def test_picamera_missing_module_is_a_camera_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes the import fail
    with pytest.raises(CameraError, match="picamera2 is not installed"):
        open_source("picamera2")


# --------------------------------------------------------------------------- opencv, factory


@pytest.mark.parametrize("device", [97, "/dev/video-does-not-exist"])
def test_opencv_source_without_device(device: int | str) -> None:
    with pytest.raises(CameraError, match="cannot open camera"):
        open_source("opencv", device=device)


def test_factory_kinds(image_dir: Path) -> None:
    source = open_source("replay", path=image_dir, realtime=False)
    assert isinstance(source, FrameSource)
    source.close()
    with pytest.raises(CameraError, match="needs a path"):
        open_source("replay")
    with pytest.raises(CameraError, match="unknown camera kind"):
        open_source("webcam")


def test_open_with_retry_backs_off_then_succeeds(image_dir: Path) -> None:
    failures = [CameraError("busy")] * 4
    slept: list[float] = []
    told: list[float] = []

    def opener() -> FrameSource:
        if failures:
            raise failures.pop()
        return ReplaySource(image_dir, realtime=False)

    source = open_with_retry(
        opener,
        first_delay=0.5,
        max_delay=2.0,
        sleep=slept.append,
        on_error=lambda exc, delay: told.append(delay),
    )
    assert isinstance(source, ReplaySource)
    assert slept == told == [0.5, 1.0, 2.0, 2.0]


def test_open_with_retry_gives_up_after_attempts() -> None:
    def opener() -> FrameSource:
        raise CameraError("no camera")

    with pytest.raises(CameraError, match="no camera"):
        open_with_retry(opener, attempts=3, sleep=lambda s: None)
