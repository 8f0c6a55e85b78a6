"""The whole loop on an embedded default: issue, render QR images, verify them.

Run by ``verifier demo``: a demo ministry and university, five students, one image each,
every image checked through the same decode pipeline a camera frame goes through.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from issuer_stub.authority import YEAR, Ministry, University
from issuer_stub.keystore import new_key, public_pem, write_atomic
from issuer_stub.photos import synthetic_portrait
from issuer_stub.semesters import next_semester_end
from issuer_stub.signing import StudentData, credential_claims, sign_credential
from issuer_stub.wallet import Wallet, render_png
from verifier.clock import SystemClock
from verifier.decoding import load_gray
from verifier.pipeline import check_frame
from verifier.reasons import Reason, Verdict
from verifier.result import CheckResult
from verifier.revocation import RevocationList
from verifier.textout import result_line
from verifier.trustdata import TrustData
from verifier.trustlist import TrustList

DAY = 86400
UNIVERSITY = "Politechnika Demonstracyjna"


@dataclass(frozen=True)
class DemoCase:
    label: str
    text: str
    expect_verdict: Verdict
    expect_reason: Reason | None


@dataclass(frozen=True)
class DemoWorld:
    """Signed data for a demo run; the UI's demo mode replays the same cases."""

    ministry: Ministry
    trust_list: bytes
    revocations: bytes
    cases: tuple[DemoCase, ...]

    def trust_data(self) -> TrustData:
        anchor = self.ministry.anchor
        return TrustData(
            anchor,
            TrustList.from_bytes(self.trust_list, anchor),
            RevocationList.from_bytes(self.revocations, anchor),
        )


def _student(given: str, family: str, dob: str, album: str) -> StudentData:
    return StudentData(given, family, dob, UNIVERSITY, album, synthetic_portrait(given + family))


def build_world(now: int) -> DemoWorld:
    ministry = Ministry()
    uni = University("PL-9999", UNIVERSITY)
    ministry.admit(uni, nbf=now - 2 * YEAR, exp=now + 3 * YEAR)
    semester_end = next_semester_end(now)
    issued = now - 30 * DAY

    def wallet_for(student: StudentData, **dates: int) -> tuple[Wallet, bytes]:
        wallet = Wallet.new()
        cti = new_cti()
        wallet.credential = uni.issue(student, wallet.public_key, cti=cti, **dates)
        return wallet, cti

    valid, _ = wallet_for(
        _student("Anna", "Kowalska", "2004-05-17", "100234"), iat=issued, exp=semester_end
    )
    revoked, revoked_cti = wallet_for(
        _student("Piotr", "Nowak", "2002-11-02", "100777"), iat=issued, exp=semester_end
    )
    expired, _ = wallet_for(
        _student("Zofia", "Wiśniewska", "1999-01-30", "098811"), iat=now - YEAR, exp=now - 20 * DAY
    )
    replayed, _ = wallet_for(
        _student("Jan", "Zieliński", "2005-08-09", "101001"), iat=issued, exp=semester_end
    )

    # A forger with their own key claims to be the university (its kid, its iss).
    forger_device = Wallet.new()
    claims = credential_claims(
        iss=uni.iss,
        student=_student("Ewa", "Lewandowska", "2003-03-03", "100555"),
        device_key=forger_device.public_key,
        cti=new_cti(),
        iat=issued,
        nbf=issued,
        exp=semester_end,
    )
    forger_device.credential = sign_credential(new_key(), claims, kid=uni.kid)

    ministry.revoked.add(revoked_cti)
    cases = (
        DemoCase("valid student", valid.present(now), Verdict.VALID, None),
        DemoCase("revoked credential", revoked.present(now), Verdict.INVALID, Reason.REVOKED),
        DemoCase("expired credential", expired.present(now), Verdict.INVALID, Reason.EXPIRED),
        DemoCase(
            "screenshot shown 5 minutes later",
            replayed.present(now - 300),
            Verdict.INVALID,
            Reason.PRESENTATION_STALE,
        ),
        DemoCase(
            "forged credential", forger_device.present(now), Verdict.INVALID, Reason.BAD_SIGNATURE
        ),
    )
    return DemoWorld(
        ministry=ministry,
        trust_list=ministry.trust_list(iat=now - 3600),
        revocations=ministry.revocation_list(iat=now - 600),
        cases=cases,
    )


def new_cti() -> bytes:
    return os.urandom(16)


def _matches(case: DemoCase, result: CheckResult) -> bool:
    return result.verdict == case.expect_verdict and result.reason == case.expect_reason


def run_demo(out_dir: str | None, out: TextIO) -> int:
    """Issue, render, decode, verify; exit 0 when every verdict is the expected one."""
    now = SystemClock().now()
    world = build_world(now)
    directory = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="mleg-demo-"))
    write_atomic(directory / "anchor.pem", public_pem(world.ministry.key.public_key()))
    write_atomic(directory / "trustlist.cbor", world.trust_list)
    write_atomic(directory / "revocations.cbor", world.revocations)
    data = world.trust_data()
    out.write(f"Demo trust anchor, trust list and revocation list in {directory}\n\n")
    failures = 0
    for index, case in enumerate(world.cases, 1):
        image = render_png(case.text, directory / f"{index}-{case.label.split()[0]}.png")
        result = check_frame(load_gray(image), data, now)
        ok = _matches(case, result)
        failures += not ok
        mark = "as expected" if ok else f"UNEXPECTED, wanted {case.expect_reason or 'valid'}"
        out.write(f"{index}. {case.label:<34} {image.name}\n   {result_line(result)}  ({mark})\n")
    out.write(
        f"\n{len(world.cases) - failures} of {len(world.cases)} verdicts as expected.\n"
        f"Check an image yourself:\n  verifier check --anchor {directory}/anchor.pem "
        f"--trust-list {directory}/trustlist.cbor --revocation-list {directory}/revocations.cbor "
        f"{directory}/1-valid.png\n"
    )
    return 0 if failures == 0 else 1
