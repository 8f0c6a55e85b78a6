"""The issuer stub's HTTP API (aiohttp), served by ``issuer-stub serve`` next to the lists.

Every error is JSON ``{"error": "<code>", "message": "<sentence>"}`` with a 4xx status (an
eligibility failure adds ``"condition"``). Request bodies are JSON objects of at most 64 KiB.
Responses carry ``Cache-Control: no-store``.

Wallet endpoints (no token; the contract with the web wallet in ``static/wallet/``)
-------------------------------------------------------------------------------------
``POST /api/activate``
    Request ``{"code": "<activation code as typed; case, spaces and dashes do not count; the
    activation QR's text is accepted too>", "device_key": "<base64url of the 33-byte compressed
    point: 02 or 03 by the sign bit of y, then x>"}`` -- what the web wallet sends; a JWK
    ``{"kty": "EC", "crv": "P-256", "x": "<base64url>", "y": "<base64url>"}`` as WebCrypto
    ``exportKey("jwk", publicKey)`` gives it is accepted too (other members are ignored). The
    credential always carries the key compressed (ML1 section 3).
    200 ``{"credential": "<standard base64, padded, of the credential COSE_Sign1 bytes, tag
    included>", "cti": "<32 hex digits>", "holder": {"gn": "...", "fn": "...", "uni": "...",
    "exp": <epoch int>}, "photo": "<standard base64 of the portrait as signed (WebP, or an
    older JPEG; tell by its first bytes), or null>"}``.
    Errors: 400 ``invalid_input`` / ``bad_device_key`` (not a P-256 point, ...), 404
    ``code_unknown``, 410 ``code_expired`` / ``code_used`` / ``code_cancelled`` (a newer order
    replaced it), 409 ``not_eligible`` (with ``condition``, the first failed rule, and
    ``conditions``, all of them), 429 ``too_many_attempts`` (with
    ``Retry-After``) after 10 unknown/stale codes from one address in 10 minutes (wrong admin
    tokens are counted apart: they never block activations, and the right token is never
    refused). Bodies over 64 KiB are 413 ``too_large`` (at once when ``Content-Length`` says
    so); a body not received within 10 s is 408 ``body_timeout``; JSON nested too deeply is 400
    ``bad_json``. Activating revokes any credential the student holds on another
    phone, published at once.

``POST /api/self-revoke``
    Request ``{"cti": "<hex>", "time": <epoch int>, "signature": "<base64url of the 64-byte
    r||s>"}``: ES256 (ECDSA P-256, SHA-256, raw r||s as WebCrypto signs) by the credential's
    device key over the UTF-8 bytes of ``"ML1-revoke:" + cti + ":" + str(time)``, ``cti``
    exactly as sent. Accepted only if ``|time - now| <= 300``.
    200 ``{"revoked": true, "revocation_seq": <seq of the revocation list now published>}``;
    the credential is on that list. Revoking twice answers 200 again.
    Errors: 400 ``invalid_input`` / ``time_skew``, 403 ``bad_signature``, 404
    ``unknown_credential``.

``POST /api/extend``
    As self-revoke, signing ``"ML1-extend:" + cti + ":" + str(time)``: after the ELS was
    extended for a new semester, a new credential for the same phone with the new ``exp``
    (the old one is revoked). 200 as ``/api/activate``. Errors as self-revoke, and 409
    ``not_eligible`` / ``already_current`` / ``credential_revoked``.

``POST /api/status``
    As self-revoke, signing ``"ML1-status:" + cti + ":" + str(time)``: 200 ``{"revoked":
    bool, "extendable": bool, "extend_to": <epoch exp an extension would give, or null>}``
    (the wallet shows its Extend button only when ``extendable``). Errors as self-revoke.

Admin endpoints (``Authorization: Bearer <DIR/admin.token>``; 401 ``unauthorized`` otherwise)
---------------------------------------------------------------------------------------------
``POST /api/admin/students`` (201 ``{"id"}``), ``GET /api/admin/students``,
``GET /api/admin/students/{id}``, ``PATCH /api/admin/students/{id}`` (leaving ``"status":
"active"`` revokes; ``"reissue_els": true``, ``"extend_els": true``),
``POST /api/admin/students/{id}/orders`` (201 ``{"order_id", "activation_code",
"activation_qr", "expires_at"}``), ``POST /api/admin/credentials/{cti}/revoke``,
``POST /api/admin/keys/rotate`` (``{"iss"}`` optional), ``POST /api/admin/publish``.
Student fields: ``given_names``, ``family_name``, ``birth_date`` (YYYY-MM-DD), ``pesel``
(check digit and birth date are checked), ``album``, ``status``, ``photo`` (standard base64 of
a JPEG, PNG, WebP or AVIF photo of the student; the issuer finds the face and makes the portrait
itself, fitted to the room the other fields leave in the QR code), ``els_issued_at`` (epoch),
``els_valid_until`` (31 March or 31 October). Responses never contain the PESEL.
Photo errors (400): ``photo_type`` (not an image that can be read), ``photo_dimensions`` (the
header declares an absurd size; nothing is decoded), ``photo_no_face``, ``photo_size``.
400 ``credential_too_large``: the names and university name are so long that the credential
would fit no QR code at level M (at ``POST``/``PATCH`` of a student, and at activation or
extension, which then leave the order or the old credential untouched).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from aiohttp import web

from issuer_stub import devicekeys
from issuer_stub.eligibility import failures
from issuer_stub.errors import (
    Gone,
    InvalidInput,
    IssuerError,
    NotEligible,
    NotFound,
    RequestTimeout,
    TooLarge,
    TooManyAttempts,
    Unauthorized,
)
from issuer_stub.office import Issued, Office, parse_cti
from issuer_stub.ratelimit import AttemptLimiter
from issuer_stub.records import StudentRecord
from issuer_stub.registry import Published, Registry
from issuer_stub.semesters import following_semester_end
from issuer_stub.timefmt import last_valid_day, moment

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # also aiohttp's client_max_size (server.make_app)
# A whole request body must arrive within this many seconds (aiohttp itself has no such limit:
# a client declaring 100 bytes and sending 1 would hold a handler until the keep-alive ends).
BODY_SECONDS = 10.0
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_STORE = {"Cache-Control": "no-store"}
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
               413: "too_large", 415: "unsupported_media_type"}


def error_body(status: int, code: str, message: str, **extra: Any) -> web.Response:
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="issuer-stub"'
    return web.json_response({"error": code, "message": message, **extra}, status=status,
                             headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Issuer errors (and aiohttp's own 4xx under /api/) become the JSON error body."""
    if (request.content_length or 0) > MAX_BODY:  # refused before a byte of it is read
        response = error_body(413, "too_large", f"Request bodies are at most {MAX_BODY} bytes.")
        response.force_close()
        return response
    try:
        return await handler(request)
    except (RequestTimeout, TooLarge) as exc:  # the rest of the body is not worth waiting for
        response = error_body(exc.status, exc.code, exc.message)
        response.force_close()
        return response
    except NotEligible as exc:
        _refused(request, exc)
        return error_body(exc.status, exc.code, exc.message, condition=exc.condition,
                          conditions=list(exc.conditions))
    except TooManyAttempts as exc:
        _refused(request, exc)
        response = error_body(exc.status, exc.code, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except IssuerError as exc:
        _refused(request, exc)
        return error_body(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_body(exc.status, code, exc.reason + ".")
    except Exception:
        if not request.path.startswith("/api/"):
            raise
        log.exception("request to %s failed", request.path)  # no body, no personal data
        return error_body(500, "internal", "The issuer failed to handle the request.")


def _refused(request: web.Request, exc: IssuerError) -> None:
    """One line per refused API call: the sentence names fields, never their values."""
    log.info("%s %s refused from %s: %s %s: %s", request.method, request.path,
             request.remote, exc.status, exc.code, exc.message)


def _ok(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=NO_STORE)


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object of the body: at most MAX_BODY bytes read within BODY_SECONDS."""
    try:
        async with asyncio.timeout(BODY_SECONDS):
            raw = await request.read()  # aiohttp enforces client_max_size while reading
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {BODY_SECONDS:g} s") \
            from None
    except web.HTTPRequestEntityTooLarge:
        raise TooLarge(f"request bodies are at most {MAX_BODY} bytes") from None
    try:
        body = json.loads(raw)
    except RecursionError:  # "[[[[..." within the size limit
        raise InvalidInput("the request body is nested too deeply", "bad_json") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the request body must be JSON", "bad_json") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object", "bad_json")
    return body


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _issued(issued: Issued) -> dict[str, Any]:
    return {
        "credential": _b64(issued.credential),
        "cti": issued.cti.hex(),
        "holder": {"gn": issued.given_names, "fn": issued.family_name,
                   "uni": issued.university, "exp": issued.exp},
        "photo": None if issued.photo is None else _b64(issued.photo),
    }


def _student_view(student: StudentRecord, now: int) -> dict[str, Any]:
    return {
        "id": student.id,
        "iss": student.iss,
        "given_names": student.given_names,
        "family_name": student.family_name,
        "birth_date": student.birth_date,
        "pesel_on_file": bool(student.pesel),
        "album": student.album,
        "status": student.status,
        "photo_bytes": len(student.photo) if student.photo else 0,
        "els_issued_at": student.els_issued_at,
        "els_valid_until": student.els_valid_until,
        "data_changed_at": student.data_changed_at,
        "eligible": not failures(student, now),
        "failed_conditions": [f.condition for f in failures(student, now)],
    }


def _student_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = dict(body)
    if fields.get("photo") is not None:
        photo = fields["photo"]
        if not isinstance(photo, str) or len(photo) > 4 * MAX_BODY:
            raise InvalidInput("photo must be base64 text", "photo_type")
        try:
            fields["photo"] = base64.b64decode(photo, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("photo is not valid base64", "photo_type") from None
    return fields


def _path_int(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise InvalidInput(f"{name} must be a number", "invalid_input")
    return int(value)


def _revoked(issued: Issued) -> str:
    if not issued.revoked:
        return ""
    return "; revoked " + ", ".join(c.hex() for c in issued.revoked) + " (replaced)"


def _published(p: Published) -> dict[str, Any]:
    return {"trust_seq": p.trust_seq, "revocation_seq": p.revocation_seq}


class Api:
    def __init__(self, registry: Registry, clock: Callable[[], int]) -> None:
        self.registry = registry
        self.office = Office(registry)
        self.clock = clock
        self._token = registry.admin_token().encode()
        # Failed attempts per client, in two buckets: a script trying admin tokens must not lock
        # students out of activation (behind a reverse proxy every phone shares one address).
        self.codes = AttemptLimiter()
        self.tokens = AttemptLimiter()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking SQLite and file work off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args))

    def _admin(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("admin actions need 'Authorization: Bearer <token>'")
        if hmac.compare_digest(token.strip().encode(), self._token):
            return  # the right token always works: it is 256 random bits, not a guess away
        client, now = request.remote or "?", self.clock()
        self.tokens.check(client, now)
        self.tokens.failed(client, now)
        raise Unauthorized("the admin token is wrong")

    # Wallet ----------------------------------------------------------------------------------
    async def activate(self, request: web.Request) -> web.Response:
        body = await _body(request)
        device_key = devicekeys.from_wire(body.get("device_key"))
        if not isinstance(body.get("code"), str):
            raise InvalidInput("code must be the activation code as text", "invalid_input")
        client, now = request.remote or "?", self.clock()
        self.codes.check(client, now)
        try:
            issued = await self._run(self.office.activate, body["code"], device_key, now)
        except (NotFound, Gone):  # a wrong or stale code: count it against this client
            self.codes.failed(client, now)
            raise
        log.info("activated: credential %s for student %s from %s%s", issued.cti.hex(),
                 await self._run(self._student_of, issued.cti), client, _revoked(issued))
        return _ok(_issued(issued))

    def _student_of(self, cti: bytes) -> int | None:
        with self.registry.reader() as store:
            record = store.credential(cti)
        return None if record is None else record.student_id

    async def self_revoke(self, request: web.Request) -> web.Response:
        body = await _body(request)
        published = await self._run(self.office.self_revoke, body.get("cti"), body.get("time"),
                                    body.get("signature"), self.clock())
        log.info("self-revoked: credential %s (revocation list seq %s)", body.get("cti"),
                 published.revocation_seq)
        return _ok({"revoked": True, "revocation_seq": published.revocation_seq})

    async def status(self, request: web.Request) -> web.Response:
        body = await _body(request)
        found = await self._run(self.office.status_signed, body.get("cti"), body.get("time"),
                                body.get("signature"), self.clock())
        return _ok(found)

    async def extend(self, request: web.Request) -> web.Response:
        body = await _body(request)
        issued = await self._run(self.office.extend_signed, body.get("cti"), body.get("time"),
                                 body.get("signature"), self.clock())
        log.info("extended: credential %s replaces %s, valid until %s (inclusive)",
                 issued.cti.hex(), body.get("cti"), last_valid_day(issued.exp))
        return _ok(_issued(issued))

    # Admin -----------------------------------------------------------------------------------
    async def add_student(self, request: web.Request) -> web.Response:
        self._admin(request)
        fields = _student_fields(await _body(request))
        iss = fields.pop("iss", None)
        student_id = await self._run(self.office.add_student, fields, self.clock(), iss)
        log.info("admin: student %s added", student_id)
        return _ok({"id": student_id}, status=201)

    async def list_students(self, request: web.Request) -> web.Response:
        self._admin(request)
        now = self.clock()
        found = await self._run(self.office.students)
        return _ok({"students": [
            {"id": s.id, "album": s.album, "status": s.status,
             "failed_conditions": [f.condition for f in failures(s, now)]}
            for s in found
        ]})

    async def show_student(self, request: web.Request) -> web.Response:
        self._admin(request)
        student_id, now = _path_int(request, "id"), self.clock()
        student = await self._run(self.office.student, student_id)
        creds = await self._run(self.office.credentials, student_id)
        view = _student_view(student, now)
        view["credentials"] = [
            {"cti": c.cti.hex(), "iat": c.iat, "exp": c.exp, "revoked_at": c.revoked_at,
             "revocation_reason": c.revocation_reason}
            for c in creds
        ]
        return _ok(view)

    async def update_student(self, request: web.Request) -> web.Response:
        self._admin(request)
        student_id, now = _path_int(request, "id"), self.clock()
        fields = _student_fields(await _body(request))
        reissue = fields.pop("reissue_els", False) is True
        if fields.pop("extend_els", False) is True:
            current = await self._run(self.office.student, student_id)
            until = current.els_valid_until
            fields["els_valid_until"] = following_semester_end(
                None if until is None else date.fromisoformat(until), now).isoformat()
        student, published = await self._run(self.office.update_student, student_id, fields,
                                             now, reissue)
        log.info("admin: student %s updated (%s)%s", student_id, ", ".join(sorted(fields)) or
                 "no fields", "" if published is None else
                 f", revocation list seq {published.revocation_seq}")
        return _ok({"student": _student_view(student, now),
                    "revocation_seq": None if published is None else published.revocation_seq})

    async def order(self, request: web.Request) -> web.Response:
        self._admin(request)
        issued = await self._run(self.office.order, _path_int(request, "id"), self.clock())
        log.info("admin: order %s for student %s, activation open until %s",
                 issued.order_id, issued.student_id, moment(issued.expires_at))
        return _ok({"order_id": issued.order_id, "activation_code": issued.code,
                    "activation_qr": issued.qr_text, "expires_at": issued.expires_at},
                   status=201)

    async def revoke(self, request: web.Request) -> web.Response:
        self._admin(request)
        cti = parse_cti(request.match_info["cti"])
        published = await self._run(self.office.revoke, cti, self.clock(), "issuer")
        log.info("admin: credential %s revoked (revocation list seq %s)", cti.hex(),
                 published.revocation_seq)
        return _ok({"revoked": True, "revocation_seq": published.revocation_seq})

    async def rotate(self, request: web.Request) -> web.Response:
        self._admin(request)
        body = await _body(request) if request.can_read_body else {}
        iss = body.get("iss")
        if iss is not None and not isinstance(iss, str):
            raise InvalidInput("iss must be text", "invalid_input")
        rotation = await self._run(self.registry.rotate_key, self.clock(), iss)
        log.info("admin: new signing key %s", rotation.kid.hex())
        return _ok({"kid": rotation.kid.hex(), **_published(rotation.published)})

    async def publish(self, request: web.Request) -> web.Response:
        self._admin(request)
        published = await self._run(self.registry.publish, self.clock(), True)
        log.info("admin: published trust list seq %s, revocation list seq %s",
                 published.trust_seq, published.revocation_seq)
        return _ok(_published(published))


def add_api_routes(app: web.Application, registry: Registry, clock: Callable[[], int]) -> None:
    api = Api(registry, clock)
    r = app.router
    r.add_post("/api/activate", api.activate)
    r.add_post("/api/self-revoke", api.self_revoke)
    r.add_post("/api/extend", api.extend)
    r.add_post("/api/status", api.status)
    r.add_post("/api/admin/students", api.add_student)
    r.add_get("/api/admin/students", api.list_students)
    r.add_get("/api/admin/students/{id}", api.show_student)
    r.add_patch("/api/admin/students/{id}", api.update_student)
    r.add_post("/api/admin/students/{id}/orders", api.order)
    r.add_post("/api/admin/credentials/{cti}/revoke", api.revoke)
    r.add_post("/api/admin/keys/rotate", api.rotate)
    r.add_post("/api/admin/publish", api.publish)
