"""Both CLIs' one error path (issue 15): an expected failure is one sentence saying what to do,
on stderr, exit 2; data is never destroyed without ``--force``; real bugs keep their traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from issuer_stub import cli as issuer_cli
from issuer_stub.cli import main as issuer_main
from issuer_stub.keystore import public_pem
from tests.conftest import World
from tests.test_issuer_lifecycle import NOW, Issuer
from verifier.commands.cli import main as verifier_main


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def ordered(tmp_path: Path) -> tuple[str, str]:
    """An issuer directory and a fresh activation code of an eligible student."""
    issuer = Issuer(tmp_path / "issuer")
    student = issuer.add(1)
    return str(tmp_path / "issuer"), issuer.office.order(student, NOW).code


def test_activate_refuses_to_overwrite_a_wallet_without_force(
    ordered: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, code = ordered
    wallet = tmp_path / "anna.json"
    wallet.write_text('{"device_key": "another student\'s phone"}')
    before = wallet.read_bytes()
    argv = ["activate", directory, "--code", code, "--wallet", str(wallet), "--now", str(NOW)]
    assert issuer_main(argv) == 2
    err = one_line_error(capsys)
    assert "exists already" in err and "--force" in err
    assert wallet.read_bytes() == before
    # the code was not used up by the refusal
    assert issuer_main([*argv, "--force"]) == 0
    assert wallet.read_bytes() != before


def test_issue_refuses_to_overwrite_a_wallet_without_force(
    ordered: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wallet = tmp_path / "w.json"
    wallet.write_text("{}")
    argv = ["issue", ordered[0], "--given-names", "A", "--family-name", "B", "--birth-date",
            "2001-01-01", "--album", "1", "--wallet", str(wallet), "--now", str(NOW)]
    assert issuer_main(argv) == 2
    assert "--force" in one_line_error(capsys)
    assert issuer_main([*argv, "--force"]) == 0


@pytest.mark.parametrize(("content", "word"), [(b"", "empty"), (b"\n", "empty"),
                                               (b"{not json", "not a wallet"),
                                               (b'{"device_key": "x"}', "not a wallet"),
                                               (b"[1, 2]", "not a wallet")])
def test_present_and_revoke_on_an_empty_or_damaged_wallet(
    ordered: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    content: bytes, word: str,
) -> None:
    wallet = tmp_path / "w.json"
    wallet.write_bytes(content)
    assert issuer_main(["present", str(wallet), "--now", str(NOW)]) == 2
    err = one_line_error(capsys)
    assert word in err and "issuer-stub activate" in err
    assert issuer_main(["revoke", ordered[0], "--wallet", str(wallet), "--now", str(NOW)]) == 2
    assert word in one_line_error(capsys)


def test_a_missing_wallet_says_which_path(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert issuer_main(["present", str(tmp_path / "nope.json")]) == 2
    err = one_line_error(capsys)
    assert "nope.json" in err and "check the path" in err


def test_an_unexpected_error_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(issuer_cli, "run", broken)
    with pytest.raises(ZeroDivisionError):
        issuer_main(["publish", "x"])


def test_demo_out_to_an_uncreatable_path(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert verifier_main(["demo", "--out", str(blocker / "images")]) == 2
    err = one_line_error(capsys)
    assert str(blocker) in err and "check the path" in err


def test_lists_passed_the_wrong_way_round(world: World, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    files = {"anchor": tmp_path / "anchor.pem", "tl": tmp_path / "trustlist.cbor",
             "rl": tmp_path / "revocations.cbor"}
    files["anchor"].write_bytes(public_pem(world.ministry.key.public_key()))
    files["tl"].write_bytes(world.ministry.trust_list(iat=NOW))
    files["rl"].write_bytes(world.ministry.revocation_list(iat=NOW))
    argv = ["check", "--anchor", str(files["anchor"]), "--text", "X"]
    assert verifier_main([*argv, "--trust-list", str(files["rl"]),
                          "--no-revocation-list"]) == 2
    assert "this is a revocation list, not a trust list" in one_line_error(capsys)
    assert verifier_main([*argv, "--trust-list", str(files["tl"]), "--revocation-list",
                          str(files["tl"])]) == 2
    assert "this is a trust list, not a revocation list" in one_line_error(capsys)


def test_serve_on_a_taken_port_is_one_sentence(ordered: tuple[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert issuer_main(["serve", ordered[0], "--port", str(port)]) == 2
    err = one_line_error(capsys)
    assert "address already in use" in err and "choose another --port" in err
