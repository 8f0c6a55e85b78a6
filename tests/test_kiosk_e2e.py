"""The kiosk stack, headless, on the kit's 800x480 screen: a wlroots compositor (headless
backend, pixman renderer) running foot with the kit's foot.ini, running ``verifier app
--kiosk`` with the replay camera: the foot command of systemd/mleg-verifier-kiosk.service. A
screenshot of the compositor's output (grim) must show the verdict panel across the top, and
below it the signed photo, a third of the screen tall, whose pixels are the signed image's
(drawn as Sixel, not half-blocks).

The compositor here is sway, not the kit's cage: both are wlroots kiosks showing one
full-screen window, but cage cannot set its headless output to 800x480, and under pixman here
its headless output failed wlroots' output test on most frames (foot's later frames never
reached the screenshot). Both refuse to run as root: as root the stack runs as ``nobody``.

Skipped where sway, foot or grim are missing (.ci/run installs them).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from issuer_stub.keystore import public_pem
from tests.conftest import STUDENT, World
from tests.portraits import PORTRAIT_JPEG
from tests.test_deploy import values

REPO = Path(__file__).resolve().parents[1]
KIOSK_UNIT = "mleg-verifier-kiosk.service"
VERIFIER = Path(sys.executable).parent / "verifier"
VALID_BACKGROUND = (0x22, 0xC5, 0x5E)  # #verdict.-valid in verifier/ui/inspector.tcss
TOOLS = ("sway", "foot", "grim")
SCREEN = (800, 480)  # the official 7-inch display

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS)
    or (os.geteuid() == 0 and shutil.which("runuser") is None),
    reason="needs sway, foot and grim (apt-get install sway foot grim), and runuser as root",
)


def _as_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "nobody", "--", *command]


def _near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> np.ndarray:
    return np.abs(pixels.astype(int) - np.array(colour)).max(axis=2) <= tolerance


def _dense_span(fraction: np.ndarray, threshold: float) -> tuple[int, int]:
    """The longest run of indices whose fraction passes ``threshold``."""
    best, start = (0, 0), None
    for i, value in enumerate([*fraction, 0.0]):
        if value >= threshold and start is None:
            start = i
        elif value < threshold and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def replay_frames(wallet, directory: Path) -> Path:
    """One camera frame holding the code (with a photo it is a large code)."""
    directory.mkdir()
    png = wallet.present_png(int(time.time()), directory / "code.png", scale=4)
    code = np.asarray(Image.open(png).convert("L"))
    png.unlink()
    frame = np.full((max(720, code.shape[0] + 80), max(1280, code.shape[1] + 80)), 160, np.uint8)
    frame[40 : 40 + code.shape[0], 40 : 40 + code.shape[1]] = code
    Image.fromarray(frame).save(directory / "frame.png")
    return directory


def _verifier_for_the_user(workdir: Path) -> str:
    """This checkout's ``verifier`` command, runnable by the user the stack runs as.

    As root the stack runs as nobody, who may not reach this venv's interpreter (pyenv keeps
    it under /root): then the system's Python of the same version runs the venv's packages.
    """
    if os.geteuid() != 0:
        return str(VERIFIER)
    probe = subprocess.run(_as_user([sys.executable, "-c", "pass"]), capture_output=True)
    if probe.returncode == 0:
        return str(VERIFIER)
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        pytest.skip(f"nobody cannot run {sys.executable}, and there is no {system}")
    site = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)]
    launcher = workdir / "verifier"
    launcher.write_text(
        f"#!{system}\nimport sys\nsys.path[:0] = {[str(REPO), *site]!r}\n"
        "from verifier.commands.cli import main\nsys.exit(main())\n"
    )
    launcher.chmod(0o755)
    return str(launcher)


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="mleg-kiosk-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_kiosk_shows_the_verdict_and_the_signed_photo_in_real_pixels(workdir: Path) -> None:
    now = int(time.time())
    world = World(now=now)
    wallet = world.wallet(replace(STUDENT, photo=PORTRAIT_JPEG))
    home, state, runtime = workdir / "home", workdir / "state", workdir / "run"
    for d in (home, state, runtime):
        d.mkdir(mode=0o700)
    (workdir / "anchor.pem").write_bytes(public_pem(world.ministry.key.public_key()))
    (state / "trustlist.cbor").write_bytes(world.ministry.trust_list(iat=now - 60))
    (state / "revocations.cbor").write_bytes(world.ministry.revocation_list(iat=now - 60))
    frames = replay_frames(wallet, workdir / "frames")
    config = workdir / "config.toml"
    config.write_text(
        f'anchor = "{workdir / "anchor.pem"}"\ncache_dir = "{state}"\nlanguage = "pl"\n'
        f'[camera]\nsource = "replay"\npath = "{frames}"\nfps = 5.0\n'
    )
    shutil.copy(REPO / "deploy" / "foot.ini", workdir / "foot.ini")
    if os.geteuid() == 0:
        for path in [workdir, *workdir.rglob("*")]:
            shutil.chown(path, "nobody", "nogroup")
    # The unit's foot command (after "cage -d --"), with this checkout's verifier and foot.ini.
    foot = (
        values(KIOSK_UNIT, "ExecStart")[0]
        .split(" -- ", 1)[1]
        .replace("/etc/mleg-verifier/foot.ini", str(workdir / "foot.ini"))
        .replace("/opt/mleg-verifier/current/bin/verifier", _verifier_for_the_user(workdir))
    )
    assert "/opt/" not in foot, foot
    sway_config = workdir / "sway.cfg"
    sway_config.write_text(
        f"output HEADLESS-1 mode {SCREEN[0]}x{SCREEN[1]}\n"
        "xwayland disable\n"
        "default_border none\n"
        'for_window [app_id="foot"] fullscreen enable\n'
        f"exec {foot}\n"
    )
    command = ["sway", "-c", str(sway_config)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    for value in values(KIOSK_UNIT, "Environment"):
        name, _, setting = value.partition("=")
        env[name] = setting
    env.update(
        MLEG_VERIFIER_CONFIG=str(config),
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        WLR_BACKENDS="headless",
        WLR_RENDERER="pixman",
        WLR_LIBINPUT_NO_DEVICES="1",
    )
    log = (workdir / "kiosk.log").open("wb")
    kiosk = subprocess.Popen(
        _as_user(command), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    shot = workdir / "screen.png"
    pixels = None
    keep = os.environ.get("MLEG_KIOSK_SCREENSHOT")  # where to keep the screenshots
    try:
        deadline = time.monotonic() + 60  # a loaded machine starts Python slowly
        while time.monotonic() < deadline and kiosk.poll() is None:
            time.sleep(1)
            socket = next((p.name for p in runtime.glob("wayland-[0-9]*")
                           if not p.name.endswith(".lock")), None)
            if socket is None:
                continue
            grim = subprocess.run(
                _as_user(["grim", str(shot)]), env={**env, "WAYLAND_DISPLAY": socket},
                capture_output=True, timeout=20,
            )
            if grim.returncode != 0:
                continue
            if keep:
                shutil.copy(shot, f"{keep}.{time.monotonic():.0f}.png")
            frame = np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("RGB"))
            if _near(frame, VALID_BACKGROUND).mean() > 0.1:
                time.sleep(1)  # the photo is drawn in the same refresh; allow one more
                subprocess.run(_as_user(["grim", str(shot)]),
                               env={**env, "WAYLAND_DISPLAY": socket}, timeout=20, check=True)
                pixels = np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("RGB"))
                break
    finally:
        if kiosk.poll() is None:
            os.killpg(kiosk.pid, signal.SIGTERM)  # the group: sway, foot and the app
            try:
                kiosk.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(kiosk.pid, signal.SIGKILL)
                kiosk.wait()
        log.close()
    if keep and shot.exists():
        shutil.copy(shot, keep)
    detail = (workdir / "kiosk.log").read_text(errors="replace")[-2000:]
    assert pixels is not None, f"no valid verdict on the kiosk's screen; sway/foot said:\n{detail}"
    height, width = pixels.shape[:2]
    assert (width, height) == SCREEN

    # The verdict panel: the valid colour across the top of the screen.
    rows = _near(pixels, VALID_BACKGROUND).mean(axis=1)
    top, bottom = _dense_span(rows, 0.5)
    assert top <= 0.05 * height, (top, bottom)
    assert bottom - top >= 0.25 * height

    # The photo: the densest block left of the holder's text, below the panel.
    region = pixels[bottom:, : width // 2]
    colours, counts = np.unique(region.reshape(-1, 3), axis=0, return_counts=True)
    background = tuple(int(c) for c in colours[counts.argmax()])  # the holder card's
    ink = ~_near(region, background, 20)
    x0, x1 = _dense_span(ink.mean(axis=0), 0.5)
    y0, y1 = _dense_span(ink[:, x0:x1].mean(axis=1), 0.5)
    photo = Image.fromarray(region[y0:y1, x0:x1])
    assert y1 - y0 >= height / 3 - 2, (photo.size, height)  # a third of the screen's height
    assert x0 < width // 8  # at the left, under the panel
    aspect = photo.width / photo.height
    assert abs(aspect - 48 / 64) < 0.08, aspect

    # Drawn in real pixels: nearly every pixel row differs (half-blocks give 2 per cell row:
    # measured here 18 distinct rows of 171, Sixel 166).
    rows_drawn = np.asarray(photo)
    distinct = len({rows_drawn[y].tobytes() for y in range(rows_drawn.shape[0])})
    assert distinct >= 0.6 * photo.height, (distinct, photo.height)

    # Its pixels are the signed image's: scaled back down, they match closely.
    signed = np.asarray(Image.open(io.BytesIO(PORTRAIT_JPEG)).convert("RGB"), float)
    drawn = np.asarray(photo.resize((48, 64), Image.Resampling.BOX), float)
    difference = np.abs(drawn - signed).mean()
    assert difference < 12, (difference, photo.size, (x0, y0 + bottom))
