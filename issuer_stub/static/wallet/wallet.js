// The web wallet: activation with a code, then the rotating ML1 QR code signed by a device key
// that never leaves this browser, the holder's photo and name, extension for a new semester (a new
// credential for the same device key) and self-revocation.

import { ApiError, activate, credentialStatus, extend, selfRevoke, serverDate } from "./api.js";
import { apiErrorText } from "./messages.js";
import { registerOffline } from "./offline.js";
import { presentationText } from "./presentation.js";
import { drawQr, encodeQr } from "./qr.js";
import { clearWallet, loadWallet, saveWallet } from "./store.js";

// A new code every 10 s: ML1 section 4 asks for at least every 15 s.
export const REFRESH_MS = 10_000;
// The device clock signs the codes; warn when it is this far from the server's.
const CLOCK_TOLERANCE_MS = 60_000;
// Target width of the QR canvas in pixels; CSS scales it to the screen without smoothing.
const QR_PIXELS = 1000;

const $ = (id) => document.getElementById(id);
const VIEWS = ["view-unsupported", "view-activate", "view-wallet", "view-revoked"];
const nowSeconds = () => Math.floor(Date.now() / 1000);

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  document.body.dataset.view = view.replace("view-", "");
}

function showError(id, message) {
  $(id).textContent = message;
  $(id).hidden = !message;
}

function missingFeatures() {
  if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
    return "Strona musi być otwarta przez HTTPS. This page needs HTTPS (WebCrypto).";
  }
  if (typeof CompressionStream === "undefined" || !window.indexedDB) {
    return "Ta przeglądarka jest za stara. This browser lacks CompressionStream or IndexedDB.";
  }
  return null;
}

function base64ToBytes(text) {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

function bytesToBase64Url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// The device public key as the issuer takes it: the compressed point (SEC1: 02 or 03 by the
// sign bit of y, then x; what ML1 puts in the credential), base64url. WebCrypto exports only the
// uncompressed 04 || x || y.
async function compressedPublicKey(publicKey) {
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
  const point = new Uint8Array(33);
  point[0] = 0x02 | (raw[64] & 1);
  point.set(raw.subarray(1, 33), 1);
  return bytesToBase64Url(point);
}

// The photo (standard base64) as a data: URL, its type told by its first bytes as ML1 section 3
// says (JPEG, WebP or AVIF); "" for anything else.
function photoUrl(photo) {
  let head;
  try {
    head = atob(photo.slice(0, 16)); // 12 bytes
  } catch {
    return "";
  }
  const type = head.startsWith("\xff\xd8\xff")
    ? "image/jpeg"
    : head.startsWith("RIFF") && head.slice(8, 12) === "WEBP"
      ? "image/webp"
      : head.slice(4, 12) === "ftypavif"
        ? "image/avif"
        : null;
  return type ? `data:${type};base64,${photo}` : "";
}

// ---- the rotating code ----

class Rotator {
  constructor(record) {
    this.record = record;
    this.madeAt = null; // Date.now() of the code on screen
    this.busy = false;
    this.timer = null;
  }

  start() {
    this.timer = setInterval(() => this.tick(), 250);
    this.refresh();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  tick() {
    const age = this.madeAt === null ? 0 : Date.now() - this.madeAt;
    // A clock set back (age < 0) also gets a fresh code.
    if (age >= REFRESH_MS || age < 0) this.refresh();
    const left = Math.max(0, REFRESH_MS - Math.max(age, 0));
    $("countdown").value = left / 1000;
    $("countdown-seconds").textContent = String(Math.ceil(left / 1000));
  }

  async refresh() {
    if (this.busy || this.timer === null) return;
    this.busy = true;
    const madeAt = Date.now();
    const time = Math.floor(madeAt / 1000);
    try {
      const text = await presentationText(this.record.keyPair.privateKey, this.record.credential, time);
      if (this.timer === null) return; // stopped meanwhile (revoked)
      const qr = encodeQr(text, { level: "M" });
      const canvas = $("qr");
      drawQr(canvas, qr, { scale: Math.max(4, Math.ceil(QR_PIXELS / (qr.size + 8))), border: 4 });
      // For tests and debugging: the text on screen and when it was made.
      canvas.dataset.text = text;
      canvas.dataset.time = String(time);
      this.madeAt = madeAt;
      showError("wallet-error", "");
    } catch (error) {
      showError("wallet-error", `Nie udało się utworzyć kodu. Could not make the code: ${error.message}`);
    } finally {
      this.busy = false;
    }
  }
}

let rotator = null;
let wakeLock = null;

async function keepScreenOn() {
  try {
    if (navigator.wakeLock && document.visibilityState === "visible") {
      wakeLock = await navigator.wakeLock.request("screen");
    }
  } catch {
    wakeLock = null; // not allowed (battery saver, no user gesture): the phone may dim
  }
}

document.addEventListener("visibilitychange", () => {
  // Timers are throttled in the background: back on screen, show a fresh code at once.
  if (document.visibilityState === "visible" && rotator) {
    rotator.refresh();
    keepScreenOn();
    updateExtendButton(rotator.record);
  }
});

// ---- views ----

const WARSAW_DATE = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/Warsaw",
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
});

