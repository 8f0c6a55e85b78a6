"""zlib (RFC 1950) decompression with a hard output cap (ML1 section 4)."""

from __future__ import annotations

import zlib

from verifier.core.errors import FormatError

MAX_PRESENTATION_BYTES = 8192


def inflate_bounded(data: bytes, limit: int = MAX_PRESENTATION_BYTES) -> bytes:
    """Decompress one complete zlib stream of at most ``limit`` bytes.

    Decompression stops one byte past the limit, so a zlib bomb costs at most ``limit + 1``
    bytes of output. Truncated streams and trailing bytes after the stream are rejected.
    """
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FormatError(f"zlib: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise FormatError(f"zlib: decompressed data exceeds {limit} bytes")
    if not inflater.eof:
        raise FormatError("zlib: stream is truncated")
    if inflater.unused_data:
        raise FormatError("zlib: bytes follow the end of the stream")
    return out
