"""The verifier's cache of the last good trust list and revocation list.

Lists are re-verified with the pinned anchor every time they are loaded, so a file changed on
disk is never trusted. A new list replaces the held one only when it verifies and its ``seq``
is greater (ML1 section 5); the write is atomic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.core.errors import ConfigError, ListError, StaleListError
from verifier.core.keys import Anchor
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList
from verifier.device.atomicfile import remove_orphans, write_atomic

TRUST_LIST_FILE = "trustlist.cbor"
REVOCATION_FILE = "revocations.cbor"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class Offer:
    """What happened to a list offered to the store."""

    accepted: bool
    seq: int
    message: str


def _newer(held_seq: int | None, held_raw: bytes | None, seq: int, raw: bytes, what: str) -> bool:
    """True to store; False for the harmless no-op; StaleListError for an older list."""
    if held_seq is None or seq > held_seq:
        return True
    if seq == held_seq and raw == held_raw:
        return False
    raise StaleListError(f"{what}: seq {seq} is not newer than the held seq {held_seq}")


class ListStore:
    def __init__(self, directory: Path, anchor: Anchor) -> None:
        self.directory = directory
        self.anchor = anchor

    @staticmethod
    def remove_orphans(directory: Path) -> int:
        """At start: temporary files interrupted list writes left in the cache (and in the
        audit log's directory) go; each could be a 16 MB list on the SD card."""
        return remove_orphans(directory) + remove_orphans(directory / "audit")

    @property
    def trust_list_path(self) -> Path:
        return self.directory / TRUST_LIST_FILE

    @property
    def revocation_path(self) -> Path:
        return self.directory / REVOCATION_FILE

    def _read(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None

    def trust_list(self) -> TrustList | None:
        raw = self._read(self.trust_list_path)
        return None if raw is None else TrustList.from_bytes(raw, self.anchor)

    def revocations(self) -> RevocationList | None:
        raw = self._read(self.revocation_path)
        return None if raw is None else RevocationList.from_bytes(raw, self.anchor)

    def _held(self, load: Any) -> Any:
        try:
            return load()
        except ListError:
            return None  # a damaged cache file is replaced by any list that verifies

    def _store_if_newer(
        self,
        new: TrustList | RevocationList,
        held: TrustList | RevocationList | None,
        path: Path,
        what: str,
        stored: str,
    ) -> Offer:
        held_seq, held_raw = (None, None) if held is None else (held.seq, held.raw)
        if not _newer(held_seq, held_raw, new.seq, new.raw, what):
            return Offer(False, new.seq, f"{what} seq {new.seq} already held")
        write_atomic(path, new.raw)
        return Offer(True, new.seq, f"{what} seq {new.seq} stored{stored}")

    def offer_trust_list(self, raw: bytes) -> Offer:
        """Verify and store a trust list if newer; raises ListError when rejected."""
        new = TrustList.from_bytes(raw, self.anchor)
        held = self._held(self.trust_list)
        return self._store_if_newer(new, held, self.trust_list_path, "trust list", "")

    def offer_revocations(self, raw: bytes) -> Offer:
        """Verify and store a revocation list if newer; raises ListError when rejected."""
        new = RevocationList.from_bytes(raw, self.anchor)
        held = self._held(self.revocations)
        ids = f" ({len(new)} ids)"
        return self._store_if_newer(new, held, self.revocation_path, "revocation list", ids)

    # Sync bookkeeping (no personal data): when each step last succeeded or failed.
    def state(self) -> dict[str, Any]:
        raw = self._read(self.directory / STATE_FILE)
        if raw is None:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def record_state(self, **values: Any) -> None:
        state = {**self.state(), **values}
        write_atomic(self.directory / STATE_FILE, json.dumps(state, sort_keys=True).encode())
