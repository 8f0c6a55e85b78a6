"""``issuer-stub make-testset``: every case gives exactly the expected verdict in the verifier,
from its text and from its PNG, every verdict, reason and warning is covered, and the same seed
gives the same bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from issuer_stub.cli import main
from issuer_stub.testset import build_testset
from verifier.core.keys import Anchor
from verifier.core.policy import verify
from verifier.core.reasons import Reason, Verdict, WarningCode
from verifier.core.result import CheckResult
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList
from verifier.device.trustdata import TrustData
from verifier.imaging.decoding import load_gray
from verifier.imaging.pipeline import check_frame

SEED = "test seed"


@pytest.fixture(scope="module")
def testset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("testset")
    assert main(["make-testset", str(directory), "--seed", SEED]) == 0
    return directory, json.loads((directory / "manifest.json").read_text())


def _data(directory: Path, manifest: dict[str, Any], case: dict[str, Any]) -> TrustData:
    anchor = Anchor.from_pem((directory / manifest["anchor"]).read_bytes())
    trust = TrustList.from_bytes((directory / manifest["trust_list"]).read_bytes(), anchor)
    name = case["revocations"]
    revocations = None if name is None else RevocationList.from_bytes(
        (directory / name).read_bytes(), anchor)
    return TrustData(anchor, trust, revocations)


def _synchronized(case: dict[str, Any]) -> bool:
    return case.get("clock", "synchronized") == "synchronized"


def _summary(result: CheckResult) -> dict[str, Any]:
    out = result.to_json()
    return {k: out[k] for k in ("verdict", "reason", "warnings")}


def test_every_text_gives_the_expected_verdict(testset: tuple[Path, dict[str, Any]]) -> None:
    directory, manifest = testset
    wrong = []
    for case in manifest["cases"]:
        if case["text"] is None:
            continue
        data = _data(directory, manifest, case)
        result = verify(case["text"], data.trust_list, data.revocations, case["now"],
                        clock_synchronized=_synchronized(case))
        if _summary(result) != case["expect"]:
            wrong.append((case["name"], _summary(result), case["expect"]))
    assert wrong == []


def test_every_png_gives_the_expected_verdict(testset: tuple[Path, dict[str, Any]]) -> None:
    directory, manifest = testset
    wrong = []
    for case in manifest["cases"]:
        result = check_frame(load_gray(directory / case["file"]),
                             _data(directory, manifest, case), case["now"],
                             clock_synchronized=_synchronized(case))
        if _summary(result) != case["expect"]:
            wrong.append((case["name"], _summary(result), case["expect"]))
    assert wrong == []


def test_every_verdict_reason_and_warning_is_covered(
    testset: tuple[Path, dict[str, Any]]
) -> None:
    _directory, manifest = testset
    cases = manifest["cases"]
    assert {c["expect"]["verdict"] for c in cases} == {str(v) for v in Verdict}
    assert {c["expect"]["reason"] for c in cases} - {None} == {str(r) for r in Reason}
    warnings = {w for c in cases for w in c["expect"]["warnings"]}
    assert warnings == {str(w) for w in WarningCode}
    assert len({c["name"] for c in cases}) == len(cases)
    fields = {"name", "file", "text", "now", "revocations", "expect"}
    assert all(set(c) - {"clock"} == fields for c in cases)
    assert {c.get("clock") for c in cases} == {None, "unsynchronized"}  # as the spec's vectors


def test_same_seed_same_bytes_other_seed_other_keys(
    testset: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    directory, _manifest = testset
    again = tmp_path / "again"
    assert main(["make-testset", str(again), "--seed", SEED]) == 0
    first = {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*")
             if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second
    other = build_testset("another seed")
    assert other.files["anchor.pem"] != first[Path("anchor.pem")]
    assert other.cases[0]["text"] != build_testset(SEED).cases[0]["text"]


def test_texts_only(tmp_path: Path) -> None:
    assert main(["make-testset", str(tmp_path), "--no-png"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert all(c["file"] is None for c in manifest["cases"])
    assert not (tmp_path / "qr").exists()
