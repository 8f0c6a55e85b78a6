"""The shared ML1 vectors, revision 1 and revision 2: every case gives exactly the expected
verdict, reason and warnings, through verify() and through `verifier check --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VECTORS
from verifier.core.errors import ListError
from verifier.core.keys import Anchor
from verifier.core.policy import verify
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList
from verifier.device.trustdata import TrustData
from verifier.imaging.decoding import load_gray
from verifier.imaging.pipeline import check_frame

SETS = {"rev1": VECTORS, "rev2": VECTORS / "rev2"}


@pytest.fixture(scope="module", params=list(SETS))
def vector_set(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    base = SETS[request.param]
    if not (base / "cases.json").is_file():
        pytest.skip(f"shared test vectors not found at {base}")
    return base, json.loads((base / "cases.json").read_text())


def _summary(result_json: dict[str, Any]) -> dict[str, Any]:
    return {k: result_json[k] for k in ("verdict", "reason", "warnings")}


def _synchronized(case: dict[str, Any]) -> bool:
    return case.get("clock", "synchronized") == "synchronized"


def _loaded(base: Path, vectors: dict[str, Any]) -> tuple[Anchor, TrustList]:
    anchor = Anchor.from_pem((base / vectors["anchor"]).read_bytes())
    return anchor, TrustList.from_bytes((base / vectors["trust_list"]).read_bytes(), anchor)


def _revocations(base: Path, anchor: Anchor, name: str | None) -> RevocationList | None:
    return None if name is None else RevocationList.from_bytes((base / name).read_bytes(), anchor)


def test_every_vector_case(vector_set: tuple[Path, dict[str, Any]]) -> None:
    base, vectors = vector_set
    anchor, trust_list = _loaded(base, vectors)
    wrong = []
    for case in vectors["cases"]:
        result = verify(
            case["text"],
            trust_list,
            _revocations(base, anchor, case["revocations"]),
            case["now"],
            clock_synchronized=_synchronized(case),
        )
        if _summary(result.to_json()) != case["expect"]:
            wrong.append((case["name"], _summary(result.to_json()), case["expect"]))
    assert wrong == []
    assert len(vectors["cases"]) >= 40


def test_vector_images_decode_to_the_same_verdict(
    vector_set: tuple[Path, dict[str, Any]],
) -> None:
    """A frame that decodes gives exactly the text's verdict; an unread frame is only ever
    no_code_found (never another verdict). The floor is what the pipeline reads today; the
    target is all of them (see bench/RESULTS.md)."""
    base, vectors = vector_set
    cases = [c for c in vectors["cases"] if c.get("image")]
    if not cases:
        pytest.skip("this set has no camera-like frames")
    anchor, trust_list = _loaded(base, vectors)
    read = 0
    for case in cases:
        data = TrustData(anchor, trust_list, _revocations(base, anchor, case["revocations"]))
        result = check_frame(
            load_gray(base / case["image"]),
            data,
            case["now"],
            clock_synchronized=_synchronized(case),
        )
        if result.reason == "no_code_found":
            continue
        read += 1
        assert _summary(result.to_json()) == case["expect"], case["name"]
    assert read >= 4, f"only {read} of {len(cases)} vector frames decoded"


def test_rogue_trust_list_is_refused() -> None:
    if not (VECTORS / "rogue-trustlist.cbor").is_file():
        pytest.skip(f"shared test vectors not found at {VECTORS}")
    anchor = Anchor.from_pem((VECTORS / "anchor.pem").read_bytes())
    with pytest.raises(ListError, match="kid is not the trust anchor"):
        TrustList.from_bytes((VECTORS / "rogue-trustlist.cbor").read_bytes(), anchor)


def _bad_lists() -> list[Path]:
    folder = VECTORS / "rev2" / "bad-lists"
    return sorted(folder.glob("*.cbor")) if folder.is_dir() else []


@pytest.mark.parametrize("path", _bad_lists(), ids=lambda p: p.stem)
def test_anchor_signed_lists_that_break_section_5_are_refused(path: Path) -> None:
    anchor = Anchor.from_pem((VECTORS / "rev2" / "anchor.pem").read_bytes())
    kind = TrustList if path.name.startswith("trustlist") else RevocationList
    with pytest.raises(ListError):
        kind.from_bytes(path.read_bytes(), anchor)


def test_there_are_bad_lists_to_refuse() -> None:
    if not (VECTORS / "rev2").is_dir():
        pytest.skip(f"shared test vectors not found at {VECTORS}")
    assert len(_bad_lists()) >= 5


def _check_command(base: Path, vectors: dict[str, Any], *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "verifier.commands.cli",
        "check",
        "--anchor",
        str(base / vectors["anchor"]),
        "--trust-list",
        str(base / vectors["trust_list"]),
        *extra,
    ]


def test_cli_json_text_gives_the_vector_verdicts(vector_set: tuple[Path, dict[str, Any]]) -> None:
    """Other tools call `verifier check --json --text`; check it as they do, per setup group
    (time, revocation list, clock state: `--clock` as the vectors README says)."""
    base, vectors = vector_set
    by_setup: dict[tuple[int, str | None, bool], list[dict[str, Any]]] = {}
    for case in vectors["cases"]:
        key = (case["now"], case["revocations"], _synchronized(case))
        by_setup.setdefault(key, []).append(case)
    for (now, revocations, synchronized), cases in by_setup.items():
        rev = (
            ["--revocation-list", str(base / revocations)]
            if revocations
            else ["--no-revocation-list"]
        )
        clock = "synchronized" if synchronized else "unsynchronized"
        cmd = _check_command(
            base,
            vectors,
            "--json",
            "--text",
            *rev,
            "--now",
            str(now),
            "--clock",
            clock,
            "--",
            *[c["text"] for c in cases],
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.stderr == ""
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [_summary(obj) for obj in lines] == [c["expect"] for c in cases]
        assert [obj["input"] for obj in lines] == [c["text"] for c in cases]
        all_valid = all(c["expect"]["verdict"] == "valid" for c in cases)
        assert proc.returncode == (0 if all_valid else 1)


def test_cli_rogue_trust_list_is_a_configuration_error() -> None:
    if not (VECTORS / "rogue-trustlist.cbor").is_file():
        pytest.skip(f"shared test vectors not found at {VECTORS}")
    vectors = {"anchor": "anchor.pem", "trust_list": "rogue-trustlist.cbor"}
    proc = subprocess.run(
        _check_command(VECTORS, vectors, "--text", "ML1:X"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
