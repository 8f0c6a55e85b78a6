"""The credential's CWT claims (ML1 section 3) and the presentation around it (section 4)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from verifier.core import cbor
from verifier.core.base45 import b45decode
from verifier.core.compression import inflate_bounded
from verifier.core.cose import Sign1, parse_sign1
from verifier.core.errors import FormatError
from verifier.core.keys import KID_LENGTH, cose_key_to_public
from verifier.core.reasons import Reason

PREFIX = "ML1:"
# The longest text ML1 allows (section 4: more than any QR code holds), counted after the one
# line ending a scanner appends is stripped; anything longer is rejected before any work.
MAX_TEXT_LENGTH = 4296
LINE_ENDINGS = ("\r\n", "\n", "\r")  # CR LF first: it is one line ending, not two

CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_CNF = 1, 4, 5, 6, 7, 8
CLAIM_STUDENT = -65537
CTI_LENGTH = 16
MAX_PHOTO_BYTES = 1024
MIN_BIRTH_YEAR = 1900
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Categories that could make a screen show other text than was signed (section 3): controls,
# format characters (bidi overrides, zero-width), line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def photo_format(photo: bytes) -> str | None:
    """The photo's type by its first bytes (section 3): "jpeg", "webp", "avif" or None."""
    if photo.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(photo) >= 12 and photo[:4] == b"RIFF" and photo[8:12] == b"WEBP":
        return "webp"
    if photo[4:12] == b"ftypavif":
        return "avif"
    return None


def _displayable(value: str, name: str) -> str:
    if any(unicodedata.category(ch) in UNSAFE_CATEGORIES for ch in value):
        raise FormatError(f"{name} holds a control, format or separator character")
    return value


@dataclass(frozen=True)
class Student:
    given_names: str
    family_name: str
    birth_date: str
    university: str
    album: str
    photo: bytes | None

    def __repr__(self) -> str:  # never leak personal data into logs or tracebacks
        return "Student(<redacted>)"


@dataclass(frozen=True)
class Credential:
    message: Sign1
    kid: bytes
    iss: str
    exp: int
    nbf: int
    iat: int
    cti: bytes
    device_key: ec.EllipticCurvePublicKey
    student: Student


@dataclass(frozen=True)
class Presentation:
    message: Sign1
    credential: Credential
    time: int


def _uint(claims: dict[Any, Any], key: object, name: str) -> int:
    value = claims.get(key)
    if type(value) is not int or value < 0:
        raise FormatError(f"claim {name} is missing or not an unsigned integer")
    return value


def _text(fields: dict[Any, Any], key: str, lo: int, hi: int, nfc: bool = False) -> str:
    """A student text field: ``lo..hi`` code points, displayable, NFC where required."""
    value = fields.get(key)
    if type(value) is not str or not lo <= len(value) <= hi:
        raise FormatError(f"student.{key} is missing, not text, or not {lo}..{hi} code points")
    if nfc and not unicodedata.is_normalized("NFC", value):
        raise FormatError(f"student.{key} is not Unicode NFC")
    return _displayable(value, f"student.{key}")


def _birth_date(fields: dict[Any, Any]) -> str:
    value = fields.get("dob")
    if type(value) is not str or not _DATE.fullmatch(value):
        raise FormatError("student.dob is not YYYY-MM-DD")
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise FormatError("student.dob is not a calendar date") from None
    if born.year < MIN_BIRTH_YEAR:
        raise FormatError(f"student.dob is before {MIN_BIRTH_YEAR}")
    return value


def _student(fields: object) -> Student:
    if not isinstance(fields, dict):
        raise FormatError("claim student is missing or not a map")
    photo = fields.get("ph")
    if "ph" in fields and (
        type(photo) is not bytes or len(photo) > MAX_PHOTO_BYTES or photo_format(photo) is None
    ):
        raise FormatError(
            f"student.ph is not a JPEG, WebP or AVIF image of at most {MAX_PHOTO_BYTES} bytes"
        )
    return Student(
        given_names=_text(fields, "gn", 1, 100, nfc=True),
        family_name=_text(fields, "fn", 1, 100, nfc=True),
        birth_date=_birth_date(fields),
        university=_text(fields, "uni", 1, 200, nfc=True),
        album=_text(fields, "alb", 1, 32),
        photo=photo,
    )


def parse_credential(data: bytes) -> Credential:
    message = parse_sign1(data)
    kid = message.kid
    if type(kid) is not bytes or len(kid) != KID_LENGTH:
        raise FormatError("credential: protected kid is missing or not 8 bytes")
    claims = cbor.loads(message.payload)
    if not isinstance(claims, dict):
        raise FormatError("credential: payload is not a claims map")
    iss = claims.get(CLAIM_ISS)
    if type(iss) is not str:
        raise FormatError("claim iss is missing or not text")
    _displayable(iss, "claim iss")
    cti = claims.get(CLAIM_CTI)
    if type(cti) is not bytes or len(cti) != CTI_LENGTH:
        raise FormatError("claim cti is missing or not 16 bytes")
    cnf = claims.get(CLAIM_CNF)
    if not isinstance(cnf, dict) or 1 not in cnf:
        raise FormatError("claim cnf is missing or has no COSE_Key")
    return Credential(
        message=message,
        kid=kid,
        iss=iss,
        exp=_uint(claims, CLAIM_EXP, "exp"),
        nbf=_uint(claims, CLAIM_NBF, "nbf"),
        iat=_uint(claims, CLAIM_IAT, "iat"),
        cti=cti,
        device_key=cose_key_to_public(cnf[1]),
        student=_student(claims.get(CLAIM_STUDENT)),
    )


def strip_line_ending(text: str) -> str:
    """Remove one trailing LF, CR LF or CR (what scanners append), and nothing else."""
    for ending in LINE_ENDINGS:
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


def unwrap_text(text: str) -> bytes:
    """QR text -> the decompressed presentation bytes (checks 1 and 2 of section 6)."""
    if not text.startswith(PREFIX):
        raise FormatError("text does not start with ML1:", Reason.UNKNOWN_FORMAT)
    text = strip_line_ending(text)
    if len(text) > MAX_TEXT_LENGTH:
        raise FormatError(f"text is longer than {MAX_TEXT_LENGTH} characters")
    return inflate_bounded(b45decode(text[len(PREFIX) :]))


def parse_presentation(text: str) -> Presentation:
    """Everything check 2 covers: base45, zlib, CBOR, both COSE_Sign1, claims and fields."""
    message = parse_sign1(unwrap_text(text))
    body = cbor.loads(message.payload)
    if not isinstance(body, dict):
        raise FormatError("presentation: payload is not a map")
    inner = body.get(1)
    if type(inner) is not bytes:
        raise FormatError("presentation: credential is missing or not a byte string")
    credential = parse_credential(inner)
    return Presentation(message=message, credential=credential, time=_uint(body, 2, "time"))
