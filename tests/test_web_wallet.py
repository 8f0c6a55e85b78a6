"""The web wallet (issuer_stub/static/wallet/) in a real headless Chromium, through Playwright.

The page's JavaScript makes the QR code, the CBOR, the COSE signature (WebCrypto) and the zlib
stream itself; these tests read what it shows with zxing-cpp, check the texts with the
project's own `verifier check`, and compare the QR symbols with segno's, module by module.
The issuer side is tests/webwallet_server.py, the API contract on top of the issuer stub.
Skipped when the `playwright` package or Debian's /usr/bin/chromium is missing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import cv2
import numpy as np
import pytest
import segno
import zxingcpp
from PIL import Image
from segno.encoder import mask_scores

from issuer_stub import codesize, devicekeys
from issuer_stub.keystore import public_pem
from issuer_stub.pesel import make as make_pesel
from issuer_stub.photos import synthetic_face, synthetic_portrait
from issuer_stub.semesters import end_of_day, following_semester_end, next_semester_end
from issuer_stub.signing import StudentData
from tests.conftest import NOW, STUDENT, World
from tests.webwallet_server import FakeIssuer, ServerThread, public_key_from_jwk
from verifier.core.base45 import b45decode
from verifier.core.credential import parse_presentation

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

# Without the background-networking flags Chromium dials out at start, which a closed network
# refuses; --disable-quic keeps it on plain TCP.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VERIFIER = Path(sys.executable).with_name("verifier")
ISSUER_STUB = Path(sys.executable).with_name("issuer-stub")
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
REFRESH_MS = 10_000  # wallet.js REFRESH_MS
CODE = "ABCD-1234"
CODE_NO_PHOTO = "EFGH-5678"
START = datetime.fromtimestamp(NOW, UTC)
STUDENT_WITH_PHOTO = dataclasses.replace(STUDENT, photo=synthetic_portrait("web wallet"))
# The fake issuer's credentials run to 31 March 2027; after the ELS's extension, to 31 October.
EXTENDED_EXP = next_semester_end(next_semester_end(NOW))
CLOCK_MESSAGE = ("Zegar telefonu jest źle ustawiony; włącz automatyczne ustawianie daty i godziny "
                 "i spróbuj ponownie. "
                 "The phone's clock is off; set the time automatically and try again.")


# ---- fixtures ----


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def issuer() -> FakeIssuer:
    world = World()
    fake = FakeIssuer(world, exp=next_semester_end(NOW))
    fake.codes = {CODE: STUDENT_WITH_PHOTO, CODE_NO_PHOTO: STUDENT}
    return fake


@pytest.fixture
def server(issuer: FakeIssuer) -> Iterator[ServerThread]:
    with ServerThread(issuer.app) as running:
        yield running


@pytest.fixture
def page(browser: Any, server: ServerThread) -> Iterator[Any]:
    """A phone-sized page on the wallet, its clock paused at NOW; fails on any page error."""
    context = browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=2)
    page = context.new_page()
    errors = watch_errors(page)
    # Installed a little earlier, as the clock runs until paused (it cannot be moved back).
    page.clock.install(time=START - timedelta(minutes=1))
    page.clock.pause_at(START)
    page.goto(server.url + "/wallet/")
    yield page
    context.close()
    assert errors == [], "errors in the page (CSP violations show up here too)"


@pytest.fixture
def lists(issuer: FakeIssuer, tmp_path: Path) -> dict[str, Path]:
    """The anchor and the two signed lists as files for `verifier check`."""
    ministry = issuer.world.ministry
    files = {
        "anchor": tmp_path / "anchor.pem",
        "tl": tmp_path / "trustlist.cbor",
        "rl": tmp_path / "revocations.cbor",
    }
    files["anchor"].write_bytes(public_pem(ministry.key.public_key()))
    files["tl"].write_bytes(ministry.trust_list(iat=NOW - 3600))
    files["rl"].write_bytes(ministry.revocation_list(iat=NOW - 600))
    return files


# ---- helpers ----


def watch_errors(page: Any) -> list[str]:
    """Script errors, console errors (CSP violations among them) and failed loads of the page."""
    errors: list[str] = []

    def console(msg: Any) -> None:
        # Failed loads are judged by the response listener: API errors are part of the contract.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    def response(r: Any) -> None:
        if r.status >= 400 and "/api/" not in r.url:
            errors.append(f"{r.status} {r.url}")

    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", console)
    page.on("response", response)
    return errors


def verifier_check(lists: dict[str, Path], now: int, *inputs: str, text: bool = False) -> list:
    """`verifier check --json` as a script runs it: one JSON object per input."""
    argv = [str(VERIFIER), "check", "--json", "--anchor", str(lists["anchor"])]
    argv += ["--trust-list", str(lists["tl"]), "--revocation-list", str(lists["rl"])]
    argv += ["--now", str(now), *(["--text"] if text else []), *inputs]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.stderr == ""
    return [json.loads(line) for line in done.stdout.splitlines()]


def read_qr(png: bytes) -> list[Any]:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def shown_code(page: Any) -> tuple[str, int]:
    canvas = page.locator("#qr")
    return canvas.get_attribute("data-text"), int(canvas.get_attribute("data-time"))


def activate(page: Any, code: str = CODE) -> tuple[str, int]:
    page.fill("#code", code)
    page.click("#activate-button")
    page.wait_for_selector("#qr[data-text]")
    return shown_code(page)


def stored_wallet(page: Any) -> Any:
    """What IndexedDB holds, as the page's own store module reads it."""
    return page.evaluate(
        """async () => {
            const { loadWallet } = await import("./store.js");
            const record = await loadWallet();
            return record ? { cti: record.cti, extractable: record.keyPair.privateKey.extractable,
                              credential: Array.from(record.credential) } : null;
        }"""
    )


