"""`verifier check` as scripts call it: output lines, exit codes, errors on stderr."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from issuer_stub.keystore import public_pem
from issuer_stub.wallet import render_png
from tests.conftest import NOW, World
from verifier.commands.cli import main, parse_arguments


@pytest.fixture
def files(world: World, tmp_path: Path) -> dict[str, str]:
    anchor = tmp_path / "anchor.pem"
    anchor.write_bytes(public_pem(world.ministry.key.public_key()))
    tl = tmp_path / "trustlist.cbor"
    tl.write_bytes(world.ministry.trust_list(iat=NOW - 3600))
    rl = tmp_path / "revocations.cbor"
    rl.write_bytes(world.ministry.revocation_list(iat=NOW - 600))
    return {"anchor": str(anchor), "tl": str(tl), "rl": str(rl)}


def run(argv: list[str], capsys, stdin: str = "", monkeypatch=None) -> tuple[int, str, str]:
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def base(files: dict[str, str]) -> list[str]:
    return [
        "check",
        "--anchor",
        files["anchor"],
        "--trust-list",
        files["tl"],
        "--revocation-list",
        files["rl"],
        "--now",
        str(NOW),
    ]


def test_parse_arguments_matches_the_fixed_interface() -> None:
    args = parse_arguments(
        ["check", "--json", "--no-revocation-list", "--window", "30", "--text", "a", "b"]
    )
    assert (args.json, args.no_revocation_list, args.window, args.text) == (True, True, 30, True)
    assert args.inputs == ["a", "b"]


def test_both_revocation_options_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        parse_arguments(["check", "--revocation-list", "x", "--no-revocation-list", "a"])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_valid_image_json(world: World, files, tmp_path: Path, capsys) -> None:
    png = render_png(world.wallet().present(NOW), tmp_path / "code.png")
    code, out, err = run([*base(files), "--json", str(png)], capsys)
    obj = json.loads(out)
    assert code == 0 and err == ""
    assert obj["input"] == str(png)
    assert (obj["verdict"], obj["reason"], obj["warnings"]) == ("valid", None, [])
    assert obj["holder"]["family_name"] == "Jaźń-Kowalska"


def test_image_without_code_is_a_result(files, tmp_path: Path, capsys) -> None:
    import cv2
    import numpy as np

    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((720, 1280), 200, np.uint8))
    code, out, _ = run([*base(files), "--json", str(blank)], capsys)
    assert code == 1
    assert json.loads(out)["reason"] == "no_code_found"


def test_stdin_lines_like_a_barcode_scanner(world: World, files, capsys, monkeypatch) -> None:
    good = world.wallet().present(NOW)
    stale = world.wallet().present(NOW - 600)
    code, out, _ = run([*base(files), "--json", "-"], capsys, f"{good}\r\n\n{stale}\n", monkeypatch)
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["verdict"] for x in lines] == ["valid", "invalid"]
    assert lines[1]["reason"] == "presentation_stale"
    assert code == 1


def test_readable_lines_name_verdict_reason_and_holder(world: World, files, capsys) -> None:
    cti = bytes(range(16))
    wallet = world.wallet(cti=cti)
    world.ministry.revoked.add(cti)
    Path(files["rl"]).write_bytes(world.ministry.revocation_list(iat=NOW - 60))
    code, out, _ = run([*base(files), "--text", wallet.present(NOW)], capsys)
    assert code == 1
    assert out.startswith("INVALID | revoked: the credential has been revoked | Zażółć Gęślą")
    # Under a refusal the date is the expiry date, not "valid until" (as the Polish says).
    assert "expiry date" in out and "valid until" not in out


def test_no_revocation_list_gives_a_check_verdict(world: World, files, capsys) -> None:
    argv = [
        "check",
        "--anchor",
        files["anchor"],
        "--trust-list",
        files["tl"],
        "--no-revocation-list",
        "--now",
        str(NOW),
        "--json",
        "--text",
        world.wallet().present(NOW),
    ]
    code, out, _ = run(argv, capsys)
    assert json.loads(out)["warnings"] == ["revocation_list_missing"]
    assert code == 1  # only "valid" counts as success for scripts


@pytest.mark.parametrize("which", ["anchor", "tl", "rl", "image"])
def test_missing_files_exit_2_with_one_line(which: str, files, capsys, tmp_path: Path) -> None:
    argv = base(files)
    missing = str(tmp_path / "nope")
    inputs = [missing] if which == "image" else ["--text", "ML1:X"]
    if which != "image":
        argv[argv.index(files[which])] = missing
    code, out, err = run([*argv, *inputs], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "nope" in err


def test_unreadable_image_exit_2(files, capsys, tmp_path: Path) -> None:
    bad = tmp_path / "notanimage.png"
    bad.write_bytes(b"hello")
    code, _, err = run([*base(files), str(bad)], capsys)
    assert code == 2 and "not a PNG/JPEG" in err


def test_list_not_signed_by_the_anchor_exit_2(world: World, files, capsys) -> None:
    other = World()
    Path(files["rl"]).write_bytes(other.ministry.revocation_list(iat=NOW))
    code, _, err = run([*base(files), "--text", "ML1:X"], capsys)
    assert code == 2 and "revocation list" in err and "Traceback" not in err


def test_configured_anchor_and_cached_lists(world: World, files, tmp_path: Path, capsys) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "trustlist.cbor").write_bytes(Path(files["tl"]).read_bytes())
    (cache / "revocations.cbor").write_bytes(Path(files["rl"]).read_bytes())
    config = tmp_path / "config.toml"
    config.write_text(f'anchor = "{files["anchor"]}"\ncache_dir = "{cache}"\nwindow = 30\n')
    text = world.wallet().present(NOW - 60)
    code, out, _ = run(
        ["--config", str(config), "check", "--now", str(NOW), "--json", "--text", text], capsys
    )
    assert json.loads(out)["reason"] == "presentation_stale"  # the configured 30 s window
    code, out, _ = run(
        [
            "--config",
            str(config),
            "check",
            "--now",
            str(NOW),
            "--window",
            "90",
            "--json",
            "--text",
            text,
        ],
        capsys,
    )
    assert code == 0


def test_demo_runs_the_whole_loop(capsys, tmp_path: Path) -> None:
    code, out, _ = run(["demo", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "5 of 5 verdicts as expected" in out
    assert len(list(tmp_path.glob("*.png"))) == 5


def test_app_demo_without_a_terminal_runs_the_text_demo(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a pipe, as in a script or CI
    assert main(["app", "--demo"]) == 0
    captured = capsys.readouterr()
    assert "no terminal" in captured.err
    assert "5 of 5 verdicts as expected" in captured.out
