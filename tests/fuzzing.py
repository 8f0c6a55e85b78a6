"""The fuzz campaign's parts: a world of real keys, hostile payloads signed with them, mutations,
an independent oracle, and one ``Campaign`` that runs cases and keeps the figures.

Shared by the fast tier (hypothesis, fixed seed, in the default run) and the long tier
(``pytest -m fuzz``, a seeded ``random.Random``, >= 100,000 cases) in ``tests/test_fuzz.py``.

The oracle is written from the spec with cbor2 and cryptography, not with the core: whenever
``verify()`` says ``valid`` or ``warning``, both signatures must verify independently (the issuer's
with a key of the trust list, the phone's with the key bound in the credential), the times must
hold, and the claims must have their types. Anything else counts as a false valid.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from issuer_stub.authority import YEAR, Ministry, University
from issuer_stub.keystore import new_key
from issuer_stub.signing import StudentData, credential_claims, encode, sign_es256
from verifier.commands.check import json_line
from verifier.core import cbor as core_cbor
from verifier.core.base45 import b45decode, b45encode
from verifier.core.errors import ListError
from verifier.core.reasons import Verdict
from verifier.core.result import CheckResult
from verifier.core.revocation import RevocationList
from verifier.core.textout import result_line
from verifier.core.trustlist import TrustList
from verifier.ui.view import verdict_view

NOW = 1_800_000_000
DAY = 86400
WINDOW = 90
UINT64_MAX = 2**64 - 1
OK_VERDICTS = (Verdict.VALID, Verdict.WARNING)


# A world of real keys -----------------------------------------------------------------------------
@dataclass
class FuzzWorld:
    """A ministry listing one university; the fuzzer signs hostile payloads with these keys."""

    ministry: Ministry = field(default_factory=Ministry)
    uni: University = field(default_factory=lambda: University("PL-1043", "Politechnika Fuzz"))
    device: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    stranger: ec.EllipticCurvePrivateKey = field(default_factory=new_key)  # on no list

    def __post_init__(self) -> None:
        self.ministry.admit(self.uni, nbf=NOW - YEAR, exp=NOW + YEAR)
        self.revoked_cti = bytes(range(16))
        self.ministry.revoked.add(self.revoked_cti)
        self.trust_raw = self.ministry.trust_list(iat=NOW - 3600)
        self.revocations_raw = self.ministry.revocation_list(iat=NOW - 600)
        self.trust = TrustList.from_bytes(self.trust_raw, self.ministry.anchor)
        self.revocations = RevocationList.from_bytes(self.revocations_raw, self.ministry.anchor)
        self.student = StudentData("Anna Maria", "Nowak", "2003-01-02", "Politechnika Fuzz", "A1")

    def claims(self) -> dict[Any, Any]:
        return credential_claims(
            iss=self.uni.iss, student=self.student, device_key=self.device.public_key(),
            cti=b"\x42" * 16, iat=NOW - 10 * DAY, nbf=NOW - 10 * DAY, exp=NOW + 100 * DAY,
        )


def cose_sign1(key: ec.EllipticCurvePrivateKey, protected: bytes, payload: bytes,
               unprotected: Any = None, tag: int | None = 18) -> bytes:
    body = [protected, {} if unprotected is None else unprotected, payload,
            sign_es256(key, protected, payload)]
    return cbor2.dumps(body if tag is None else cbor2.CBORTag(tag, body))


def qr_text(presentation: bytes) -> str:
    return "ML1:" + b45encode(zlib.compress(presentation, 9))


# Hostile values -----------------------------------------------------------------------------------
_SPECIAL_INTS = (0, 1, 23, 24, 255, 256, 2**31, 2**32, 2**53 + 1, 2**63, UINT64_MAX, -1, -(2**64),
                 253402297199, 253402297200, 253402297201, NOW, NOW - 1, NOW + 1)
_HOSTILE_TEXT = ("", "\x00", "a\nb", "\u202eevil", "\u2028", "\u2066x\u2069", "e\u0301",
                 "\ufeff", "Zażółć", "\U0001f600", "x" * 101, "x" * 201, "A" * 33, "ML1:",
                 "2003-02-30", "1899-12-31", "2003-1-2", "２００３-01-02", "9999-12-31")


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    """A CBOR-encodable value that an issuer should never sign, or sometimes a plain one."""
    kind = rng.randrange(14 if depth < 4 else 9)
    if kind == 0:
        return rng.choice(_SPECIAL_INTS)
    if kind == 1:
        return rng.randrange(0, UINT64_MAX + 1)
    if kind == 2:
        return rng.choice((0.0, -0.0, 1.5, math.inf, -math.inf, math.nan, 1e300))
    if kind == 3:
        return rng.choice((True, False, None, cbor2.undefined))
    if kind == 4:
        return rng.choice(_HOSTILE_TEXT)
    if kind == 5:
        return "".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0xD800))))
                       for _ in range(rng.randrange(0, 12)))
    if kind == 6:
        return rng.randbytes(rng.choice((0, 1, 8, 15, 16, 17, 32, 33, 64, 65)))
    if kind == 7:
        prefix = rng.choice((b"\xff\xd8\xff", b"\xff\xd8", b"RIFF\x00\x00\x00\x00WEBP",
                             b"\x00\x00\x00\x1cftypavif", b""))
        return prefix + rng.randbytes(rng.choice((0, 10, 500, 1100)))
    if kind == 8:
        return cbor2.CBORTag(rng.choice((0, 1, 2, 3, 18, 24, 61, 55799, 2**32)), rng.randrange(99))
    if kind == 9:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if kind == 10:
        return {hostile_key(rng): hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if kind == 11:  # nesting around the CBOR depth bound (16)
        value: Any = 0
        for _ in range(rng.randrange(10, 22)):
            value = [value] if rng.random() < 0.5 else {1: value}
        return value
    if kind == 12:
        return cbor2.CBORTag(rng.choice((18, 61, 55799)), hostile_value(rng, depth + 1))
    return cbor2.CBORSimpleValue(rng.choice((0, 16, 19, 32, 255)))


def hostile_key(rng: random.Random) -> Any:
    return rng.choice((rng.randrange(-70000, 70000), rng.choice(_HOSTILE_TEXT),
                       rng.randbytes(rng.randrange(3)), 1.5, None, True))


# Cases: each returns the QR text to check ---------------------------------------------------------
def _student_fields(rng: random.Random, student: dict[str, Any]) -> dict[str, Any]:
    student = dict(student)
    for _ in range(rng.randrange(1, 3)):
        op = rng.randrange(3)
        name = rng.choice(("gn", "fn", "dob", "uni", "alb", "ph", "xx", rng.choice(_HOSTILE_TEXT)))
        if op == 0:
            student[name] = hostile_value(rng)
        elif op == 1:
            student.pop(name, None)
        else:
            student[hostile_key(rng)] = hostile_value(rng)
    return student


def hostile_credential_case(world: FuzzWorld, rng: random.Random) -> str:
    """A credential with hostile claims, validly signed by the listed issuer key."""
    claims = world.claims()
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(7)
        key = rng.choice((1, 4, 5, 6, 7, 8, -65537))
        if op == 0:
            claims[key] = hostile_value(rng)
        elif op == 1:
            claims.pop(key, None)
        elif op == 2:
            claims[hostile_key(rng)] = hostile_value(rng)
        elif op == 3:
            claims[rng.choice((4, 5, 6))] = rng.randrange(0, UINT64_MAX + 1)
        elif op == 4:
            student = claims.get(-65537)
            claims[-65537] = _student_fields(rng, student if isinstance(student, dict) else {})
        elif op == 5:
            claims[7] = rng.choice((world.revoked_cti, rng.randbytes(16)))
        else:
            held = claims.get(8)
            key_map = held.get(1) if isinstance(held, dict) else None
            cnf = dict(key_map) if isinstance(key_map, dict) else {}
            cnf[rng.choice((1, -1, -2, -3, 3))] = hostile_value(rng)
            claims[8] = rng.choice(({1: cnf}, {1: cnf, 2: hostile_value(rng)}, hostile_value(rng)))
    protected = _protected(world, rng)
    signer = world.uni.key if rng.random() < 0.9 else world.stranger
    credential = cose_sign1(signer, protected, cbor2.dumps(claims), _unprotected(rng))
    return _present(world, rng, credential)


def _protected(world: FuzzWorld, rng: random.Random) -> bytes:
    kid = world.uni.kid
    header: Any = {1: -7, 4: kid}
    roll = rng.random()
    if roll < 0.80:
        return encode(header)
    if roll < 0.85:
        header[rng.choice((1, 2, 4))] = hostile_value(rng)
    elif roll < 0.90:
        header.pop(rng.choice((1, 4)))
    elif roll < 0.95:
        header[hostile_key(rng)] = hostile_value(rng)
    else:
        return rng.choice((b"", b"\xa0", b"\x80", rng.randbytes(5)))
    return cbor2.dumps(header)


def _unprotected(rng: random.Random) -> Any:
    if rng.random() < 0.9:
        return {}
    return rng.choice(({1: -7}, {4: b"\x00" * 8}, {hostile_key(rng): hostile_value(rng)}))


def _present(world: FuzzWorld, rng: random.Random, credential: bytes) -> str:
    payload: Any = {1: credential, 2: NOW - rng.randrange(0, 30)}
    if rng.random() < 0.3:
        payload[2] = rng.choice((hostile_value(rng), rng.randrange(0, UINT64_MAX + 1),
                                 NOW - WINDOW, NOW + WINDOW, NOW - WINDOW - 1))
    if rng.random() < 0.1:
        payload[hostile_key(rng)] = hostile_value(rng)
    if rng.random() < 0.05:
        payload = rng.choice((hostile_value(rng), [credential, NOW], {1: credential}))
    protected = encode({1: -7}) if rng.random() < 0.9 else cbor2.dumps(
        rng.choice(({1: -7, 4: b"k" * 8}, {1: hostile_value(rng)}, {}, {1: -7, 2: [1]})))
    device = world.device if rng.random() < 0.95 else world.stranger
    tag = 18 if rng.random() < 0.97 else rng.choice((None, 61, 55799))
    return qr_text(cose_sign1(device, protected, cbor2.dumps(payload), _unprotected(rng), tag))


def hostile_presentation_case(world: FuzzWorld, rng: random.Random) -> str:
    """A valid credential, in a presentation with hostile content signed by the phone."""
    credential = cose_sign1(world.uni.key, encode({1: -7, 4: world.uni.kid}),
                            encode(world.claims()))
    return _present(world, rng, credential)


def mutation_case(world: FuzzWorld, rng: random.Random, base: bytes) -> str:
    """A valid presentation's bytes (or its QR text) flipped, cut, spliced: unsigned changes."""
    if rng.random() < 0.15:
        text = qr_text(base)
        pos = rng.randrange(len(text))
        op = rng.randrange(4)
        if op == 0:
            return text[:pos] + rng.choice("0123456789ABCDEFXYZ $%*+-./:") + text[pos + 1 :]
        if op == 1:
            return text[:pos]
        if op == 2:
            return text + rng.choice(("\n", "\r\n", "\r", " ", "\n\n", "\x00"))
        return text[:pos] + rng.choice(("\u2028", "\xff", "a", "\ud800")) + text[pos:]
    raw = bytearray(base)
    for _ in range(rng.randrange(1, 5)):
        pos = rng.randrange(len(raw))
        op = rng.randrange(5)
        if op == 0:
            raw[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            del raw[pos : pos + rng.randrange(1, 9)]
        elif op == 2:
            raw[pos:pos] = rng.randbytes(rng.randrange(1, 9))
        elif op == 3:
            raw[pos] = rng.choice((0x00, 0x18, 0x1B, 0x5F, 0x7F, 0x9F, 0xBF, 0xD2, 0xFF))
        else:
            start = rng.randrange(len(raw))
            raw[pos:pos] = raw[start : start + rng.randrange(1, 40)]
    return qr_text(bytes(raw))


def valid_presentation(world: FuzzWorld) -> bytes:
    credential = cose_sign1(world.uni.key, encode({1: -7, 4: world.uni.kid}),
                            encode(world.claims()))
    return cose_sign1(world.device, encode({1: -7}), encode({1: credential, 2: NOW - 5}))


# The independent oracle ---------------------------------------------------------------------------
def _loads(data: bytes) -> Any:
    """cbor2, which also interprets some tags (0, 1, 2, ...) and refuses odd contents there; a
    claim that ML1 ignores may hold such a tag, so those bytes are read by the core's plain
    decoder instead. The signatures are still checked by the oracle over the raw bytes."""
    try:
        return cbor2.loads(data)
    except cbor2.CBORDecodeError:
        return core_cbor.loads(data)


def _sign1(item: Any) -> tuple[bytes, bytes, bytes]:
    # cbor2's tag, or the plain decoder's (when cbor2 refused a tag's content somewhere inside)
    number = item.tag if isinstance(item, cbor2.CBORTag) else getattr(item, "number", None)
    assert isinstance(item, cbor2.CBORTag | core_cbor.Tag) and number == 18, "not tag 18"
    protected, unprotected, payload, signature = item.value
    assert isinstance(unprotected, Mapping), "unprotected"
    assert type(protected) is bytes and type(payload) is bytes, "protected, payload"
    assert type(signature) is bytes, "signature"
    return protected, payload, signature


def _verify(key: ec.EllipticCurvePublicKey, protected: bytes, payload: bytes, sig: bytes) -> None:
    assert len(sig) == 64, "signature length"
    header = _loads(protected) if protected else {}
    assert header.get(1) == -7 and type(header.get(1)) is int, "alg"
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.verify(der, to_sign, ec.ECDSA(hashes.SHA256()))


def _device_key(cose_key: Any) -> ec.EllipticCurvePublicKey:
    assert cose_key[1] == 2 and cose_key[-1] == 1, "EC2 P-256"
    x, y = cose_key[-2], cose_key[-3]
    point = bytes([3 if y else 2]) + x if type(y) is bool else b"\x04" + x + y
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def independently_valid(world: FuzzWorld, text: str, now: int = NOW) -> str | None:
    """None if ``text`` really is a valid code at ``now``; else the reason it is not."""
    try:
        body = text[4:].removesuffix("\r\n").removesuffix("\n").removesuffix("\r")
        assert text.startswith("ML1:") and len(body) + 4 <= 4296, "text"
        outer = _sign1(_loads(zlib.decompress(b45decode(body))))
        payload = _loads(outer[1])
        assert isinstance(payload, Mapping), "presentation payload"
        credential_raw, made = payload[1], payload[2]
        assert type(made) is int and made >= 0 and abs(now - made) <= WINDOW, "time"
        inner = _sign1(_loads(credential_raw))
        kid = _loads(inner[0]).get(4)
        entry = world.trust.find(kid)
        assert entry is not None, "kid"
        _verify(entry.key, *inner)
        claims = _loads(inner[1])
        assert claims[1] == entry.iss, "iss"
        exp, nbf, iat = claims[4], claims[5], claims[6]
        assert all(type(v) is int and v >= 0 for v in (exp, nbf, iat)), "uint claims"
        assert nbf <= now < exp and entry.nbf <= iat < entry.exp, "validity"
        assert type(claims[7]) is bytes and len(claims[7]) == 16, "cti"
        assert claims[7] not in world.revocations, "revoked"
        student = claims[-65537]
        for name, hi in (("gn", 100), ("fn", 100), ("uni", 200), ("alb", 32)):
            assert type(student[name]) is str and 1 <= len(student[name]) <= hi, name
        assert type(student["dob"]) is str, "dob"
        _verify(_device_key(claims[8][1]), *outer)
    except (AssertionError, InvalidSignature) as exc:
        return str(exc) or type(exc).__name__
    except Exception as exc:  # the oracle's own decoders gave up: not a code it can vouch for
        return f"oracle: {type(exc).__name__}"
    return None


# Rendering every result ---------------------------------------------------------------------------
def render_all(result: CheckResult, now: int = NOW) -> None:
    """Every way a result reaches a person or a script; raises if one of them cannot."""
    for lang in ("en", "pl"):
        line = result_line(result, lang)
        assert "\n" not in line and "\r" not in line
        verdict_view(result, now, lang)
    row = json_line({"input": "x", **result.to_json()})
    assert row.count("\n") == 1 and row.isascii()
    json.loads(row)


# The campaign -------------------------------------------------------------------------------------
@dataclass
class Campaign:
    """Runs cases through ``verify()`` and the renderers, keeping the figures for RESULTS.md."""

    world: FuzzWorld
    verify: Callable[[str], CheckResult]
    cases: int = 0
    signed_hostile: int = 0
    ok_verdicts: int = 0
    exceptions: list[str] = field(default_factory=list)
    false_valid: list[str] = field(default_factory=list)
    slowest: float = 0.0  # CPU seconds of this thread (a loaded machine's pauses excluded)
    slowest_kind: str = ""
    slowest_text: str = ""

    def check(self, text: str, kind: str) -> CheckResult | None:
        self.cases += 1
        self.signed_hostile += kind.startswith("signed")
        started = time.thread_time()
        try:
            result = self.verify(text)
            elapsed = time.thread_time() - started
            render_all(result)
        except Exception as exc:
            self.exceptions.append(f"{kind}: {type(exc).__name__}: {exc} <- {text[:200]!r}")
            return None
        if elapsed > self.slowest:
            self.slowest, self.slowest_kind, self.slowest_text = elapsed, kind, text
        if result.verdict in OK_VERDICTS:
            self.ok_verdicts += 1
            why = independently_valid(self.world, text)
            if why is not None:
                self.false_valid.append(f"{kind}: {why} <- {text[:200]!r}")
        return result

    def run(self, n: int, seed: int) -> Campaign:
        rng = random.Random(seed)
        base = valid_presentation(self.world)
        makers: list[tuple[str, Callable[[], str]]] = [
            ("signed credential", lambda: hostile_credential_case(self.world, rng)),
            ("signed presentation", lambda: hostile_presentation_case(self.world, rng)),
            ("mutation", lambda: mutation_case(self.world, rng, base)),
        ]
        for i in range(n):
            kind, make = makers[i % len(makers)]
            try:
                text = make()
            except (TypeError, ValueError, OverflowError, cbor2.CBOREncodeError):
                continue  # a value cbor2 will not encode: not a case
            self.check(text, kind)
        return self

    def retime(self, text: str, repeats: int = 20) -> float:
        """One case again, alone: the best of ``repeats`` wall-clock runs (seconds)."""
        best = math.inf
        for _ in range(repeats):
            started = time.perf_counter()
            self.verify(text)
            best = min(best, time.perf_counter() - started)
        return best

    def summary(self) -> str:
        baseline = self.retime(qr_text(valid_presentation(self.world)))
        slowest = self.retime(self.slowest_text)
        return (
            f"{self.cases} cases ({self.signed_hostile} validly signed hostile payloads), "
            f"{len(self.exceptions)} exceptions, {len(self.false_valid)} false valid, "
            f"{self.ok_verdicts} valid or warning (each confirmed by the oracle), slowest case "
            f"{self.slowest * 1000:.1f} ms CPU ({self.slowest_kind}; alone, best of 20: "
            f"{slowest * 1000:.2f} ms = {slowest / baseline:.1f} x a genuine code's "
            f"{baseline * 1000:.2f} ms)"
        )


# Lists --------------------------------------------------------------------------------------------
def hostile_list_case(world: FuzzWorld, rng: random.Random) -> bytes:
    """A list payload with hostile content, signed by the trust anchor (or mutated bytes)."""
    if rng.random() < 0.3:
        raw = bytearray(rng.choice((world.trust_raw, world.revocations_raw)))
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(raw))
            raw[pos] ^= 1 << rng.randrange(8)
        return bytes(raw)
    if rng.random() < 0.5:
        payload: Any = {"v": 1, "seq": 5, "iat": NOW, "ids": b"\x01" * 16 + b"\x02" * 16}
        payload[rng.choice(("v", "seq", "iat", "ids", "x"))] = rng.choice(
            (hostile_value(rng), rng.randbytes(rng.choice((15, 17, 32, 48))),
             b"\x02" * 16 + b"\x01" * 16, b"\x01" * 32))
    else:
        entry = world.uni.listing(NOW - YEAR, NOW + YEAR).entry()
        entry[rng.choice(("kid", "iss", "name", "key", "nbf", "exp", 1))] = hostile_value(rng)
        payload = {"v": 1, "seq": 5, "iat": NOW, "issuers": rng.choice(([entry], [entry, entry]))}
        if rng.random() < 0.2:
            payload[rng.choice(("v", "seq", "iat", "issuers"))] = hostile_value(rng)
    protected = encode({1: -7, 4: world.ministry.anchor.kid})
    return cose_sign1(world.ministry.key, protected, cbor2.dumps(payload))


def load_list(world: FuzzWorld, raw: bytes) -> str:
    """'trust', 'revocations' or 'rejected'; any exception but ListError escapes, and a list
    that loads must obey section 5 by an independent reading of its payload."""
    loaders = (("trust", TrustList.from_bytes), ("revocations", RevocationList.from_bytes))
    for kind, loader in loaders:
        try:
            loader(raw, world.ministry.anchor)
        except ListError:
            continue
        protected, payload, signature = _sign1(_loads(raw))
        assert _loads(protected).get(4) == world.ministry.anchor.kid
        _verify(world.ministry.anchor.key, protected, payload, signature)
        body = _loads(payload)
        assert type(body["seq"]) is int and body["seq"] >= 0
        if kind == "trust":
            for entry in body["issuers"]:
                assert hashlib.sha256(entry["key"]).digest()[:8] == entry["kid"]
        else:
            ids = body["ids"]
            chunks = [ids[i : i + 16] for i in range(0, len(ids), 16)]
            assert len(ids) % 16 == 0 and chunks == sorted(set(chunks))
        return kind
    return "rejected"
