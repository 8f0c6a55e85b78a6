// The wallet as an installable web app: the service worker (sw.js) that keeps the page's
// files for use with no network. Registration is best effort: without it the wallet works
// online as before.

export async function registerOffline() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register("sw.js", { scope: "./" });
  } catch {
    return null; // a private window or a blocked origin: online use only
  }
}
