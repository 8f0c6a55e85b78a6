"""The rules of an mLegitymacja's life, as pure functions of data and ``now``.

Order -> activation code (typed) and activation QR (scanned), valid ``ACTIVATION_DAYS``, single
use; activation binds the credential to the phone's key; one live credential per student; the
credential ends when the ELS does; issuer keys close their signing window on rotation and stay
listed until the last credential they signed has expired.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from issuer_stub.errors import Gone, InvalidInput
from issuer_stub.records import IssuerKey, Order

DAY = 86400
ACTIVATION_DAYS = 30
ACTIVATION_SECONDS = ACTIVATION_DAYS * DAY
QR_PREFIX = "ML1-ACT:"  # the activation QR code's text: prefix + a long single-use token
CODE_LENGTH = 10  # the typed code: 10 Crockford base32 characters (50 bits), shown XXXXX-XXXXX
QR_TOKEN_LENGTH = 26  # 130 bits
MAX_CODE_INPUT = 100
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READS_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _base32(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    return "".join(CROCKFORD[(n >> (5 * i)) & 31] for i in range(length))


def new_codes(random_bytes: Callable[[int], bytes]) -> tuple[str, str]:
    """A typed activation code (``XXXXX-XXXXX``) and the activation QR text."""
    code = _base32(random_bytes(8), CODE_LENGTH)
    token = _base32(random_bytes(17), QR_TOKEN_LENGTH)
    return f"{code[:5]}-{code[5:]}", QR_PREFIX + token


def normalize_code(text: object) -> str:
    """A code as typed or scanned -> its canonical form: case, spaces and dashes do not count,
    and I, L, O read as 1, 1, 0 (Crockford). The QR's prefix may be left on."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_CODE_INPUT:
        raise InvalidInput("code must be the activation code as text", "invalid_input")
    value = text.strip().upper()
    value = value.removeprefix(QR_PREFIX)
    value = "".join(value.replace("-", "").split()).translate(_READS_AS)
    if not value or any(c not in CROCKFORD for c in value):
        raise InvalidInput("the activation code holds characters no code has", "invalid_input")
    return value


def code_hash(normalized: str) -> bytes:
    """The store keeps only this: a leaked database does not hand out live codes."""
    return hashlib.sha256(b"ML1-activation:" + normalized.encode()).digest()


def check_order_usable(order: Order, now: int) -> None:
    if order.used_at is not None:
        raise Gone("this activation code has been used already; order a new one", "code_used")
    if order.cancelled_at is not None:
        raise Gone("this activation code was replaced by a newer order", "code_cancelled")
    if now >= order.expires_at:
        raise Gone(
            f"this activation code expired ({ACTIVATION_DAYS} days); order a new one",
            "code_expired",
        )


# Issuer keys ------------------------------------------------------------------------------------
def signing_key(keys: Iterable[IssuerKey], iss: str, now: int) -> IssuerKey | None:
    """The newest key of ``iss`` whose window ``[nbf, exp)`` holds ``now``."""
    usable = [k for k in keys if k.iss == iss and k.nbf <= now < k.exp]
    return max(usable, key=lambda k: (k.created_at, k.nbf), default=None)


def closed_exp(now: int, last_iat: int | None) -> int:
    """A rotated key's new ``exp``: now, but never so early that a credential it signed
    (``iat`` up to ``last_iat``) would fall outside ``[nbf, exp)``."""
    return now if last_iat is None else max(now, last_iat + 1)


def still_listed(key: IssuerKey, last_credential_exp: int | None, now: int) -> bool:
    """A key is listed while it may sign or while a credential it signed has not expired."""
    return key.exp > now or (last_credential_exp is not None and last_credential_exp > now)


# Proofs from the phone ------------------------------------------------------------------------
PROOF_WINDOW = 300


def proof_message(action: str, cti_hex: str, time: int) -> bytes:
    """What the phone signs to revoke (``action`` "revoke") or extend its credential."""
    return f"ML1-{action}:{cti_hex}:{time}".encode()


def check_proof_time(time: object, now: int) -> int:
    if type(time) is not int:
        raise InvalidInput("time must be an integer (epoch seconds)", "invalid_input")
    if abs(time - now) > PROOF_WINDOW:
        raise InvalidInput(
            f"time is more than {PROOF_WINDOW} s away from the server's clock", "time_skew"
        )
    return time
