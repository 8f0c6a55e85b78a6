"""The revocation list: sorted 16-byte credential ids, searched in place (ML1 section 5).

The ids stay one ``bytes`` buffer: a million entries cost 16 MB and no per-entry objects;
a lookup is a binary search of ~20 slice comparisons.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from verifier.errors import ListError
from verifier.keys import Anchor
from verifier.signedlist import open_signed_list

ID_LENGTH = 16


def _strictly_ascending(ids: bytes) -> bool:
    """True when the 16-byte ids are sorted ascending without duplicates (vectorised)."""
    if len(ids) <= ID_LENGTH:
        return True
    words = np.frombuffer(ids, dtype=">u8").reshape(-1, 2)
    hi, lo = words[:, 0], words[:, 1]
    greater = (hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] > lo[:-1]))
    return bool(greater.all())


@dataclass(frozen=True)
class RevocationList:
    seq: int
    iat: int
    ids: bytes = field(repr=False)
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
            probe = ids[start : start + ID_LENGTH]
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
        payload = open_signed_list(data, anchor, "revocation list")
        ids = payload.get("ids")
        if type(ids) is not bytes or len(ids) % ID_LENGTH:
            raise ListError("revocation list: ids is not a multiple of 16 bytes")
        if not _strictly_ascending(ids):
            raise ListError("revocation list: ids are not sorted ascending without duplicates")
        return cls(seq=payload["seq"], iat=payload["iat"], ids=ids, raw=data)