// exp is the first second after the last valid day (spec section 3). Shown as an ISO date,
// 2027-03-31, as the issuer stub and the verifier print it.
function lastValidDay(exp) {
  const parts = Object.fromEntries(
    WARSAW_DATE.formatToParts(new Date((exp - 1) * 1000)).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}`;
}

function showWallet(record) {
  const { holder, photo } = record;
  $("given-names").textContent = holder.gn;
  $("family-name").textContent = holder.fn;
  $("university").textContent = holder.uni;
  $("valid-until").textContent = lastValidDay(holder.exp);
  $("expired").hidden = holder.exp > nowSeconds();
  const img = $("photo");
  const url = photo ? photoUrl(photo) : "";
  img.hidden = !url;
  img.src = url;
  showError("wallet-error", "");
  showError("action-error", "");
  $("action-done").hidden = true;
  show("view-wallet");
  rotator?.stop();
  rotator = new Rotator(record);
  rotator.start();
  keepScreenOn();
  updateExtendButton(record);
}

// ---- the Extend button: shown only when the issuer has something to extend ----

async function updateExtendButton(record) {
  const button = $("extend-button");
  button.hidden = true;
  try {
    const { time, signature } = await signProof(record, "status");
    const { doc } = await credentialStatus(record.cti, time, signature);
    if (rotator?.record.cti !== record.cti) return; // another credential meanwhile
    button.hidden = !(doc && doc.extendable === true);
  } catch {
    button.hidden = true; // offline, or the server refused: nothing to offer
  }
}

async function checkClock(dateHeader) {
  const header = dateHeader ?? (await serverDate());
  const server = header ? Date.parse(header) : NaN;
  if (Number.isNaN(server)) return; // offline: nothing to compare with
  const skew = Date.now() - server;
  const warning = $("clock-warning");
  warning.hidden = Math.abs(skew) <= CLOCK_TOLERANCE_MS;
  $("clock-skew").textContent = String(Math.round(skew / 1000));
}

async function onActivate(event) {
  event.preventDefault();
  const button = $("activate-button");
  button.disabled = true;
  showError("activate-error", "");
  try {
    // Non-extractable: the private key can sign but can never be read out of the browser.
    const keyPair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const deviceKey = await compressedPublicKey(keyPair.publicKey);
    const { doc, date } = await activate($("code").value, deviceKey);
    const record = { keyPair, ...credentialFields(doc), activatedAt: nowSeconds() };
    await saveWallet(record);
    $("activate-form").reset();
    showWallet(record);
    checkClock(date);
  } catch (error) {
    const message = errorText(error);
    showError("activate-error", message);
  } finally {
    button.disabled = false;
  }
}

// API errors by their code, in Polish and English (messages.js); a generic one for anything else.
function errorText(error) {
  if (error instanceof ApiError) return apiErrorText(error.code, error.details, error.message);
  return `Błąd. Error: ${error.message}`;
}

// The credential fields of an /api/activate or /api/extend answer, as the wallet stores them.
function credentialFields(doc) {
  return {
    credential: base64ToBytes(doc.credential),
    cti: doc.cti,
    holder: doc.holder,
    photo: doc.photo ?? null,
  };
}

// What the device key signs to ask for an action on its credential ("revoke" or "extend"):
// ES256 over "ML1-<action>:<cti>:<time>", the raw r||s as base64url.
async function signProof(record, action) {
  const time = nowSeconds();
  const message = new TextEncoder().encode(`ML1-${action}:${record.cti}:${time}`);
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, record.keyPair.privateKey, message),
  );
  return { time, signature: bytesToBase64Url(signature) };
}

async function onExtend() {
  const record = await loadWallet();
  if (!record) return;
  // Not both at once: a revocation answered before the extension would be undone on screen.
  const buttons = [$("extend-button"), $("revoke-button")];
  for (const button of buttons) button.disabled = true;
  showError("action-error", "");
  $("action-done").hidden = true;
  try {
    const { time, signature } = await signProof(record, "extend");
    const { doc, date } = await extend(record.cti, time, signature);
    // The same device key; the server revoked the old credential.
    const extended = { ...record, ...credentialFields(doc), extendedAt: nowSeconds() };
    await saveWallet(extended);
    showWallet(extended);
    const until = lastValidDay(extended.holder.exp);
    $("action-done").textContent = `Przedłużono do ${until}. Extended until ${until}.`;
    $("action-done").hidden = false;
    checkClock(date);
  } catch (error) {
    // The stored wallet is untouched: its codes keep working until the old credential expires.
    const message = errorText(error);
    showError("action-error", message);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

async function onRevoke() {
  const record = await loadWallet();
  if (!record) return;
  const question =
    "Unieważnić tę legitymację? Tego nie można cofnąć.\nRevoke this student ID? This cannot be undone.";
  if (!window.confirm(question)) return;
  const button = $("revoke-button");
  button.disabled = true;
  try {
    const { time, signature } = await signProof(record, "revoke");
    await selfRevoke(record.cti, time, signature);
    rotator?.stop();
    rotator = null;
    await clearWallet();
    show("view-revoked");
  } catch (error) {
    // The actions' own line: the code rotation clears "wallet-error" every 10 s.
    const message = errorText(error);
    $("action-done").hidden = true;
    showError("action-error", message);
  } finally {
    button.disabled = false;
  }
}

async function main() {
  registerOffline();
  $("activate-form").addEventListener("submit", onActivate);
  $("extend-button").addEventListener("click", onExtend);
  $("revoke-button").addEventListener("click", onRevoke);
  $("again-button").addEventListener("click", () => show("view-activate"));
  const missing = missingFeatures();
  if (missing) {
    $("unsupported-detail").textContent = missing;
    show("view-unsupported");
    return;
  }
  const record = await loadWallet();
  if (record) showWallet(record);
  else show("view-activate");
  checkClock(null);
}

main();
