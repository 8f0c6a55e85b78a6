// The wallet kept in IndexedDB: the device CryptoKeyPair (structured clone keeps the private key
// non-extractable) with the credential and the holder details, under one record.

const DB_NAME = "mleg-wallet";
const STORE = "wallet";
const KEY = "current";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** {keyPair, credential: Uint8Array, cti, holder, photo, activatedAt, extendedAt?} or undefined. */
export function loadWallet() {
  return run("readonly", (store) => store.get(KEY));
}

export function saveWallet(record) {
  return run("readwrite", (store) => store.put(record, KEY));
}

export function clearWallet() {
  return run("readwrite", (store) => store.delete(KEY));
}
