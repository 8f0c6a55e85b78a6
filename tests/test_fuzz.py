"""Fuzzing ``verify()``, the list loaders and the renderers (issue 12).

Fast tier (default run, a few seconds, fixed seeds): hypothesis-driven hostile claims and
presentations, validly signed with the keys of the trust list, and a seeded mutation campaign.
Long tier: ``pytest -m fuzz`` (>= 100,000 cases; figures in bench/RESULTS.md). Either way:
``verify()`` never raises, never says valid or warning for a code the independent oracle
(tests/fuzzing.py) does not confirm, and every result renders as text, JSON and the screen.
"""

from __future__ import annotations

import os
import random
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer_stub.signing import encode
from tests.fuzzing import (
    NOW,
    UINT64_MAX,
    Campaign,
    FuzzWorld,
    cose_sign1,
    hostile_list_case,
    independently_valid,
    load_list,
    qr_text,
    render_all,
    valid_presentation,
)
from verifier.core.policy import verify
from verifier.core.reasons import Verdict

WORLD = FuzzWorld()
FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _verify(text: str) -> Any:
    return verify(text, WORLD.trust, WORLD.revocations, NOW)


def _campaign() -> Campaign:
    return Campaign(WORLD, _verify)


def test_the_oracle_confirms_a_valid_code_and_refuses_a_foreign_one() -> None:
    """The oracle itself can fail: a genuine code passes it, a stranger's signature does not."""
    text = qr_text(valid_presentation(WORLD))
    assert _verify(text).verdict is Verdict.VALID and independently_valid(WORLD, text) is None
    forged = cose_sign1(WORLD.stranger, encode({1: -7, 4: WORLD.uni.kid}), encode(WORLD.claims()))
    presentation = cose_sign1(WORLD.device, encode({1: -7}), encode({1: forged, 2: NOW}))
    assert independently_valid(WORLD, qr_text(presentation)) is not None
    assert _verify(qr_text(presentation)).reason == "bad_signature"


# Hypothesis: CBOR values of every kind in every claim, signed by the listed issuer ---------------
leaves = (
    st.integers(-(2**64), UINT64_MAX) | st.booleans() | st.none() | st.floats()
    | st.text(max_size=20) | st.binary(max_size=40)
    | st.sampled_from([NOW, NOW + 1, NOW - 1, 0, UINT64_MAX, 253402297201])
)
cbor_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.integers(-70000, 70000) | st.text(max_size=4), inner, max_size=3)
    | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 18, 55799]), inner),
    max_leaves=12,
)
claim_keys = st.sampled_from([1, 4, 5, 6, 7, 8, -65537, 2, 3, -1])
student_keys = st.sampled_from(["gn", "fn", "dob", "uni", "alb", "ph", "GN", ""])


def _present(credential: bytes, made: Any = NOW) -> str:
    return qr_text(cose_sign1(WORLD.device, encode({1: -7}), cbor2.dumps({1: credential, 2: made})))


def _signed(claims: dict[Any, Any], protected: bytes | None = None) -> bytes:
    protected = encode({1: -7, 4: WORLD.uni.kid}) if protected is None else protected
    return cose_sign1(WORLD.uni.key, protected, cbor2.dumps(claims))


def _check(text: str) -> None:
    campaign = _campaign()
    campaign.check(text, "signed hypothesis")
    assert campaign.exceptions == [] and campaign.false_valid == []


@FAST
@given(st.dictionaries(claim_keys, cbor_values, max_size=3), st.sets(claim_keys, max_size=2))
def test_signed_credentials_with_hostile_claims(replace: dict[Any, Any], drop: set[Any]) -> None:
    claims = {**WORLD.claims(), **replace}
    for key in drop:
        claims.pop(key, None)
    _check(_present(_signed(claims)))


@FAST
@given(st.dictionaries(student_keys, cbor_values, max_size=3), st.sets(student_keys, max_size=2))
def test_signed_credentials_with_hostile_student_fields(
    replace: dict[str, Any], drop: set[str]
) -> None:
    claims = WORLD.claims()
    student = {**claims[-65537], **replace}
    for key in drop:
        student.pop(key, None)
    _check(_present(_signed({**claims, -65537: student})))


@FAST
@given(st.integers(0, UINT64_MAX), st.integers(0, UINT64_MAX), st.integers(0, UINT64_MAX),
       st.integers(0, UINT64_MAX))
def test_signed_credentials_with_any_uint_times(exp: int, nbf: int, iat: int, made: int) -> None:
    claims = {**WORLD.claims(), 4: exp, 5: nbf, 6: iat}
    _check(_present(_signed(claims), made))


@FAST
@given(st.dictionaries(st.sampled_from([1, 2, 4, 3, "alg"]), cbor_values, max_size=3))
def test_signed_credentials_with_hostile_protected_headers(header: dict[Any, Any]) -> None:
    _check(_present(_signed(WORLD.claims(), cbor2.dumps({1: -7, 4: WORLD.uni.kid, **header}))))


@FAST
@given(cbor_values, st.dictionaries(st.integers(-5, 5), cbor_values, max_size=2))
def test_signed_presentations_with_hostile_content(made: Any, extra: dict[Any, Any]) -> None:
    credential = _signed(WORLD.claims())
    payload = {**extra, 1: credential, 2: made}
    _check(qr_text(cose_sign1(WORLD.device, encode({1: -7}), cbor2.dumps(payload))))


# A seeded campaign: every kind of case, a few hundred of each -------------------------------------
def test_fixed_seed_campaign() -> None:
    campaign = _campaign().run(900, seed=12)
    assert campaign.exceptions == [] and campaign.false_valid == []
    assert campaign.cases > 800 and campaign.ok_verdicts > 0  # some hostile codes are valid


def test_fixed_seed_lists() -> None:
    rng = random.Random(12)
    outcomes = {load_list(WORLD, hostile_list_case(WORLD, rng)) for _ in range(300)}
    assert "rejected" in outcomes and outcomes <= {"trust", "revocations", "rejected"}


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_no_list(raw: bytes) -> None:
    assert load_list(WORLD, raw) == "rejected"


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text_renders(text: str) -> None:
    render_all(_verify(text))


# The long tier ------------------------------------------------------------------------------------
FUZZ_CASES = int(os.environ.get("MLEG_FUZZ_CASES", "120000"))
FUZZ_SEED = int(os.environ.get("MLEG_FUZZ_SEED", "20261201"))


@pytest.mark.fuzz
def test_long_campaign() -> None:
    campaign = _campaign().run(FUZZ_CASES, seed=FUZZ_SEED)
    print(f"\nverify(): {campaign.summary()} (seed {FUZZ_SEED})")
    assert campaign.exceptions == [], campaign.exceptions[:5]
    assert campaign.false_valid == [], campaign.false_valid[:5]
    assert campaign.cases >= 0.9 * FUZZ_CASES


@pytest.mark.fuzz
def test_long_list_campaign() -> None:
    rng = random.Random(FUZZ_SEED)
    counts: dict[str, int] = {}
    for _ in range(max(FUZZ_CASES // 20, 1000)):
        try:
            raw = hostile_list_case(WORLD, rng)
        except (TypeError, ValueError, OverflowError, cbor2.CBOREncodeError):
            continue
        kind = load_list(WORLD, raw)
        counts[kind] = counts.get(kind, 0) + 1
    print(f"\nlists: {sum(counts.values())} anchor-signed or mutated lists: {counts}")
    assert counts.get("rejected", 0) > 0
