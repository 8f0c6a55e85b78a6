"""How big a holder's QR code can get, before anything is issued (ML1 section 4).

The phone wraps the credential in a presentation it signs itself, with its own time, and
compresses it with its own zlib: the issuer never sees the text it shows. So every size here is
the worst case over any zlib level and strategy (``compressBound`` of the zlib manual, which
holds for zlib's default window and memory, what CompressionStream("deflate") and compress()
use: tests/test_codes.py checks every level and strategy at windows of 8 KiB or more) and over
any time the phone writes until 2106.

Targets: a code with a photo fits QR version 27 at level M (125 modules), one without version
15; the photo gets whatever the other fields leave, down to a floor; a credential whose code
would fit no QR code at level M is never issued.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cbor2

from issuer_stub.errors import InvalidInput
from issuer_stub.signing import StudentData, compressed_cose_key, encode
from verifier.core.cose import COSE_SIGN1_TAG
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

# Alphanumeric characters a QR code of version 1..40 holds at error correction level M
# (ISO/IEC 18004 table 7; tests/test_codes.py checks them against segno at 12 versions).
ALNUM_CAPACITY_M = (
    20, 38, 61, 90, 122, 154, 178, 221, 262, 311, 366, 419, 483, 528, 600, 656, 734, 816, 909,
    970, 1035, 1134, 1248, 1326, 1451, 1542, 1637, 1732, 1839, 1994, 2113, 2238, 2369, 2506, 2632,
    2780, 2894, 3054, 3220, 3391,
)
TARGET_VERSION_PHOTO = 27
TARGET_VERSION_NO_PHOTO = 15
MAX_VERSION = 40
# ML1 revision 2 allows 1024 bytes; the issuer never needs more at version 27.
MAX_PORTRAIT_BYTES = 1024
# Below this a face is no use to a conductor: longer fields than that leave make the code
# larger than version 27 instead (up to version 40; past that the credential is refused).
MIN_PORTRAIT_BYTES = 400

_WORST_UINT = 0xFFFFFFFF  # exp, nbf, iat and the phone's time: 5 bytes each until 2106
_SIGNATURE = bytes(64)
_KID = bytes(8)


def zlib_bound(n: int) -> int:
    """zlib's ``compressBound``: no zlib stream of ``n`` input bytes is longer."""
    return n + (n >> 12) + (n >> 14) + (n >> 25) + 13


def base45_length(n: int) -> int:
    return n // 2 * 3 + n % 2 * 2


def text_bound(presentation_length: int) -> int:
    """The longest ``ML1:`` text a presentation of this many bytes can become."""
    return len(PREFIX) + base45_length(zlib_bound(presentation_length))


def qr_version(characters: int) -> int | None:
    """The smallest QR version holding this many alphanumeric characters at level M."""
    for version, capacity in enumerate(ALNUM_CAPACITY_M, 1):
        if characters <= capacity:
            return version
    return None


def _sign1(protected: dict[int, Any], payload: bytes) -> bytes:
    return encode(cbor2.CBORTag(COSE_SIGN1_TAG, [encode(protected), {}, payload, _SIGNATURE]))


def presentation_length(credential_length: int) -> int:
    """Bytes of the presentation the phone makes around a credential of this length."""
    return len(_sign1({1: -7}, encode({1: bytes(credential_length), 2: _WORST_UINT})))


def credential_length(student: StudentData, iss: str) -> int:
    """Bytes of the credential the issuer would sign for ``student`` (any key, id, dates)."""
    claims = {
        CLAIM_ISS: iss,
        CLAIM_EXP: _WORST_UINT,
        CLAIM_NBF: _WORST_UINT,
        CLAIM_IAT: _WORST_UINT,
        CLAIM_CTI: bytes(16),
        CLAIM_CNF: {1: compressed_cose_key(bytes(32), True)},
        CLAIM_STUDENT: student.claim(),
    }
    return len(_sign1({1: -7, 4: _KID}, encode(claims)))


def text_bound_of(student: StudentData, iss: str) -> int:
    """The longest QR text any phone can make of this student's credential."""
    return text_bound(presentation_length(credential_length(student, iss)))


def code_text_bound(credential: bytes) -> int:
    """The same for a signed credential."""
    return text_bound(presentation_length(len(credential)))


def _max_presentation(characters: int) -> int:
    """The longest presentation whose worst-case text fits in ``characters``."""
    n = (characters - len(PREFIX)) * 2 // 3
    while n > 0 and text_bound(n) > characters:
        n -= 1
    return n


def photo_budget(student: StudentData, iss: str, version: int = TARGET_VERSION_PHOTO) -> int:
    """The largest photo (bytes) that keeps this student's code within ``version`` (may be
    below ``MIN_PORTRAIT_BYTES``, or negative); capped at ``MAX_PORTRAIT_BYTES``."""
    probe = 300  # a photo of 256..65535 bytes has a 3-byte length head, as the probe's
    with_probe = replace(student, photo=bytes(probe))
    fixed = presentation_length(credential_length(with_probe, iss)) - probe
    return min(MAX_PORTRAIT_BYTES, _max_presentation(ALNUM_CAPACITY_M[version - 1]) - fixed)


def portrait_budget(student: StudentData, iss: str) -> int:
    """The photo size to make: what version 27 leaves, but never below the floor. Raises
    ``InvalidInput`` when even a photo of the floor's size fits no QR code."""
    budget = max(photo_budget(student, iss), MIN_PORTRAIT_BYTES)
    if budget > photo_budget(student, iss, MAX_VERSION):
        smallest = replace(student, photo=bytes(MIN_PORTRAIT_BYTES))
        raise InvalidInput(_too_long(text_bound_of(smallest, iss), photo=True),
                           "credential_too_large")
    return budget


def require_fits(student: StudentData, iss: str) -> int:
    """The QR version of the largest code this credential can give; raises ``InvalidInput``
    when it would fit no QR code at level M."""
    characters = text_bound_of(student, iss)
    version = qr_version(characters)
    if version is None:
        raise InvalidInput(_too_long(characters, photo=student.photo is not None),
                           "credential_too_large")
    return version


def _too_long(characters: int, photo: bool) -> str:
    what = "with a photo" if photo else "even without a photo"
    return (
        f"the credential would not fit a QR code {what} (its code could need {characters} "
        f"characters; a QR code holds {ALNUM_CAPACITY_M[-1]}): shorten the given names, family "
        f"name or university name"
    )
