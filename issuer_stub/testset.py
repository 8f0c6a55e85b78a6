"""``issuer-stub make-testset DIR --seed S``: QR codes for every verdict, reason and warning.

Laid out like the shared spec vectors: ``anchor.pem``, ``trustlist.cbor``, ``revocations.cbor``,
``revocations-stale.cbor``, ``qr/<name>.png`` and ``manifest.json`` with, per case, ``name``,
``file`` (the PNG), ``text`` (the QR text, null for the image without a code), ``now``,
``revocations`` (the list file to hold, or null) and ``expect`` (``verdict``, ``reason``, sorted
``warnings``), checked with the default window of 90 s.

Reproducible: every key and credential id is derived from the seed, CBOR is deterministic and
signatures are deterministic ECDSA (RFC 6979), so the same seed gives the same bytes. The
photos (libwebp through Pillow) and PNGs (segno, zlib) are byte-stable for a given version of
those libraries.
"""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import cbor2
import numpy as np
import segno
from cryptography.hazmat.primitives.asymmetric import ec

from issuer_stub.keystore import public_pem, write_atomic
from issuer_stub.semesters import end_of_day
from issuer_stub.signing import (
    IssuerListing,
    StudentData,
    credential_claims,
    encode,
    qr_text,
    sign_credential,
    sign_presentation,
    sign_revocation_list,
    sign_trust_list,
)
from verifier.core.base45 import b45encode
from verifier.core.reasons import Reason, Verdict, WarningCode

T0 = 1_800_000_000  # 2027-01-15 09:00 Europe/Warsaw; every case is checked close to it
DAY = 86400
ISS = "PL-1043"
UNIVERSITY = "Politechnika Testowa"
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 group order


