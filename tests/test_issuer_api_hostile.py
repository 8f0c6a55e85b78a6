"""Hostile requests to ``issuer-stub serve`` (issue 12, item 7), over real HTTP on 127.0.0.1.

Each must end in a 4xx JSON answer (never a 500, never a hang), and a client failing one
kind of attempt must not lock out another. Also the wallet's status call (issue 15).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from issuer_stub import api as api_module
from issuer_stub import devicekeys
from issuer_stub.wallet import Wallet
from tests.test_issuer_api import Api, error_of, signed
from tests.test_issuer_lifecycle import END_OF_OCTOBER, NOW

JSON_ENDPOINTS = [("POST", "/api/activate"), ("POST", "/api/self-revoke"),
                  ("POST", "/api/extend"), ("POST", "/api/admin/students"),
                  ("PATCH", "/api/admin/students/1"), ("POST", "/api/admin/keys/rotate")]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    running = Api(tmp_path)
    running.wallet_dir.mkdir()
    (running.wallet_dir / "index.html").write_text("<!doctype html><title>w</title>")
    try:
        yield running
    finally:
        running.server.stop()


def raw_exchange(url: str, request: bytes, wait: float = 5.0) -> bytes:
    """Send ``request`` as it is and return what the server answers before ``wait`` s."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait) as sock:
        sock.sendall(request)
        received = b""
        try:
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pass
        return received


@pytest.mark.parametrize("body", ["[" * 50_000, '{"a":' * 10_000 + "1" + "}" * 10_000],
                         ids=["arrays", "objects"])
def test_deeply_nested_json_is_400_on_every_json_endpoint(api: Api, body: str) -> None:
    for method, path in JSON_ENDPOINTS:
        r = requests.request(method, api.url + path, data=body, timeout=5,
                             headers={"Authorization": f"Bearer {api.token}",
                                      "Content-Type": "application/json"})
        assert error_of(r) == (400, "bad_json"), path
        assert "nested" in r.json()["message"]


@pytest.mark.parametrize("path", ["/wallet/%00", "/wallet/a%00b.js", "/wallet/" + "a" * 300,
                                  "/wallet/" + "a/" * 150 + "x.js", "/wallet/%01.js",
                                  "/" + "b" * 300, "/api/" + "c" * 300],
                         ids=["nul", "nul-inside", "long", "deep", "control", "root-long",
                              "api-long"])
def test_odd_paths_are_404_not_500(api: Api, path: str) -> None:
    assert requests.get(api.url + path, timeout=5).status_code == 404
    assert requests.get(api.url + "/wallet/", timeout=5).status_code == 200  # still serving


def test_a_huge_declared_body_is_refused_at_once(api: Api) -> None:
    answer = raw_exchange(api.url, b"POST /api/activate HTTP/1.1\r\nHost: t\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: 99999999999\r\n\r\n{")
    # The answer comes without the body: the server does not wait for 100 GB.
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert b"Connection: close" in answer


def test_a_body_that_never_arrives_times_out(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_module, "BODY_SECONDS", 0.3)
    answer = raw_exchange(api.url, b"POST /api/activate HTTP/1.1\r\nHost: t\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{", wait=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b"body_timeout" in answer or b"Connection: close" in answer
    # the server is still answering others
    assert requests.get(api.url + "/trustlist.cbor", timeout=5).status_code == 200


def test_wrong_admin_tokens_lock_out_neither_the_right_token_nor_activations(api: Api) -> None:
    order = api.order()
    for _ in range(10):
        r = requests.get(api.url + "/api/admin/students", timeout=5,
                         headers={"Authorization": "Bearer guessed"})
        assert error_of(r) == (401, "unauthorized")
    r = requests.get(api.url + "/api/admin/students", timeout=5,
                     headers={"Authorization": "Bearer guessed-again"})
    assert error_of(r) == (429, "too_many_attempts")  # the guesser is slowed down
    r = api.admin("GET", "/api/admin/students")
    assert r.status_code == 200, r.text  # the operator is not
    jwk = devicekeys.to_jwk(Wallet.new().public_key)
    r = api.post("/api/activate", {"code": order["activation_code"], "device_key": jwk})
    assert r.status_code == 200, r.text  # nor is a student behind the same address


def test_wrong_activation_codes_do_not_block_the_admin(api: Api) -> None:
    jwk = devicekeys.to_jwk(Wallet.new().public_key)
    for n in range(11):
        api.post("/api/activate", {"code": f"AAAAA-{n:05d}", "device_key": jwk})
    assert api.admin("GET", "/api/admin/students").status_code == 200


def test_status_says_when_there_is_something_to_extend(api: Api) -> None:
    order = api.order()
    wallet, body = api.activate(order["activation_code"])
    status = api.post("/api/status", signed(wallet, body["cti"], NOW, "status"))
    assert status.json() == {"revoked": False, "extendable": False, "extend_to": None}
    api.admin("PATCH", f"/api/admin/students/{order['student_id']}", {"extend_els": True})
    status = api.post("/api/status", signed(wallet, body["cti"], NOW, "status"))
    assert status.json() == {"revoked": False, "extendable": True, "extend_to": END_OF_OCTOBER}
    # a status proof is no extension proof (the action is signed)
    assert error_of(api.post("/api/extend", signed(wallet, body["cti"], NOW, "status"))) == \
        (403, "bad_signature")
    assert error_of(api.post("/api/status", signed(Wallet.new(), body["cti"], NOW, "status"))) \
        == (403, "bad_signature")
    api.post("/api/self-revoke", signed(wallet, body["cti"], NOW))
    status = api.post("/api/status", signed(wallet, body["cti"], NOW, "status"))
    assert status.json() == {"revoked": True, "extendable": False, "extend_to": None}


def test_not_eligible_names_every_condition(api: Api) -> None:
    student = api.issuer.add(7)
    order = api.admin("POST", f"/api/admin/students/{student}/orders").json()
    api.admin("PATCH", f"/api/admin/students/{student}", {"album": None, "photo": None})
    jwk = devicekeys.to_jwk(Wallet.new().public_key)
    r = api.post("/api/activate", {"code": order["activation_code"], "device_key": jwk})
    assert error_of(r) == (409, "not_eligible")
    assert r.json()["conditions"][:2] == ["album_missing", "photo_missing"]