def device_public_key(page: Any) -> Any:
    """The stored device key pair's public half, as a JWK."""
    return page.evaluate(
        """async () => {
            const { loadWallet } = await import("./store.js");
            return crypto.subtle.exportKey("jwk", (await loadWallet()).keyPair.publicKey);
        }"""
    )


def ml1_text(student: StudentData = STUDENT) -> str:
    world = World()
    return world.wallet(student).present(NOW)


def encode_in_page(page: Any, text: str, mask: int | None = None) -> dict[str, Any]:
    """Encode with the page's qr.js and draw it at 4 px per module on a bare canvas."""
    return page.evaluate(
        """async ([text, mask]) => {
            const { encodeQr, drawQr, penalty } = await import("./qr.js");
            const qr = encodeQr(text, mask === null ? {} : { mask });
            let canvas = document.getElementById("test-canvas");
            if (!canvas) {
                canvas = document.createElement("canvas");
                canvas.id = "test-canvas";
                document.body.prepend(canvas);
            }
            drawQr(canvas, qr, { scale: 4, border: 4 });
            const rows = [];
            for (let r = 0; r < qr.size; r++) {
                let row = "";
                for (let c = 0; c < qr.size; c++) row += qr.isDark(r, c) ? "1" : "0";
                rows.push(row);
            }
            return { version: qr.version, level: qr.level, mode: qr.mode, mask: qr.mask, rows,
                     penalty: penalty(qr.modules, qr.size) };
        }""",
        [text, mask],
    )


def _alphanumeric(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(ALPHANUMERIC) for _ in range(n))


# ---- the QR encoder ----

# Where a data stream ends on a byte boundary with room left, segno 1.6 adds a zero byte that
# ISO/IEC 18004 does not ask for: both symbols decode the same, but their modules differ. The
# alphanumeric lengths here avoid that; in byte mode it always happens (4 + 8 + 8n + 4 bits).
QR_TEXTS = {
    "short": "ML1:",
    "one char": "7",
    "odd length": _alphanumeric(41, 1),
    "version 5": _alphanumeric(101, 2),
    "version 9 to 10 count bits": _alphanumeric(232, 3),
    "medium": _alphanumeric(556, 4),
    "version 27 count bits": _alphanumeric(1591, 5),
    "largest at level M": _alphanumeric(3391, 6),
    "ML1 without photo": ml1_text(),
    "ML1 with photo": ml1_text(STUDENT_WITH_PHOTO),
    "byte mode": "Zażółć gęślą jaźń, ml1:abc",
}


