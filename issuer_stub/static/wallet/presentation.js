// The ML1 presentation (spec section 4): a COSE_Sign1 signed by the device key over
// {1: credential, 2: time}, zlib-compressed, base45, prefixed "ML1:".

import { b45encode } from "./base45.js";
import { Tagged, concat, encode } from "./cbor.js";

const COSE_SIGN1_TAG = 18;
const ALG_ES256 = -7;
export const PREFIX = "ML1:";

/** ES256 over the COSE Sig_structure; WebCrypto already gives r || s (64 bytes), as COSE wants. */
export async function signSign1(privateKey, payload) {
  const protectedHeader = encode(new Map([[1, ALG_ES256]])); // no kid on presentations
  const toBeSigned = encode(["Signature1", protectedHeader, new Uint8Array(0), payload]);
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, toBeSigned),
  );
  return encode(new Tagged(COSE_SIGN1_TAG, [protectedHeader, new Map(), payload, signature]));
}

/** The presentation bytes: `credential` is the issuer's COSE_Sign1 (tag included). */
export function makePresentation(privateKey, credential, time) {
  return signSign1(privateKey, encode(new Map([[1, credential], [2, time]])));
}

/** zlib format (RFC 1950): what CompressionStream calls "deflate". */
export async function zlibCompress(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  const chunks = [];
  for (const reader = stream.getReader(); ;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return concat(chunks);
}

/** The QR text the phone shows at `time` (epoch seconds). */
export async function presentationText(privateKey, credential, time) {
  return PREFIX + b45encode(await zlibCompress(await makePresentation(privateKey, credential, time)));
}
