"""`issuer-stub serve --tls-cert/--tls-key`: HTTPS for phones; the verifier trusts only
certificates its CA bundle knows (a self-signed server is a failed sync, never a fetched list)."""

from __future__ import annotations

import datetime
import ipaddress
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from issuer_stub.cli import main as issuer_main
from issuer_stub.errors import SetupError
from issuer_stub.registry import Registry
from issuer_stub.server import ListServer, tls_context
from verifier.device.config import Config
from verifier.device.sync import sync_lists

NOW = int(time.time())


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_serves_the_lists_and_the_verifier_checks_the_certificate(
    tmp_path: Path, monkeypatch
) -> None:
    registry = Registry(tmp_path / "issuer")
    registry.init("PL-1043", "Uczelnia", NOW)
    cert, key = self_signed(tmp_path)
    server = ListServer(registry, "127.0.0.1", 0, clock=lambda: NOW,
                        ssl_context=tls_context(cert, key))
    url = server.start()
    try:
        assert url.startswith("https://")
        response = requests.get(f"{url}/trustlist.cbor", verify=str(cert), timeout=5)
        assert response.content == registry.trust_list_path.read_bytes()
        assert requests.get(f"{url}/wallet/", verify=str(cert), timeout=5).status_code == 200

        config = Config(anchor=registry.anchor_path, cache_dir=tmp_path / "cache", list_url=url)
        refused = sync_lists(config, sleep=lambda s: None)
        assert [item.status for item in refused.lists] == ["failed", "failed"]
        message = refused.lists[0].message
        assert "certificate" in message and "not trusted" in message, message
        assert "REQUESTS_CA_BUNDLE" in message and "SSLError" not in message
        assert not (tmp_path / "cache" / "trustlist.cbor").exists()

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the kit trusts this issuer's CA
        fetched = sync_lists(config, sleep=lambda s: None)
        assert [item.status for item in fetched.lists] == ["fetched", "fetched"]
    finally:
        server.stop()


def test_bad_tls_files_are_one_clear_error(tmp_path: Path, capsys) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(SetupError, match="cannot use the TLS certificate"):
        tls_context(cert, tmp_path / "missing.pem")
    issuer_main(["init", str(tmp_path / "issuer")])
    capsys.readouterr()
    with pytest.raises(SystemExit) as usage:
        issuer_main(["serve", str(tmp_path / "issuer"), "--tls-cert", str(cert)])
    assert usage.value.code == 2 and "go together" in capsys.readouterr().err