def _qrcode_rows(text: str, version: int, level: str, mask: int) -> list[str]:
    import qrcode  # the test extra's second, independent QR encoder

    levels = {"M": qrcode.constants.ERROR_CORRECT_M, "Q": qrcode.constants.ERROR_CORRECT_Q,
              "H": qrcode.constants.ERROR_CORRECT_H}
    code = qrcode.QRCode(version=version, error_correction=levels[level], mask_pattern=mask,
                         border=0)
    code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    code.make(fit=False)
    return ["".join("1" if dark else "0" for dark in row) for row in code.get_matrix()]


@pytest.mark.parametrize("text", QR_TEXTS.values(), ids=QR_TEXTS.keys())
def test_qr_code_decodes_to_the_text_and_matches_segno(page: Any, text: str) -> None:
    made = encode_in_page(page, text)
    results = read_qr(page.locator("#test-canvas").screenshot())
    assert [r.text for r in results] == [text]
    (result,) = results
    assert result.extra["Version"] == str(made["version"])
    assert result.ec_level == made["level"]
    assert made["level"] in ("M", "Q", "H")
    mode = "alphanumeric" if set(text) <= set(ALPHANUMERIC) else "byte"
    assert made["mode"] == mode
    # The smallest version for the text at level M, boosted to a stronger level when it fits.
    reference = segno.make_qr(text, error="m", mode=mode, boost_error=True)
    assert (made["version"], made["level"]) == (reference.version, reference.error.upper())
    if mode == "alphanumeric":
        # Module for module what python-qrcode makes with the same version, level, mode and
        # mask. (Not segno: for about half of the random version-29 ML1 texts segno's matrix
        # differs from both qr.js and python-qrcode in ~600 modules — still decodable thanks
        # to error correction, which is how it went unnoticed.)
        assert made["rows"] == _qrcode_rows(text, made["version"], made["level"], made["mask"])


def test_ml1_texts_use_alphanumeric_mode_at_level_m(page: Any) -> None:
    # 613 characters: in byte mode this would need version 19, in alphanumeric 15.
    text = ml1_text()
    made = encode_in_page(page, text)
    assert (made["mode"], made["level"]) == ("alphanumeric", "M")
    assert made["version"] == segno.make_qr(text, error="m", mode="alphanumeric").version
    assert made["version"] < segno.make_qr(text, error="m", mode="byte").version


def test_qr_mask_has_the_lowest_penalty_of_the_eight(page: Any) -> None:
    text = _alphanumeric(300, 7)
    scores = []
    for mask in range(8):
        made = encode_in_page(page, text, mask)
        matrix = [bytearray(int(c) for c in row) for row in made["rows"]]
        # The page's score equals segno's for the same finished symbol.
        assert made["penalty"] == sum(mask_scores(matrix, len(matrix), len(matrix)))
        scores.append(made["penalty"])
    assert encode_in_page(page, text)["mask"] == scores.index(min(scores))
    assert len(set(scores)) > 1


def test_qr_text_too_long_for_level_m_is_refused(page: Any) -> None:
    message = page.evaluate(
        """async (text) => {
            const { encodeQr } = await import("./qr.js");
            try { encodeQr(text); return null; } catch (e) { return `${e.name}: ${e.message}`; }
        }""",
        _alphanumeric(3392, 8),
    )
    assert message == "RangeError: text of 3392 characters does not fit in a QR code at level M"


# ---- the presentation ----


def test_presentation_made_in_the_page_verifies(
    page: Any, issuer: FakeIssuer, lists: dict[str, Path]
) -> None:
    jwk = page.evaluate(
        """async () => {
            window.testKeys = await crypto.subtle.generateKey(
                { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
            return crypto.subtle.exportKey("jwk", window.testKeys.publicKey);
        }"""
    )
    credential = issuer.world.uni.issue(
        STUDENT, public_key_from_jwk(jwk), iat=NOW - 86400, exp=NOW + 86400
    )
    text = page.evaluate(
        """async ([credential, time]) => {
            const { presentationText } = await import("./presentation.js");
            return presentationText(window.testKeys.privateKey, new Uint8Array(credential), time);
        }""",
        [list(credential), NOW],
    )
    (result,) = verifier_check(lists, NOW, text, text=True)
    assert (result["verdict"], result["reason"], result["warnings"]) == ("valid", None, [])
    assert result["holder"]["family_name"] == STUDENT.family_name

    # The structure of spec section 4, encoded deterministically.
    assert text.startswith("ML1:")
    raw = zlib.decompress(b45decode(text[4:]))
    tag = cbor2.loads(raw)
    assert tag.tag == 18
    protected, unprotected, payload, signature = tag.value
    assert (protected, unprotected, len(signature)) == (b"\xa1\x01\x26", {}, 64)
    assert cbor2.loads(payload) == {1: credential, 2: NOW}
    assert cbor2.dumps(tag, canonical=True) == raw
    assert cbor2.dumps({1: credential, 2: NOW}, canonical=True) == payload


