"""The trust list: which issuer keys may sign credentials, and when (ML1 section 5)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from verifier.core.errors import FormatError, ListError
from verifier.core.keys import KID_LENGTH, Anchor, kid_of_der, load_spki_der
from verifier.core.signedlist import open_signed_list


@dataclass(frozen=True)
class IssuerEntry:
    kid: bytes
    iss: str
    name: str
    key_der: bytes
    key: ec.EllipticCurvePublicKey = field(compare=False, repr=False)
    nbf: int
    exp: int


@dataclass(frozen=True)
class TrustList:
    seq: int
    iat: int
    issuers: dict[bytes, IssuerEntry]
    raw: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def find(self, kid: bytes) -> IssuerEntry | None:
        return self.issuers.get(kid)

    @classmethod
    def from_bytes(cls, data: bytes, anchor: Anchor) -> TrustList:
        """Verify and parse; raises ListError. Nothing is trusted before the TA signature."""
        payload = open_signed_list(data, anchor, "trust list")
        entries = payload.get("issuers")
        if not isinstance(entries, list):
            raise ListError("trust list: issuers is not an array")
        issuers: dict[bytes, IssuerEntry] = {}
        for index, raw_entry in enumerate(entries):
            entry = _entry(raw_entry, index)
            if entry.kid in issuers:
                raise ListError(f"trust list: issuer {index} repeats kid {entry.kid.hex()}")
            issuers[entry.kid] = entry
        return cls(seq=payload["seq"], iat=payload["iat"], issuers=issuers, raw=data)


def _entry(raw: Any, index: int) -> IssuerEntry:
    where = f"trust list: issuer {index}"
    if not isinstance(raw, dict):
        raise ListError(f"{where} is not a map")
    kid, iss, name, key_der = raw.get("kid"), raw.get("iss"), raw.get("name"), raw.get("key")
    nbf, exp = raw.get("nbf"), raw.get("exp")
    if type(kid) is not bytes or len(kid) != KID_LENGTH:
        raise ListError(f"{where}: kid is not 8 bytes")
    if type(iss) is not str or type(name) is not str:
        raise ListError(f"{where}: iss or name is not text")
    if type(key_der) is not bytes:
        raise ListError(f"{where}: key is not a byte string")
    if type(nbf) is not int or type(exp) is not int or nbf < 0 or exp < 0:
        raise ListError(f"{where}: nbf or exp is not an unsigned integer")
    try:
        key = load_spki_der(key_der)
    except FormatError as exc:
        raise ListError(f"{where}: {exc.message}") from None
    if kid_of_der(key_der) != kid:
        raise ListError(f"{where}: kid does not match its key")
    return IssuerEntry(kid=kid, iss=iss, name=name, key_der=key_der, key=key, nbf=nbf, exp=exp)
