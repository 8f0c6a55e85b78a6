// The issuer's wallet API: activation, extension, status and self-revocation. Errors carry the
// server's code, its (English) sentence and the whole error body; messages.js says them in
// Polish and English.

export class ApiError extends Error {
  constructor(message, code, status, details = null) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

// Relative to the page (served at <base>/wallet/), so the API is found under any prefix.
const endpoint = (name) => new URL(`../api/${name}`, document.baseURI);

async function postJson(name, body) {
  let response;
  try {
    response = await fetch(endpoint(name), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("Brak połączenia z serwerem. No connection to the server.", "network", 0);
  }
  let doc = null;
  try {
    doc = await response.json();
  } catch {
    // not JSON: the status line is all there is
  }
  if (!response.ok) {
    const message = doc && typeof doc.message === "string" ? doc.message : `HTTP ${response.status}`;
    throw new ApiError(message, doc && doc.error ? String(doc.error) : "http", response.status, doc);
  }
  return { doc, date: response.headers.get("Date") };
}

/** POST /api/activate: the code as typed and the device public key (compressed point). */
export function activate(code, deviceKey) {
  return postJson("activate", { code, device_key: deviceKey });
}

/** POST /api/self-revoke: signed "ML1-revoke:<cti>:<time>". */
export function selfRevoke(cti, time, signature) {
  return postJson("self-revoke", { cti, time, signature });
}

/** POST /api/extend: signed "ML1-extend:<cti>:<time>"; answers as activate (a new credential). */
export function extend(cti, time, signature) {
  return postJson("extend", { cti, time, signature });
}

/** POST /api/status: signed "ML1-status:<cti>:<time>"; {revoked, extendable, extend_to}. */
export function credentialStatus(cti, time, signature) {
  return postJson("status", { cti, time, signature });
}

/** The server's Date header, for the clock check; null when offline or absent. */
export async function serverDate() {
  try {
    const response = await fetch(document.baseURI, { method: "HEAD", cache: "no-store" });
    return response.headers.get("Date");
  } catch {
    return null;
  }
}
