"""The issuer stub's HTTP API and web-wallet hosting on a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from issuer_stub import devicekeys, lifecycle
from issuer_stub.errors import TooManyAttempts
from issuer_stub.keystore import new_key
from issuer_stub.ratelimit import AttemptLimiter
from issuer_stub.server import ListServer
from issuer_stub.wallet import Wallet
from tests.test_issuer_lifecycle import (
    DAY,
    END_OF_MARCH,
    END_OF_OCTOBER,
    NOW,
    Issuer,
    published_lists,
    student_fields,
)
from verifier.core.credential import parse_credential
from verifier.core.keys import Anchor
from verifier.core.policy import verify
from verifier.core.reasons import Reason, Verdict
from verifier.core.revocation import RevocationList


class Api:
    """A running ``serve`` app with a clock the test moves."""

    def __init__(self, root: Path) -> None:
        self.issuer = Issuer(root / "issuer")
        self.now = NOW
        self.wallet_dir = root / "wallet"
        self.server = ListServer(self.issuer.registry, "127.0.0.1", 0, clock=lambda: self.now,
                                 wallet_dir=self.wallet_dir)
        self.url = self.server.start()
        self.token = self.issuer.registry.admin_token()

    def post(self, path: str, body: Any = None, admin: bool = False, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if admin else {}
        return requests.post(self.url + path, json=body, headers=headers, timeout=5, **kw)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return requests.request(method, self.url + path, json=body, timeout=5,
                                headers={"Authorization": f"Bearer {self.token}"})

    def order(self, n: int = 1, **over: Any) -> dict[str, Any]:
        student_id = self.issuer.add(n, **over)
        r = self.post(f"/api/admin/students/{student_id}/orders", admin=True)
        assert r.status_code == 201, r.text
        return {"student_id": student_id, **r.json()}

    def activate(self, code: str) -> tuple[Wallet, dict[str, Any]]:
        wallet = Wallet.new()
        jwk = {**devicekeys.to_jwk(wallet.public_key), "key_ops": ["verify"], "ext": True}
        r = self.post("/api/activate", {"code": code, "device_key": jwk})
        assert r.status_code == 200, r.text
        body = r.json()
        wallet.credential = base64.b64decode(body["credential"], validate=True)
        return wallet, body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    running = Api(tmp_path)
    try:
        yield running
    finally:
        running.server.stop()


def error_of(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) >= {"error", "message"} and body["message"].strip(), body
    assert response.headers["Content-Type"].startswith("application/json")
    return response.status_code, body["error"]


def signed(wallet: Wallet, cti: str, time: int, action: str = "revoke") -> dict[str, Any]:
    message = lifecycle.proof_message(action, cti, time)
    return {"cti": cti, "time": time,
            "signature": devicekeys.b64url_encode(devicekeys.sign_raw(wallet.device_key,
                                                                      message))}


# Wallet endpoints ---------------------------------------------------------------------------
def test_activate_returns_the_bound_credential_holder_and_photo(api: Api) -> None:
    order = api.order()
    wallet, body = api.activate(order["activation_code"].lower().replace("-", " "))
    assert set(body) == {"credential", "cti", "holder", "photo"}
    credential = parse_credential(wallet.credential)
    assert body["cti"] == credential.cti.hex()
    assert body["holder"] == {"gn": "Anna1", "fn": "Kowalska", "uni": "Politechnika Testowa",
                              "exp": END_OF_MARCH}
    # The portrait the office made (a WebP), exactly as signed into the credential.
    assert base64.b64decode(body["photo"]) == credential.student.photo
    assert credential.student.photo.startswith(b"RIFF")
    trust, revocations = published_lists(api.issuer.registry)
    assert verify(wallet.present(NOW), trust, revocations, NOW).verdict is Verdict.VALID


def test_activate_by_the_qr_text_and_cache_headers(api: Api) -> None:
    order = api.order()
    wallet = Wallet.new()
    r = api.post("/api/activate", {"code": order["activation_qr"],
                                   "device_key": devicekeys.to_jwk(wallet.public_key)})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"


def test_activate_errors(api: Api) -> None:
    order = api.order(1)
    jwk = devicekeys.to_jwk(new_key().public_key())
    off_curve = {**jwk, "y": devicekeys.b64url_encode(bytes(31) + b"\x01")}
    cases = [
        ({"code": order["activation_code"], "device_key": off_curve}, 400, "bad_device_key"),
        ({"code": order["activation_code"], "device_key": {**jwk, "crv": "P-384"}}, 400,
         "bad_device_key"),
        ({"code": order["activation_code"], "device_key": {**jwk, "x": "A"}}, 400,
         "bad_device_key"),
        ({"code": order["activation_code"], "device_key": "not a jwk"}, 400, "bad_device_key"),
        ({"code": order["activation_code"], "device_key": {**jwk, "d": "AAAA"}}, 400,
         "bad_device_key"),
        ({"code": 12345, "device_key": jwk}, 400, "invalid_input"),
        ({"code": "!!!", "device_key": jwk}, 400, "invalid_input"),
        ([1, 2], 400, "bad_json"),
        ({"code": "ZZZZZ-ZZZZZ", "device_key": jwk}, 404, "code_unknown"),
    ]
    for body, status, code in cases:
        assert error_of(api.post("/api/activate", body)) == (status, code), body
    raw = requests.post(api.url + "/api/activate", data=b"{nope", timeout=5)
    assert error_of(raw) == (400, "bad_json")

    assert api.post("/api/activate", {"code": order["activation_code"],
                                      "device_key": jwk}).status_code == 200
    again = api.post("/api/activate", {"code": order["activation_code"], "device_key": jwk})
    assert error_of(again) == (410, "code_used")

    late = api.order(2)
    api.now = NOW + lifecycle.ACTIVATION_SECONDS
    expired = api.post("/api/activate", {"code": late["activation_code"], "device_key": jwk})
    assert error_of(expired) == (410, "code_expired")


def test_activate_when_no_longer_eligible_is_409(api: Api) -> None:
    order = api.order()
    r = api.admin("PATCH", f"/api/admin/students/{order['student_id']}",
                  {"family_name": "Nowak"})
    assert r.status_code == 200
    r = api.post("/api/activate", {"code": order["activation_code"],
                                   "device_key": devicekeys.to_jwk(new_key().public_key())})
    assert error_of(r) == (409, "not_eligible")
    assert r.json()["condition"] == "data_changed"


def test_second_activation_revokes_the_first_in_the_served_list(api: Api) -> None:
    first_order = api.order()
    first, first_body = api.activate(first_order["activation_code"])
    second_order = api.post(f"/api/admin/students/{first_order['student_id']}/orders",
                            admin=True).json()
    api.now = NOW + 60
    second, _ = api.activate(second_order["activation_code"])
    trust, _ = published_lists(api.issuer.registry)
    raw = requests.get(api.url + "/revocations.cbor", timeout=5).content
    revocations = RevocationList.from_bytes(raw, _anchor(api))
    assert bytes.fromhex(first_body["cti"]) in revocations
    assert verify(first.present(NOW + 60), trust, revocations, NOW + 60).reason is Reason.REVOKED
    assert verify(second.present(NOW + 60), trust, revocations, NOW + 60).verdict is \
        Verdict.VALID


def _anchor(api: Api) -> Anchor:
    return Anchor.from_pem(api.issuer.registry.anchor_path.read_bytes())


def test_self_revoke_puts_the_credential_in_the_served_list(api: Api) -> None:
    wallet, body = api.activate(api.order()["activation_code"])
    api.now = NOW + 1000
    r = api.post("/api/self-revoke", signed(wallet, body["cti"], NOW + 1000 - 250))
    assert r.status_code == 200, r.text
    assert r.json()["revoked"] is True
    raw = requests.get(api.url + "/revocations.cbor", timeout=5).content
    revocations = RevocationList.from_bytes(raw, _anchor(api))
    assert revocations.seq == r.json()["revocation_seq"]
    assert bytes.fromhex(body["cti"]) in revocations


def test_self_revoke_errors(api: Api) -> None:
    wallet, body = api.activate(api.order()["activation_code"])
    cti = body["cti"]
    stranger = Wallet.new()
    cases = [
        (signed(stranger, cti, NOW), 403, "bad_signature"),
        ({**signed(wallet, cti, NOW), "time": NOW + 1}, 403, "bad_signature"),
        (signed(wallet, cti, NOW - 301), 400, "time_skew"),
        (signed(wallet, "00" * 16, NOW), 404, "unknown_credential"),
        ({**signed(wallet, cti, NOW), "cti": "zz"}, 400, "invalid_input"),
        ({**signed(wallet, cti, NOW), "signature": "%%%"}, 400, "invalid_input"),
        ({**signed(wallet, cti, NOW), "time": "now"}, 400, "invalid_input"),
        ({}, 400, "invalid_input"),
    ]
    for request, status, code in cases:
        assert error_of(api.post("/api/self-revoke", request)) == (status, code), request
    assert bytes.fromhex(cti) not in published_lists(api.issuer.registry)[1]


def test_extend_from_the_phone(api: Api) -> None:
    order = api.order()
    wallet, body = api.activate(order["activation_code"])
    stale = api.post("/api/extend", signed(wallet, body["cti"], NOW, "extend"))
    assert error_of(stale) == (409, "already_current")
    r = api.admin("PATCH", f"/api/admin/students/{order['student_id']}", {"extend_els": True})
    assert r.json()["student"]["els_valid_until"] == "2027-10-31"
    r = api.post("/api/extend", signed(wallet, body["cti"], NOW, "extend"))
    assert r.status_code == 200, r.text
    assert r.json()["holder"]["exp"] == END_OF_OCTOBER and r.json()["cti"] != body["cti"]


# Admin endpoints ------------------------------------------------------------------------------
def _json_student(**over: Any) -> dict[str, Any]:
    fields = student_fields(5)
    fields["photo"] = base64.b64encode(fields["photo"]).decode()
    fields.update(over)
    return fields


def test_admin_needs_the_token(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"},
                    {"Authorization": f"Bearer {api.token}x"}):
        r = requests.get(api.url + "/api/admin/students", headers=headers, timeout=5)
        assert error_of(r) == (401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = requests.post(api.url + "/api/admin/students", json=_json_student(), timeout=5)
    assert r.status_code == 401
    assert api.issuer.office.students() == []


def test_admin_student_lifecycle(api: Api) -> None:
    r = api.admin("POST", "/api/admin/students", _json_student())
    assert r.status_code == 201
    student_id = r.json()["id"]
    pesel = student_fields(5)["pesel"]
    listing = api.admin("GET", "/api/admin/students")
    assert listing.json()["students"] == [
        {"id": student_id, "album": "100005", "status": "active", "failed_conditions": []}]
    shown = api.admin("GET", f"/api/admin/students/{student_id}")
    assert shown.json()["pesel_on_file"] is True and pesel not in shown.text
    assert error_of(api.admin("GET", "/api/admin/students/999")) == (404, "unknown_student")
    assert error_of(api.admin("POST", "/api/admin/students", _json_student())) == \
        (409, "duplicate_student")

    order = api.admin("POST", f"/api/admin/students/{student_id}/orders").json()
    assert order["expires_at"] == NOW + 30 * DAY
    wallet, _body = api.activate(order["activation_code"])
    r = api.admin("PATCH", f"/api/admin/students/{student_id}", {"status": "graduated"})
    assert r.status_code == 200 and r.json()["revocation_seq"] is not None
    assert r.json()["student"]["failed_conditions"] == ["status_not_active"]
    trust, revocations = published_lists(api.issuer.registry)
    assert verify(wallet.present(NOW), trust, revocations, NOW).reason is Reason.REVOKED
    shown = api.admin("GET", f"/api/admin/students/{student_id}").json()
    assert shown["credentials"][0]["revocation_reason"] == "status_graduated"
    refused = api.admin("POST", f"/api/admin/students/{student_id}/orders")
    assert error_of(refused) == (409, "not_eligible")
    assert refused.json()["condition"] == "status_not_active"


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"pesel": "44051401358"}, "pesel_invalid"),
        ({"pesel": "44051401359"}, "pesel_dob_mismatch"),
        ({"birth_date": "2003/05/05"}, "invalid_date"),
        ({"els_valid_until": "2027-06-30"}, "invalid_date"),
        ({"photo": base64.b64encode(b"GIF89a" + bytes(10)).decode()}, "photo_type"),
        ({"photo": base64.b64encode(b"\xff\xd8\xff" + bytes(3000)).decode()}, "photo_type"),
        ({"photo": "not base64!"}, "photo_type"),
        ({"given_names": 7}, "invalid_input"),
        ({"unknown": 1}, "invalid_input"),
    ],
)
def test_admin_input_validation(api: Api, over: dict[str, Any], code: str) -> None:
    r = api.admin("POST", "/api/admin/students", _json_student(**over))
    assert error_of(r) == (400, code)
    assert student_fields(5)["pesel"] not in r.text


def test_admin_revoke_rotate_publish(api: Api) -> None:
    _wallet, body = api.activate(api.order()["activation_code"])
    r = api.admin("POST", f"/api/admin/credentials/{body['cti']}/revoke")
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert error_of(api.admin("POST", f"/api/admin/credentials/{'00' * 16}/revoke")) == \
        (404, "unknown_credential")
    assert error_of(api.admin("POST", "/api/admin/credentials/xyz/revoke")) == \
        (400, "invalid_input")
    api.now = NOW + 10
    rotated = api.admin("POST", "/api/admin/keys/rotate")
    assert rotated.status_code == 200 and rotated.json()["trust_seq"] == 2
    trust, _ = published_lists(api.issuer.registry)
    assert bytes.fromhex(rotated.json()["kid"]) in trust.issuers
    published = api.admin("POST", "/api/admin/publish").json()
    assert published["trust_seq"] == 3


def test_api_speaks_json_for_http_errors(api: Api) -> None:
    assert error_of(requests.get(api.url + "/api/nothing", timeout=5)) == (404, "not_found")
    assert error_of(requests.get(api.url + "/api/activate", timeout=5)) == \
        (405, "method_not_allowed")
    big = requests.post(api.url + "/api/activate", data=b"x" * 70_000, timeout=5)
    assert error_of(big) == (413, "too_large")
    # the lists are untouched by the API's middleware
    assert requests.get(api.url + "/trustlist.cbor", timeout=5).headers["Content-Type"] == \
        "application/cose"
    index = requests.get(api.url + "/", timeout=5)  # a page pointing at the wallet, not 404
    assert index.status_code == 200 and 'href="wallet/"' in index.text


# Web wallet hosting -------------------------------------------------------------------------
def test_wallet_static_files(api: Api) -> None:
    assert requests.get(api.url + "/wallet/", timeout=5).status_code == 404  # not there yet
    api.wallet_dir.mkdir()
    (api.wallet_dir / "index.html").write_text("<!doctype html><title>w</title>")
    (api.wallet_dir / "wallet.js").write_text("export {};")
    (api.wallet_dir / "style.css").write_text("body{}")
    (api.wallet_dir / ".secret.js").write_text("no")
    (api.wallet_dir / "notes.md").write_text("unknown type")
    (api.wallet_dir.parent / "outside.js").write_text("no")
    (api.wallet_dir / "link.js").symlink_to(api.wallet_dir.parent / "outside.js")

    index = requests.get(api.url + "/wallet/", timeout=5)
    assert index.status_code == 200 and index.text.startswith("<!doctype html>")
    assert index.headers["Content-Type"] == "text/html; charset=utf-8"
    assert index.headers["Cache-Control"] == "no-store"
    csp = index.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "*" not in csp
    assert index.headers["X-Content-Type-Options"] == "nosniff"
    js = requests.get(api.url + "/wallet/wallet.js", timeout=5)
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert requests.get(api.url + "/wallet/style.css", timeout=5).headers[
        "Content-Type"] == "text/css; charset=utf-8"
    redirect = requests.get(api.url + "/wallet", timeout=5, allow_redirects=False)
    assert redirect.status_code == 301 and redirect.headers["Location"] == "/wallet/"
    for path in ("/wallet/.secret.js", "/wallet/notes.md", "/wallet/link.js",
                 "/wallet/%2e%2e/outside.js", "/wallet/../outside.js", "/wallet/missing.js"):
        assert requests.get(api.url + path, timeout=5).status_code == 404, path


def test_guessing_activation_codes_is_refused_after_ten_misses(api: Api) -> None:
    order = api.order()
    jwk = devicekeys.to_jwk(Wallet.new().public_key)
    for n in range(10):
        r = api.post("/api/activate", {"code": f"AAAAA-{n:05d}", "device_key": jwk})
        assert error_of(r) == (404, "code_unknown")
    r = api.post("/api/activate", {"code": order["activation_code"], "device_key": jwk})
    assert error_of(r) == (429, "too_many_attempts")  # even the right code, for a while
    assert 0 < int(r.headers["Retry-After"]) <= 600


def test_limiter_forgets_failures_after_the_window() -> None:
    limiter = AttemptLimiter(max_failures=2, window=60)
    limiter.failed("10.0.0.1", 1000)
    limiter.failed("10.0.0.1", 1030)
    with pytest.raises(TooManyAttempts) as refused:
        limiter.check("10.0.0.1", 1031)
    assert refused.value.retry_after == 29
    limiter.check("10.0.0.2", 1031)  # another client is not affected
    limiter.check("10.0.0.1", 1060)  # the first failure has left the window


# Small codes (ML1 revision 2) ---------------------------------------------------------------
def test_activate_takes_the_compressed_point_the_web_wallet_sends(api: Api) -> None:
    order = api.order()
    wallet = Wallet.new()
    r = api.post("/api/activate", {"code": order["activation_code"],
                                   "device_key": devicekeys.to_compressed(wallet.public_key)})
    assert r.status_code == 200, r.text
    wallet.credential = base64.b64decode(r.json()["credential"])
    trust, revocations = published_lists(api.issuer.registry)
    assert verify(wallet.present(NOW), trust, revocations, NOW).verdict is Verdict.VALID


@pytest.mark.parametrize("key", ["AgAB", "Av" + "_" * 42, "BA" + "A" * 42, "not base64url!"])
def test_activate_refuses_a_bad_compressed_point(api: Api, key: str) -> None:
    order = api.order()
    r = api.post("/api/activate", {"code": order["activation_code"], "device_key": key})
    assert error_of(r) == (400, "bad_device_key")


def test_admin_refuses_photo_bombs_faceless_photos_and_too_long_credentials(api: Api) -> None:
    from tests.test_codes import FOUR_BYTES, photo_bomb

    def add(**over: Any) -> Any:
        return api.admin("POST", "/api/admin/students", _json_student(**over))

    bomb = base64.b64encode(photo_bomb()).decode()
    assert error_of(add(photo=bomb)) == (400, "photo_dimensions")
    grey = io.BytesIO()
    Image.new("RGB", (300, 400), (128, 128, 128)).save(grey, "PNG")
    r = add(photo=base64.b64encode(grey.getvalue()).decode())
    assert error_of(r) == (400, "photo_no_face") and "face" in r.json()["message"]
    r = add(given_names=FOUR_BYTES * 100, family_name=FOUR_BYTES * 100)
    # Not with the test university's short name: give it a long one first.
    assert r.status_code == 201, r.text
    with api.issuer.registry.session() as store:
        store.conn.execute("UPDATE issuer_keys SET name = ?", (FOUR_BYTES * 200,))
    r = add(given_names=FOUR_BYTES * 100, family_name=FOUR_BYTES * 100, pesel=None, album="2")
    assert error_of(r) == (400, "credential_too_large")
    assert "would not fit a QR code" in r.json()["message"]
