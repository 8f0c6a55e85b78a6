"""Trust list and revocation list loaders: nothing is used before the TA signature and kid."""

from __future__ import annotations

import os

import cbor2
import pytest

from issuer_stub.keystore import new_key
from issuer_stub.signing import encode, sign1
from tests.conftest import NOW, World
from verifier.core.errors import ListError
from verifier.core.keys import kid_of
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList


def _ta_signed(world: World, payload: dict, key=None, kid=None, alg: int = -7) -> bytes:
    key = key or world.ministry.key
    kid = kid_of(world.ministry.key.public_key()) if kid is None else kid
    return sign1(key, encode(payload), kid=kid, alg=alg)


def test_trust_list_round_trip(world: World) -> None:
    tl = world.trust_list()
    assert tl.seq == 1 and tl.iat == NOW - 3600
    entry = tl.find(world.uni.kid)
    assert entry is not None and entry.iss == "PL-1043"
    assert tl.find(b"\x00" * 8) is None


def test_list_signed_by_another_key_is_refused_even_with_the_ta_kid(world: World) -> None:
    raw = _ta_signed(world, {"v": 1, "seq": 9, "iat": NOW, "issuers": []}, key=new_key())
    with pytest.raises(ListError, match="signature does not verify"):
        TrustList.from_bytes(raw, world.ministry.anchor)


@pytest.mark.parametrize(
    ("payload", "alg", "why"),
    [
        ({"v": 2, "seq": 1, "iat": NOW, "issuers": []}, -7, "version"),
        ({"v": 1, "seq": -1, "iat": NOW, "issuers": []}, -7, "seq"),
        ({"v": 1, "seq": 1, "iat": "x", "issuers": []}, -7, "iat"),
        ({"v": 1, "seq": 1, "iat": NOW, "issuers": {}}, -7, "issuers"),
        ({"v": 1, "seq": 1, "iat": NOW, "issuers": []}, -35, "ES256"),
    ],
)
def test_trust_list_shape_errors(world: World, payload: dict, alg: int, why: str) -> None:
    with pytest.raises(ListError, match=why):
        TrustList.from_bytes(_ta_signed(world, payload, alg=alg), world.ministry.anchor)


def test_trust_list_entry_kid_must_match_its_key(world: World) -> None:
    entry = world.uni.listing(0, NOW * 2).entry()
    entry["kid"] = b"\x01" * 8
    raw = _ta_signed(world, {"v": 1, "seq": 1, "iat": NOW, "issuers": [entry]})
    with pytest.raises(ListError, match="kid does not match"):
        TrustList.from_bytes(raw, world.ministry.anchor)


def test_garbage_is_a_list_error_not_a_crash(world: World) -> None:
    for raw in (b"", b"\x00", os.urandom(300), cbor2.dumps({"v": 1})):
        with pytest.raises(ListError):
            TrustList.from_bytes(raw, world.ministry.anchor)
        with pytest.raises(ListError):
            RevocationList.from_bytes(raw, world.ministry.anchor)


def test_revocation_lookup_hits_and_misses(world: World) -> None:
    ids = sorted(os.urandom(16) for _ in range(1000))
    world.ministry.revoked.update(ids)
    rl = world.revocations()
    assert len(rl) == 1000
    assert all(i in rl for i in ids)
    assert b"\x00" * 16 not in rl and b"\xff" * 16 not in rl
    assert ids[0][:15] not in rl  # wrong length never matches
    held = set(ids)
    misses = [m for m in (os.urandom(16) for _ in range(1000)) if m not in held]
    assert not any(m in rl for m in misses)


@pytest.mark.parametrize(
    "ids",
    [
        bytes(16) + bytes(16),  # duplicate
        b"\x02" * 16 + b"\x01" * 16,  # descending
        b"\x00\x00\x00\x00\x00\x00\x00\x01" + bytes(8) + bytes(16),  # descending in the high word
        bytes(20),  # not a multiple of 16
    ],
)
def test_revocation_ids_must_be_sorted_unique_16_bytes(world: World, ids: bytes) -> None:
    raw = _ta_signed(world, {"v": 1, "seq": 1, "iat": NOW, "ids": ids})
    with pytest.raises(ListError, match="ids"):
        RevocationList.from_bytes(raw, world.ministry.anchor)


def test_a_million_revocations_load_and_answer(world: World) -> None:
    ids = b"".join(sorted(os.urandom(16) for _ in range(1_000_000)))
    raw = _ta_signed(world, {"v": 1, "seq": 3, "iat": NOW, "ids": ids})
    rl = RevocationList.from_bytes(raw, world.ministry.anchor)
    assert len(rl) == 1_000_000
    assert ids[:16] in rl and ids[-16:] in rl and ids[16 * 777_777 : 16 * 777_778] in rl
    assert b"\x00" * 16 not in rl or ids[:16] == b"\x00" * 16
