"""PESEL, the Polish national id number: check digit and the birth date it embeds.

Digits ``YYMMDDZZZXQ``: the month carries the century (+80 for 1800s, +0 for 1900s, +20 for
2000s, +40 for 2100s, +60 for 2200s), ``X`` is odd for men and even for women, ``Q`` is the
check digit with weights 1 3 7 9 1 3 7 9 1 3. Error messages never repeat the number.
"""

from __future__ import annotations

from datetime import date

from issuer_stub.errors import InvalidInput

WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
_CENTURY_OFFSET = {1800: 80, 1900: 0, 2000: 20, 2100: 40, 2200: 60}


def check_digit(first_ten: str) -> int:
    total = sum(int(d) * w for d, w in zip(first_ten, WEIGHTS, strict=True))
    return (10 - total % 10) % 10


def birth_date(pesel: str) -> date:
    """The birth date a (well-formed) PESEL encodes; InvalidInput if it is no calendar date."""
    yy, mm, dd = int(pesel[0:2]), int(pesel[2:4]), int(pesel[4:6])
    for century, offset in _CENTURY_OFFSET.items():
        if offset < mm <= offset + 12:
            try:
                return date(century + yy, mm - offset, dd)
            except ValueError:
                break
    raise InvalidInput("the PESEL does not encode a valid birth date", "pesel_invalid")


def validate(pesel: str, dob: date | None = None) -> str:
    """Return ``pesel`` if it has 11 digits, a right check digit and (if given) encodes ``dob``."""
    if len(pesel) != 11 or not pesel.isascii() or not pesel.isdigit():
        raise InvalidInput("a PESEL is 11 digits", "pesel_invalid")
    if check_digit(pesel[:10]) != int(pesel[10]):
        raise InvalidInput("the PESEL check digit is wrong", "pesel_invalid")
    embedded = birth_date(pesel)
    if dob is not None and embedded != dob:
        raise InvalidInput("the PESEL does not match the date of birth", "pesel_dob_mismatch")
    return pesel


def make(dob: date, serial: int, female: bool) -> str:
    """A PESEL for test data: ``serial`` 0..999 picks the number, ``female`` the sex digit."""
    offset = _CENTURY_OFFSET[dob.year // 100 * 100]
    sex = 2 * (serial % 5) + (0 if female else 1)
    body = f"{dob.year % 100:02d}{dob.month + offset:02d}{dob.day:02d}{serial % 1000:03d}{sex}"
    return body + str(check_digit(body))
