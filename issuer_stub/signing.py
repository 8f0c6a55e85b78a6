"""Build and sign ML1 structures: COSE_Sign1, credentials, presentations, lists, QR text.

Everything is encoded deterministically (RFC 8949 section 4.2.1) with cbor2, and signed with
deterministic ECDSA (RFC 6979): the same key and bytes give the same signature, so a seeded test
set is reproducible byte for byte. The low-level builders take explicit overrides (alg, kid,
raw claims) so tests can make every broken case.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from verifier.core.base45 import b45encode
from verifier.core.cose import ALG_ES256, COSE_SIGN1_TAG, sig_structure
from verifier.core.credential import (
    CLAIM_CNF,
    CLAIM_CTI,
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    CLAIM_NBF,
    CLAIM_STUDENT,
    PREFIX,
)
from verifier.core.keys import kid_of, public_to_cose_key, spki_der
from verifier.core.revocation import ID_LENGTH


def encode(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def sign_es256(
    private_key: ec.EllipticCurvePrivateKey, protected_raw: bytes, payload: bytes
) -> bytes:
    """The 64-byte r||s signature over the Sig_structure, RFC 6979 deterministic."""
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    r, s = decode_dss_signature(private_key.sign(sig_structure(protected_raw, payload), algorithm))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign1(
    key: ec.EllipticCurvePrivateKey,
    payload: bytes,
    kid: bytes | None = None,
    alg: int = ALG_ES256,
    tagged: bool = True,
) -> bytes:
    """A COSE_Sign1 over ``payload``; ``alg`` is only written, the signature is always ES256."""
    header: dict[int, Any] = {1: alg}
    if kid is not None:
        header[4] = kid
    protected = encode(header)
    body = [protected, {}, payload, sign_es256(key, protected, payload)]
    return encode(cbor2.CBORTag(COSE_SIGN1_TAG, body) if tagged else body)


@dataclass(frozen=True)
class StudentData:
    given_names: str
    family_name: str
    birth_date: str
    university: str
    album: str
    photo: bytes | None = None

    def claim(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gn": self.given_names,
            "fn": self.family_name,
            "dob": self.birth_date,
            "uni": self.university,
            "alb": self.album,
        }
        if self.photo is not None:
            out["ph"] = self.photo
        return out


def compressed_cose_key(x: bytes, y_odd: bool) -> dict[int, Any]:
    """An EC2 P-256 COSE_Key with the compressed point: ``y`` is the sign bit of y, a bool
    (RFC 9053 section 7.1.1), 32 bytes shorter than the full coordinate."""
    return {1: 2, -1: 1, -2: x, -3: y_odd}


def credential_claims(
    *,
    iss: str,
    student: StudentData,
    device_key: ec.EllipticCurvePublicKey,
    cti: bytes,
    iat: int,
    nbf: int,
    exp: int,
    compressed_key: bool = True,
) -> dict[int, Any]:
    """The claims map; the device key compressed (what ML1 revision 2 recommends) unless
    ``compressed_key`` is false."""
    return {
        CLAIM_ISS: iss,
        CLAIM_EXP: exp,
        CLAIM_NBF: nbf,
        CLAIM_IAT: iat,
        CLAIM_CTI: cti,
        CLAIM_CNF: {1: public_to_cose_key(device_key, compressed=compressed_key)},
        CLAIM_STUDENT: student.claim(),
    }


def sign_credential(
    issuer_key: ec.EllipticCurvePrivateKey,
    claims: Mapping[Any, Any],
    kid: bytes | None = None,
    alg: int = ALG_ES256,
    tagged: bool = True,
) -> bytes:
    """The credential COSE_Sign1; ``kid`` defaults to the issuer key's own."""
    kid = kid_of(issuer_key.public_key()) if kid is None else kid
    return sign1(issuer_key, encode(dict(claims)), kid=kid, alg=alg, tagged=tagged)


def sign_presentation(
    device_key: ec.EllipticCurvePrivateKey,
    credential: bytes,
    time: int,
    alg: int = ALG_ES256,
    tagged: bool = True,
) -> bytes:
    return sign1(device_key, encode({1: credential, 2: time}), alg=alg, tagged=tagged)


def qr_text(presentation: bytes) -> str:
    return PREFIX + b45encode(zlib.compress(presentation, 9))


@dataclass(frozen=True)
class IssuerListing:
    """One issuer key as the trust list names it."""

    iss: str
    name: str
    key: ec.EllipticCurvePublicKey
    nbf: int
    exp: int

    def entry(self) -> dict[str, Any]:
        der = spki_der(self.key)
        return {
            "kid": kid_of(self.key),
            "iss": self.iss,
            "name": self.name,
            "key": der,
            "nbf": self.nbf,
            "exp": self.exp,
        }


def sign_trust_list(
    anchor_key: ec.EllipticCurvePrivateKey,
    seq: int,
    iat: int,
    issuers: Iterable[IssuerListing],
) -> bytes:
    payload = {"v": 1, "seq": seq, "iat": iat, "issuers": [i.entry() for i in issuers]}
    return sign1(anchor_key, encode(payload), kid=kid_of(anchor_key.public_key()))


def sign_revocation_list(
    anchor_key: ec.EllipticCurvePrivateKey, seq: int, iat: int, ids: Iterable[bytes]
) -> bytes:
    unique = sorted(set(ids))
    if any(len(i) != ID_LENGTH for i in unique):
        raise ValueError("revoked ids must be 16 bytes each")
    payload = {"v": 1, "seq": seq, "iat": iat, "ids": b"".join(unique)}
    return sign1(anchor_key, encode(payload), kid=kid_of(anchor_key.public_key()))
