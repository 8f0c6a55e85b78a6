"""A small issuer for the web wallet tests: the static wallet at /wallet/ and the wallet API.

It implements the contract the wallet page is written against (``POST /api/activate``,
``POST /api/self-revoke``, ``POST /api/extend``, ``POST /api/status``) with the issuer stub's
own University and Ministry, so the browser gets real credentials and its self-revocations and
extensions really reach a signed revocation list. Errors carry the real API's codes and
English sentences, which the page replaces with its own Polish and English. It runs aiohttp on
127.0.0.1 in a thread of its own, because Playwright's sync API owns the test's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from issuer_stub import devicekeys
from issuer_stub.signing import StudentData
from tests.conftest import DAY, World

STATIC = Path(__file__).resolve().parents[1] / "issuer_stub" / "static" / "wallet"
# What the wallet page needs and nothing more: no inline script or style, photos as data: URLs.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# How far a self-revocation's (or extension's) time may be from the server's clock.
REVOKE_WINDOW = 300


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_from_jwk(jwk: Any) -> ec.EllipticCurvePublicKey:
    """The wallet's device key as the real issuer reads it: a compressed point or a JWK."""
    return devicekeys.from_wire(jwk)


@dataclass
class Activation:
    cti: bytes
    device_key: ec.EllipticCurvePublicKey
    credential: bytes
    student: StudentData
    exp: int


@dataclass
class FakeIssuer:
    """Activation codes for students of the world's university; remembers what it issued."""

    world: World
    exp: int
    codes: dict[str, StudentData] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    issued: dict[str, Activation] = field(default_factory=dict)  # by cti hex
    revocations: list[dict[str, Any]] = field(default_factory=list)  # verified requests
    clock_offset: int = 0  # seconds the server's clock (and Date header) is off from world.now
    revocation_list: bytes | None = None  # published on each self-revocation and extension
    # The ELS's new end (exp) once it was extended for a new semester; None: not extended.
    extended_exp: int | None = None
    extensions: list[dict[str, Any]] = field(default_factory=list)  # verified requests

    def now(self) -> int:
        return self.world.now + self.clock_offset

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/wallet", self._to_wallet)
        app.router.add_get("/wallet/", self._index)
        app.router.add_static("/wallet/", STATIC)
        app.router.add_post("/api/activate", self._activate)
        app.router.add_post("/api/self-revoke", self._self_revoke)
        app.router.add_post("/api/extend", self._extend)
        app.router.add_post("/api/status", self._status)
        app.on_response_prepare.append(self._headers)
        return app

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Date"] = formatdate(self.now(), usegmt=True)
        response.headers["Cache-Control"] = "no-store"

    async def _to_wallet(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/wallet/")

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _activate(self, request: web.Request) -> web.Response:
        try:
            doc = await request.json()
            code = doc["code"].strip().upper()
            device_key = public_key_from_jwk(doc["device_key"])
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return _error(400, "bad_request", "The request is not a valid activation.")
        if code in self.used:
            return _error(410, "code_used",
                          "this activation code has been used already; order a new one")
        student = self.codes.get(code)
        if student is None:
            return _error(404, "code_unknown", "no order has this activation code")
        self.used.add(code)
        return web.json_response(self._issue(student, device_key, self.exp))

    def _issue(
        self, student: StudentData, device_key: ec.EllipticCurvePublicKey, exp: int
    ) -> dict[str, Any]:
        """A new credential, remembered by its cti, as /api/activate answers it."""
        cti = os.urandom(16)
        credential = self.world.uni.issue(
            student, device_key, iat=self.now() - DAY, exp=exp, cti=cti
        )
        self.issued[cti.hex()] = Activation(cti, device_key, credential, student, exp)
        photo = None if student.photo is None else base64.b64encode(student.photo).decode()
        holder = {
            "gn": student.given_names,
            "fn": student.family_name,
            "uni": student.university,
            "exp": exp,
        }
        return {
            "credential": base64.b64encode(credential).decode(),
            "cti": cti.hex(),
            "holder": holder,
            "photo": photo,
        }

    async def _proof(
        self, request: web.Request, action: str
    ) -> tuple[dict[str, Any], Activation] | web.Response:
        """The signed request of self-revoke and extend: the credential it is for, or the error."""
        try:
            doc = await request.json()
            cti, when, signature = doc["cti"], doc["time"], _b64url(doc["signature"])
            if not isinstance(cti, str) or not isinstance(when, int) or len(signature) != 64:
                raise ValueError("types")
        except (ValueError, KeyError, TypeError, binascii.Error):
            return _error(400, "bad_request", f"The request is not a valid {action} request.")
        activation = self.issued.get(cti)
        if activation is None:
            return _error(404, "unknown_credential", "no such credential was issued here")
        if abs(when - self.now()) > REVOKE_WINDOW:
            return _error(400, "time_skew", "time is more than 300 s away from the server's clock")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        message = f"ML1-{action}:{cti}:{when}".encode()
        try:
            activation.device_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return _error(403, "bad_signature",
                          "the signature does not verify with the credential's device key")
        return doc, activation

    def _revoke(self, cti: bytes) -> None:
        self.world.ministry.revoked.add(cti)
        self.revocation_list = self.world.ministry.revocation_list(iat=self.now())

    async def _self_revoke(self, request: web.Request) -> web.Response:
        proof = await self._proof(request, "revoke")
        if isinstance(proof, web.Response):
            return proof
        doc, activation = proof
        self._revoke(activation.cti)
        self.revocations.append(doc)
        return web.json_response(
            {"revoked": True, "revocation_seq": self.world.ministry.revocation_seq}
        )

    def _extend_to(self, activation: Activation) -> int | None:
        if activation.cti in self.world.ministry.revoked:
            return None
        if self.extended_exp is None or self.extended_exp <= activation.exp:
            return None
        return self.extended_exp

    async def _status(self, request: web.Request) -> web.Response:
        proof = await self._proof(request, "status")
        if isinstance(proof, web.Response):
            return proof
        _doc, activation = proof
        extend_to = self._extend_to(activation)
        return web.json_response({"revoked": activation.cti in self.world.ministry.revoked,
                                  "extendable": extend_to is not None, "extend_to": extend_to})

    async def _extend(self, request: web.Request) -> web.Response:
        proof = await self._proof(request, "extend")
        if isinstance(proof, web.Response):
            return proof
        doc, activation = proof
        if activation.cti in self.world.ministry.revoked:
            return _error(
                409, "credential_revoked",
                "this credential has been revoked; order a new mLegitymacja",
            )  # fmt: skip
        if self.extended_exp is None or self.extended_exp <= activation.exp:
            return _error(
                409, "already_current",
                "the mLegitymacja already runs as long as the ELS",
            )  # fmt: skip
        answer = self._issue(activation.student, activation.device_key, self.extended_exp)
        self._revoke(activation.cti)
        self.extensions.append(doc)
        return web.json_response(answer)


class ServerThread:
    """Runs an aiohttp application on 127.0.0.1 (a free port) in a background event loop."""

    def __init__(self, app_factory: Callable[[], web.Application]) -> None:
        self._factory = app_factory
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __enter__(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._factory(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