# ---- the wallet page ----


def test_activate_scan_verify_and_rotate(
    page: Any, issuer: FakeIssuer, lists: dict[str, Path], tmp_path: Path
) -> None:
    text, made_at = activate(page)
    assert made_at == NOW  # the device clock signs
    assert page.locator("#family-name").inner_text() == STUDENT.family_name
    assert page.locator("#given-names").inner_text() == STUDENT.given_names
    assert page.locator("#university").inner_text() == STUDENT.university
    assert page.locator("#valid-until").inner_text() == "2027-03-31"  # exp - 1 s, Warsaw time
    width = Image.open(io.BytesIO(STUDENT_WITH_PHOTO.photo)).width  # the WebP portrait
    assert page.locator("#photo").evaluate("img => img.complete && img.naturalWidth") == width
    assert page.locator("#clock-warning").is_hidden()

    # What a verifier's camera sees: the page as the phone shows it.
    screenshot = tmp_path / "phone.png"
    page.screenshot(path=str(screenshot))
    assert [r.text for r in read_qr(screenshot.read_bytes())] == [text]
    (result,) = verifier_check(lists, made_at, str(screenshot))
    assert (result["verdict"], result["reason"]) == ("valid", None)
    assert result["holder"]["given_names"] == STUDENT.given_names

    # The device key in the credential is the one the browser generated.
    cti = page.evaluate("async () => (await import('./store.js')).loadWallet().then(r => r.cti)")
    assert issuer.issued[cti].credential == bytes(stored_wallet(page)["credential"])

    page.clock.run_for(REFRESH_MS)
    page.wait_for_function(f"document.getElementById('qr').dataset.time === '{NOW + 10}'")
    new_text, new_time = shown_code(page)
    assert new_text != text
    page.screenshot(path=str(screenshot))
    assert [r.text for r in read_qr(screenshot.read_bytes())] == [new_text]
    (result,) = verifier_check(lists, new_time, str(screenshot))
    assert result["verdict"] == "valid"
    # The first code has gone stale by the time a verifier would see it a minute later.
    (old,) = verifier_check(lists, NOW + 120, text, text=True)
    assert old["reason"] == "presentation_stale"


def test_countdown_shows_the_seconds_to_the_next_code(page: Any) -> None:
    activate(page)
    page.clock.run_for(3_000)
    assert page.locator("#countdown-seconds").inner_text() == "7"
    assert page.locator("#countdown").evaluate("p => p.value") == 7


def test_reload_keeps_the_same_wallet(page: Any, lists: dict[str, Path]) -> None:
    activate(page, CODE_NO_PHOTO)
    before = stored_wallet(page)
    page.reload()
    page.wait_for_selector("#qr[data-text]")
    assert stored_wallet(page) == before
    assert page.locator("#photo").is_hidden()
    text, made_at = shown_code(page)
    (result,) = verifier_check(lists, made_at, text, text=True)
    assert result["verdict"] == "valid"


def _photo(fmt: str) -> bytes:
    out = io.BytesIO()
    image = Image.fromarray(synthetic_face("format " + fmt)).resize((72, 96))
    image.save(out, fmt, quality=20)
    assert len(out.getvalue()) <= 1024
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "mime"), [("AVIF", "image/avif"), ("WEBP", "image/webp"),
                                           ("JPEG", "image/jpeg")])
