"""The format layers on their own: base45, bounded zlib, strict CBOR, COSE_Sign1."""

from __future__ import annotations

import zlib

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.core import cbor
from verifier.core.base45 import b45decode, b45encode
from verifier.core.compression import MAX_PRESENTATION_BYTES, inflate_bounded
from verifier.core.cose import parse_sign1
from verifier.core.errors import FormatError


@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


def test_base45_rfc9285_examples() -> None:
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
    assert b45decode("FGW") == b"\xff\xff"  # 65535, the largest triple


@pytest.mark.parametrize("text", ["GGW", "A", "ab", "ÄBC", "0000"])
def test_base45_rejects(text: str) -> None:
    with pytest.raises(FormatError):
        b45decode(text)


def test_inflate_caps_output_and_rejects_tails() -> None:
    assert inflate_bounded(zlib.compress(bytes(MAX_PRESENTATION_BYTES))) == bytes(8192)
    with pytest.raises(FormatError, match="exceeds"):
        inflate_bounded(zlib.compress(bytes(MAX_PRESENTATION_BYTES + 1)))
    bomb = zlib.compress(bytes(50_000_000), 9)
    with pytest.raises(FormatError, match="exceeds"):
        inflate_bounded(bomb)
    with pytest.raises(FormatError, match="truncated"):
        inflate_bounded(zlib.compress(b"hello world")[:-3])
    with pytest.raises(FormatError, match="follow"):
        inflate_bounded(zlib.compress(b"hello") + b"junk")
    with pytest.raises(FormatError):
        inflate_bounded(b"\x1f\x8b\x08\x00")  # gzip, not zlib


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.binary(max_size=20)
        | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.integers(-100, 100) | st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_cbor_decodes_what_cbor2_encodes(value: object) -> None:
    assert cbor.loads(cbor2.dumps(value)) == value


@pytest.mark.parametrize(
    ("hexdata", "why"),
    [
        ("820102ff", "follow"),  # trailing bytes
        ("a20101 0102".replace(" ", ""), "duplicate"),
        ("a1f501", "key"),  # true as a map key
        ("a1f93c0001", "key"),  # 1.0 as a map key
        ("5a ffffffff".replace(" ", ""), "end"),  # length beyond the data
        ("9b00000000ffffffff", "longer"),  # huge array count
        ("1c", "reserved"),
        ("f818", "below 32"),
        ("ff", "break"),
        ("62c328", "UTF-8"),
        ("5f4101ff"[:-2], "end"),  # unterminated indefinite string
    ],
)
def test_cbor_rejects(hexdata: str, why: str) -> None:
    with pytest.raises(FormatError, match=why):
        cbor.loads(bytes.fromhex(hexdata))


def test_cbor_tags_stay_tags_and_depth_is_capped() -> None:
    assert cbor.loads(bytes.fromhex("c2420100")) == cbor.Tag(2, b"\x01\x00")
    assert cbor.loads(bytes.fromhex("c11a5c000000")) == cbor.Tag(1, 0x5C000000)
    assert cbor.loads(bytes.fromhex("9f0102ff")) == [1, 2]  # indefinite arrays are CBOR too
    deep = b"\x81" * (cbor.DEFAULT_MAX_DEPTH + 1) + b"\x00"
    with pytest.raises(FormatError, match="nesting"):
        cbor.loads(deep)
    with pytest.raises(FormatError, match="nesting"):
        cbor.loads(b"\x81" * 100_000 + b"\x00")  # no RecursionError, no hang


def test_sign1_requires_tag_18_and_shape() -> None:
    good = [cbor2.dumps({1: -7}), {}, b"payload", bytes(64)]
    assert parse_sign1(cbor2.dumps(cbor2.CBORTag(18, good))).payload == b"payload"
    for bad in (
        cbor2.dumps(good),
        cbor2.dumps(cbor2.CBORTag(98, good)),
        cbor2.dumps(cbor2.CBORTag(18, good[:3])),
        cbor2.dumps(cbor2.CBORTag(18, [b"", [], b"", b""])),
        cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps([1]), {}, b"", b""])),
        cbor2.dumps(cbor2.CBORTag(18, [{1: -7}, {}, b"", b""])),
    ):
        with pytest.raises(FormatError):
            parse_sign1(bad)
