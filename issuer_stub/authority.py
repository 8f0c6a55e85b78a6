"""The ministry (trust anchor, lists) and a university (issuer key, credentials), in memory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from issuer_stub.keystore import new_key
from issuer_stub.signing import (
    IssuerListing,
    StudentData,
    credential_claims,
    sign_credential,
    sign_revocation_list,
    sign_trust_list,
)
from verifier.core.keys import Anchor, kid_of

YEAR = 365 * 24 * 3600


@dataclass
class University:
    iss: str
    name: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)

    @property
    def kid(self) -> bytes:
        return kid_of(self.key.public_key())

    def listing(self, nbf: int, exp: int) -> IssuerListing:
        return IssuerListing(self.iss, self.name, self.key.public_key(), nbf, exp)

    def issue(
        self,
        student: StudentData,
        device_key: ec.EllipticCurvePublicKey,
        *,
        iat: int,
        nbf: int | None = None,
        exp: int,
        cti: bytes | None = None,
    ) -> bytes:
        claims = credential_claims(
            iss=self.iss,
            student=student,
            device_key=device_key,
            cti=os.urandom(16) if cti is None else cti,
            iat=iat,
            nbf=iat if nbf is None else nbf,
            exp=exp,
        )
        return sign_credential(self.key, claims)


@dataclass
class Ministry:
    key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    listings: list[IssuerListing] = field(default_factory=list)
    revoked: set[bytes] = field(default_factory=set)
    trust_seq: int = 0
    revocation_seq: int = 0

    @property
    def anchor(self) -> Anchor:
        return Anchor(key=self.key.public_key(), kid=kid_of(self.key.public_key()))

    def admit(self, university: University, nbf: int, exp: int) -> None:
        self.listings.append(university.listing(nbf, exp))

    def trust_list(self, iat: int) -> bytes:
        self.trust_seq += 1
        return sign_trust_list(self.key, self.trust_seq, iat, self.listings)

    def revocation_list(self, iat: int) -> bytes:
        self.revocation_seq += 1
        return sign_revocation_list(self.key, self.revocation_seq, iat, self.revoked)
