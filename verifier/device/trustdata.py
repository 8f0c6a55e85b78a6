"""Loading the trust data a check needs: anchor, trust list and (maybe) revocation list.

Every failure here is a ConfigError with one sentence a user can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from verifier.core.errors import ConfigError, FormatError, ListError
from verifier.core.keys import Anchor
from verifier.core.revocation import RevocationList
from verifier.core.signedlist import open_signed_list
from verifier.core.trustlist import TrustList
from verifier.device.config import Config
from verifier.device.store import ListStore

_List = TypeVar("_List", TrustList, RevocationList)


@dataclass(frozen=True)
class TrustData:
    anchor: Anchor
    trust_list: TrustList
    revocations: RevocationList | None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_anchor(path: Path) -> Anchor:
    try:
        return Anchor.from_pem(_read(path, "trust anchor"))
    except FormatError as exc:
        raise ConfigError(f"trust anchor {path}: {exc.message}") from None


def _swapped(raw: bytes, anchor: Anchor, expected: str) -> str | None:
    """When ``raw`` verifies but is the other kind of list, the sentence that says so."""
    try:
        payload = open_signed_list(raw, anchor, expected)
    except ListError:
        return None  # not a list of ours at all: the loader's own message says why
    if expected == "trust list" and "ids" in payload and "issuers" not in payload:
        return "this is a revocation list, not a trust list (--trust-list takes trustlist.cbor)"
    if expected == "revocation list" and "issuers" in payload and "ids" not in payload:
        return ("this is a trust list, not a revocation list "
                "(--revocation-list takes revocations.cbor)")
    return None


def _load_list(path: Path, what: str, anchor: Anchor, kind: type[_List]) -> _List:
    raw = _read(path, what)
    try:
        return kind.from_bytes(raw, anchor)
    except ListError:
        swapped = _swapped(raw, anchor, what)
        if swapped is not None:
            raise ConfigError(f"{path}: {swapped}") from None
        raise


def load_trust_data(
    config: Config,
    anchor_path: Path | None = None,
    trust_list_path: Path | None = None,
    revocation_path: Path | None = None,
    no_revocation_list: bool = False,
) -> TrustData:
    """Explicit files win; anything not given comes from the config and the cache."""
    anchor = load_anchor(anchor_path or config.anchor)
    store = ListStore(config.cache_dir, anchor)
    try:
        if trust_list_path is not None:
            trust_list = _load_list(trust_list_path, "trust list", anchor, TrustList)
        else:
            cached = store.trust_list()
            if cached is None:
                raise ConfigError(
                    f"no trust list in {config.cache_dir}: run 'verifier sync' or pass --trust-list"
                )
            trust_list = cached
        if no_revocation_list:
            revocations = None
        elif revocation_path is not None:
            revocations = _load_list(revocation_path, "revocation list", anchor, RevocationList)
        else:
            revocations = store.revocations()
    except ListError as exc:
        raise ConfigError(f"{exc.message} (anchor {anchor.kid.hex()})") from None
    return TrustData(anchor, trust_list, revocations)
