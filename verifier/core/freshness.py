"""How fresh the held lists are, for the status bar: a pure function of the lists and ``now``.

The flags use the same rules as the verdict warnings (``policy.list_warnings``), so the status
bar never says "fresh" while a check would warn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.core.policy import REVOCATION_MAX_AGE
from verifier.core.revocation import RevocationList
from verifier.core.trustlist import TrustList


@dataclass(frozen=True)
class Freshness:
    trust_list_seq: int | None
    trust_list_age: int | None  # seconds since the list's iat; None when no list is held
    revocation_seq: int | None
    revocation_age: int | None
    revoked_count: int | None
    stale: bool  # no revocation list, or one older than 24 h (revocation_list_stale)
    clock_behind: bool  # now is before a held list's iat (clock_behind)
    last_sync_age: int | None = None  # seconds since the last sync attempt, from the state
    last_sync_ok: bool | None = None

    @property
    def can_verify(self) -> bool:
        """Without a trust list nothing can be verified (ML1 section 6)."""
        return self.trust_list_seq is not None


def summarise(
    trust_list: TrustList | None,
    revocations: RevocationList | None,
    now: int,
    state: Mapping[str, Any] | None = None,
) -> Freshness:
    """``state`` is ``ListStore.state()`` (written by the device sync), for the last-sync fields."""
    last = (state or {}).get("last_sync")
    last = last if isinstance(last, dict) else {}
    at, ok = last.get("at"), last.get("ok")
    iats = [lst.iat for lst in (trust_list, revocations) if lst is not None]
    revocation_age = None if revocations is None else now - revocations.iat
    return Freshness(
        trust_list_seq=None if trust_list is None else trust_list.seq,
        trust_list_age=None if trust_list is None else now - trust_list.iat,
        revocation_seq=None if revocations is None else revocations.seq,
        revocation_age=revocation_age,
        revoked_count=None if revocations is None else len(revocations),
        stale=revocation_age is None or revocation_age > REVOCATION_MAX_AGE,
        clock_behind=any(now < iat for iat in iats),
        last_sync_age=now - at if type(at) is int else None,
        last_sync_ok=ok if type(ok) is bool else None,
    )


def format_age(seconds: int | None) -> str:
    """A short, language-neutral age: ``45 s``, ``12 min``, ``5 h``, ``3 d``; ``-`` if none."""
    if seconds is None:
        return "-"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{sign}{seconds // size} {unit}"
    return f"{sign}{seconds} s"