def test_photo_shown_by_its_type_and_key_sent_compressed(
    browser: Any, issuer: FakeIssuer, fmt: str, mime: str
) -> None:
    issuer.codes = {CODE: dataclasses.replace(STUDENT, photo=_photo(fmt))}
    context = browser.new_context(viewport={"width": 412, "height": 915})
    try:
        with ServerThread(issuer.app) as server:
            page = context.new_page()
            errors = watch_errors(page)
            page.goto(server.url + "/wallet/")
            with page.expect_request("**/api/activate") as request:
                text, _ = activate(page)
            sent = request.value.post_data_json["device_key"]
            photo = page.locator("#photo")
            assert photo.evaluate("img => img.complete && img.naturalWidth") == 72
            assert photo.get_attribute("src").startswith(f"data:{mime};base64,")
            assert errors == []
    finally:
        context.close()
    # 33 bytes, 02/03 then x: the key the issuer bound is the phone's own.
    point = devicekeys.b64url_decode(sent, "device_key")
    assert len(point) == 33 and point[0] in (2, 3)
    (activation,) = issuer.issued.values()
    assert devicekeys.from_compressed(sent).public_numbers() == (
        activation.device_key.public_numbers())
    # The browser's own zlib (CompressionStream) stays within the bound the issuer fits to.
    assert len(text) <= codesize.code_text_bound(activation.credential)


def test_device_key_is_not_extractable(page: Any) -> None:
    activate(page)
    assert stored_wallet(page)["extractable"] is False
    outcome = page.evaluate(
        """async () => {
            const { loadWallet } = await import("./store.js");
            const { privateKey } = (await loadWallet()).keyPair;
            const out = [];
            for (const format of ["pkcs8", "jwk"]) {
                try { await crypto.subtle.exportKey(format, privateKey); out.push("exported"); }
                catch (e) { out.push(e.name); }
            }
            return out;
        }"""
    )
    assert outcome == ["InvalidAccessError", "InvalidAccessError"]


def test_revoke_after_confirming(page: Any, issuer: FakeIssuer, lists: dict[str, Path]) -> None:
    text, _ = activate(page)
    cti = stored_wallet(page)["cti"]
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.once("dialog", accept)
    page.click("#revoke-button")
    page.wait_for_selector("#view-revoked:not([hidden])")
    assert dialogs == ["confirm"]
    assert [r["cti"] for r in issuer.revocations] == [cti]  # the server verified the signature
    assert issuer.revocations[0]["time"] == NOW
    assert stored_wallet(page) is None
    assert page.locator("#view-wallet").is_hidden()

    # The revocation reaches the signed list: the code shown before is now refused.
    assert issuer.revocation_list is not None
    lists["rl"].write_bytes(issuer.revocation_list)
    (result,) = verifier_check(lists, NOW, text, text=True)
    assert result["reason"] == "revoked"

    page.reload()
    page.wait_for_selector("#view-activate:not([hidden])")


def test_revoke_cancelled_keeps_the_wallet(page: Any, issuer: FakeIssuer) -> None:
    activate(page)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#revoke-button")
    page.wait_for_function("!document.getElementById('revoke-button').disabled")
    assert issuer.revocations == []
    assert stored_wallet(page) is not None
    assert page.locator("#view-wallet").is_visible()


def test_revoke_error_stays_on_screen_through_code_rotations(
    page: Any, issuer: FakeIssuer
) -> None:
    activate(page)
    issuer.clock_offset = 3600  # the server refuses the signed request's time
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#revoke-button")
    page.wait_for_selector("#action-error:not([hidden])")
    message = page.locator("#action-error").inner_text()
    assert message == CLOCK_MESSAGE  # the code time_skew, in Polish and English
    assert issuer.revocations == [] and stored_wallet(page) is not None
    page.clock.run_for(REFRESH_MS)  # a new code is drawn; the message must not vanish
    page.wait_for_function(f"document.getElementById('qr').dataset.time === '{NOW + 10}'")
    assert page.locator("#action-error").inner_text() == message
    assert page.locator("#revoke-button").is_enabled()


