"""Property tests: no mutation of a valid code is ever valid, and nothing ever raises."""

from __future__ import annotations

import zlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW, World
from verifier.core.base45 import ALPHABET, b45decode, b45encode
from verifier.core.policy import verify
from verifier.core.reasons import Verdict

WORLD = World()
TRUST = WORLD.trust_list()
REVOKED = WORLD.revocations()
VALID_TEXT = WORLD.wallet().present(NOW)
VALID_BYTES = zlib.decompress(b45decode(VALID_TEXT[4:]))
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(text: str) -> Verdict:
    return verify(text, TRUST, REVOKED, NOW).verdict


def test_the_unmutated_code_is_valid() -> None:
    assert _check(VALID_TEXT) is Verdict.VALID


@SETTINGS
@given(st.integers(4, len(VALID_TEXT) - 1), st.sampled_from(ALPHABET))
def test_one_character_changed_is_never_valid(pos: int, char: str) -> None:
    mutated = VALID_TEXT[:pos] + char + VALID_TEXT[pos + 1 :]
    if mutated != VALID_TEXT:
        assert _check(mutated) is not Verdict.VALID


@SETTINGS
@given(st.data())
def test_mutated_presentation_bytes_are_never_valid(data: st.DataObject) -> None:
    raw = bytearray(VALID_BYTES)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        pos = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif op == "delete":
            del raw[pos]
        else:
            raw.insert(pos, data.draw(st.integers(0, 255)))
    mutated = bytes(raw)
    if mutated != VALID_BYTES:
        assert _check("ML1:" + b45encode(zlib.compress(mutated))) is not Verdict.VALID


@SETTINGS
@given(st.text(max_size=400))
@example("ML1:" + "9" * 20000)
@example("ML1:" + b45encode(b"\x9f" * 5000))
@example("ML1:" + b45encode(zlib.compress(b"\x5b" + b"\xff" * 8)))
def test_arbitrary_text_never_raises(text: str) -> None:
    assert _check(text) in (Verdict.INVALID,)


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_compressed_bytes_never_raise(raw: bytes) -> None:
    assert _check("ML1:" + b45encode(zlib.compress(raw))) is Verdict.INVALID


def test_truncations_are_never_valid() -> None:
    for cut in range(4, len(VALID_TEXT), 7):
        assert _check(VALID_TEXT[:cut]) is Verdict.INVALID
