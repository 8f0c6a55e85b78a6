"""A strict, bounded CBOR (RFC 8949) decoder for untrusted bytes.

Why not ``cbor2.loads``: it applies semantic tags (a tag-2 bignum comes back as an ``int`` and
would pass as ``uint``; tags 28/29 build cyclic structures), and it silently ignores bytes after
the first item. Here tags are returned as :class:`Tag` values for the caller to judge, trailing
bytes are an error, nesting is capped, every length is checked against the bytes actually left
before anything is allocated, and map keys are restricted to int, text and bytes (so ``true``
or ``1.0`` can never stand in for the integer key ``1``). cbor2 is still used to *encode*.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from verifier.core.errors import FormatError

DEFAULT_MAX_DEPTH = 16
_BREAK = object()


@dataclass(frozen=True, slots=True)
class Tag:
    number: int
    value: Any


@dataclass(frozen=True, slots=True)
class Simple:
    """A simple value other than false/true/null (``undefined`` is ``Simple(23)``)."""

    value: int


class _Reader:
    __slots__ = ("data", "max_depth", "pos", "view_over")

    def __init__(self, data: bytes | memoryview, max_depth: int, view_over: int | None) -> None:
        self.data = memoryview(data).toreadonly()  # slicing a view copies nothing
        self.pos = 0
        self.max_depth = max_depth
        self.view_over = view_over

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise FormatError("cbor: unexpected end of data")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def argument(self, info: int) -> int | None:
        """The head's argument; None for indefinite length (info 31)."""
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return int.from_bytes(self.take(2), "big")
        if info == 26:
            return int.from_bytes(self.take(4), "big")
        if info == 27:
            return int.from_bytes(self.take(8), "big")
        if info == 31:
            return None
        raise FormatError(f"cbor: reserved additional information {info}")

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def item(self, depth: int, allow_break: bool = False) -> Any:
        if depth > self.max_depth:
            raise FormatError(f"cbor: nesting deeper than {self.max_depth} levels")
        head = self.take(1)[0]
        major, info = head >> 5, head & 0x1F
        if head == 0xFF:
            if allow_break:
                return _BREAK
            raise FormatError("cbor: unexpected break")
        if major == 7:
            return self._simple_or_float(info)
        arg = self.argument(info)
        if major == 0:
            if arg is None:
                raise FormatError("cbor: indefinite integer")
            return arg
        if major == 1:
            if arg is None:
                raise FormatError("cbor: indefinite integer")
            return -1 - arg
        if major in (2, 3):
            raw = self._string(major, arg)
            if major == 2:
                if self.view_over is not None and len(raw) > self.view_over:
                    return raw  # a read-only view into the input (see loads)
                return bytes(raw)
            try:
                return str(raw, "utf-8")
            except UnicodeDecodeError:
                raise FormatError("cbor: text string is not UTF-8") from None
        if major == 4:
            return self._array(arg, depth)
        if major == 5:
            return self._map(arg, depth)
        # major 6: tag
        if arg is None:
            raise FormatError("cbor: indefinite tag")
        return Tag(arg, self.item(depth + 1))

    def _string(self, major: int, length: int | None) -> memoryview:
        if length is not None:
            return self.take(length)
        chunks = []
        while True:
            head = self.take(1)[0]
            if head == 0xFF:
                return memoryview(b"".join(chunks))
            if head >> 5 != major:
                raise FormatError("cbor: bad chunk in indefinite string")
            size = self.argument(head & 0x1F)
            if size is None:
                raise FormatError("cbor: nested indefinite string")
            chunks.append(self.take(size))

    def _array(self, length: int | None, depth: int) -> list[Any]:
        out: list[Any] = []
        if length is None:
            while (value := self.item(depth + 1, allow_break=True)) is not _BREAK:
                out.append(value)
            return out
        if length > self.remaining():
            raise FormatError("cbor: array longer than the data")
        for _ in range(length):
            out.append(self.item(depth + 1))
        return out

    def _map(self, length: int | None, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        if length is not None and length * 2 > self.remaining():
            raise FormatError("cbor: map longer than the data")
        count = 0
        while length is None or count < length:
            key = self.item(depth + 1, allow_break=length is None)
            if key is _BREAK:
                break
            if type(key) not in (int, str, bytes):
                raise FormatError("cbor: map key is not an integer, text or bytes")
            if key in out:
                raise FormatError(f"cbor: duplicate map key {key!r}")
            out[key] = self.item(depth + 1)
            count += 1
        return out

    def _simple_or_float(self, info: int) -> Any:
        if info < 20:
            return Simple(info)
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 23:
            return Simple(23)
        if info == 24:
            value = self.take(1)[0]
            if value < 32:
                raise FormatError("cbor: simple value in two bytes below 32")
            return Simple(value)
        if info == 25:
            return struct.unpack(">e", self.take(2))[0]
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        raise FormatError(f"cbor: reserved simple encoding {info}")


def loads(
    data: bytes | memoryview, max_depth: int = DEFAULT_MAX_DEPTH, view_over: int | None = None
) -> Any:
    """Decode exactly one CBOR item that spans all of ``data``.

    Byte strings are ``bytes``; with ``view_over`` set, those longer than it are read-only
    ``memoryview`` slices of ``data`` instead, so a 16 MB revocation list is not copied (the
    Pi Zero's memory budget). Only the list path asks for that.
    """
    if not isinstance(data, bytes | memoryview):
        raise FormatError("cbor: input is not bytes")
    reader = _Reader(data, max_depth, view_over)
    value = reader.item(1)  # the outermost item is level 1 (ML1 section 4)
    if reader.remaining():
        raise FormatError(f"cbor: {reader.remaining()} bytes follow the item")
    return value