def test_extend_replaces_the_credential_for_the_same_device_key(
    page: Any, issuer: FakeIssuer, lists: dict[str, Path], tmp_path: Path
) -> None:
    issuer.extended_exp = EXTENDED_EXP  # the ELS was extended for the winter semester
    old_text, _ = activate(page)
    old, old_key = stored_wallet(page), device_public_key(page)
    page.click("#extend-button")  # shown: the issuer has a longer ELS on file
    page.wait_for_selector("#action-done:not([hidden])")
    assert page.locator("#valid-until").inner_text() == "2027-10-31"
    assert page.locator("#action-done").inner_text() == (
        "Przedłużono do 2027-10-31. Extended until 2027-10-31."
    )
    # nothing more to extend: the button goes
    page.wait_for_selector("#extend-button", state="hidden")
    assert page.locator("#action-error").is_hidden()
    assert [(r["cti"], r["time"]) for r in issuer.extensions] == [(old["cti"], NOW)]

    # IndexedDB holds the new credential with the same (still non-extractable) device key.
    new = stored_wallet(page)
    assert new["cti"] != old["cti"]
    assert issuer.issued[new["cti"]].credential == bytes(new["credential"])
    assert new["extractable"] is False
    assert device_public_key(page) == old_key

    # The code on screen now carries the new credential, bound to the browser's device key.
    page.wait_for_function(
        f"document.getElementById('qr').dataset.text !== {json.dumps(old_text)}"
    )
    text, made_at = shown_code(page)
    credential = parse_presentation(text).credential
    assert credential.cti.hex() == new["cti"]
    assert credential.device_key.public_numbers() == public_key_from_jwk(old_key).public_numbers()
    screenshot = tmp_path / "phone.png"
    page.screenshot(path=str(screenshot))
    assert [r.text for r in read_qr(screenshot.read_bytes())] == [text]
    (result,) = verifier_check(lists, made_at, str(screenshot))
    assert (result["verdict"], result["reason"]) == ("valid", None)
    assert result["credential"]["exp"] == EXTENDED_EXP
    assert result["credential"]["cti"] == new["cti"]

    # The old credential is on the issuer's revocation list; the new one keeps rotating.
    assert issuer.revocation_list is not None
    lists["rl"].write_bytes(issuer.revocation_list)
    (result,) = verifier_check(lists, NOW, old_text, text=True)
    assert result["reason"] == "revoked"
    page.clock.run_for(REFRESH_MS)
    page.wait_for_function(f"document.getElementById('qr').dataset.time === '{NOW + 10}'")
    text, made_at = shown_code(page)
    (result,) = verifier_check(lists, made_at, text, text=True)
    assert (result["verdict"], result["credential"]["exp"]) == ("valid", EXTENDED_EXP)

    page.reload()
    page.wait_for_selector("#qr[data-text]")
    assert page.locator("#valid-until").inner_text() == "2027-10-31"
    assert page.locator("#action-done").is_hidden()
    assert stored_wallet(page) == new


def test_no_extend_button_when_there_is_nothing_to_extend(page: Any, issuer: FakeIssuer) -> None:
    activate(page)
    page.wait_for_selector("#extend-button", state="hidden")
    issuer.extended_exp = EXTENDED_EXP  # the university extends the ELS meanwhile
    page.reload()  # the student opens the wallet again: the page asks the issuer
    page.wait_for_selector("#extend-button", state="visible")


