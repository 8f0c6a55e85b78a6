// The issuer API's error codes in Polish and English. The server's own sentence is English
// only (it is also what `serve` logs), so the page says each known code in both languages and
// falls back to the server's sentence for a code it does not know.

const TEXTS = {
  network: ["Brak połączenia z serwerem.", "No connection to the server."],
  code_unknown: [
    "Nie ma takiego kodu aktywacyjnego; sprawdź, czy został dobrze przepisany.",
    "No such activation code; check that it was typed correctly.",
  ],
  code_used: [
    "Ten kod został już użyty; poproś uczelnię o nowy.",
    "This code was used already; ask the university for a new one.",
  ],
  code_expired: [
    "Ten kod wygasł; poproś uczelnię o nowy.",
    "This code has expired; ask the university for a new one.",
  ],
  code_cancelled: [
    "Ten kod zastąpiono nowszym; użyj najnowszego kodu.",
    "This code was replaced by a newer one; use the newest code.",
  ],
  not_eligible: [
    "Uczelnia nie może teraz wydać mLegitymacji",
    "The university cannot issue an mLegitymacja now",
  ],
  credential_too_large: [
    "Dane (imiona, nazwisko, nazwa uczelni) są za długie na kod QR; uczelnia musi je skrócić.",
    "The names and university name are too long for a QR code; the university must shorten them.",
  ],
  too_many_attempts: [
    "Zbyt wiele nieudanych prób; spróbuj ponownie za kilka minut.",
    "Too many failed attempts; try again in a few minutes.",
  ],
  time_skew: [
    "Zegar telefonu jest źle ustawiony; włącz automatyczne ustawianie daty i godziny i spróbuj ponownie.",
    "The phone's clock is off; set the time automatically and try again.",
  ],
  bad_signature: [
    "Serwer nie przyjął podpisu tego urządzenia.",
    "The server did not accept this device's signature.",
  ],
  unknown_credential: [
    "Serwer nie zna tej legitymacji; aktywuj ją ponownie nowym kodem.",
    "The server does not know this ID; activate again with a new code.",
  ],
  no_device_key: [
    "Ta legitymacja nie jest powiązana z tym urządzeniem.",
    "This ID is not bound to this device.",
  ],
  photo_no_face: [
    "Na zdjęciu w systemie uczelni nie widać twarzy; dostarcz uczelni nowe zdjęcie legitymacyjne.",
    "No face can be seen in the photo on file; give the university a new ID photo.",
  ],
  not_extendable: [
    "Tej legitymacji nie można przedłużyć; zamów nową na uczelni.",
    "This ID cannot be extended; order a new one at the university.",
  ],
  already_current: [
    "Nie ma czego przedłużać: legitymacja jest ważna tak długo, jak ELS.",
    "Nothing to extend: the ID is valid as long as the student card (ELS).",
  ],
  credential_revoked: [
    "Ta legitymacja została unieważniona; zamów nową na uczelni.",
    "This ID has been revoked; order a new one at the university.",
  ],
  bad_device_key: [
    "Ta przeglądarka utworzyła klucz, którego serwer nie przyjął.",
    "The server did not accept the key this browser made.",
  ],
  invalid_input: [
    "Serwer nie przyjął żądania; odśwież stronę i spróbuj ponownie.",
    "The server did not accept the request; reload the page and try again.",
  ],
  bad_json: [
    "Serwer nie przyjął żądania; odśwież stronę i spróbuj ponownie.",
    "The server did not accept the request; reload the page and try again.",
  ],
  too_large: ["Żądanie jest za duże.", "The request is too large."],
  body_timeout: [
    "Połączenie jest zbyt wolne; spróbuj ponownie.",
    "The connection is too slow; try again.",
  ],
  no_signing_key: [
    "Uczelnia nie może teraz podpisywać legitymacji; spróbuj później.",
    "The university cannot sign IDs right now; try again later.",
  ],
  internal: ["Błąd serwera; spróbuj później.", "Server error; try again later."],
};

// Eligibility rules (issuer_stub/eligibility.py), named when an activation is refused.
const CONDITIONS = {
  status_not_active: ["status studenta nie jest „aktywny”", "the student status is not 'active'"],
  pesel_missing: ["brak numeru PESEL", "no PESEL on file"],
  album_missing: ["brak numeru albumu", "no album number on file"],
  photo_missing: ["brak zdjęcia", "no photo on file"],
  els_missing: ["brak legitymacji plastikowej (ELS)", "no student ID card (ELS) on file"],
  els_not_extended: [
    "ELS nie została przedłużona na ten semestr",
    "the student ID card (ELS) was not extended for this semester",
  ],
  data_changed: [
    "dane osobowe zmieniły się po wydaniu ELS",
    "personal data changed after the ELS was issued",
  ],
};

/** Every code the page knows (for tests). */
export const KNOWN_CODES = Object.keys(TEXTS);
export const KNOWN_CONDITIONS = Object.keys(CONDITIONS);

/**
 * "<Polish>. <English>." for an API error ``code``; ``details`` is the error body (it may name
 * the failed ``conditions``); ``fallback`` is the server's sentence, for unknown codes.
 */
export function apiErrorText(code, details, fallback) {
  const texts = TEXTS[code];
  if (!texts) return `Błąd serwera (${code}). Server error: ${fallback}`;
  let [pl, en] = texts;
  if (code === "not_eligible") {
    const conditions = (details?.conditions ?? [details?.condition]).filter((c) => CONDITIONS[c]);
    if (conditions.length) {
      pl += ": " + conditions.map((c) => CONDITIONS[c][0]).join("; ");
      en += ": " + conditions.map((c) => CONDITIONS[c][1]).join("; ");
    }
    pl += ".";
    en += ".";
  }
  return `${pl} ${en}`;
}
