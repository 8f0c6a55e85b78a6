"""The shared ML1 vectors: every case gives exactly the expected verdict, reason and warnings."""

from __future__ import annotations

import json
import subprocess
import sys
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


def _summary(result_json: dict[str, Any]) -> dict[str, Any]:
    return {k: result_json[k] for k in ("verdict", "reason", "warnings")}


@pytest.fixture(scope="module")
def loaded(vectors: dict[str, Any]) -> tuple[Anchor, TrustList]:
    anchor = Anchor.from_pem((VECTORS / vectors["anchor"]).read_bytes())
    return anchor, TrustList.from_bytes((VECTORS / vectors["trust_list"]).read_bytes(), anchor)


def _revocations(anchor: Anchor, name: str | None) -> RevocationList | None:
    return (
        None if name is None else RevocationList.from_bytes((VECTORS / name).read_bytes(), anchor)
    )


def test_every_vector_case(vectors: dict[str, Any], loaded: tuple[Anchor, TrustList]) -> None:
    anchor, trust_list = loaded
    wrong = []
    for case in vectors["cases"]:
        result = verify(
            case["text"], trust_list, _revocations(anchor, case["revocations"]), case["now"]
        )
        if _summary(result.to_json()) != case["expect"]:
            wrong.append((case["name"], _summary(result.to_json()), case["expect"]))
    assert wrong == []
    assert len(vectors["cases"]) >= 40


def test_vector_images_decode_to_the_same_verdict(
    vectors: dict[str, Any], loaded: tuple[Anchor, TrustList]
) -> None:
    """A frame that decodes gives exactly the text's verdict; an unread frame is only ever
    no_code_found (never another verdict). The floor is what the pipeline reads today; the
    target is all of them (see bench/RESULTS.md)."""
    anchor, trust_list = loaded
    cases = [c for c in vectors["cases"] if c.get("image")]
    assert cases, "the vectors should include camera-like frames"
    read = 0
    for case in cases:
        data = TrustData(anchor, trust_list, _revocations(anchor, case["revocations"]))
        result = check_frame(load_gray(VECTORS / case["image"]), data, case["now"])
        if result.reason == "no_code_found":
            continue
        read += 1
        assert _summary(result.to_json()) == case["expect"], case["name"]
    assert read >= 4, f"only {read} of {len(cases)} vector frames decoded"


def test_rogue_trust_list_is_refused(loaded: tuple[Anchor, TrustList]) -> None:
    anchor, _ = loaded
    with pytest.raises(ListError, match="kid is not the trust anchor"):
        TrustList.from_bytes((VECTORS / "rogue-trustlist.cbor").read_bytes(), anchor)


def test_cli_json_text_gives_the_vector_verdicts(vectors: dict[str, Any]) -> None:
    """Other tools call `verifier check --json --text`; check it as they do, per `now` group."""
    by_setup: dict[tuple[int, str | None], list[dict[str, Any]]] = {}
    for case in vectors["cases"]:
        by_setup.setdefault((case["now"], case["revocations"]), []).append(case)
    for (now, revocations), cases in by_setup.items():
        rev = (
            ["--revocation-list", str(VECTORS / revocations)]
            if revocations
            else ["--no-revocation-list"]
        )
        cmd = [
            sys.executable,
            "-m",
            "verifier.commands.cli",
            "check",
            "--json",
            "--text",
            "--anchor",
            str(VECTORS / vectors["anchor"]),
            "--trust-list",
            str(VECTORS / vectors["trust_list"]),
            *rev,
            "--now",
            str(now),
            "--",
            *[c["text"] for c in cases],
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.stderr == ""
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [_summary(obj) for obj in lines] == [c["expect"] for c in cases]
        assert [obj["input"] for obj in lines] == [c["text"] for c in cases]
        all_valid = all(c["expect"]["verdict"] == "valid" for c in cases)
        assert proc.returncode == (0 if all_valid else 1)


def test_cli_rogue_trust_list_is_a_configuration_error(vectors: dict[str, Any]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "verifier.commands.cli",
            "check",
            "--text",
            "--anchor",
            str(VECTORS / "anchor.pem"),
            "--trust-list",
            str(VECTORS / "rogue-trustlist.cbor"),
            "ML1:X",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
