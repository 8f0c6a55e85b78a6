"""What the screen shows for a result: pure functions, no Textual, testable on their own.

Every word a user reads is here (or in the core's sentence tables), in Polish and English.
Minimum personal data: the album number is masked, the birth date becomes an under-26 badge
(the exact age is never shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from verifier.core.reasons import CLOCK_WARNINGS, Reason, Verdict, WarningCode, describe
from verifier.core.result import CheckResult
from verifier.core.textout import last_valid_day, local_day

# The words differ at a glance, not by a prefix (WAŻNA/NIEWAŻNA differ only by "NIE"): each
# state has its own first letter, length and glyph.
TITLES = {
    "pl": {Verdict.VALID: "WAŻNA", Verdict.WARNING: "SPRAWDŹ", Verdict.INVALID: "ODRZUĆ"},
    "en": {Verdict.VALID: "VALID", Verdict.WARNING: "CHECK", Verdict.INVALID: "REFUSE"},
}
GLYPHS = {Verdict.VALID: "✓", Verdict.WARNING: "!", Verdict.INVALID: "✗"}
# History and details: the state itself, not the instruction.
STATE_WORDS = {
    "pl": {Verdict.VALID: "ważna", Verdict.WARNING: "do sprawdzenia", Verdict.INVALID: "nieważna"},
    "en": {Verdict.VALID: "valid", Verdict.WARNING: "to check", Verdict.INVALID: "invalid"},
}

# What the conductor (or cashier) does now: one line under the verdict word.
ACTIONS = {
    "pl": {
        Verdict.VALID: "Porównaj zdjęcie z osobą.",
        Verdict.INVALID: "Nie przyjmuj tej legitymacji — ulga nie przysługuje.",
        "lists": "Przyjmij, jeśli zdjęcie się zgadza; naciśnij s, aby pobrać listy.",
        "clock": (
            "Zegar czytnika nie jest ustawiony: sprawdź legitymację wzrokowo "
            "i podłącz czytnik do sieci, aby ustawił zegar."
        ),
        "clock_behind": (
            "Zegar czytnika jest niepewny: sprawdź legitymację wzrokowo "
            "i podłącz czytnik do sieci."
        ),
        Reason.PRESENTATION_STALE: "Poproś o aktualny kod w aplikacji, nie o zrzut ekranu.",
    },
    "en": {
        Verdict.VALID: "Compare the photo with the person.",
        Verdict.INVALID: "Do not accept this ID — no student discount.",
        "lists": "Accept if the photo matches; press s to download the lists.",
        "clock": (
            "The kit's clock is not set: check the student's ID by eye, "
            "and connect the kit to a network to set it."
        ),
        "clock_behind": (
            "The kit's clock cannot be trusted: check the student's ID by eye, "
            "and connect the kit to a network."
        ),
        Reason.PRESENTATION_STALE: "Ask for the current code in the app, not a screenshot.",
    },
}

# The name of the check each reason code belongs to (details screen), not its snake_case code.
CHECK_NAMES = {
    "pl": {
        Reason.UNKNOWN_FORMAT: "kod ML1",
        Reason.MALFORMED: "budowa kodu",
        Reason.UNSUPPORTED_ALGORITHM: "algorytm podpisu",
        Reason.UNKNOWN_ISSUER: "wystawca na liście zaufanych",
        Reason.BAD_SIGNATURE: "podpis wystawcy",
        Reason.ISSUER_MISMATCH: "wystawca zgodny z kluczem",
        Reason.ISSUER_KEY_EXPIRED: "klucz wystawcy w okresie ważności",
        Reason.NOT_YET_VALID: "początek ważności",
        Reason.EXPIRED: "termin ważności",
        Reason.REVOKED: "brak na liście unieważnień",
        Reason.BAD_DEVICE_SIGNATURE: "podpis telefonu",
        Reason.PRESENTATION_STALE: "aktualność kodu",
        Reason.NO_CODE_FOUND: "odczyt kodu QR",
    },
    "en": {
        Reason.UNKNOWN_FORMAT: "ML1 code",
        Reason.MALFORMED: "code structure",
        Reason.UNSUPPORTED_ALGORITHM: "signature algorithm",
        Reason.UNKNOWN_ISSUER: "issuer on the trust list",
        Reason.BAD_SIGNATURE: "issuer's signature",
        Reason.ISSUER_MISMATCH: "issuer matches its key",
        Reason.ISSUER_KEY_EXPIRED: "issuer key within its validity",
        Reason.NOT_YET_VALID: "start of validity",
        Reason.EXPIRED: "expiry date",
        Reason.REVOKED: "revocation list",
        Reason.BAD_DEVICE_SIGNATURE: "phone's signature",
        Reason.PRESENTATION_STALE: "code is current",
        Reason.NO_CODE_FOUND: "QR code read",
    },
}

LABELS = {
    "pl": {
        "ready": "Gotowy — zbliż kod QR do kamery",
        "until": "ważna do",
        "under26": "poniżej 26 lat",
        "over26": "26 lat lub więcej",
        "ago": "temu",
        "just_now": "przed chwilą",
        "album": "nr albumu",
        "no_photo": "Legitymacja bez zdjęcia",
        "photo_bad": "Nie można wyświetlić zdjęcia",
        "photo_advice": "poproś o dokument ze zdjęciem",
        # "Cannot verify": the kit itself, before any code (neither red nor green).
        "cannot": "Czytnik nie może sprawdzać legitymacji",
        "why_no_list": "Brak listy zaufanych wystawców.",
        "why_bad_list": "Listy w czytniku nie przeszły weryfikacji.",
        "why_anchor": "Brak klucza ministerstwa (kotwicy zaufania) lub klucz jest uszkodzony.",
        "why_no_url": "Adres, z którego czytnik pobiera listy, nie jest ustawiony.",
        "do_sync": "Naciśnij s, aby pobrać listy (czytnik musi mieć dostęp do sieci).",
        "do_admin": "Zadzwoń do administratora czytnika; pobranie list tu nie pomoże.",
        "tech": "Dla administratora",
        # A camera that is missing or lost takes over the ready screen.
        "no_camera": "Brak kamery — czytnik nie widzi kodów QR",
        "lost_camera": "Kamera przestała działać — czytnik nie widzi kodów QR",
        "camera_advice": (
            "Sprawdź kabel kamery; czytnik sam próbuje ją uruchomić. "
            "Możesz też wpisać kod (t) albo użyć skanera USB."
        ),
        # Status bar (short forms: it must fit 80 columns).
        "cam": "kamera",
        "cam_ok": "ok",
        "cam_off": "wył.",
        "cam_missing": "BRAK",
        "cam_lost": "AWARIA",
        "cam_stalled": "BŁĄD ODCZYTU",
        "fps": "kl/s",
        "tl": "LZ",
        "rl": "LU",
        "clock_ok": "zegar ok",
        "clock_unsync": "zegar nieustawiony",
        "clock_behind": "zegar się spóźnia",
        "sync_never": "bez synchr.",
        "sync_off": "brak adresu list",
        "sync_running": "synchr. trwa…",
        "sync_ok": "synchr.",
        "sync_failed": "błąd synchr.",
        "more": "i: szczegóły",
        "audit_failed": "DZIENNIK: błąd zapisu",
    },
    "en": {
        "ready": "Ready — hold the QR code to the camera",
        "until": "valid until",
        "under26": "under 26",
        "over26": "26 or over",
        "ago": "ago",
        "just_now": "just now",
        "album": "album no.",
        "no_photo": "ID without a photo",
        "photo_bad": "Photo cannot be displayed",
        "photo_advice": "ask for a photo ID",
        "cannot": "The kit cannot check IDs",
        "why_no_list": "There is no trust list.",
        "why_bad_list": "The lists on the kit did not verify.",
        "why_anchor": "The ministry's key (trust anchor) is missing or damaged.",
        "why_no_url": "No address to download the lists from is set.",
        "do_sync": "Press s to download the lists (the kit needs a network).",
        "do_admin": "Call the kit's administrator; syncing cannot fix this.",
        "tech": "For the administrator",
        "no_camera": "No camera — the kit cannot see QR codes",
        "lost_camera": "The camera stopped — the kit cannot see QR codes",
        "camera_advice": (
            "Check the camera cable; the kit keeps trying to start it. "
            "You can type a code (t) or use a USB scanner."
        ),
        "cam": "cam",
        "cam_ok": "ok",
        "cam_off": "off",
        "cam_missing": "MISSING",
        "cam_lost": "LOST",
        "cam_stalled": "READ ERROR",
        "fps": "fps",
        "tl": "TL",
        "rl": "RL",
        "clock_ok": "clock ok",
        "clock_unsync": "clock not set",
        "clock_behind": "clock behind",
        "sync_never": "never synced",
        "sync_off": "no list URL",
        "sync_running": "syncing…",
        "sync_ok": "synced",
        "sync_failed": "sync failed",
        "more": "i: details",
        "audit_failed": "LOG: cannot write",
    },
}

# The key bar (replaces Textual's English-only footer); "key", words.
KEYS = {
    "pl": (
        ("t", "wpisz kod"),
        ("s", "synchr."),
        ("h", "historia"),
        ("i", "szczegóły"),
        ("l", "English"),
        ("?", "pomoc"),
        ("q", "wyjście"),
    ),
    "en": (
        ("t", "type code"),
        ("s", "sync"),
        ("h", "history"),
        ("i", "details"),
        ("l", "polski"),
        ("?", "help"),
        ("q", "quit"),
    ),
}


def label(key: str, lang: str) -> str:
    return LABELS.get(lang, LABELS["en"])[key]


def _table(tables: dict[str, dict], lang: str) -> dict:
    return tables.get(lang, tables["en"])


def check_name(code: Reason | str, lang: str) -> str:
    return _table(CHECK_NAMES, lang).get(code, str(code))


def state_word(verdict: Verdict, lang: str) -> str:
    return _table(STATE_WORDS, lang)[verdict]


def day_of(epoch: int) -> date:
    """The Warsaw day of an epoch second, for any integer (clamped to what ``date`` holds)."""
    year, month, day = local_day(epoch)
    if year > date.max.year:
        return date.max
    return date.min if year < date.min.year else date(year, month, day)


def age_on(birth: str, today: date) -> int:
    born = date.fromisoformat(birth)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def mask_album(album: str) -> str:
    """Never the album number in full: the last three characters at most."""
    visible = album[-3:] if len(album) > 4 else ""
    return "•" * max(len(album) - len(visible), 3) + visible


def action_line(result: CheckResult, lang: str) -> str:
    """One line: what to do now (accept, refuse, check the ID by eye)."""
    actions = _table(ACTIONS, lang)
    if result.verdict is Verdict.INVALID:
        return actions.get(result.reason, actions[Verdict.INVALID])
    if result.verdict is Verdict.WARNING:
        if WarningCode.CLOCK_UNSYNCHRONIZED in result.warnings:
            return actions["clock"]
        if any(w in CLOCK_WARNINGS for w in result.warnings):
            return actions["clock_behind"]
        return actions["lists"]
    return actions[Verdict.VALID]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


@dataclass(frozen=True)
class VerdictView:
    verdict: Verdict
    title: str
    glyph: str
    action: str
    sentence: str
    name: str | None
    university: str | None
    valid_until: str | None
    age_badge: str | None
    album: str | None
    photo: bytes | None
    photo_key: bytes | None  # the credential id: a photo is decoded once per credential


def verdict_view(result: CheckResult, now: int, lang: str) -> VerdictView:
    title = _table(TITLES, lang)[result.verdict]
    # Codes without a sentence (a core newer than this table) are left out, never shown raw.
    codes = [result.reason] if result.reason is not None else list(result.warnings)
    known = [describe(c, lang) for c in codes if describe(c, lang) != str(c)]
    sentence = _sentence("; ".join(known)) if known else ""
    glyph, action = GLYPHS[result.verdict], action_line(result, lang)
    holder, cred = result.holder, result.credential
    if holder is None:
        return VerdictView(result.verdict, title, glyph, action, sentence, *(None,) * 7)
    under26 = age_on(holder.birth_date, day_of(now)) < 26
    # "valid until" only where the card is usable: never under a refusal (revoked, expired).
    show_until = cred is not None and result.verdict is not Verdict.INVALID
    return VerdictView(
        verdict=result.verdict,
        title=title,
        glyph=glyph,
        action=action,
        sentence=sentence,
        name=f"{holder.given_names} {holder.family_name}",
        university=holder.university,
        valid_until=last_valid_day(cred.exp) if show_until and cred is not None else None,
        age_badge=label("under26" if under26 else "over26", lang),
        album=mask_album(holder.album),
        photo=holder.photo,
        photo_key=None if cred is None else cred.cti,
    )


def cannot_verify_lines(error: str, can_sync: bool, lang: str) -> tuple[str, str]:
    """Why the kit cannot verify and what to do, fitting the cause (for the panel).

    A missing or damaged anchor, or no list URL, is not fixed by syncing: call the
    administrator. No (or a rejected) trust list with a list URL set: press s.
    """
    if "trust anchor" in error:  # verifier/device/trustdata.py: load_anchor's messages
        return label("why_anchor", lang), label("do_admin", lang)
    why = label("why_no_list" if error.startswith("no trust list") else "why_bad_list", lang)
    if can_sync:
        return why, label("do_sync", lang)
    return f"{why} {label('why_no_url', lang)}", label("do_admin", lang)


def age_text(seconds: float | None, lang: str = "en") -> str:
    """'3 min', '2 h', '4 d' (PL: '1 dzień', '4 dni') for data ages; '—' when unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds >= 86400:
        days = seconds // 86400
        return f"{days} {('dzień' if days == 1 else 'dni') if lang == 'pl' else 'd'}"
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
