"""Shared fixtures: a ministry, a university and wallets making real signed data."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from issuer_stub.authority import YEAR, Ministry, University
from issuer_stub.signing import StudentData
from issuer_stub.wallet import Wallet
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList
from verifier.device.trustdata import TrustData

NOW = 1_800_000_000
DAY = 86400
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MLEG_SHARED", REPO.parent / "shared"))
VECTORS = SHARED / "spec" / "vectors"
CORPUS = SHARED / "corpus"

STUDENT = StudentData(
    given_names="Zażółć Gęślą",
    family_name="Jaźń-Kowalska",
    birth_date="2004-02-29",
    university="Politechnika Testowa",
    album="S12345",
)


@dataclass
class World:
    """A ministry with one university, producing real signed lists and credentials."""

    now: int = NOW
    ministry: Ministry = field(default_factory=Ministry)
    uni: University = field(default_factory=lambda: University("PL-1043", "Politechnika Testowa"))

    def __post_init__(self) -> None:
        self.ministry.admit(self.uni, nbf=self.now - YEAR, exp=self.now + YEAR)

    def wallet(
        self, student: StudentData = STUDENT, cti: bytes | None = None, **dates: int
    ) -> Wallet:
        wallet = Wallet.new()
        dates.setdefault("iat", self.now - 10 * DAY)
        dates.setdefault("exp", self.now + 100 * DAY)
        wallet.credential = self.uni.issue(student, wallet.public_key, cti=cti, **dates)
        return wallet

    def trust_list(self, iat: int | None = None) -> TrustList:
        raw = self.ministry.trust_list(iat=self.now - 3600 if iat is None else iat)
        return TrustList.from_bytes(raw, self.ministry.anchor)

    def revocations(self, iat: int | None = None) -> RevocationList:
        raw = self.ministry.revocation_list(iat=self.now - 600 if iat is None else iat)
        return RevocationList.from_bytes(raw, self.ministry.anchor)

    def trust_data(self) -> TrustData:
        return TrustData(self.ministry.anchor, self.trust_list(), self.revocations())


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture(scope="session")
def phonesim() -> Any:
    """The benchmark's phone-screen frame generator (bench/phonesim.py) as a module."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("phonesim", REPO / "bench" / "phonesim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("phonesim", module)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules["phonesim"])
    return sys.modules["phonesim"]


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    if not (VECTORS / "cases.json").is_file():
        pytest.skip(f"shared test vectors not found at {VECTORS}")
    return json.loads((VECTORS / "cases.json").read_text())


def write_files(directory: Path, files: dict[str, bytes]) -> Callable[[str], str]:
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return lambda name: str(directory / name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The soak tier runs only when asked for by name (``pytest -m soak``)."""
    if "soak" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="soak tier: run with pytest -m soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _decoding_bounded_by_work_not_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process decoding (`decode_gray`, `check_frame`) without the 80 ms time budget, so a
    verdict does not depend on how loaded the test machine is; the work cap (`max_work`) and
    the loops' own caps still bound every frame. Tests of the time budget build their own
    PipelineDecoder."""
    from verifier.imaging import decoding

    unhurried = decoding.PipelineDecoder(budget_s=None)
    monkeypatch.setattr(decoding, "_default_pipeline", lambda: unhurried)
