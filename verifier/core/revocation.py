"""The revocation list: sorted 16-byte credential ids, searched in place (ML1 section 5).

The ids are not copied out of the signed bytes: ``ids`` is a read-only view into ``raw`` (the
list as signed, which the store needs anyway), so a million entries cost the 16 MB of the
download and no per-entry objects; a lookup is a binary search of ~20 slice comparisons.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from verifier.core.errors import ListError
from verifier.core.keys import Anchor, spki_der
from verifier.core.signedlist import open_signed_list

ID_LENGTH = 16
# Where to look for the ids inside the signed bytes: a 64-byte prefix locates them at once,
# and a full memcmp confirms. Random 64-byte strings do not repeat in a list, but only this
# many candidates are tried before keeping a copy instead (correct either way).
_PREFIX = 64
_CANDIDATES = 4

# Lists already verified and still alive somewhere in the process, by (anchor SPKI, SHA-256 of
# the signed bytes). The same bytes under the same anchor verify the same way, so loading the
# list the app already holds (the sync does, to compare seq) returns that object instead of a
# second copy with its decode buffers. Weak: the cache never keeps a list alive.
_verified: weakref.WeakValueDictionary[tuple[bytes, bytes], RevocationList] = (
    weakref.WeakValueDictionary()
)
_verified_lock = threading.Lock()


def _strictly_ascending(ids: bytes | memoryview) -> bool:
    """True when the 16-byte ids are sorted ascending without duplicates (vectorised)."""
    if len(ids) <= ID_LENGTH:
        return True
    words = np.frombuffer(ids, dtype=">u8").reshape(-1, 2)
    hi, lo = words[:, 0], words[:, 1]
    greater = (hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] > lo[:-1]))
    return bool(greater.all())


def _view_in(raw: bytes, ids: bytes | memoryview) -> bytes | memoryview:
    """``ids`` as a read-only view of the same bytes inside ``raw``, else ``ids`` itself.

    The payload's byte strings are contiguous in ``raw`` unless the list used chunked
    (indefinite-length) strings; then, or for an empty list, the decoded copy is kept. The view
    holds equal bytes (``startswith`` compares them all), so lookups cannot differ.
    """
    if not ids or isinstance(ids, memoryview):  # empty, or already a view into ``raw``
        return ids
    start = 0
    for _ in range(_CANDIDATES):
        start = raw.find(ids[:_PREFIX], start)
        if start < 0:
            break
        if raw.startswith(ids, start):
            return memoryview(raw)[start : start + len(ids)]
        start += 1
    return ids


@dataclass(frozen=True)
class RevocationList:
    seq: int
    iat: int
    # The sorted ids, 16 bytes each: a read-only memoryview into ``raw`` (or bytes). Supports
    # len(), slicing, bytes() and ==; slices are views too, so convert them with bytes().
    ids: bytes | memoryview = field(repr=False)
    raw: bytes = field(repr=False)

    def __len__(self) -> int:
        return len(self.ids) // ID_LENGTH

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def __contains__(self, cti: object) -> bool:
        if not isinstance(cti, bytes) or len(cti) != ID_LENGTH:
            return False
        ids = self.ids
        lo, hi = 0, len(ids) // ID_LENGTH
        while lo < hi:
            mid = (lo + hi) // 2
            start = mid * ID_LENGTH
            probe = bytes(ids[start : start + ID_LENGTH])
            if probe < cti:
                lo = mid + 1
            elif probe > cti:
                hi = mid
            else:
                return True
        return False

    @classmethod
    def from_bytes(cls, data: bytes, anchor: Anchor) -> RevocationList:
        """Verify and parse; raises ListError. Nothing is trusted before the TA signature."""
        key = (spki_der(anchor.key), hashlib.sha256(data).digest())
        with _verified_lock:
            held = _verified.get(key)
        if held is not None and type(held) is cls and held.raw == data:
            return held
        payload = open_signed_list(data, anchor, "revocation list")
        ids = payload.get("ids")
        if type(ids) not in (bytes, memoryview) or len(ids) % ID_LENGTH:
            raise ListError("revocation list: ids is not a multiple of 16 bytes")
        if not _strictly_ascending(ids):
            raise ListError("revocation list: ids are not sorted ascending without duplicates")
        new = cls(seq=payload["seq"], iat=payload["iat"], ids=_view_in(data, ids), raw=data)
        with _verified_lock:
            _verified[key] = new
        return new
