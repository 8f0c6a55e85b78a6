// The wallet's service worker: the page's own files are kept in the Cache API so that, once
// activated, the wallet opens and makes fresh codes with no network (a phone in a train).
// Network first, so a changed wallet is used as soon as the server is reachable; the cached
// copy when the network fails or takes longer than NETWORK_WAIT_MS. The API and the lists are
// never cached: only GETs of the wallet's own files pass through here.

const CACHE = "mleg-wallet-v1";
const NETWORK_WAIT_MS = 3000;
const SHELL = [
  "./",
  "index.html",
  "wallet.css",
  "wallet.js",
  "api.js",
  "base45.js",
  "cbor.js",
  "messages.js",
  "offline.js",
  "presentation.js",
  "qr.js",
  "store.js",
  "manifest.webmanifest",
  "icon-192.png",
  "icon-512.png",
];
const SCOPE = new URL("./", self.location).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

function fromNetwork(request) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("slow network")), NETWORK_WAIT_MS);
    fetch(request).then(
      (response) => {
        clearTimeout(timer);
        resolve(response);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fromNetwork(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith(SCOPE) || url.pathname.endsWith("/sw.js")) return;
  event.respondWith(networkFirst(request));
});
