"""`verifier selfcheck` (run by `install.sh --check`): each check on a real kit layout, each
failure one line saying what to do."""

from __future__ import annotations

import io
import time
from pathlib import Path

import cv2
import numpy as np

from issuer_stub.keystore import public_pem
from tests.conftest import World
from verifier.commands import selfcheck
from verifier.commands.selfcheck import run_selfcheck
from verifier.device.runtime import RuntimeStatus


def kit(tmp_path: Path, world: World, camera: str = "") -> Path:
    (tmp_path / "anchor.pem").write_bytes(public_pem(world.ministry.key.public_key()))
    cache = tmp_path / "cache"
    cache.mkdir()
    now = int(time.time())
    (cache / "trustlist.cbor").write_bytes(world.ministry.trust_list(iat=now - 60))
    (cache / "revocations.cbor").write_bytes(world.ministry.revocation_list(iat=now - 60))
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame.png"), np.full((240, 320), 128, np.uint8))
    config = tmp_path / "config.toml"
    config.write_text(
        f'anchor = "{tmp_path / "anchor.pem"}"\ncache_dir = "{cache}"\n'
        f'[camera]\nsource = "replay"\npath = "{camera or frames}"\n'
    )
    return config


def lines(config: Path) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_selfcheck(config, out)
    return code, out.getvalue().splitlines()


def test_a_healthy_kit_passes_every_check(tmp_path: Path) -> None:
    code, out = lines(kit(tmp_path, World()))
    assert code == 0, out
    assert all(line.startswith("  ok       ") for line in out), out
    text = "\n".join(out)
    assert "config valid" in text and "trust anchor readable (kid" in text
    assert "lists held and verified (trust list seq 1, revocation list seq 1" in text
    assert "camera backend OpenCV" in text and "camera delivers frames (replay, 320x240)" in text
    assert "test codes rendered, decoded and verified" in text


def test_each_broken_piece_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    config = kit(tmp_path, World(), camera=str(tmp_path / "no-such-camera"))
    (tmp_path / "cache" / "revocations.cbor").unlink()
    (tmp_path / "cache" / "trustlist.cbor").write_bytes(b"damaged")
    code, out = lines(config)
    assert code == 1
    failed = [line for line in out if line.startswith("  FAILED")]
    assert len(failed) == 2, out
    assert "lists:" in failed[0] and "sudo systemctl start mleg-verifier-sync" in failed[0]
    assert "camera:" in failed[1] and "Camera not found" in failed[1]


def test_a_bad_config_or_anchor_fails_first(tmp_path: Path) -> None:
    config = kit(tmp_path, World())
    (tmp_path / "anchor.pem").write_text("not a key")
    code, out = lines(config)
    assert code == 1 and any("trust anchor:" in line and "--anchor FILE" in line for line in out)
    config.write_text("typo = 1\n")
    code, out = lines(config)
    assert code == 1 and out == [
        "  FAILED   config: "
        f"{config}: unknown key(s): typo: fix it, then sudo systemctl restart mleg-verifier"
    ]


def test_the_running_apps_camera_figures_stand_in_for_opening_the_camera(
    tmp_path: Path,
) -> None:
    config = kit(tmp_path, World())
    status = RuntimeStatus(tmp_path / "cache" / "run")
    status.write({"updated_at": time.time(), "camera": "ok", "fps": 6.0})
    from verifier.device.config import load_config

    loaded = load_config(config)
    assert "the running app decodes 6.0 frames/s" in selfcheck.check_camera_frame(loaded)
    status.write({"updated_at": time.time(), "camera": "unavailable: no camera", "fps": None})
    try:
        selfcheck.check_camera_frame(loaded)
    except selfcheck.Failed as exc:
        assert "unavailable: no camera" in str(exc)
    else:
        raise AssertionError("a camera the app cannot open passed the check")
