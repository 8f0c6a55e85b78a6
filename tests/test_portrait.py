"""The signed photo's decoder: formats of spec revision 2, bombs never decoded, one decode per
credential."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, features

from tests.portraits import PORTRAIT_JPEG, bomb_jpeg, encoded
from verifier.imaging.portrait import MAX_SIDE, PortraitCache, decode_portrait, sniff


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "AVIF"])
def test_each_allowed_format_decodes_to_the_signed_picture(fmt: str) -> None:
    if fmt == "AVIF" and not features.check("avif"):
        pytest.skip("this Pillow has no AVIF decoder")
    data = encoded(fmt)
    assert sniff(data) == fmt
    portrait = decode_portrait(data)
    assert portrait.displayable and portrait.image is not None
    assert portrait.image.size == (48, 64) and portrait.image.mode == "RGB"
    # The same face: pixels close to the committed JPEG's (lossy codecs differ a little).
    reference = np.asarray(Image.open(io.BytesIO(PORTRAIT_JPEG)).convert("RGB"), float)
    assert np.abs(np.asarray(portrait.image, float) - reference).mean() < 20


def test_pillow_wheel_has_avif() -> None:
    # deploy/README says the Pi's wheel decodes AVIF; this machine's must too (Pillow >= 11.2).
    assert features.check("avif")


@pytest.mark.parametrize("side", [65000, 30000])
def test_a_333_byte_photo_bomb_is_not_decoded(side: int) -> None:
    data = bomb_jpeg(side, side)
    assert len(data) == 333
    portrait = decode_portrait(data)
    assert not portrait.displayable
    assert portrait.problem is not None


def test_a_picture_over_256_on_one_side_is_not_decoded_even_when_small_in_pixels() -> None:
    # 300 x 200 is fewer pixels than 256 x 256: the side limit holds by itself.
    portrait = decode_portrait(bomb_jpeg(MAX_SIDE + 44, 200))
    assert not portrait.displayable and portrait.problem == "declares 300x200 pixels"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8\xff",  # a JPEG start, nothing else
        PORTRAIT_JPEG[:200],  # truncated
        b"GIF89a" + bytes(100),  # not an allowed format
        b"RIFF\x00\x00\x00\x00WEBPVP8 garbage",
        b"\x00\x00\x00\x1cftypavif" + bytes(40),
        b"\x89PNG\r\n\x1a\n" + bytes(50),
        bytes(5000),  # larger than any signed photo
    ],
)
def test_damaged_or_foreign_bytes_are_not_displayable_and_never_raise(data: bytes) -> None:
    assert not decode_portrait(data).displayable


def test_a_png_is_not_parsed_even_if_labelled_as_jpeg() -> None:
    # Only the plugin the first bytes announce may parse the bytes (formats= allow-list).
    png = encoded("PNG")
    assert not decode_portrait(b"\xff\xd8\xff" + png).displayable


def test_cache_decodes_once_per_credential() -> None:
    cache = PortraitCache(size=2)
    photo = encoded("WEBP")
    first = cache.get(b"a" * 16, photo)
    for _ in range(5):
        assert cache.get(b"a" * 16, photo) is first
    assert cache.decodes == 1
    cache.get(b"b" * 16, PORTRAIT_JPEG)
    cache.get(b"c" * 16, PORTRAIT_JPEG)  # evicts "a"
    cache.get(b"a" * 16, photo)
    assert cache.decodes == 4
    # Another photo under the same id (never signed so, but cheap to honour): decoded anew.
    assert cache.get(b"a" * 16, PORTRAIT_JPEG) is not first
    cache.clear()
    cache.get(b"a" * 16, PORTRAIT_JPEG)
    assert cache.decodes == 6


# Mutation fuzz of the photo decoder (issue 12: the photo widget's input is signed but hostile):
# real portraits of each format with bytes flipped, cut or spliced, a fixed seed in the fast
# tier. Whatever comes out, decoding never raises and never yields a picture over 256 x 256.
_SEEDS = [encoded(fmt) for fmt in ("JPEG", "WEBP", "AVIF")]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.sampled_from(_SEEDS),
    st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 255)), max_size=8),
    st.integers(0, 1024),
)
def test_mutated_portraits_never_raise_and_never_decode_oversized(
    seed: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for at, value in flips:
        data[at % len(data)] = value
    portrait = decode_portrait(bytes(data[: max(cut, 12)]))
    if portrait.displayable:
        assert portrait.image is not None
        assert max(portrait.image.size) <= MAX_SIDE
