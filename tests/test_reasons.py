"""Every reason and warning code of ML1 section 6, reached by real signed data."""

from __future__ import annotations

import zlib

import cbor2
import pytest

from issuer_stub.authority import University
from issuer_stub.keystore import new_key
from issuer_stub.signing import (
    credential_claims,
    encode,
    qr_text,
    sign1,
    sign_credential,
    sign_presentation,
)
from issuer_stub.wallet import Wallet
from tests.conftest import DAY, NOW, STUDENT, World
from verifier.core.base45 import b45encode
from verifier.core.policy import verify
from verifier.core.reasons import Reason, Verdict, WarningCode


def check(world: World, text: str, now: int = NOW, revocations: object = "fresh", **kw: object):
    rl = world.revocations() if revocations == "fresh" else revocations
    return verify(text, world.trust_list(), rl, now, **kw)  # type: ignore[arg-type]


def test_valid_code_shows_holder_and_credential(world: World) -> None:
    result = check(world, world.wallet().present(NOW))
    assert (result.verdict, result.reason, result.warnings) == (Verdict.VALID, None, ())
    assert result.holder is not None and result.holder.family_name == "Jaźń-Kowalska"
    assert result.credential is not None and result.credential.iss == "PL-1043"
    assert [r for r, ok in result.checks if ok] == list(Reason)[:12]


def test_unknown_format(world: World) -> None:
    for text in ("HC1:NCFOXN", "https://example.org/x", "ml1:abc", ""):
        result = check(world, text)
        assert result.reason is Reason.UNKNOWN_FORMAT, text
        assert result.holder is None


@pytest.mark.parametrize(
    "text",
    [
        "ML1:",
        "ML1:abc",  # lower case is not base45
        "ML1:A",  # a single trailing character
        "ML1:GGW",  # triple above 65535
        "ML1:" + b45encode(b"not zlib"),
        "ML1:" + b45encode(zlib.compress(b"\xff")),  # a lone CBOR break
        "ML1:" + b45encode(zlib.compress(encode([1, 2, 3]))),  # CBOR, not COSE
        "ML1:" + b45encode(zlib.compress(bytes(9000))),  # past the 8192-byte cap
        "ML1:" + b45encode(zlib.compress(b"\x81" * 200 + b"\x00")),  # 200 nested arrays
    ],
)
def test_malformed_inputs(world: World, text: str) -> None:
    result = check(world, text)
    assert (result.verdict, result.reason) == (Verdict.INVALID, Reason.MALFORMED)


def _present_claims(world: World, mutate) -> str:
    wallet = Wallet.new()
    claims = credential_claims(
        iss="PL-1043",
        student=STUDENT,
        device_key=wallet.public_key,
        cti=bytes(range(16)),
        iat=NOW - DAY,
        nbf=NOW - DAY,
        exp=NOW + DAY,
    )
    mutate(claims)
    wallet.credential = sign_credential(world.uni.key, claims)
    return wallet.present(NOW)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.pop(7),  # no cti
        lambda c: c.__setitem__(7, b"short"),
        lambda c: c.__setitem__(4, "1800000000"),  # exp as text
        lambda c: c.__setitem__(4, True),  # a bool is not a uint
        lambda c: c.__setitem__(5, -1),
        lambda c: c.__setitem__(6, cbor2.CBORTag(2, b"\x01\x00")),  # bignum is not a uint
        lambda c: c.__setitem__(1, 1043),
        lambda c: c[-65537].__setitem__("dob", "2004-02-30"),
        lambda c: c[-65537].__setitem__("dob", "29.02.2004"),
        lambda c: c[-65537].__setitem__("gn", ""),
        lambda c: c[-65537].__setitem__("fn", "x" * 101),
        lambda c: c[-65537].__setitem__("fn", "Jan\u0301"),  # not NFC
        lambda c: c[-65537].__setitem__("alb", "1" * 33),
        lambda c: c[-65537].__setitem__("ph", b"\xff\xd8" + bytes(2047)),
        lambda c: c[-65537].__setitem__("ph", b"GIF89a"),
        lambda c: c[8][1].__setitem__(-1, 2),  # P-384 curve id
        lambda c: c[8][1].__setitem__(-2, bytes(31)),
        lambda c: c[8][1].__setitem__(-3, bytes(32)),  # not on the curve
        lambda c: c.pop(-65537),
    ],
)
def test_claim_rules_make_malformed(world: World, mutate) -> None:
    assert check(world, _present_claims(world, mutate)).reason is Reason.MALFORMED


def test_unknown_claims_and_fields_are_ignored(world: World) -> None:
    def add_unknown(c):
        c[99] = {"nested": [1, 2, 3]}
        c[-65537]["xx"] = "extra"

    result = check(world, _present_claims(world, add_unknown))
    assert result.verdict is Verdict.VALID


