"""The phone's key as the web wallet sends it (a compressed point, or a WebCrypto JWK) and its
ES256 signatures."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from issuer_stub.errors import Forbidden, InvalidInput
from verifier.core.keys import COORD_LENGTH, spki_der

_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def b64url_decode(value: object, field: str) -> bytes:
    if not isinstance(value, str) or len(value) > 200 or not _B64URL.fullmatch(value):
        raise InvalidInput(f"{field} must be base64url text", "invalid_input")
    stripped = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is not valid base64url", "invalid_input") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_jwk(jwk: object) -> ec.EllipticCurvePublicKey:
    """``{"kty": "EC", "crv": "P-256", "x": ..., "y": ...}``; other members are ignored."""
    if not isinstance(jwk, dict):
        raise InvalidInput("device_key must be a JWK object", "bad_device_key")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidInput("device_key must be an EC P-256 key", "bad_device_key")
    if "d" in jwk:
        raise InvalidInput("device_key must be the public key only (it has 'd')",
                           "bad_device_key")
    try:
        x, y = b64url_decode(jwk.get("x"), "device_key.x"), b64url_decode(jwk.get("y"),
                                                                         "device_key.y")
    except InvalidInput as exc:
        raise InvalidInput(exc.message, "bad_device_key") from None
    if len(x) != COORD_LENGTH or len(y) != COORD_LENGTH:
        raise InvalidInput("device_key coordinates must be 32 bytes each", "bad_device_key")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError:
        raise InvalidInput("device_key is not a point on the P-256 curve",
                           "bad_device_key") from None


def from_compressed(value: object) -> ec.EllipticCurvePublicKey:
    """base64url of the 33-byte compressed point (SEC1: 02 or 03 by the sign bit of y, then x)."""
    try:
        point = b64url_decode(value, "device_key")
    except InvalidInput as exc:
        raise InvalidInput(exc.message, "bad_device_key") from None
    if len(point) != 1 + COORD_LENGTH or point[0] not in (2, 3):
        raise InvalidInput("device_key must be a 33-byte compressed P-256 point",
                           "bad_device_key")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidInput("device_key is not a point on the P-256 curve",
                           "bad_device_key") from None


def from_wire(value: object) -> ec.EllipticCurvePublicKey:
    """The ``device_key`` of an activation: a compressed point (text) or a JWK (an object)."""
    return from_compressed(value) if isinstance(value, str) else from_jwk(value)


def to_compressed(key: ec.EllipticCurvePublicKey) -> str:
    return b64url_encode(key.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.CompressedPoint))


def to_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    n = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(n.x.to_bytes(COORD_LENGTH, "big")),
        "y": b64url_encode(n.y.to_bytes(COORD_LENGTH, "big")),
    }


def to_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return spki_der(key)


def from_der(der: bytes) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(der)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def verify_raw(key: ec.EllipticCurvePublicKey, message: bytes, signature: bytes) -> None:
    """ES256 with a raw 64-byte r||s signature (what WebCrypto produces); raises Forbidden."""
    if len(signature) != 64:
        raise Forbidden("the signature must be 64 bytes (r||s)", "bad_signature")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise Forbidden("the signature does not verify with the credential's device key",
                        "bad_signature") from None


def sign_raw(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """What a phone does (tests, the CLI's simulated phone)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