@pytest.mark.parametrize(
    ("extended_exp", "clock_offset", "message"),
    [
        (None, 0, "Nie ma czego przedłużać: legitymacja jest ważna tak długo, jak ELS. "
                  "Nothing to extend: the ID is valid as long as the student card (ELS)."),
        (EXTENDED_EXP, 3600, CLOCK_MESSAGE),
    ],
    ids=["already_current", "clock_off"],
)
def test_extend_error_shows_the_message_and_keeps_the_wallet(
    page: Any,
    issuer: FakeIssuer,
    lists: dict[str, Path],
    extended_exp: int | None,
    clock_offset: int,
    message: str,
) -> None:
    issuer.extended_exp = EXTENDED_EXP
    activate(page)
    page.wait_for_selector("#extend-button", state="visible")
    before = stored_wallet(page)
    # Between the page's look and the tap, the issuer changed its mind, or its clock.
    issuer.extended_exp, issuer.clock_offset = extended_exp, clock_offset
    page.click("#extend-button")
    page.wait_for_selector("#action-error:not([hidden])")
    assert page.locator("#action-error").inner_text() == message
    assert page.locator("#action-done").is_hidden()
    assert page.locator("#view-wallet").is_visible()
    assert page.locator("#valid-until").inner_text() == "2027-03-31"
    assert page.locator("#extend-button").is_enabled()
    assert issuer.extensions == []
    assert stored_wallet(page) == before

    # The old credential keeps making valid codes, and the message stays through a rotation.
    page.clock.run_for(REFRESH_MS)
    page.wait_for_function(f"document.getElementById('qr').dataset.time === '{NOW + 10}'")
    text, made_at = shown_code(page)
    (result,) = verifier_check(lists, made_at, text, text=True)
    assert (result["verdict"], result["credential"]["cti"]) == ("valid", before["cti"])
    assert result["credential"]["exp"] == issuer.exp
    assert page.locator("#action-error").inner_text() == message


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ZZZZ-0000", "Nie ma takiego kodu aktywacyjnego; sprawdź, czy został dobrze "
                      "przepisany. No such activation code; check that it was typed correctly."),
        (CODE, "Ten kod został już użyty; poproś uczelnię o nowy. This code was used already; "
               "ask the university for a new one."),
    ],
    ids=["code_unknown", "code_used"],
)
def test_activation_error_shows_the_code_in_polish_and_english(
    page: Any, issuer: FakeIssuer, code: str, message: str
) -> None:
    issuer.used.add(CODE)
    page.fill("#code", code)
    page.click("#activate-button")
    page.wait_for_selector("#activate-error:not([hidden])")
    assert page.locator("#activate-error").inner_text() == message
    assert page.locator("#view-activate").is_visible()
    assert stored_wallet(page) is None


def test_code_too_large_for_a_qr_code_is_an_error_on_screen(
    page: Any, issuer: FakeIssuer
) -> None:
    # ML1 allows a 2048-byte photo, but a JPEG hardly compresses: version 40 at M is exceeded.
    photo = b"\xff\xd8" + random.Random(9).randbytes(2046)
    issuer.codes["BIG-PHOTO"] = dataclasses.replace(STUDENT, photo=photo)
    page.fill("#code", "BIG-PHOTO")
    page.click("#activate-button")
    page.wait_for_selector("#wallet-error:not([hidden])")
    assert "does not fit in a QR code at level M" in page.locator("#wallet-error").inner_text()
    assert page.locator("#qr").get_attribute("data-text") is None


def test_plain_http_origin_says_https_is_needed(browser: Any, server: ServerThread) -> None:
    # A phone reaching the issuer at http://<LAN address>/ has no WebCrypto (not a secure
    # context, unlike 127.0.0.1): the page must say why it cannot work.
    context = browser.new_context()
    try:
        page = context.new_page()
        origin = "http://wallet.test"

        def from_server(route: Any) -> None:
            real = route.request.url.replace(origin, server.url)
            route.fulfill(response=route.fetch(url=real))

        page.route(origin + "/**", from_server)
        page.goto(origin + "/wallet/")
        page.wait_for_selector("#view-unsupported:not([hidden])")
        assert "HTTPS" in page.locator("#unsupported-detail").inner_text()
        assert page.locator("#view-activate").is_hidden()
    finally:
        context.close()


@pytest.mark.parametrize(("offset", "warned"), [(3600, True), (-61, True), (59, False)])
def test_clock_warning_when_the_server_clock_differs(
    page: Any, issuer: FakeIssuer, offset: int, warned: bool
) -> None:
    issuer.clock_offset = offset
    activate(page, CODE_NO_PHOTO)
    page.wait_for_function("document.getElementById('clock-skew').textContent !== ''")
    assert page.locator("#clock-warning").is_visible() is warned
    assert page.locator("#clock-skew").inner_text() == str(-offset)



# ---- against the real issuer: `issuer-stub serve`, with the system clock ----


