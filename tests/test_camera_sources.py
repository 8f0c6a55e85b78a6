"""Frame sources: replay (image dir, video), the picamera2 source with a fake camera,
OpenCV failure without a device, the factory, and retry with backoff."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from verifier.imaging.camera import CameraError, Frame, FrameSource, open_source, open_with_retry
from verifier.imaging.camera.picam import AF_MODE_CONTINUOUS, PicameraSource
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


class FakePicamera2:
    """Stands in for picamera2.Picamera2: same method names, YUV420 frames with stride padding."""

    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self, camera_num: int = 0, *, frames: int = 3, busy: bool = False) -> None:
        if busy:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self.camera_num = camera_num
        self.camera_controls = {"AfMode": (0, 2, 0), "AeExposureMode": (0, 3, 0)}
        self.config: dict[str, Any] | None = None
        self.started = self.closed = False
        self.controls: dict[str, Any] = {}
        self._left = frames
        self._count = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict, controls: dict, **kw: Any) -> dict:
        return {"main": dict(main), "controls": dict(controls), **kw}

    def configure(self, config: dict) -> None:
        self.config = config

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


def test_picamera_without_autofocus_does_not_ask_for_it() -> None:
    def factory(num: int) -> FakePicamera2:
        cam = FakePicamera2(num)
        cam.camera_controls = {}
        return cam

    PicameraSource(camera_factory=factory, autofocus=True).close()
    assert "AfMode" not in FakePicamera2.instances[-1].config["controls"]


def test_picamera_busy_and_missing() -> None:
    with pytest.raises(CameraError, match="busy"):
        PicameraSource(camera_factory=lambda n: FakePicamera2(n, busy=True))

    def no_camera(num: int) -> FakePicamera2:
        raise IndexError("list index out of range")

    with pytest.raises(CameraError, match="no Raspberry Pi camera"):
        PicameraSource(camera_num=1, camera_factory=no_camera)


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
