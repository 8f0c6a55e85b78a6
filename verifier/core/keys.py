"""P-256 public keys: SPKI DER/PEM, COSE_Key, kid (ML1 section 1)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from verifier.core.errors import FormatError

KID_LENGTH = 8
COORD_LENGTH = 32


def spki_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def kid_of_der(der: bytes) -> bytes:
    """kid = the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER."""
    return hashlib.sha256(der).digest()[:KID_LENGTH]


def kid_of(key: ec.EllipticCurvePublicKey) -> bytes:
    return kid_of_der(spki_der(key))


def _require_p256(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise FormatError("key is not an ECDSA P-256 public key")
    return key


def load_spki_der(der: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, AssertionError) as exc:
        raise FormatError(f"not a SubjectPublicKeyInfo: {exc}") from None
    return _require_p256(key)


def load_pem_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, AssertionError) as exc:
        raise FormatError(f"not a PEM public key: {exc}") from None
    return _require_p256(key)


@dataclass(frozen=True)
class Anchor:
    """The pinned trust anchor: the ministry key that signs both lists."""

    key: ec.EllipticCurvePublicKey
    kid: bytes

    @classmethod
    def from_pem(cls, pem: bytes) -> Anchor:
        key = load_pem_public_key(pem)
        return cls(key=key, kid=kid_of(key))


def cose_key_to_public(cose_key: object) -> ec.EllipticCurvePublicKey:
    """``{1: 2, -1: 1, -2: x, -3: y}`` (EC2, P-256, 32-byte coordinates) to a public key."""
    if not isinstance(cose_key, dict):
        raise FormatError("cnf: COSE_Key is not a map")
    if cose_key.get(1) != 2 or type(cose_key.get(1)) is not int:
        raise FormatError("cnf: key type is not EC2")
    if cose_key.get(-1) != 1 or type(cose_key.get(-1)) is not int:
        raise FormatError("cnf: curve is not P-256")
    x, y = cose_key.get(-2), cose_key.get(-3)
    if not (isinstance(x, bytes) and isinstance(y, bytes)):
        raise FormatError("cnf: coordinates are not byte strings")
    if len(x) != COORD_LENGTH or len(y) != COORD_LENGTH:
        raise FormatError("cnf: coordinates are not 32 bytes")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError:
        raise FormatError("cnf: point is not on the P-256 curve") from None


def public_to_cose_key(key: ec.EllipticCurvePublicKey) -> dict[int, object]:
    numbers = key.public_numbers()
    return {
        1: 2,
        -1: 1,
        -2: numbers.x.to_bytes(COORD_LENGTH, "big"),
        -3: numbers.y.to_bytes(COORD_LENGTH, "big"),
    }
