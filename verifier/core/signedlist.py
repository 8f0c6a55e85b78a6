"""What the trust list and the revocation list share: a COSE_Sign1 by the trust anchor.

Nothing in a list is looked at before its signature and kid are checked (ML1 section 5).
"""

from __future__ import annotations

from typing import Any

from verifier.core import cbor
from verifier.core.cose import ALG_ES256, parse_sign1, verify_es256
from verifier.core.errors import FormatError, ListError, SignatureError
from verifier.core.keys import Anchor

# A 1,000,000-entry revocation list is 16 MB; leave room, refuse anything absurd.
MAX_LIST_BYTES = 64 * 1024 * 1024
LIST_MAX_DEPTH = 8
# Byte strings longer than this (the payload, a revocation list's ids) stay views into the
# signed bytes instead of copies: a 1M-entry list costs 16 MB once, not three times.
LIST_VIEW_OVER = 64 * 1024


def open_signed_list(data: bytes, anchor: Anchor, what: str) -> dict[str, Any]:
    """Verify a TA-signed list and return its payload map; raises ListError."""
    if len(data) > MAX_LIST_BYTES:
        raise ListError(f"{what}: larger than {MAX_LIST_BYTES} bytes")
    try:
        message = parse_sign1(data, max_depth=LIST_MAX_DEPTH, view_over=LIST_VIEW_OVER)
    except FormatError as exc:
        raise ListError(f"{what}: not a COSE_Sign1 ({exc.message})") from None
    if message.alg != ALG_ES256 or type(message.alg) is not int:
        raise ListError(f"{what}: algorithm is not ES256")
    if message.kid != anchor.kid:
        raise ListError(f"{what}: kid is not the trust anchor's (signed by another key)")
    try:
        verify_es256(anchor.key, message)
    except SignatureError:
        raise ListError(f"{what}: signature does not verify with the trust anchor") from None
    try:
        payload = cbor.loads(message.payload, max_depth=LIST_MAX_DEPTH, view_over=LIST_VIEW_OVER)
    except FormatError as exc:
        raise ListError(f"{what}: payload is not CBOR ({exc.message})") from None
    if not isinstance(payload, dict):
        raise ListError(f"{what}: payload is not a map")
    if payload.get("v") != 1 or type(payload.get("v")) is not int:
        raise ListError(f"{what}: version is not 1")
    for field in ("seq", "iat"):
        if type(payload.get(field)) is not int or payload[field] < 0:
            raise ListError(f"{what}: {field} is missing or not an unsigned integer")
    return payload
