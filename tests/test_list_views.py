"""Large lists are decoded without copies (byte strings as views into the signed bytes): the
same acceptance rules, the same lookups, and hostile bytes still only ever raise ListError."""

from __future__ import annotations

import hashlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer_stub.authority import Ministry
from issuer_stub.signing import sign1
from verifier.core.errors import ListError
from verifier.core.revocation import RevocationList
from verifier.core.signedlist import LIST_VIEW_OVER

NOW = 1_800_000_000
IDS = sorted({hashlib.sha256(n.to_bytes(4, "big")).digest()[:16] for n in range(6000)})
MINISTRY = Ministry(revoked=set(IDS))
BIG = MINISTRY.revocation_list(iat=NOW)


def signed_payload(payload: bytes) -> bytes:
    """A list the TA really signed, with whatever payload a broken issuer might produce."""
    return sign1(MINISTRY.key, payload, kid=MINISTRY.anchor.kid)


def test_a_large_list_keeps_its_ids_as_a_view_and_finds_every_id() -> None:
    assert len(b"".join(IDS)) > LIST_VIEW_OVER
    revocations = RevocationList.from_bytes(BIG, MINISTRY.anchor)
    assert isinstance(revocations.ids, memoryview) and revocations.ids.readonly
    assert len(revocations) == len(IDS)
    assert all(cti in revocations for cti in IDS[::97])
    assert bytes(16) not in revocations and b"\xff" * 16 not in revocations


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(BIG) - 1), st.integers(1, 255))
def test_any_changed_byte_is_rejected_with_a_list_error(pos: int, delta: int) -> None:
    tampered = bytearray(BIG)
    tampered[pos] = (tampered[pos] + delta) % 256
    with pytest.raises(ListError):
        RevocationList.from_bytes(bytes(tampered), MINISTRY.anchor)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, len(BIG) - 1))
def test_any_truncation_is_rejected_with_a_list_error(cut: int) -> None:
    with pytest.raises(ListError):
        RevocationList.from_bytes(BIG[:cut], MINISTRY.anchor)


def _payload(ids: object) -> dict[str, object]:
    return {"v": 1, "seq": 7, "iat": NOW, "ids": ids}


def test_chunked_ids_signed_by_the_anchor_are_joined_and_searched() -> None:
    ids = b"".join(IDS)
    head = cbor2.dumps(_payload(b""))[:-1]  # the map up to the empty "ids" value
    chunks = b"\x5f" + b"".join(cbor2.dumps(ids[i : i + 4096]) for i in range(0, len(ids), 4096))
    revocations = RevocationList.from_bytes(
        signed_payload(head + chunks + b"\xff"), MINISTRY.anchor
    )
    assert len(revocations) == len(IDS) and IDS[1234] in revocations


@pytest.mark.parametrize(
    ("ids", "why"),
    [
        ("x" * (LIST_VIEW_OVER + 16), "multiple of 16"),  # text, not bytes
        (b"\x01" * (LIST_VIEW_OVER + 17), "multiple of 16"),
        (b"".join(reversed(IDS)), "sorted"),
        (b"".join(IDS + IDS[:1]), "sorted"),
    ],
)
def test_large_but_wrong_ids_signed_by_the_anchor_are_refused(ids: object, why: str) -> None:
    with pytest.raises(ListError, match=why):
        RevocationList.from_bytes(signed_payload(cbor2.dumps(_payload(ids))), MINISTRY.anchor)