def derive_key(seed: str, label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from the seed: the same seed and label give the same key."""
    scalar = int.from_bytes(hashlib.sha256(f"ML1 testset|{seed}|{label}".encode()).digest(),
                            "big")
    return ec.derive_private_key(scalar % (_N - 1) + 1, ec.SECP256R1())


def derive_cti(seed: str, label: str) -> bytes:
    return hashlib.sha256(f"ML1 testset cti|{seed}|{label}".encode()).digest()[:16]


@dataclass
class Testset:
    seed: str
    files: dict[str, bytes] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, text: str | None, expect: Verdict, reason: Reason | None = None,
            warnings: tuple[WarningCode, ...] = (), now: int = T0,
            revocations: str | None = "revocations.cbor", clock_synchronized: bool = True) -> None:
        # `clock` as in the spec's vectors: absent means synchronized (ML1 section 6.1).
        clock = {} if clock_synchronized else {"clock": "unsynchronized"}
        self.cases.append({
            "name": name,
            "file": f"qr/{name}.png",
            "text": text,
            "now": now,
            "revocations": revocations,
            **clock,
            "expect": {"verdict": str(expect), "reason": None if reason is None else str(reason),
                       "warnings": sorted(str(w) for w in warnings)},
        })

    def manifest(self) -> dict[str, Any]:
        return {"seed": self.seed, "t0": T0, "window": 90, "anchor": "anchor.pem",
                "trust_list": "trustlist.cbor", "cases": self.cases}


def _student(seed: str, given: str, family: str, dob: str, album: str,
             photo: bool = False) -> StudentData:
    student = StudentData(given, family, dob, UNIVERSITY, album)
    if not photo:
        return student
    from issuer_stub.codesize import portrait_budget
    from issuer_stub.photos import synthetic_portrait  # OpenCV, Pillow

    budget = portrait_budget(student, ISS)  # as the issuer fits a real one
    return replace(student, photo=synthetic_portrait(f"{seed}|{given}", budget))


def build_testset(seed: str) -> Testset:
    """Everything ``make-testset`` writes, as bytes: a pure function of ``seed``."""
    out = Testset(seed)
    ta = derive_key(seed, "ministry")
    uni_old = derive_key(seed, "university key 1")  # rotated out 30 days before T0
    uni = derive_key(seed, "university key 2")
    rotated = T0 - 30 * DAY
    listings = [
        IssuerListing(ISS, UNIVERSITY, uni_old.public_key(), T0 - 700 * DAY, rotated),
        IssuerListing(ISS, UNIVERSITY, uni.public_key(), rotated, rotated + 4 * 365 * DAY),
    ]
    semester_end = end_of_day(date(2027, 3, 31))
    october_end = end_of_day(date(2027, 10, 31))
    anna = _student(seed, "Anna", "Kowalska", "2004-05-17", "100234")

    def device(label: str) -> ec.EllipticCurvePrivateKey:
        return derive_key(seed, f"phone {label}")

    def credential(label: str, student: StudentData = anna, key: ec.EllipticCurvePrivateKey = uni,
                   iat: int = T0 - 10 * DAY, nbf: int | None = None, exp: int = semester_end,
                   iss: str = ISS, alg: int = -7, kid: bytes | None = None,
                   mutate: Callable[[dict[Any, Any]], None] | None = None) -> bytes:
        claims = credential_claims(iss=iss, student=student, device_key=device(label).public_key(),
                                   cti=derive_cti(seed, label), iat=iat,
                                   nbf=iat if nbf is None else nbf, exp=exp)
        if mutate is not None:
            mutate(claims)
        return sign_credential(key, claims, kid=kid, alg=alg)

    def present(label: str, cred: bytes, time: int = T0, alg: int = -7,
                phone: str | None = None) -> str:
        return qr_text(sign_presentation(device(phone or label), cred, time, alg=alg))

    def code(label: str, time: int = T0, **kw: Any) -> str:
        return present(label, credential(label, **kw), time)

    # valid ------------------------------------------------------------------------------------
    out.add("valid_basic", code("basic"), Verdict.VALID)
    out.add("valid_photo", code("photo", student=_student(
        seed, "Piotr", "Nowak", "2002-11-02", "100777", photo=True)), Verdict.VALID)
    out.add("valid_diacritics", code("diacritics", student=_student(
        seed, "Zażółć Gęślą", "Jaźń-Wiśniewska", "2004-02-29", "S/12345")), Verdict.VALID)
    out.add("valid_window_edge_past", code("edge past", time=T0 - 90), Verdict.VALID)
    out.add("valid_window_edge_future", code("edge future", time=T0 + 90), Verdict.VALID)
    out.add("valid_last_second", code("last second", exp=T0 + 1), Verdict.VALID)
    out.add("valid_first_second", code("first second", nbf=T0), Verdict.VALID)
    out.add("valid_signed_by_rotated_key", code("rotated", key=uni_old, iat=rotated - DAY),
            Verdict.VALID)
    out.add("valid_extended_to_october", code("extended", exp=october_end), Verdict.VALID)
    out.add("valid_second_phone", code("second phone", iat=T0 - DAY), Verdict.VALID)
    # warning ----------------------------------------------------------------------------------
    out.add("warning_no_revocation_list", code("no list"), Verdict.WARNING,
            warnings=(WarningCode.REVOCATION_LIST_MISSING,), revocations=None)
    out.add("warning_stale_revocation_list", code("stale list"), Verdict.WARNING,
            warnings=(WarningCode.REVOCATION_LIST_STALE,), revocations="revocations-stale.cbor")
    behind = T0 - 2 * 3600
    out.add("warning_clock_behind", code("behind", time=behind), Verdict.WARNING,
            warnings=(WarningCode.CLOCK_BEHIND,), now=behind)
    out.add("warning_clock_behind_and_stale_list", code("behind stale", time=behind),
            Verdict.WARNING, warnings=(WarningCode.CLOCK_BEHIND,
                                       WarningCode.REVOCATION_LIST_STALE),
            now=behind, revocations="revocations-stale.cbor")
    # A kit whose clock NTP has not set since boot (section 6.1): never valid, and no honest
    # student refused for it (a credential "not yet valid" by that clock passes).
    out.add("warning_clock_unsynchronized", code("unsynchronized"), Verdict.WARNING,
            warnings=(WarningCode.CLOCK_UNSYNCHRONIZED,), clock_synchronized=False)
    out.add("warning_clock_unsynchronized_not_yet_valid", code("unsync future", nbf=T0 + DAY),
            Verdict.WARNING, warnings=(WarningCode.CLOCK_UNSYNCHRONIZED,),
            clock_synchronized=False)
    out.add("warning_revoked_but_list_predates_it", code("first phone"), Verdict.WARNING,
            warnings=(WarningCode.REVOCATION_LIST_STALE,), revocations="revocations-stale.cbor")
    # invalid, in the order of the checks -------------------------------------------------------
    out.add("unknown_format_url", "https://example.org/student/123", Verdict.INVALID,
            Reason.UNKNOWN_FORMAT)
    out.add("unknown_format_other_prefix", "HC1:NCFOXN%TS3DH", Verdict.INVALID,
            Reason.UNKNOWN_FORMAT)
    basic = code("basic")
    out.add("malformed_empty", "ML1:", Verdict.INVALID, Reason.MALFORMED)
    out.add("malformed_truncated", basic[:-20], Verdict.INVALID, Reason.MALFORMED)
    out.add("malformed_not_zlib", "ML1:" + b45encode(b"not zlib at all"), Verdict.INVALID,
            Reason.MALFORMED)
    out.add("malformed_zlib_bomb", "ML1:" + b45encode(zlib.compress(bytes(9000), 9)),
            Verdict.INVALID, Reason.MALFORMED)
    out.add("malformed_not_cose", "ML1:" + b45encode(zlib.compress(encode([1, 2, 3]))),
            Verdict.INVALID, Reason.MALFORMED)
    out.add("malformed_missing_cti", code("no cti", mutate=lambda c: c.pop(7)),
            Verdict.INVALID, Reason.MALFORMED)
    out.add("malformed_bad_dob", code("bad dob", mutate=lambda c: c[-65537].__setitem__(
        "dob", "17.05.2004")), Verdict.INVALID, Reason.MALFORMED)
    untagged = cbor2.loads(sign_presentation(device("untagged"), credential("untagged"), T0))
    out.add("malformed_untagged", qr_text(encode(untagged.value)), Verdict.INVALID,
            Reason.MALFORMED)
    out.add("unsupported_algorithm_credential", code("alg cred", alg=-35), Verdict.INVALID,
            Reason.UNSUPPORTED_ALGORITHM)
    out.add("unsupported_algorithm_presentation",
            present("alg pres", credential("alg pres"), alg=-8), Verdict.INVALID,
            Reason.UNSUPPORTED_ALGORITHM)
    stranger = derive_key(seed, "unlisted university")
    out.add("unknown_issuer", code("stranger", key=stranger, iss="PL-0002"), Verdict.INVALID,
            Reason.UNKNOWN_ISSUER)
    forger = derive_key(seed, "forger")
    out.add("bad_signature_forged_with_listed_kid",
            code("forged", key=forger, kid=_kid(uni)), Verdict.INVALID, Reason.BAD_SIGNATURE)
    genuine = credential("altered")
    altered = genuine.replace(b"Kowalska", b"Kowalskx")
    out.add("bad_signature_altered_name", present("altered", altered), Verdict.INVALID,
            Reason.BAD_SIGNATURE)
    out.add("issuer_mismatch", code("mismatch", iss="PL-0001"), Verdict.INVALID,
            Reason.ISSUER_MISMATCH)
    out.add("issuer_key_expired_signed_after_rotation",
            code("after rotation", key=uni_old, iat=rotated), Verdict.INVALID,
            Reason.ISSUER_KEY_EXPIRED)
    out.add("issuer_key_expired_before_key_nbf",
            code("before nbf", iat=rotated - 1, nbf=T0 - DAY), Verdict.INVALID,
            Reason.ISSUER_KEY_EXPIRED)
    out.add("not_yet_valid", code("future", nbf=T0 + 1), Verdict.INVALID, Reason.NOT_YET_VALID)
    out.add("expired_at_exp", code("at exp", exp=T0), Verdict.INVALID, Reason.EXPIRED)
    out.add("expired_last_semester", code("last semester", key=uni_old, iat=T0 - 200 * DAY,
                                          exp=end_of_day(date(2026, 10, 31))),
            Verdict.INVALID, Reason.EXPIRED)
    out.add("revoked_by_the_student", code("self revoked"), Verdict.INVALID, Reason.REVOKED)
    out.add("revoked_first_phone_after_second_activation", code("first phone"),
            Verdict.INVALID, Reason.REVOKED)
    out.add("revoked_superseded_by_extension", code("superseded"), Verdict.INVALID,
            Reason.REVOKED)
    out.add("bad_device_signature_copied_credential",
            present("copied", credential("copied"), phone="thief"), Verdict.INVALID,
            Reason.BAD_DEVICE_SIGNATURE)
    out.add("presentation_stale_screenshot", code("screenshot", time=T0 - 91), Verdict.INVALID,
            Reason.PRESENTATION_STALE)
    out.add("presentation_stale_future", code("future time", time=T0 + 91), Verdict.INVALID,
            Reason.PRESENTATION_STALE)
    out.add("no_code_found", None, Verdict.INVALID, Reason.NO_CODE_FOUND)

    revoked = [derive_cti(seed, label) for label in ("self revoked", "first phone",
                                                     "superseded")]
    out.files["anchor.pem"] = public_pem(ta.public_key())
    out.files["trustlist.cbor"] = sign_trust_list(ta, 1, T0 - 3600, listings)
    out.files["revocations.cbor"] = sign_revocation_list(ta, 2, T0 - 600, revoked)
    out.files["revocations-stale.cbor"] = sign_revocation_list(ta, 1, T0 - 2 * DAY, [])
    return out


def _kid(key: ec.EllipticCurvePrivateKey) -> bytes:
    from verifier.core.keys import kid_of

    return kid_of(key.public_key())


def render(text: str | None, scale: int = 4) -> bytes:
    """PNG of the QR (alphanumeric mode, level M, when the text allows it); no text: an
    empty grey 'screen' with no code on it."""
    buf = io.BytesIO()
    if text is None:
        import cv2

        ok, png = cv2.imencode(".png", np.full((240, 240), 200, np.uint8))
        assert ok
        return bytes(png.tobytes())
    try:
        code = segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False)
    except (ValueError, segno.DataOverflowError):
        code = segno.make_qr(text, error="m", boost_error=False)
    code.save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


README = """# ML1 test set (seed {seed})

Made by `issuer-stub make-testset`. `manifest.json` lists every case: the QR text, the PNG in
`qr/`, the time to check at (`now`), the revocation list to hold (null: none) and the expected
verdict, reason and warnings; `"clock": "unsynchronized"` marks a case to check as a kit whose
clock is not synchronized (`verifier check --clock unsynchronized`). Check them with the pinned
anchor `anchor.pem` and the trust list `trustlist.cbor`, e.g.

    verifier check --anchor anchor.pem --trust-list trustlist.cbor \\
        --revocation-list revocations.cbor --now {t0} qr/valid_basic.png

with each case's own `now`. The same seed always gives the same files.
"""


def write_testset(directory: Path, seed: str, png: bool = True) -> dict[str, Any]:
    testset = build_testset(seed)
    for name, data in testset.files.items():
        write_atomic(directory / name, data)
    manifest = testset.manifest()
    if png:
        for case in testset.cases:
            write_atomic(directory / case["file"], render(case["text"]))
    else:
        for case in manifest["cases"]:
            case["file"] = None
    write_atomic(directory / "manifest.json",
                 (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode())
    write_atomic(directory / "README.md", README.format(seed=seed, t0=T0).encode())
    return manifest
