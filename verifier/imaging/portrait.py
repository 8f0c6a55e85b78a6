"""The credential's signed photo, decoded for the screen: the one place that decodes it.

ML1 section 3 (revision 2): the photo is a JPEG, WebP or AVIF image of at most 1024 bytes, and a
verifier never decodes an image whose header declares more than 256 x 256 pixels (a few signed
bytes can declare gigapixels). Such a photo, or one Pillow cannot read, is "not displayable":
the verdict does not change, the screen says the photo cannot be displayed.

Pillow reads the header first (``Image.open`` parses only the header); the declared size is
checked before any pixel is decoded. Decoding is cached by credential id, so the same photo is
decoded once however often the screen is redrawn or the phone refreshes its code.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image

from verifier.core.credential import photo_format

MAX_SIDE = 256  # pixels, either side (spec section 3)
# Revision 1 allowed 2048-byte JPEGs; the core enforces the current bound, this one only keeps
# a bug upstream from handing the decoder something large.
MAX_BYTES = 4096
# Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS, checked by Image.open from the header) is
# left at its default: it is process-wide, and the issuer stub, which may share the process
# (tests, a field tester's laptop), opens phone photos of millions of pixels with it. The
# check that matters here is ours: the header's size, read before any pixel is decoded.


def sniff(data: bytes) -> str | None:
    """The Pillow format the first bytes announce (the core's rule, spec section 3), or None."""
    kind = photo_format(data)
    return None if kind is None else kind.upper()


@dataclass(frozen=True)
class Portrait:
    """A decoded photo (RGB, at most 256 x 256), or why it cannot be displayed."""

    image: Image.Image | None
    problem: str | None = None  # for tests and field testers; never contains pixel data

    @property
    def displayable(self) -> bool:
        return self.image is not None


def _not_displayable(problem: str) -> Portrait:
    return Portrait(None, problem)


def decode_portrait(data: bytes) -> Portrait:
    """Decode a signed photo for display; never raises, never decodes an oversized picture."""
    if len(data) > MAX_BYTES:
        return _not_displayable(f"{len(data)} bytes")
    kind = sniff(data)
    if kind is None:
        return _not_displayable("not a JPEG, WebP or AVIF image")
    try:
        # formats=: only the plugin the bytes announce may parse them (an allow-list).
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                return _not_displayable(f"declares {width}x{height} pixels")
            image.load()  # the first frame only, for an animated WebP or AVIF
            if image.size != (width, height):
                return _not_displayable("decoded size differs from the header")
            return Portrait(image.convert("RGB"))
    except Image.DecompressionBombError:
        return _not_displayable("declares more pixels than a portrait may")
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, EOFError, ...
        return _not_displayable(f"unreadable ({type(exc).__name__})")


class PortraitCache:
    """Decoded photos of the last few credentials, keyed by credential id (``cti``).

    Small on purpose (a photo is personal data): the app clears it when the verdict leaves the
    screen. ``decodes`` counts real decodes, for tests.
    """

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._items: OrderedDict[bytes, tuple[bytes, Portrait]] = OrderedDict()
        self.decodes = 0

    def get(self, key: bytes, data: bytes) -> Portrait:
        cached = self._items.get(key)
        if cached is not None and cached[0] == data:  # same id, same signed bytes
            self._items.move_to_end(key)
            return cached[1]
        portrait = decode_portrait(data)
        self.decodes += 1
        self._items[key] = (data, portrait)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return portrait

    def clear(self) -> None:
        self._items.clear()
