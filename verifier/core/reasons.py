"""Verdicts, reason codes and warning codes of ML1 section 6, with their human sentences."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    VALID = "valid"
    WARNING = "warning"
    INVALID = "invalid"


class Reason(StrEnum):
    """Why a code is invalid, in the order the checks run (spec section 6)."""

    UNKNOWN_FORMAT = "unknown_format"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNKNOWN_ISSUER = "unknown_issuer"
    BAD_SIGNATURE = "bad_signature"
    ISSUER_MISMATCH = "issuer_mismatch"
    ISSUER_KEY_EXPIRED = "issuer_key_expired"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    BAD_DEVICE_SIGNATURE = "bad_device_signature"
    PRESENTATION_STALE = "presentation_stale"
    # Added by verifiers that read images (spec section 7).
    NO_CODE_FOUND = "no_code_found"


class WarningCode(StrEnum):
    REVOCATION_LIST_MISSING = "revocation_list_missing"
    REVOCATION_LIST_STALE = "revocation_list_stale"
    CLOCK_BEHIND = "clock_behind"
    CLOCK_UNSYNCHRONIZED = "clock_unsynchronized"


# Warnings that make the verifier's clock unverified (section 6.1).
CLOCK_WARNINGS = frozenset({WarningCode.CLOCK_BEHIND, WarningCode.CLOCK_UNSYNCHRONIZED})


# Reasons after which the issuer signature is known good, so the holder may be shown.
REASONS_BEFORE_SIGNATURE = frozenset(
    {
        Reason.UNKNOWN_FORMAT,
        Reason.MALFORMED,
        Reason.UNSUPPORTED_ALGORITHM,
        Reason.UNKNOWN_ISSUER,
        Reason.BAD_SIGNATURE,
        Reason.NO_CODE_FOUND,
    }
)

_SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        Verdict.VALID: "Valid",
        Verdict.WARNING: "Valid, but check: the verifier's own data or clock can't be trusted",
        Verdict.INVALID: "Invalid",
        Reason.UNKNOWN_FORMAT: "not an mLegitymacja student ID code",
        Reason.MALFORMED: "the code is damaged or wrongly built",
        Reason.UNSUPPORTED_ALGORITHM: "the code uses a signature algorithm that is not allowed",
        Reason.UNKNOWN_ISSUER: "the issuer is not on the trust list",
        Reason.BAD_SIGNATURE: "the issuer's signature is wrong: forged or altered",
        Reason.ISSUER_MISMATCH: "the ID was signed by another issuer's key than the one it names",
        Reason.ISSUER_KEY_EXPIRED: "the issuer's key was not allowed to sign at that date",
        Reason.NOT_YET_VALID: "the credential is not valid yet",
        Reason.EXPIRED: "the credential has expired",
        Reason.REVOKED: "the credential has been revoked",
        Reason.BAD_DEVICE_SIGNATURE: "the code was not made by the phone the ID was issued to",
        Reason.PRESENTATION_STALE: (
            "the code is not current: a screenshot, or the phone's clock is wrong"
        ),
        Reason.NO_CODE_FOUND: "no QR code could be read",
        WarningCode.REVOCATION_LIST_MISSING: "no revocation list is held",
        WarningCode.REVOCATION_LIST_STALE: "the revocation list is older than 24 hours",
        WarningCode.CLOCK_BEHIND: "the kit's clock shows a date before the lists' issue date",
        WarningCode.CLOCK_UNSYNCHRONIZED: "the kit's clock has not been set since it started",
    },
    "pl": {
        Verdict.VALID: "Ważna",
        Verdict.WARNING: "Ważna, ale sprawdź: listy lub zegar czytnika są niepewne",
        Verdict.INVALID: "Nieważna",
        Reason.UNKNOWN_FORMAT: "to nie jest kod mLegitymacji",
        Reason.MALFORMED: "kod jest uszkodzony lub ma błędną budowę",
        Reason.UNSUPPORTED_ALGORITHM: "kod używa niedozwolonego algorytmu podpisu",
        Reason.UNKNOWN_ISSUER: "wystawcy legitymacji nie ma na liście zaufanych",
        Reason.BAD_SIGNATURE: "błędny podpis wystawcy: legitymacja podrobiona lub zmieniona",
        Reason.ISSUER_MISMATCH: "legitymację podpisał klucz innego wystawcy niż w niej podany",
        Reason.ISSUER_KEY_EXPIRED: "klucz wystawcy nie był ważny w dniu wystawienia legitymacji",
        Reason.NOT_YET_VALID: "legitymacja nie jest jeszcze ważna",
        Reason.EXPIRED: "legitymacja straciła ważność",
        Reason.REVOKED: "legitymacja została unieważniona",
        Reason.BAD_DEVICE_SIGNATURE: "kod nie pochodzi z telefonu, na który wydano legitymację",
        Reason.PRESENTATION_STALE: (
            "kod nie jest aktualny: to zrzut ekranu albo telefon ma źle ustawiony zegar"
        ),
        Reason.NO_CODE_FOUND: "nie udało się odczytać kodu QR",
        WarningCode.REVOCATION_LIST_MISSING: "czytnik nie ma listy unieważnień",
        WarningCode.REVOCATION_LIST_STALE: "lista unieważnień jest starsza niż 24 godziny",
        WarningCode.CLOCK_BEHIND: "zegar czytnika wskazuje wcześniejszą datę niż data wydania list",
        WarningCode.CLOCK_UNSYNCHRONIZED: "zegar czytnika nie został ustawiony od uruchomienia",
    },
}

LANGUAGES = tuple(_SENTENCES)


def describe(code: Verdict | Reason | WarningCode | str, lang: str = "en") -> str:
    """The human sentence for a verdict, reason or warning code."""
    table = _SENTENCES.get(lang, _SENTENCES["en"])
    return table.get(code, str(code))
