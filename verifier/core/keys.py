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
    """``{1: 2, -1: 1, -2: x, -3: y}`` (EC2, P-256) to a public key.

    ``x`` is 32 bytes; ``y`` is 32 bytes or a bool, the sign bit of a compressed point
    (RFC 9053 section 7.1.1). Either way the point must lie on P-256."""
    if not isinstance(cose_key, dict):
        raise FormatError("cnf: COSE_Key is not a map")
    if cose_key.get(1) != 2 or type(cose_key.get(1)) is not int:
        raise FormatError("cnf: key type is not EC2")
    if cose_key.get(-1) != 1 or type(cose_key.get(-1)) is not int:
        raise FormatError("cnf: curve is not P-256")
    x, y = cose_key.get(-2), cose_key.get(-3)
    if type(x) is not bytes or len(x) != COORD_LENGTH:
        raise FormatError("cnf: x is not a 32-byte string")
    if type(y) is bool:
        prefix = b"\x03" if y else b"\x02"  # SEC 1 compressed point: 3 for an odd y
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), prefix + x)
        except ValueError:
            raise FormatError("cnf: compressed point is not on the P-256 curve") from None
    if type(y) is not bytes or len(y) != COORD_LENGTH:
        raise FormatError("cnf: y is neither a 32-byte string nor a sign bit")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError:
        raise FormatError("cnf: point is not on the P-256 curve") from None


def public_to_cose_key(
    key: ec.EllipticCurvePublicKey, compressed: bool = False
) -> dict[int, object]:
    """The EC2 COSE_Key of ``key``; ``compressed`` sends ``y`` as its sign bit (32 bytes less)."""
    numbers = key.public_numbers()
    return {
        1: 2,
        -1: 1,
        -2: numbers.x.to_bytes(COORD_LENGTH, "big"),
        -3: bool(numbers.y & 1) if compressed else numbers.y.to_bytes(COORD_LENGTH, "big"),
    }