def _issuer_stub(*argv: str) -> str:
    done = subprocess.run(
        [str(ISSUER_STUB), *argv], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def _next_els_end(today: date) -> date:
    """The ELS is extended to 31 March or 31 October: the nearest one still ahead."""
    for year in (today.year, today.year + 1):
        for month in (3, 10):
            if date(year, month, 31) > today:
                return date(year, month, 31)
    raise AssertionError("unreachable")


@pytest.fixture
def real_issuer(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A directory set up with the CLI, one eligible student with an order, and `serve` on it."""
    directory = tmp_path / "issuer"
    today = date.today()
    _issuer_stub("init", str(directory))
    _issuer_stub(
        "student", "add", str(directory), "--given-names", STUDENT.given_names,
        "--family-name", STUDENT.family_name, "--birth-date", STUDENT.birth_date,
        "--pesel", make_pesel(date.fromisoformat(STUDENT.birth_date), 123, True),
        "--album", STUDENT.album, "--synthetic-photo",
        "--els-issued", (today - timedelta(days=60)).isoformat(),
        "--els-valid-until", _next_els_end(today).isoformat(),
    )  # fmt: skip
    order = _issuer_stub("order", str(directory), "1")
    (code,) = [x.split(": ")[1] for x in order.splitlines() if x.startswith("activation code:")]
    serve = subprocess.Popen(
        [str(ISSUER_STUB), "serve", str(directory), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = serve.stdout.readline() if serve.stdout else ""
        assert " at http://" in first, serve.stderr.read() if serve.stderr else first
        url = first.split(" at ")[1].split("/trustlist.cbor")[0]
        yield url, directory, code
    finally:
        serve.terminate()
        serve.wait(timeout=10)


def test_real_issuer_activate_scan_verify_extend_revoke(
    browser: Any, real_issuer: tuple[str, Path, str], tmp_path: Path
) -> None:
    url, directory, code = real_issuer
    lists = {
        "anchor": directory / "anchor.pem",
        "tl": directory / "public" / "trustlist.cbor",
        "rl": directory / "public" / "revocations.cbor",
    }
    context = browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=2)
    try:
        page = context.new_page()
        errors = watch_errors(page)
        page.goto(url + "/wallet/")
        text, _ = activate(page, code.lower().replace("-", " "))  # as a phone user might type it
        assert page.locator("#family-name").inner_text() == STUDENT.family_name
        assert page.locator("#photo").evaluate("img => img.complete && img.naturalWidth") > 0
        assert page.locator("#clock-warning").is_hidden()

        screenshot = tmp_path / "phone.png"
        page.screenshot(path=str(screenshot))
        (result,) = verifier_check(lists, int(time.time()), str(screenshot))
        assert (result["verdict"], result["reason"]) == ("valid", None)
        assert result["holder"]["family_name"] == STUDENT.family_name

        # The university extends the ELS for the next semester; the phone asks for the new exp.
        first_cti = stored_wallet(page)["cti"]
        until = following_semester_end(_next_els_end(date.today()), int(time.time()))
        _issuer_stub("student", "update", str(directory), "1", "--extend-els")
        page.reload()  # the student opens the wallet again: now there is something to extend
        page.click("#extend-button")
        page.wait_for_selector("#action-done:not([hidden])")
        assert page.locator("#action-error").is_hidden()
        assert page.locator("#valid-until").inner_text() == until.isoformat()
        extended_cti = stored_wallet(page)["cti"]
        assert extended_cti != first_cti
        # The first code the new rotation draws (codes also rotate on the real clock meanwhile).
        page.wait_for_function(
            f"document.getElementById('qr').dataset.text !== {json.dumps(text)}"
        )
        for _ in range(50):
            extended_text, _ = shown_code(page)
            if parse_presentation(extended_text).credential.cti.hex() == extended_cti:
                break
            page.wait_for_timeout(100)
        page.screenshot(path=str(screenshot))
        (result,) = verifier_check(lists, int(time.time()), str(screenshot))
        assert (result["verdict"], result["reason"]) == ("valid", None)
        assert result["credential"]["cti"] == extended_cti
        assert result["credential"]["exp"] == end_of_day(until)
        # The previous credential is in the published revocation list at once.
        (result,) = verifier_check(lists, int(time.time()), text, text=True)
        assert result["reason"] == "revoked"
        extended_text, _ = shown_code(page)

        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#revoke-button")
        page.wait_for_selector("#view-revoked:not([hidden])")
        # The server published the revocation at once: the code from before is refused.
        (result,) = verifier_check(lists, int(time.time()), extended_text, text=True)
        assert result["reason"] == "revoked"
        assert errors == []
    finally:
        context.close()
