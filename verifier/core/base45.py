"""Base45 (RFC 9285), strict: every malformed input is rejected, never guessed at."""

from __future__ import annotations

from verifier.core.errors import FormatError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, rest = divmod(n, 45 * 45)
        d, c = divmod(rest, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode base45; raises FormatError on a bad character, length or value."""
    try:
        values = [_VALUE[c] for c in text]
    except KeyError as exc:
        raise FormatError(f"base45: character {exc.args[0]!r} is not in the alphabet") from None
    if len(values) % 3 == 1:
        raise FormatError("base45: length leaves a single character")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 2025
            if n > 0xFFFF:
                raise FormatError("base45: triple exceeds 65535")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise FormatError("base45: pair exceeds 255")
            out.append(n)
    return bytes(out)
