"""Configuration validation and the list cache's never-a-worse-list rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import NOW, World
from verifier.core.errors import ConfigError, ListError, StaleListError
from verifier.device.config import FeedbackConfig, load_config, parse_config
from verifier.device.store import ListStore
from verifier.ui.feedback import NoFeedback, make_feedback


def test_defaults_when_no_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLEG_VERIFIER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_config()
    assert config.window == 90 and config.language == "pl"
    assert config.anchor == tmp_path / "mleg-verifier" / "anchor.pem"


@pytest.mark.parametrize(
    ("toml", "why"),
    [
        ("colour = 1", "unknown key"),
        ("window = '90'", "window"),
        ("window = 0", "between"),
        ("language = 'de'", "language"),
        ("list_url = 'ftp://x'", "http"),
        ("[camera]\nsource = 'webcam'", "camera.source"),
        ("[camera]\nfocus = 1", "unknown key"),
        ("[camera]\nautofocus = 'auto'", "camera.autofocus"),
        ("[camera]\nflicker_period_us = 10000", "must not exceed camera.max_exposure_us"),
        ("[camera]\nflicker_period_us = 50", "at least 100"),
        ("[camera]\nmax_exposure_us = 2000000", "max_exposure_us must be between"),
        ("[camera]\nzoom = 10", "camera.zoom"),
        ("[camera]\nzoom = true", "camera.zoom"),
        ("[camera]\nlens_position = -1.0", "dioptres"),
        ("[camera]\nsensor_width = 1920", "go together"),
        ("window = true", "window"),
        ("window = ", "TOML"),
        ("[feedback]\nkind = 'siren'", "feedback.kind"),
        ("[feedback]\nbuzzer_pin = 40", "BCM"),
        ("[feedback]\nvolume = 3", "unknown key"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, toml: str, why: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=why):
        load_config(path)


def test_pi_camera_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[camera]\nmax_exposure_us = 12000\nflicker_period_us = 10000\nautofocus = 'off'\n"
        "lens_position = 3\nsensor_width = 1920\nsensor_height = 1080\nzoom = 1.5\n"
    )
    cam = load_config(path).camera
    assert (cam.max_exposure_us, cam.flicker_period_us, cam.autofocus) == (12000, 10000, "off")
    assert (cam.lens_position, cam.zoom) == (3, 1.5)
    assert (cam.sensor_width, cam.sensor_height) == (1920, 1080)


def test_feedback_table_and_what_it_gives_off_the_pi(tmp_path: Path, caplog) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[feedback]\nkind = 'gpio'\nbuzzer_pin = 22\nled_pin = -1\n")
    feedback = load_config(path).feedback
    assert (feedback.kind, feedback.buzzer_pin, feedback.led_pin) == ("gpio", 22, None)
    # No gpiozero here: asked-for GPIO falls back to the terminal bell (None) with a warning.
    assert make_feedback(feedback) is None and "terminal bell" in caplog.text
    assert isinstance(make_feedback(FeedbackConfig(kind="none")), NoFeedback)
    assert make_feedback(FeedbackConfig(kind="bell")) is None


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = parse_config({"anchor": "keys/a.pem", "list_url": "http://h/x/"}, base=tmp_path)
    assert config.anchor == tmp_path / "keys" / "a.pem" and config.list_url == "http://h/x"


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_store_accepts_only_newer_lists(world: World, tmp_path: Path) -> None:
    store = ListStore(tmp_path, world.ministry.anchor)
    first = world.ministry.revocation_list(iat=NOW)
    second = world.ministry.revocation_list(iat=NOW + 60)
    assert store.offer_revocations(second).accepted
    assert not store.offer_revocations(second).accepted  # same bytes: a no-op
    with pytest.raises(StaleListError):
        store.offer_revocations(first)
    world.ministry.revocation_seq -= 1  # same seq, different bytes
    with pytest.raises(StaleListError):
        store.offer_revocations(world.ministry.revocation_list(iat=NOW + 99))
    assert store.revocations().raw == second


def test_store_never_takes_a_list_from_another_anchor(world: World, tmp_path: Path) -> None:
    store = ListStore(tmp_path, world.ministry.anchor)
    store.offer_trust_list(world.ministry.trust_list(iat=NOW))
    with pytest.raises(ListError):
        store.offer_trust_list(World().ministry.trust_list(iat=NOW + 1))
    assert store.trust_list().seq == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trustlist.cbor"]  # no temp files left


def test_tampered_cache_file_is_not_trusted(world: World, tmp_path: Path) -> None:
    store = ListStore(tmp_path, world.ministry.anchor)
    store.offer_trust_list(world.ministry.trust_list(iat=NOW))
    raw = bytearray(store.trust_list_path.read_bytes())
    raw[-1] ^= 1
    store.trust_list_path.write_bytes(bytes(raw))
    with pytest.raises(ListError):
        store.trust_list()
