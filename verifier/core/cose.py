"""COSE_Sign1 (RFC 9052) as ML1 section 2 profiles it: tag 18, ES256 only, raw r||s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from verifier.core import cbor
from verifier.core.errors import FormatError, SignatureError

COSE_SIGN1_TAG = 18
ALG_ES256 = -7
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_KID = 4
SIGNATURE_LENGTH = 64


@dataclass(frozen=True)
class Sign1:
    protected_raw: bytes
    protected: dict[Any, Any]
    payload: bytes | memoryview  # a view only for large list payloads (cbor view_over)
    signature: bytes

    @property
    def alg(self) -> object:
        return self.protected.get(HEADER_ALG)

    @property
    def kid(self) -> object:
        """The kid from the *protected* header only; an unprotected kid is never used."""
        return self.protected.get(HEADER_KID)


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("length too large")


def _sig_structure_parts(
    protected_raw: bytes, payload: bytes | memoryview
) -> tuple[bytes | memoryview, ...]:
    return (
        _head(4, 4),
        _head(3, 10),
        b"Signature1",
        _head(2, len(protected_raw)),
        protected_raw,
        _head(2, 0),
        _head(2, len(payload)),
        payload,
    )


def sig_structure(protected_raw: bytes, payload: bytes) -> bytes:
    """Encoded ``["Signature1", protected, h'', payload]`` (external_aad empty)."""
    return b"".join(_sig_structure_parts(protected_raw, payload))


def sig_structure_sha256(protected_raw: bytes, payload: bytes | memoryview) -> bytes:
    """SHA-256 of the Sig_structure, hashed piece by piece: a 16 MB revocation list is not
    copied once more just to be hashed (the Pi Zero's memory budget)."""
    digest = hashes.Hash(hashes.SHA256())
    for part in _sig_structure_parts(protected_raw, payload):
        digest.update(part)
    return digest.finalize()


def parse_sign1(
    data: bytes, max_depth: int = cbor.DEFAULT_MAX_DEPTH, view_over: int | None = None
) -> Sign1:
    """Parse a tagged COSE_Sign1; raises FormatError for anything off-profile.

    ``view_over``: see ``cbor.loads`` (a large payload stays a view into ``data``)."""
    item = cbor.loads(data, max_depth=max_depth, view_over=view_over)
    return sign1_from_item(item, max_depth)


def sign1_from_item(item: object, max_depth: int = cbor.DEFAULT_MAX_DEPTH) -> Sign1:
    if not isinstance(item, cbor.Tag) or item.number != COSE_SIGN1_TAG:
        raise FormatError("COSE_Sign1: tag 18 is missing")
    body = item.value
    if not isinstance(body, list) or len(body) != 4:
        raise FormatError("COSE_Sign1: not an array of four")
    protected_raw, unprotected, payload, signature = body
    if not isinstance(protected_raw, bytes):
        raise FormatError("COSE_Sign1: protected header is not a byte string")
    if not isinstance(unprotected, dict):
        raise FormatError("COSE_Sign1: unprotected header is not a map")
    if not isinstance(payload, bytes | memoryview):
        raise FormatError("COSE_Sign1: payload is not a byte string")
    if not isinstance(signature, bytes):
        raise FormatError("COSE_Sign1: signature is not a byte string")
    # RFC 9052: a zero-length protected bstr stands for the empty map.
    protected = cbor.loads(protected_raw, max_depth=max_depth) if protected_raw else {}
    if not isinstance(protected, dict):
        raise FormatError("COSE_Sign1: protected header is not a map")
    if HEADER_CRIT in protected:  # ML1 defines no critical extensions (section 2)
        raise FormatError("COSE_Sign1: crit parameter present")
    return Sign1(protected_raw, protected, payload, signature)


def verify_es256(key: ec.EllipticCurvePublicKey, message: Sign1) -> None:
    """Return nothing or raise SignatureError; the caller has already checked ``alg``."""
    sig = message.signature
    if len(sig) != SIGNATURE_LENGTH:
        raise SignatureError("signature is not 64 bytes")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    try:
        digest = sig_structure_sha256(message.protected_raw, message.payload)
        # Still ES256 (ECDSA over SHA-256); the hash is just computed by us, incrementally.
        key.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except (InvalidSignature, ValueError):
        raise SignatureError("signature does not verify") from None


def sign_es256(
    private_key: ec.EllipticCurvePrivateKey, protected_raw: bytes, payload: bytes
) -> bytes:
    """The 64-byte r||s signature over the Sig_structure (used by the issuer stub)."""
    der = private_key.sign(sig_structure(protected_raw, payload), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
