"""P-256 key generation and storage. Private keys are written 0600, atomically."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer_stub.errors import SetupError
from verifier.core.keys import spki_der
from verifier.device.atomicfile import write_atomic

__all__ = ["write_atomic"]  # re-exported for the stub's own writers


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def save_private_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    write_atomic(path, private_pem(key), mode=0o600)


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):  # empty, truncated, encrypted
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SetupError(f"{path} is not a P-256 private key (damaged?); restore it from a "
                         "backup or make a new issuer directory with 'issuer-stub init'")
    return key


def public_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return spki_der(key.public_key())
