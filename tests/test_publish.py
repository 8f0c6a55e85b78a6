"""The issuer stub on disk: ``issuer-stub`` commands and the list server (real HTTP, 127.0.0.1)."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from issuer_stub.cli import main, parse_arguments
from issuer_stub.registry import Registry, cti_of_wallet
from issuer_stub.server import ListServer
from issuer_stub.wallet import Wallet
from verifier.core.keys import Anchor
from verifier.core.policy import verify
from verifier.core.reasons import Reason, Verdict
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList
from verifier.device.trustdata import TrustData

NOW = int(time.time())
STUDENT_ARGS = ["--given-names", "Zażółć", "--family-name", "Gęślą", "--birth-date",
                "2004-02-29", "--album", "S1"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def lists(directory: Path) -> tuple[Anchor, TrustList, RevocationList]:
    anchor = Anchor.from_pem((directory / "anchor.pem").read_bytes())
    public = directory / "public"
    return (
        anchor,
        TrustList.from_bytes((public / "trustlist.cbor").read_bytes(), anchor),
        RevocationList.from_bytes((public / "revocations.cbor").read_bytes(), anchor),
    )


@pytest.fixture
def issuer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    directory = tmp_path / "issuer"
    assert main(["init", str(directory), "--iss", "PL-7", "--name", "Uczelnia", "--now",
                 str(NOW)]) == 0
    capsys.readouterr()
    return directory


def issue(directory: Path, wallet: Path, *extra: str) -> int:
    return main(["issue", str(directory), *STUDENT_ARGS, "--wallet", str(wallet),
                 "--now", str(NOW), *extra])


# CLI -----------------------------------------------------------------------------------------
def test_init_writes_keys_0600_anchor_and_verifiable_lists(issuer: Path) -> None:
    assert mode(issuer / "ta.key.pem") == 0o600
    keys = list((issuer / "keys").glob("*.key.pem"))
    assert len(keys) == 1 and mode(keys[0]) == 0o600
    assert mode(issuer / "issuer.db") == 0o600
    assert mode(issuer / "admin.token") == 0o600
    _anchor, trust, revocations = lists(issuer)
    assert (trust.seq, revocations.seq, len(revocations)) == (1, 1, 0)
    assert [e.iss for e in trust.issuers.values()] == ["PL-7"]
    assert trust.iat == revocations.iat == NOW


def test_init_refuses_an_existing_directory(
    issuer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(issuer)]) == 2
    assert "already" in capsys.readouterr().err


def test_issue_and_present_make_a_valid_code(
    issuer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wallet = tmp_path / "w.json"
    assert issue(issuer, wallet) == 0
    assert mode(wallet) == 0o600
    capsys.readouterr()
    png = tmp_path / "qr.png"
    assert main(["present", str(wallet), "--now", str(NOW + 5), "--png", str(png)]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("ML1:")
    assert png.read_bytes().startswith(b"\x89PNG")
    _anchor, trust, revocations = lists(issuer)
    result = verify(text, trust, revocations, NOW + 5)
    assert result.verdict == Verdict.VALID, result
    assert result.holder is not None and result.holder.university == "Uczelnia"


def test_issue_rejects_bad_student_data(
    issuer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["issue", str(issuer), *STUDENT_ARGS, "--wallet", str(tmp_path / "w.json")]
    args[args.index("2004-02-29")] = "29.02.2004"
    assert main(args) == 2
    assert "credential rejected" in capsys.readouterr().err
    assert not (tmp_path / "w.json").exists()


def test_revoke_by_wallet_and_by_cti_republishes_at_once(
    issuer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w1, w2 = tmp_path / "w1.json", tmp_path / "w2.json"
    assert issue(issuer, w1) == 0 and issue(issuer, w2) == 0
    assert main(["revoke", str(issuer), "--wallet", str(w1), "--now", str(NOW)]) == 0
    _a, trust, revocations = lists(issuer)
    assert (trust.seq, revocations.seq, len(revocations)) == (1, 2, 1)
    capsys.readouterr()
    cti2 = cti_of_wallet(Wallet.load(w2))
    assert main(["revoke", str(issuer), "--cti", cti2.hex(), "--now", str(NOW)]) == 0
    _a, _t, revocations = lists(issuer)
    assert cti2 in revocations and cti_of_wallet(Wallet.load(w1)) in revocations
    assert "revoked" in capsys.readouterr().out


def test_revoke_refuses_unknown_or_malformed_ids(
    issuer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["revoke", str(issuer), "--cti", "00" * 16]) == 2
    assert "not issued" in capsys.readouterr().err
    assert main(["revoke", str(issuer), "--cti", "abcd"]) == 2
    with pytest.raises(SystemExit) as exc:
        parse_arguments(["revoke", str(issuer), "--cti", "zz"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        parse_arguments(["revoke", str(issuer)])  # --cti or --wallet is required


def test_publish_bumps_both_seqs_and_drops_expired_ids(issuer: Path, tmp_path: Path) -> None:
    wallet = tmp_path / "w.json"
    assert issue(issuer, wallet, "--exp", str(NOW + 100)) == 0
    assert main(["revoke", str(issuer), "--wallet", str(wallet), "--now", str(NOW)]) == 0
    assert len(lists(issuer)[2]) == 1
    assert main(["publish", str(issuer), "--now", str(NOW + 101)]) == 0
    _a, trust, revocations = lists(issuer)
    assert (trust.seq, revocations.seq, len(revocations)) == (2, 3, 0)
    assert revocations.iat == NOW + 101
    assert Registry(issuer).counters()["revocation_seq"] == 3


def test_commands_on_a_missing_directory_fail_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", str(tmp_path / "nope")]) == 2
    assert "not an issuer directory" in capsys.readouterr().err


def test_parse_arguments_serve_defaults_and_bounds() -> None:
    args = parse_arguments(["serve", "d"])
    assert (args.host, args.port, args.republish_every) == ("127.0.0.1", 8080, 3600)
    for bad in (["--republish-every", "0"], ["--republish-every", "7200"], ["--port", "70000"]):
        with pytest.raises(SystemExit):
            parse_arguments(["serve", "d", *bad])


# Server --------------------------------------------------------------------------------------
@pytest.fixture
def server(issuer: Path) -> Iterator[tuple[ListServer, str]]:
    srv = ListServer(Registry(issuer), "127.0.0.1", 0, clock=lambda: NOW)
    url = srv.start()
    try:
        yield srv, url
    finally:
        srv.stop()


def test_server_sends_cose_with_validators_and_answers_304(
    issuer: Path, server: tuple[ListServer, str]
) -> None:
    _srv, url = server
    for name in ("trustlist.cbor", "revocations.cbor"):
        r = requests.get(f"{url}/{name}", timeout=5)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/cose"
        assert r.content == (issuer / "public" / name).read_bytes()
        etag, last_modified = r.headers["ETag"], r.headers["Last-Modified"]
        assert requests.get(f"{url}/{name}", headers={"If-None-Match": etag},
                            timeout=5).status_code == 304
        assert requests.get(f"{url}/{name}", headers={"If-None-Match": f"W/{etag}, \"x\""},
                            timeout=5).status_code == 304
        assert requests.get(f"{url}/{name}", headers={"If-Modified-Since": last_modified},
                            timeout=5).status_code == 304
        # If-None-Match wins: a stale ETag gets the body even with a matching date
        stale = requests.get(f"{url}/{name}", timeout=5,
                             headers={"If-None-Match": '"old"', "If-Modified-Since": last_modified})
        assert stale.status_code == 200
        head = requests.head(f"{url}/{name}", timeout=5)
        assert head.status_code == 200 and head.headers["ETag"] == etag


def test_server_serves_nothing_else(server: tuple[ListServer, str]) -> None:
    _srv, url = server
    for path in ("/state.json", "/../ta.key.pem", "/ta.key.pem", "/public/trustlist.cbor"):
        assert requests.get(url + path, timeout=5).status_code == 404
    index = requests.get(url + "/", timeout=5)  # a static page: nothing of DIR in it
    assert index.status_code == 200 and "issuer.db" not in index.text


def test_server_picks_up_a_cli_revocation(
    issuer: Path, tmp_path: Path, server: tuple[ListServer, str]
) -> None:
    _srv, url = server
    first = requests.get(f"{url}/revocations.cbor", timeout=5)
    wallet = tmp_path / "w.json"
    assert issue(issuer, wallet) == 0
    assert main(["revoke", str(issuer), "--wallet", str(wallet), "--now", str(NOW)]) == 0
    conditional = {"If-None-Match": first.headers["ETag"]}
    again = requests.get(f"{url}/revocations.cbor", headers=conditional, timeout=5)
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]
    anchor = lists(issuer)[0]
    assert len(RevocationList.from_bytes(again.content, anchor)) == 1


def test_timer_republishes_when_the_list_is_due(issuer: Path) -> None:
    """The clock says an hour has passed: the timer must publish a new seq by itself."""
    srv = ListServer(Registry(issuer), "127.0.0.1", 0, republish_every=3600,
                     clock=lambda: NOW + 3600, tick=0.05)
    url = srv.start()
    try:
        anchor = lists(issuer)[0]
        seq = 1
        for _ in range(200):  # bounded: about 10 s at most
            raw = requests.get(f"{url}/revocations.cbor", timeout=5).content
            seq = RevocationList.from_bytes(raw, anchor).seq
            if seq > 1:
                break
            time.sleep(0.05)
        assert seq == 2  # published once, not again: the new list is not yet due
        assert Registry(issuer).counters()["trust_seq"] == 1
    finally:
        srv.stop()


def test_serve_command_runs_as_a_process(issuer: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer_stub.cli", "serve", str(issuer), "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split("/trustlist.cbor")[0]
        assert url.startswith("http://127.0.0.1:")
        r = requests.get(f"{url}/trustlist.cbor", timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/cose"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_present_code_verifies_with_trust_data(issuer: Path, tmp_path: Path) -> None:
    wallet = tmp_path / "w.json"
    assert issue(issuer, wallet) == 0
    anchor, trust, revocations = lists(issuer)
    data = TrustData(anchor, trust, revocations)
    text = Wallet.load(wallet).present(NOW)
    result = verify(text, data.trust_list, data.revocations, NOW)
    assert result.verdict == Verdict.VALID and result.reason is None
    assert verify(text, trust, revocations, NOW + 1000).reason == Reason.PRESENTATION_STALE
