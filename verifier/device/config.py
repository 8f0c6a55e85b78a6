"""One TOML file, read with tomllib into a frozen dataclass; unknown keys are an error.

Lookup order: ``--config PATH``, ``$MLEG_VERIFIER_CONFIG``, ``~/.config/mleg-verifier/config.toml``
(``$XDG_CONFIG_HOME`` honoured). A missing default file means all defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from verifier.core.errors import ConfigError
from verifier.core.reasons import LANGUAGES
from verifier.device.clock import CLOCK_SOURCES

ENV_VAR = "MLEG_VERIFIER_CONFIG"
CAMERA_SOURCES = ("picamera2", "opencv", "replay")
AUTOFOCUS_MODES = ("continuous", "macro", "off")
FEEDBACK_KINDS = ("auto", "gpio", "bell", "none")
# One whole `verifier sync` (both lists, retries included) ends within this many seconds: a
# server dripping a byte a second never holds the sync, the app's background sync or `s`.
DEFAULT_SYNC_DEADLINE = 120


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "mleg-verifier"


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mleg-verifier"


@dataclass(frozen=True)
class CameraConfig:
    """``[camera]``. The Pi camera keys (``max_exposure_us`` and below) are applied through
    picamera2 (verifier/imaging/camera/picam.py); README "The camera" explains each."""

    source: str = "picamera2"
    device: int | str = 0
    path: str = ""
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    max_exposure_us: int = 8000  # exposure cap (hand-shake blur); the AE raises gain instead
    flicker_period_us: int = 0  # exposures a whole number of these (display PWM, mains); 0 off
    autofocus: str = "continuous"  # AUTOFOCUS_MODES; "off": the lens fixed at lens_position
    lens_position: float = 4.0  # dioptres, 1 / distance in metres (4.0: 25 cm)
    sensor_width: int = 0  # sensor mode to ask for (0 x 0: libcamera's choice)
    sensor_height: int = 0
    zoom: float = 1.0  # centred digital crop: 2.0 shows the middle half of the field


@dataclass(frozen=True)
class FeedbackConfig:
    """Buzzer/LED on GPIO (BCM numbering) or the terminal bell. ``auto``: GPIO when gpiozero
    and a buzzer are usable, otherwise the bell."""

    kind: str = "auto"
    buzzer_pin: int = 17
    led_pin: int | None = 27


@dataclass(frozen=True)
class Config:
    anchor: Path = field(default_factory=lambda: _config_home() / "anchor.pem")
    list_url: str = ""
    cache_dir: Path = field(default_factory=_cache_home)
    sync_interval: int = 900
    sync_deadline: int = DEFAULT_SYNC_DEADLINE
    window: int = 90
    language: str = "pl"
    verdict_clear_seconds: int = 15
    # Which clock to trust (ML1 section 6.1; see verifier/device/clock.py): "system" as it is,
    # or "ntp": only once NTP has set it since boot (a kit without a battery-backed clock).
    clock: str = "system"
    # One credential with the same outcome shown again within this many seconds (a phone
    # held in view while its code refreshes) counts and beeps once; 0 turns that off.
    repeat_span: int = 60
    camera: CameraConfig = field(default_factory=CameraConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    source: Path | None = None  # the file this was read from, if any


def default_path() -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else _config_home() / "config.toml"


def _check_type(where: str, value: Any, expected: type | tuple[type, ...]) -> None:
    if isinstance(value, bool) or not isinstance(value, expected):
        names = expected if isinstance(expected, tuple) else (expected,)
        raise ConfigError(f"{where}: expected {' or '.join(t.__name__ for t in names)}")


def _camera(table: Any, where: str) -> CameraConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [camera] must be a table")
    known = {f.name for f in fields(CameraConfig)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [camera]: {', '.join(sorted(unknown))}")
    cam = CameraConfig(**table)
    _check_type(f"{where}: camera.source", cam.source, str)
    if cam.source not in CAMERA_SOURCES:
        raise ConfigError(f"{where}: camera.source must be one of {', '.join(CAMERA_SOURCES)}")
    _check_type(f"{where}: camera.device", cam.device, (int, str))
    _check_type(f"{where}: camera.path", cam.path, str)
    for name in ("width", "height", "max_exposure_us"):
        _check_type(f"{where}: camera.{name}", getattr(cam, name), int)
        if getattr(cam, name) <= 0:
            raise ConfigError(f"{where}: camera.{name} must be positive")
    _check_type(f"{where}: camera.fps", cam.fps, (int, float))
    if not 0 < cam.fps <= 240:
        raise ConfigError(f"{where}: camera.fps must be in (0, 240]")
    _check_pi_camera(cam, where)
    return cam


def _check_pi_camera(cam: CameraConfig, where: str) -> None:
    """The picamera2 keys: ranges libcamera accepts, and combinations that work."""
    for name, lo, hi in (
        ("max_exposure_us", 100, 1_000_000),
        ("flicker_period_us", 0, 1_000_000),
        ("sensor_width", 0, 20_000),
        ("sensor_height", 0, 20_000),
    ):
        _check_type(f"{where}: camera.{name}", getattr(cam, name), int)
        if not lo <= getattr(cam, name) <= hi:
            raise ConfigError(f"{where}: camera.{name} must be between {lo} and {hi}")
    if 0 < cam.flicker_period_us < 100:
        raise ConfigError(f"{where}: camera.flicker_period_us must be 0 (off) or at least 100")
    if cam.flicker_period_us > cam.max_exposure_us:
        raise ConfigError(
            f"{where}: camera.flicker_period_us must not exceed camera.max_exposure_us "
            "(an exposure shorter than one period cannot avoid the flicker)"
        )
    if (cam.sensor_width == 0) != (cam.sensor_height == 0):
        raise ConfigError(f"{where}: camera.sensor_width and sensor_height go together")
    _check_type(f"{where}: camera.autofocus", cam.autofocus, str)
    if cam.autofocus not in AUTOFOCUS_MODES:
        raise ConfigError(f"{where}: camera.autofocus must be one of {', '.join(AUTOFOCUS_MODES)}")
    _check_type(f"{where}: camera.lens_position", cam.lens_position, (int, float))
    if not 0 <= cam.lens_position <= 32:
        raise ConfigError(f"{where}: camera.lens_position must be between 0 and 32 dioptres")
    _check_type(f"{where}: camera.zoom", cam.zoom, (int, float))
    if not 1 <= cam.zoom <= 8:
        raise ConfigError(f"{where}: camera.zoom must be between 1 and 8")


def _feedback(table: Any, where: str) -> FeedbackConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [feedback] must be a table")
    unknown = set(table) - {f.name for f in fields(FeedbackConfig)}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [feedback]: {', '.join(sorted(unknown))}")
    if table.get("led_pin") == -1:  # TOML has no null: -1 means "no LED"
        table = {**table, "led_pin": None}
    fb = FeedbackConfig(**table)
    if fb.kind not in FEEDBACK_KINDS:
        raise ConfigError(f"{where}: feedback.kind must be one of {', '.join(FEEDBACK_KINDS)}")
    for name in ("buzzer_pin", "led_pin"):
        pin = getattr(fb, name)
        if pin is None:
            continue
        _check_type(f"{where}: feedback.{name}", pin, int)
        if not 0 <= pin <= 27:
            raise ConfigError(f"{where}: feedback.{name} must be a BCM GPIO number 0..27")
    return fb


def parse_config(data: dict[str, Any], where: str = "config", base: Path | None = None) -> Config:
    """Validate a parsed TOML document; relative paths are taken from ``base``."""
    known = {f.name for f in fields(Config)} - {"source"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in ("anchor", "cache_dir"):
        if name in data:
            _check_type(f"{where}: {name}", data[name], str)
            path = Path(data[name]).expanduser()
            values[name] = path if path.is_absolute() or base is None else base / path
    if "list_url" in data:
        _check_type(f"{where}: list_url", data["list_url"], str)
        url = data["list_url"]
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: list_url must start with http:// or https://")
        values["list_url"] = url.rstrip("/")
    for name, lo, hi in (
        ("sync_interval", 60, 7 * 86400),
        ("sync_deadline", 1, 3600),
        ("window", 1, 3600),
        ("verdict_clear_seconds", 1, 3600),
        ("repeat_span", 0, 3600),
    ):
        if name in data:
            _check_type(f"{where}: {name}", data[name], int)
            if not lo <= data[name] <= hi:
                raise ConfigError(f"{where}: {name} must be between {lo} and {hi}")
            values[name] = data[name]
    if "clock" in data:
        if data["clock"] not in CLOCK_SOURCES:
            raise ConfigError(
                f"{where}: clock must be one of {', '.join(CLOCK_SOURCES)} (\"ntp\" on a kit "
                "without a battery-backed clock)"
            )
        values["clock"] = data["clock"]
    interval = values.get("sync_interval", Config.sync_interval)
    if "sync_deadline" not in values:  # a short interval brings the default deadline down with it
        values["sync_deadline"] = min(DEFAULT_SYNC_DEADLINE, interval // 2)
    elif values["sync_deadline"] >= interval:
        raise ConfigError(f"{where}: sync_deadline must be less than sync_interval ({interval} s)")
    if "language" in data:
        if data["language"] not in LANGUAGES:
            raise ConfigError(f"{where}: language must be one of {', '.join(LANGUAGES)}")
        values["language"] = data["language"]
    if "camera" in data:
        values["camera"] = _camera(data["camera"], where)
    if "feedback" in data:
        values["feedback"] = _feedback(data["feedback"], where)
    return Config(**values)


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing *default* file gives the defaults."""
    explicit = path is not None or ENV_VAR in os.environ
    path = path or default_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} does not exist") from None
        return Config()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = parse_config(data, str(path), base=path.parent)
    return Config(**{**{f.name: getattr(config, f.name) for f in fields(Config)}, "source": path})