def test_untagged_and_unprotected_kid(world: World) -> None:
    wallet = world.wallet()
    untagged = sign_presentation(wallet.device_key, wallet.credential, NOW, tagged=False)
    assert check(world, qr_text(untagged)).reason is Reason.MALFORMED


def _claims(wallet: Wallet) -> dict:
    """Well-formed claims of the listed university, bound to ``wallet``'s device key."""
    return credential_claims(
        iss="PL-1043",
        student=STUDENT,
        device_key=wallet.public_key,
        cti=bytes(16),
        iat=NOW - DAY,
        nbf=NOW - DAY,
        exp=NOW + DAY,
    )


@pytest.mark.parametrize("layer", ["credential", "presentation"])
@pytest.mark.parametrize("alg", [-35, -8, 0, -257])
def test_unsupported_algorithm(world: World, layer: str, alg: int) -> None:
    wallet = Wallet.new()
    claims = _claims(wallet)
    cred_alg = alg if layer == "credential" else -7
    wallet.credential = sign_credential(world.uni.key, claims, alg=cred_alg)
    pres_alg = alg if layer == "presentation" else -7
    text = qr_text(sign_presentation(wallet.device_key, wallet.credential, NOW, alg=pres_alg))
    assert check(world, text).reason is Reason.UNSUPPORTED_ALGORITHM


def test_unknown_issuer(world: World) -> None:
    stranger = University("PL-0002", "Not listed")
    wallet = Wallet.new()
    wallet.credential = stranger.issue(STUDENT, wallet.public_key, iat=NOW - DAY, exp=NOW + DAY)
    result = check(world, wallet.present(NOW))
    assert result.reason is Reason.UNKNOWN_ISSUER
    assert result.holder is None and result.credential is None


def test_bad_signature_forged_with_listed_kid(world: World) -> None:
    wallet = Wallet.new()
    claims = _claims(wallet)
    wallet.credential = sign_credential(new_key(), claims, kid=world.uni.kid)
    result = check(world, wallet.present(NOW))
    assert result.reason is Reason.BAD_SIGNATURE
    assert result.holder is None, "a forged credential's name must never be shown"


def test_bad_signature_when_a_claim_is_altered(world: World) -> None:
    wallet = world.wallet()
    altered = wallet.credential.replace(b"Kowalska", b"Kowalskx")
    assert altered != wallet.credential
    text = qr_text(sign_presentation(wallet.device_key, altered, NOW))
    assert check(world, text).reason is Reason.BAD_SIGNATURE


def test_issuer_mismatch(world: World) -> None:
    result = check(world, _present_claims(world, lambda c: c.__setitem__(1, "PL-0001")))
    assert result.reason is Reason.ISSUER_MISMATCH
    assert result.holder is not None  # the issuer signature verified


def test_issuer_key_expired_and_its_edges(world: World) -> None:
    key_nbf, key_exp = NOW - 365 * DAY, NOW + 365 * DAY
    before = world.wallet(iat=key_nbf - 1, nbf=NOW - DAY)
    at_exp = world.wallet(iat=key_exp, nbf=NOW - DAY)
    at_nbf = world.wallet(iat=key_nbf, nbf=NOW - DAY)
    assert check(world, before.present(NOW)).reason is Reason.ISSUER_KEY_EXPIRED
    assert check(world, at_exp.present(NOW)).reason is Reason.ISSUER_KEY_EXPIRED
    assert check(world, at_nbf.present(NOW)).verdict is Verdict.VALID


def test_issuer_key_past_its_period_still_validates_old_credentials() -> None:
    late = World()
    late.ministry.listings.clear()
    late.ministry.admit(late.uni, nbf=NOW - 400 * DAY, exp=NOW - 10 * DAY)
    wallet = late.wallet(iat=NOW - 30 * DAY)
    assert check(late, wallet.present(NOW)).verdict is Verdict.VALID


def test_not_yet_valid_expired_and_edges(world: World) -> None:
    wallet = world.wallet(iat=NOW - DAY, nbf=NOW + 10, exp=NOW + DAY)
    assert check(world, wallet.present(NOW)).reason is Reason.NOT_YET_VALID
    assert check(world, wallet.present(NOW + 10), now=NOW + 10).verdict is Verdict.VALID
    wallet = world.wallet(iat=NOW - DAY, exp=NOW)
    assert check(world, wallet.present(NOW)).reason is Reason.EXPIRED
    assert check(world, wallet.present(NOW - 1), now=NOW - 1).verdict is Verdict.VALID


