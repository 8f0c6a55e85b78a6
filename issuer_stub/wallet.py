"""The holder's phone: a device key that never leaves it, and the credential bound to it."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

import segno
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer_stub.errors import InvalidInput
from issuer_stub.keystore import new_key, private_pem, write_atomic
from issuer_stub.signing import qr_text, sign_presentation

# The phone makes a new code at least this often (ML1 section 4).
REFRESH_SECONDS = 15


def render_png(text: str, path: Path, scale: int = 4) -> Path:
    """Render an ML1 text as a QR PNG: alphanumeric mode, error correction M (spec section 4)."""
    code = segno.make_qr(text, error="m", mode="alphanumeric", boost_error=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    code.save(str(path), kind="png", scale=scale, border=4)
    return path


@dataclass
class Wallet:
    device_key: ec.EllipticCurvePrivateKey
    credential: bytes | None = None

    @classmethod
    def new(cls) -> Wallet:
        return cls(device_key=new_key())

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.device_key.public_key()

    def present(self, now: int) -> str:
        """The QR text the phone shows at ``now`` (epoch seconds)."""
        if self.credential is None:
            raise InvalidInput("this wallet holds no credential yet", "bad_wallet")
        return qr_text(sign_presentation(self.device_key, self.credential, now))

    def present_png(self, now: int, path: Path, scale: int = 4) -> Path:
        return render_png(self.present(now), path, scale)

    def save(self, path: Path) -> None:
        """Private key inside: written 0600."""
        doc = {
            "device_key": private_pem(self.device_key).decode(),
            "credential": None
            if self.credential is None
            else base64.b64encode(self.credential).decode(),
        }
        write_atomic(path, json.dumps(doc).encode(), mode=0o600)

    @classmethod
    def load(cls, path: Path) -> Wallet:
        """A wallet written by ``save``; anything else is InvalidInput saying what to do."""
        raw = path.read_bytes()  # OSError (missing, unreadable) is the caller's to report
        damaged = InvalidInput(
            f"{path} is {'empty' if not raw.strip() else 'not a wallet file (damaged?)'}; "
            "give a wallet written by 'issuer-stub activate' or 'issuer-stub issue'",
            "bad_wallet",
        )
        try:
            doc = json.loads(raw)
            key = serialization.load_pem_private_key(doc["device_key"].encode(), password=None)
            cred = doc.get("credential")
            credential = None if cred is None else base64.b64decode(cred, validate=True)
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
            raise damaged from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise damaged
        return cls(device_key=key, credential=credential)
