"""``issuer-stub serve`` as a tester runs it: a real process on 127.0.0.1 that says on stderr,
one line each, every request and every lifecycle event, and never a name or a PESEL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from issuer_stub import devicekeys
from issuer_stub.office import Office
from issuer_stub.registry import Registry
from issuer_stub.semesters import following_semester_end
from issuer_stub.wallet import Wallet
from tests.test_issuer_lifecycle import DAY, student_fields

ISSUER_STUB = Path(sys.executable).with_name("issuer-stub")


def test_serve_logs_requests_and_lifecycle_events_without_personal_data(tmp_path: Path) -> None:
    now = int(time.time())  # serve runs on the system clock
    registry = Registry(tmp_path / "issuer")
    registry.init("PL-1043", "Politechnika Testowa", now)
    fields = student_fields(1, els_issued_at=now - DAY,
                            els_valid_until=following_semester_end(None, now).isoformat())
    Office(registry).add_student(fields, now)
    token = registry.admin_token()
    err = tmp_path / "stderr.txt"
    with err.open("w") as err_file:
        proc = subprocess.Popen([str(ISSUER_STUB), "serve", str(registry.directory), "--port",
                                 "0"], stdout=subprocess.PIPE, stderr=err_file, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            url = first.split(" at ")[1].split("/trustlist.cbor")[0]
            assert requests.get(url + "/", timeout=5).status_code == 200
            order = requests.post(url + "/api/admin/students/1/orders", timeout=5,
                                  headers={"Authorization": f"Bearer {token}"}).json()
            jwk = devicekeys.to_jwk(Wallet.new().public_key)
            wrong = requests.post(url + "/api/activate", timeout=5,
                                  json={"code": "AAAAA-BBBBB", "device_key": jwk})
            assert wrong.status_code == 404
            right = requests.post(url + "/api/activate", timeout=5,
                                  json={"code": order["activation_code"], "device_key": jwk})
            assert right.status_code == 200, right.text
            cti = right.json()["cti"]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
    lines = err.read_text().splitlines()
    log = "\n".join(lines)
    assert any("listening at " + url in line for line in lines)
    assert any('"GET / HTTP/1.1" 200' in line for line in lines)
    assert any('"POST /api/activate HTTP/1.1" 404' in line for line in lines)
    assert any("refused" in line and "code_unknown" in line for line in lines)
    assert any(f"activated: credential {cti} for student 1" in line for line in lines)
    assert any("admin: order" in line and "CE" in line for line in lines)  # time with its zone
    assert lines[-1].endswith("stopping")
    assert "Traceback" not in log
    for secret in (fields["given_names"], fields["family_name"], fields["pesel"],
                   fields["birth_date"], order["activation_code"]):
        assert secret not in log
