"""Photos for the tests: real JPEG/WebP/AVIF portraits and 'photo bombs' (tiny files whose
header declares a huge picture)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image

PORTRAIT_JPEG = (Path(__file__).parent / "data" / "portrait.jpg").read_bytes()


def encoded(fmt: str, quality: int = 40) -> bytes:
    """The committed portrait re-encoded as ``fmt`` (JPEG, WEBP, AVIF)."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(PORTRAIT_JPEG)).save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def bomb_jpeg(width: int, height: int, size: int = 333) -> bytes:
    """A valid little JPEG, ``size`` bytes, whose frame header declares width x height."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 100).save(buffer, "JPEG", quality=20, optimize=True)
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    pad = size - len(data)
    assert pad >= 4, f"the base JPEG is already {len(data)} bytes"
    comment = b"\xff\xfe" + struct.pack(">H", pad - 2) + b"x" * (pad - 4)
    return bytes(data[:2] + comment + data[2:])
