// A small deterministic CBOR encoder (RFC 8949 section 4.2.1): shortest integer and length
// heads, definite lengths only, map keys sorted by their encoded bytes. Enough for COSE_Sign1.

/** A tagged value: `new Tagged(18, [...])` encodes as #6.18([...]). */
export class Tagged {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

/**
 * Encode a value: integers (safe Number range), Uint8Array (bstr), string (tstr), Array, Map
 * (any key order in, sorted out), Tagged.
 */
export function encode(value) {
  const chunks = [];
  write(value, chunks);
  return concat(chunks);
}

function write(value, out) {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError(`CBOR: ${value} is not a safe integer`);
    if (value >= 0) out.push(head(0, value));
    else out.push(head(1, -1 - value));
  } else if (value instanceof Uint8Array) {
    out.push(head(2, value.length), value);
  } else if (typeof value === "string") {
    const bytes = new TextEncoder().encode(value);
    out.push(head(3, bytes.length), bytes);
  } else if (Array.isArray(value)) {
    out.push(head(4, value.length));
    for (const item of value) write(item, out);
  } else if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [encode(k), v]);
    entries.sort(([a], [b]) => compareBytes(a, b));
    out.push(head(5, entries.length));
    for (const [k, v] of entries) out.push(k), write(v, out);
  } else if (value instanceof Tagged) {
    out.push(head(6, value.tag));
    write(value.value, out);
  } else {
    throw new TypeError(`CBOR: cannot encode ${Object.prototype.toString.call(value)}`);
  }
}

// The initial byte(s): major type and argument in the shortest form.
function head(major, n) {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >>> 8, n & 0xff);
  if (n < 0x100000000) return Uint8Array.of(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const out = new Uint8Array(9);
  out[0] = m | 27;
  new DataView(out.buffer).setBigUint64(1, BigInt(n));
  return out;
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

export function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
