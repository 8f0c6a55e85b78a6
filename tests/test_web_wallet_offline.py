"""The web wallet as an installable web app (issue 15): a manifest, a service worker that keeps
the page's files, and fresh codes with no network once activated; API error codes in Polish and
English. In Debian's Chromium through Playwright, as tests/test_web_wallet.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests import test_web_wallet
from tests.test_web_wallet import (
    REFRESH_MS,
    START,
    activate,
    shown_code,
    verifier_check,
    watch_errors,
)
from tests.webwallet_server import FakeIssuer, ServerThread
from verifier.core.credential import parse_presentation

browser = test_web_wallet.browser  # the fixtures (and the skips when Chromium is missing)
issuer = test_web_wallet.issuer
STATIC = Path(__file__).resolve().parents[1] / "issuer_stub" / "static" / "wallet"


def new_page(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 412, "height": 915})
    page = context.new_page()
    errors = watch_errors(page)
    page.clock.install(time=START - timedelta(minutes=1))
    page.clock.pause_at(START)
    return context, page, errors


def test_manifest_makes_the_wallet_installable() -> None:
    manifest = json.loads((STATIC / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == "./" and manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        png = (STATIC / icon["src"]).read_bytes()
        assert png.startswith(b"\x89PNG")
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert f"{width}x{height}" == icon["sizes"]
    index = (STATIC / "index.html").read_text()
    assert '<link rel="manifest" href="manifest.webmanifest">' in index
    # every file the page loads is in the service worker's list (else it would not open offline)
    shell = re.findall(r'^\s+"([^"]+)",$', (STATIC / "sw.js").read_text(), re.M)
    served = {p.name for p in STATIC.iterdir()} - {"sw.js"}
    assert served <= set(shell) | {"./"}, served - set(shell)


def test_once_activated_the_wallet_opens_and_makes_codes_with_no_network(
    browser: Any, issuer: FakeIssuer, tmp_path: Path
) -> None:
    context, page, errors = new_page(browser)
    server = ServerThread(issuer.app).__enter__()
    try:
        page.goto(server.url + "/wallet/")
        first, _ = activate(page)
        # the service worker is installed and holds the page's files
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_function(
            "caches.open('mleg-wallet-v1').then(c => c.keys()).then(k => k.length >= 15)")
    finally:
        server.__exit__(None, None, None)  # the network is gone: nothing answers any more
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#qr[data-text]")
    assert page.locator("#view-wallet").is_visible()
    assert page.locator("#extend-button").is_hidden()  # nothing can be extended offline
    text, made_at = shown_code(page)
    page.clock.run_for(REFRESH_MS)
    page.wait_for_function(
        f"document.getElementById('qr').dataset.time === '{made_at + REFRESH_MS // 1000}'")
    fresh, fresh_at = shown_code(page)
    assert fresh != text and fresh_at > made_at
    assert parse_presentation(fresh).credential.cti == parse_presentation(first).credential.cti
    lists = {"anchor": tmp_path / "anchor.pem", "tl": tmp_path / "tl.cbor",
             "rl": tmp_path / "rl.cbor"}
    from issuer_stub.keystore import public_pem

    ministry = issuer.world.ministry
    lists["anchor"].write_bytes(public_pem(ministry.key.public_key()))
    lists["tl"].write_bytes(ministry.trust_list(iat=fresh_at - 3600))
    lists["rl"].write_bytes(ministry.revocation_list(iat=fresh_at - 600))
    (result,) = verifier_check(lists, fresh_at, fresh, text=True)
    assert result["verdict"] == "valid"
    context.close()
    assert errors == []


def test_codes_the_real_api_sends_are_all_known(browser: Any, issuer: FakeIssuer) -> None:
    """Every error code in issuer_stub (raised with a code) is said in the page's languages."""
    source = Path(__file__).resolve().parents[1] / "issuer_stub"
    raised = set()
    for path in source.glob("*.py"):
        raised |= set(re.findall(  # raise SomeError("sentence", "code")
            r'raise [A-Z]\w*\(\s*(?:f?"[^"]*"\s*)+,\s*"([a-z_]+)"\s*,?\s*\)', path.read_text()))
    raised -= {"invalid_csv", "duplicate_student", "wallet_exists", "bad_wallet",
               "unknown_student", "setup", "invalid_date", "photo_type", "photo_size",
               "pesel_invalid", "pesel_dob_mismatch", "family_name", "exp_in_past",
               "unknown_issuer", "unauthorized", "photo_no_face", "photo_dimensions",
               }  # CLI and admin only: never sent to a phone
    context, page, _errors = new_page(browser)
    with ServerThread(issuer.app) as server:
        page.goto(server.url + "/wallet/")
        known = page.evaluate("""async () => (await import("./messages.js")).KNOWN_CODES""")
        texts = page.evaluate("""async (codes) => {
            const { apiErrorText } = await import("./messages.js");
            return codes.map((code) => apiErrorText(code, null, "the server's sentence"));
        }""", known)
        unknown = page.evaluate("""async () => (await import("./messages.js"))
            .apiErrorText("brand_new", null, "the server's sentence")""")
        condition = page.evaluate(
            """async () => (await import("./messages.js")).apiErrorText("not_eligible",
                {conditions: ["pesel_missing", "photo_missing"]}, "x")""")
    context.close()
    assert raised and raised <= set(known), raised - set(known)
    for text in texts:  # "<Polish>. <English>." and not the fallback
        assert "the server's sentence" not in text
        polish, english = text.split(". ", 1)
        assert re.search("[ąćęłńóśźż]", polish.lower()) or " nie " in f" {polish} ", text
        assert english[0].isupper() and english.endswith("."), text
    assert unknown == "Błąd serwera (brand_new). Server error: the server's sentence"
    assert "PESEL" in condition and "zdjęcia" in condition and "no photo" in condition
