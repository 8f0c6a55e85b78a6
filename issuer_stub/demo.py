"""The whole loop on an embedded default: issue, render QR images, verify them.

Run by ``verifier demo``: a demo ministry and university, five students, one image each,
every image checked through the same decode pipeline a camera frame goes through.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from issuer_stub.authority import YEAR, Ministry, University
from issuer_stub.codesize import portrait_budget
from issuer_stub.keystore import new_key, public_pem, write_atomic
from issuer_stub.photos import synthetic_portrait
from issuer_stub.semesters import next_semester_end
from issuer_stub.signing import StudentData, credential_claims, sign_credential
from issuer_stub.wallet import Wallet, render_png
from verifier.core.policy import DEFAULT_WINDOW
from verifier.core.reasons import Reason, Verdict
from verifier.core.result import CheckResult
from verifier.core.revocation import RevocationList
from verifier.core.textout import result_line
from verifier.core.trustlist import TrustList
from verifier.device.clock import SystemClock
from verifier.device.trustdata import TrustData
from verifier.imaging.decoding import load_gray
from verifier.imaging.pipeline import check_frame

DAY = 86400
UNIVERSITY = "Politechnika Demonstracyjna"
DEMO_ISS = "PL-9999"


@dataclass(frozen=True)
class DemoCase:
    label: str
    present: Callable[[int], str]  # the phone's QR text at a given time
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
    """A demo student whose portrait, like a real one, is fitted to the room the fields leave."""
    student = StudentData(given, family, dob, UNIVERSITY, album)
    budget = portrait_budget(student, DEMO_ISS)
    return replace(student, photo=synthetic_portrait(given + family, budget))


def build_world(now: int) -> DemoWorld:
    ministry = Ministry()
    uni = University(DEMO_ISS, UNIVERSITY)
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
        DemoCase("valid student", valid.present, Verdict.VALID, None),
        DemoCase("revoked credential", revoked.present, Verdict.INVALID, Reason.REVOKED),
        DemoCase("expired credential", expired.present, Verdict.INVALID, Reason.EXPIRED),
        DemoCase(
            "screenshot shown 5 minutes later",
            lambda t: replayed.present(t - 300),
            Verdict.INVALID,
            Reason.PRESENTATION_STALE,
        ),
        DemoCase("forged credential", forger_device.present, Verdict.INVALID, Reason.BAD_SIGNATURE),
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
        image = render_png(case.present(now), directory / f"{index}-{case.label.split()[0]}.png")
        result = check_frame(load_gray(image), data, now)
        ok = _matches(case, result)
        failures += not ok
        mark = "as expected" if ok else f"UNEXPECTED, wanted {case.expect_reason or 'valid'}"
        out.write(f"{index}. {case.label:<34} {image.name}\n   {result_line(result)}  ({mark})\n")
    out.write(
        f"\n{len(world.cases) - failures} of {len(world.cases)} verdicts as expected.\n"
        f"Check an image yourself:\n  verifier check --anchor {directory}/anchor.pem "
        f"--trust-list {directory}/trustlist.cbor --revocation-list {directory}/revocations.cbor "
        f"--now {now} {directory}/1-valid.png\n"
        f"(--now {now} checks at the time the codes were made: a phone's code is fresh for "
        f"{DEFAULT_WINDOW} s, so without it the image is INVALID, 'stale', after that.)\n"
    )
    return 0 if failures == 0 else 1


class DemoFrameSource:
    """A replay camera for the app's demo mode: each case's code on a 1280x720 frame, in turn,
    with an empty frame between cases. Codes are made fresh at the time they are shown, like a
    phone's, so the demo runs for as long as you like."""

    def __init__(
        self,
        world: DemoWorld,
        clock: Callable[[], int],
        seconds_per_case: float = 4.0,
        fps: float = 10.0,
    ) -> None:
        self.world, self.clock = world, clock
        self.seconds_per_case, self.fps = seconds_per_case, fps
        self._started = time.monotonic()
        self._frame_key: tuple[int, int] | None = None
        self._frame: np.ndarray | None = None

    def read(self):  # -> Frame; typed loosely to keep the camera package out of this module
        from verifier.imaging.camera.base import Frame

        time.sleep(1 / self.fps)
        elapsed = time.monotonic() - self._started
        slot = int(elapsed // self.seconds_per_case)
        phase = (elapsed % self.seconds_per_case) / self.seconds_per_case
        if phase > 0.75:  # the phone is taken away
            return Frame(np.full((720, 1280), 128, np.uint8), time.monotonic())
        index, now = slot % len(self.world.cases), self.clock()
        if self._frame is None or self._frame_key != (index, now):
            # A phone redraws its code every few seconds, not every frame: one per second here.
            self._frame_key = (index, now)
            self._frame = qr_frame(self.world.cases[index].present(now))
        return Frame(self._frame, time.monotonic())

    def close(self) -> None:
        return None


def qr_frame(text: str, width: int = 1280, height: int = 720, module_px: int = 4) -> np.ndarray:
    """A greyscale frame with the QR code centred on a grey 'phone screen'."""
    import segno

    code = segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False)
    modules = np.array([list(row) for row in code.matrix], np.uint8)
    modules = np.pad(modules, 4)  # quiet zone
    symbol = np.where(np.kron(modules, np.ones((module_px, module_px), np.uint8)), 0, 255)
    frame = np.full((height, width), 128, np.uint8)
    y, x = (height - symbol.shape[0]) // 2, (width - symbol.shape[1]) // 2
    frame[y : y + symbol.shape[0], x : x + symbol.shape[1]] = symbol
    return frame