def test_revoked_only_once_listed(world: World) -> None:
    cti = bytes.fromhex("00112233445566778899aabbccddeeff")
    wallet = world.wallet(cti=cti)
    assert check(world, wallet.present(NOW)).verdict is Verdict.VALID
    world.ministry.revoked.add(cti)
    result = check(world, wallet.present(NOW))
    assert result.reason is Reason.REVOKED
    assert result.holder is not None


def test_bad_device_signature_when_the_credential_is_copied_to_another_phone(world: World) -> None:
    original = world.wallet()
    thief = Wallet(device_key=new_key(), credential=original.credential)
    assert check(world, thief.present(NOW)).reason is Reason.BAD_DEVICE_SIGNATURE


def test_bad_device_signature_for_truncated_signature(world: World) -> None:
    wallet = world.wallet()
    body = list(cbor2.loads(sign_presentation(wallet.device_key, wallet.credential, NOW)).value)
    body[3] = body[3][:63]
    text = qr_text(encode(cbor2.CBORTag(18, body)))
    assert check(world, text).reason is Reason.BAD_DEVICE_SIGNATURE


def test_presentation_window_edges(world: World) -> None:
    wallet = world.wallet()
    assert check(world, wallet.present(NOW - 90)).verdict is Verdict.VALID
    assert check(world, wallet.present(NOW + 90)).verdict is Verdict.VALID
    assert check(world, wallet.present(NOW - 91)).reason is Reason.PRESENTATION_STALE
    assert check(world, wallet.present(NOW + 91)).reason is Reason.PRESENTATION_STALE
    assert check(world, wallet.present(NOW - 100), window=120).verdict is Verdict.VALID


def test_first_failing_check_wins(world: World) -> None:
    """Expired *and* revoked *and* stale: the earliest check in the table decides."""
    cti = bytes(range(16))
    wallet = world.wallet(cti=cti, iat=NOW - 50 * DAY, exp=NOW - DAY)
    world.ministry.revoked.add(cti)
    assert check(world, wallet.present(NOW - 1000)).reason is Reason.EXPIRED


def test_warning_revocation_list_missing(world: World) -> None:
    result = check(world, world.wallet().present(NOW), revocations=None)
    assert (result.verdict, result.warnings) == (
        Verdict.WARNING,
        (WarningCode.REVOCATION_LIST_MISSING,),
    )


def test_warning_revocation_list_stale_boundary(world: World) -> None:
    text = world.wallet().present(NOW)
    exactly_24h = world.revocations(iat=NOW - 24 * 3600)
    assert check(world, text, revocations=exactly_24h).verdict is Verdict.VALID
    older = world.revocations(iat=NOW - 24 * 3600 - 1)
    result = check(world, text, revocations=older)
    assert result.warnings == (WarningCode.REVOCATION_LIST_STALE,)


def test_warning_clock_behind_either_list(world: World) -> None:
    text = world.wallet().present(NOW)
    ahead_rl = world.revocations(iat=NOW + 5)
    assert check(world, text, revocations=ahead_rl).warnings == (WarningCode.CLOCK_BEHIND,)
    result = verify(text, world.trust_list(iat=NOW + 5), world.revocations(), NOW)
    assert result.warnings == (WarningCode.CLOCK_BEHIND,)


def test_warnings_accumulate_sorted(world: World) -> None:
    text = world.wallet().present(NOW)
    result = verify(text, world.trust_list(iat=NOW + 5), world.revocations(iat=NOW - 2 * DAY), NOW)
    assert result.verdict is Verdict.WARNING
    assert [str(w) for w in result.warnings] == ["clock_behind", "revocation_list_stale"]


def test_invalid_results_carry_no_warnings(world: World) -> None:
    wallet = world.wallet(exp=NOW - 1)
    result = check(world, wallet.present(NOW), revocations=None)
    assert result.reason is Reason.EXPIRED and result.warnings == ()


def test_protected_header_rules(world: World) -> None:
    wallet = world.wallet()
    # alg only in the unprotected header: there is no alg where it counts
    pres = [encode({}), {1: -7}, encode({1: wallet.credential, 2: NOW}), bytes(64)]
    text = qr_text(encode(cbor2.CBORTag(18, pres)))
    assert check(world, text).reason is Reason.UNSUPPORTED_ALGORITHM
    # the credential's kid only in the unprotected header is not used
    claims = cbor2.loads(cbor2.loads(wallet.credential).value[2])
    cred = sign1(world.uni.key, encode(claims))
    body = list(cbor2.loads(cred).value)
    body[1] = {4: world.uni.kid}
    wallet.credential = encode(cbor2.CBORTag(18, body))
    assert check(world, wallet.present(NOW)).reason is Reason.MALFORMED
