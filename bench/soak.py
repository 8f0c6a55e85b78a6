"""Soak: the real app, the replay camera, 500 consecutive codes and a list sync every 20.

Run: ``.venv/bin/python bench/soak.py [--codes 500] [--sync-every 20] [--ids 200000]``
(the test tier: ``pytest -m soak``, tests/test_soak.py).

The app is started the way its unit starts it (its own process, a pseudo-terminal as the
console, the unit's environment, the config named by ``MLEG_VERIFIER_CONFIG``). The replay
camera shows each code in two consecutive frames, one code after another, with mixed verdicts
(valid, expired, revoked, a stale presentation, not a code at all). Every ``--sync-every``
verdicts the local list server publishes a newer revocation list (``--ids`` entries) and the
soak presses ``s``: the app downloads it, verifies it and swaps it in while it keeps scanning.

Checked at the end: the app is still running with its camera loop alive (no thread lost: a
dead worker would have stopped it, exit 1), every verdict in its audit log is the one its code
should get (rows are matched to codes by the audit log's keyed credential hash, computed here
with the kit's device key; a row without a credential must be a "not a code" one), every code
got a verdict, and RSS at the end is within 5 % of RSS after the first 50 codes. A code the
camera did not catch on the first pass (a frame dropped on a loaded machine: the decoder only
ever takes the newest frame) comes round again as the replay loops; how many did is reported.
Also reported: peak RSS (VmHWM) after the first sync, the app's thread count, wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_memory import random_ids, serve, unit_environment, verifier_command

from issuer_stub.authority import YEAR, Ministry, University
from issuer_stub.demo import qr_frame
from issuer_stub.keystore import public_pem
from issuer_stub.signing import StudentData, sign_revocation_list
from issuer_stub.wallet import Wallet
from verifier.imaging.pipeline import check_texts

FPS = 25.0
FRAMES_PER_CODE = 2
WINDOW = 3600  # presentations stay fresh for the whole run (one is made stale on purpose)
KINDS = ("valid", "valid", "expired", "revoked", "stale", "junk")


Row = tuple[str, str | None, str | None]  # verdict, reason, keyed credential hash


@dataclass
class SoakResult:
    codes: int
    rows: list[Row] = field(default_factory=list)
    expected: list[tuple[str, str | None]] = field(default_factory=list)
    hashes: list[str | None] = field(default_factory=list)  # per code, None for "not a code"
    wrong: list[str] = field(default_factory=list)
    syncs_done: int = 0
    syncs_asked: int = 0
    rss_after_50_kib: int | None = None
    rss_end_kib: int | None = None
    hwm_after_first_sync_kib: int | None = None
    threads_after_50: int | None = None
    threads_end: int | None = None
    alive_at_end: bool = False
    camera_at_end: str | None = None
    exit_code: int | None = None
    seconds: float = 0.0
    revocation_seq_end: int | None = None

    def judge(self) -> None:
        """Every row is its code's expected verdict; every code got one."""
        by_hash = {h: e for h, e in zip(self.hashes, self.expected, strict=True) if h}
        junk = {e for h, e in zip(self.hashes, self.expected, strict=True) if h is None}
        self.wrong = []
        for verdict, reason, credential in self.rows:
            want = by_hash.get(credential) if credential else None
            if credential is None and (verdict, reason) not in junk:
                self.wrong.append(f"a row without a credential: {verdict}/{reason}")
            elif credential is not None and want != (verdict, reason):
                self.wrong.append(f"{credential[:8]}: got {verdict}/{reason}, expected {want}")

    def covered_by(self, rows: list[Row]) -> int:
        """Codes that got a verdict in ``rows`` (codes without a credential: by their rows)."""
        seen = {credential for _, _, credential in rows if credential}
        junk_rows = sum(1 for _, _, credential in rows if credential is None)
        junk_codes = sum(1 for h in self.hashes if h is None)
        return len(seen & set(filter(None, self.hashes))) + min(junk_rows, junk_codes)

    @property
    def covered(self) -> int:
        return self.covered_by(self.rows)

    @property
    def verdicts_ok(self) -> bool:
        return self.covered == self.codes and not self.wrong

    @property
    def missed_first_pass(self) -> int:
        """Codes with no verdict among the first ``codes`` rows: caught on a later pass."""
        return self.codes - self.covered_by(self.rows[: self.codes])

    @property
    def rss_drift(self) -> float | None:
        if not self.rss_after_50_kib or self.rss_end_kib is None:
            return None
        return self.rss_end_kib / self.rss_after_50_kib - 1


def proc_field(pid: int, name: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{name}:\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


class Kit:
    """Anchor, lists, the list server's directory and the camera's frames, under ``root``."""

    def __init__(self, root: Path, codes: int, ids: int) -> None:
        self.root = root
        self.now = int(time.time())
        self.ministry = Ministry()
        uni = University("PL-9997", "Politechnika Długotrwała")
        self.ministry.admit(uni, nbf=self.now - YEAR, exp=self.now + YEAR)
        self.ids = list(random_ids(ids))
        self.public = root / "public"
        self.public.mkdir()
        self.cache = root / "cache"
        self.cache.mkdir()
        (root / "anchor.pem").write_bytes(public_pem(self.ministry.key.public_key()))
        trust = self.ministry.trust_list(iat=self.now - 60)
        (self.cache / "trustlist.cbor").write_bytes(trust)
        (self.public / "trustlist.cbor").write_bytes(trust)
        frames = root / "frames"
        frames.mkdir()
        revoked: list[bytes] = []
        texts: list[str] = []
        self.ctis: list[bytes | None] = []
        for i in range(codes):
            kind = KINDS[i % len(KINDS)]
            if kind == "junk":
                texts.append(f"ML1:NOT-A-CODE-{i}")
                self.ctis.append(None)
                continue
            wallet = Wallet.new()
            student = StudentData("Ola", f"Soakowska{i}", "2003-03-03", uni.name, f"S{i:05d}")
            cti = os.urandom(16)
            dates = {"iat": self.now - 86400, "exp": self.now + 90 * 86400}
            if kind == "expired":
                dates["exp"] = self.now - 3600
            if kind == "revoked":
                revoked.append(cti)
            self.ctis.append(cti)
            wallet.credential = uni.issue(student, wallet.public_key, cti=cti, **dates)
            at = self.now - 2 * WINDOW if kind == "stale" else self.now
            texts.append(wallet.present(at))
        self.revoked = revoked
        self.seq = 1
        held = self.revocation_list()
        (self.cache / "revocations.cbor").write_bytes(held)
        (self.public / "revocations.cbor").write_bytes(held)
        self.publish()  # the first sync already finds a newer list
        for i, text in enumerate(texts):
            frame = qr_frame(text, 480, 360, 3)
            for j in range(FRAMES_PER_CODE):
                cv2.imwrite(str(frames / f"f{i:05d}-{j}.png"), frame)
        self.frames = frames
        self.texts = texts

    def revocation_list(self) -> bytes:
        return sign_revocation_list(
            self.ministry.key, self.seq, self.now - 60, [*self.ids, *self.revoked]
        )

    def publish(self) -> None:
        """A newer revocation list on the server (one more revoked id, never one of ours)."""
        self.seq += 1
        self.ids.append(os.urandom(16))
        tmp = self.public / ".revocations.tmp"
        tmp.write_bytes(self.revocation_list())
        tmp.replace(self.public / "revocations.cbor")
        stamp = time.time() + self.seq  # Last-Modified must move on even within one second
        os.utime(self.public / "revocations.cbor", (stamp, stamp))

    def expected(self) -> list[tuple[str, str | None]]:
        from verifier.core.revocation import RevocationList
        from verifier.core.trustlist import TrustList
        from verifier.device.trustdata import TrustData

        anchor = self.ministry.anchor
        data = TrustData(
            anchor,
            TrustList.from_bytes((self.cache / "trustlist.cbor").read_bytes(), anchor),
            RevocationList.from_bytes(self.revocation_list(), anchor),
        )
        out = []
        for text in self.texts:
            result = check_texts([text], data, self.now + 60, WINDOW)
            reason = None if result.reason is None else result.reason.value
            out.append((result.verdict.value, reason))
        return out

    def hashes(self) -> list[str | None]:
        """Each code's credential as the app's audit log writes it (its device key)."""
        key = (self.cache / "audit" / "audit.key").read_bytes()
        return [
            None if cti is None else hmac.new(key, cti, hashlib.sha256).hexdigest()[:32]
            for cti in self.ctis
        ]

    def config(self, list_url: str) -> Path:
        path = self.root / "config.toml"
        path.write_text(
            f'anchor = "{self.root / "anchor.pem"}"\ncache_dir = "{self.cache}"\n'
            f'list_url = "{list_url}"\nlanguage = "en"\nwindow = {WINDOW}\n'
            "sync_interval = 604800\n"  # only the soak's `s` presses sync (and the first one)
            f'[camera]\nsource = "replay"\npath = "{self.frames}"\nfps = {FPS}\n'
        )
        return path


def audit_rows(cache: Path) -> list[Row]:
    path = cache / "audit" / "audit.sqlite"
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute(
                "SELECT verdict, reason, credential FROM verdicts ORDER BY at, rowid"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return []


def last_sync_at(cache: Path) -> int | None:
    try:
        state = json.loads((cache / "state.json").read_text())
    except (OSError, ValueError):
        return None
    last = state.get("last_sync") if isinstance(state, dict) else None
    return last.get("at") if isinstance(last, dict) else None


def run_soak(codes: int = 500, sync_every: int = 20, ids: int = 200_000,
             deadline: float = 900.0) -> SoakResult:
    result = SoakResult(codes)
    with tempfile.TemporaryDirectory(prefix="mleg-soak-") as tmp:
        kit = Kit(Path(tmp), codes, ids)
        result.expected = kit.expected()
        with serve(kit.public) as url:
            config = kit.config(url)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("MLEG_")},
                "TERM": "linux", **unit_environment(), "MLEG_VERIFIER_CONFIG": str(config),
                "XDG_RUNTIME_DIR": tmp,
            }
            controller, console = pty.openpty()
            fcntl.ioctl(console, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
            started = time.monotonic()
            proc = subprocess.Popen(
                [*verifier_command(), "app"], stdin=console, stdout=console, stderr=console,
                env=env, start_new_session=True,
            )
            os.close(console)
            stop = threading.Event()

            def drain() -> None:  # the screen must be read, or the app blocks drawing it
                while not stop.is_set():
                    with contextlib.suppress(OSError, ValueError):
                        if select.select([controller], [], [], 0.2)[0]:
                            os.read(controller, 65536)

            drainer = threading.Thread(target=drain, daemon=True)
            drainer.start()
            try:
                _soak(kit, proc, controller, result, sync_every, started, deadline)
            finally:
                result.alive_at_end = proc.poll() is None
                status = _runtime_status(Path(tmp))
                result.camera_at_end = None if status is None else status.get("camera")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    result.exit_code = proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    result.exit_code = proc.wait()
                stop.set()
                drainer.join(2)
                os.close(controller)
                result.seconds = time.monotonic() - started
        result.rows = audit_rows(kit.cache)
        result.hashes = kit.hashes()
        result.judge()
        from verifier.core.revocation import RevocationList

        held = RevocationList.from_bytes(
            (kit.cache / "revocations.cbor").read_bytes(), kit.ministry.anchor
        )
        result.revocation_seq_end = held.seq
    return result


def _runtime_status(tmp: Path) -> dict | None:
    try:
        return json.loads((tmp / "mleg-verifier" / "status.json").read_text())
    except (OSError, ValueError):
        return None


def _soak(kit: Kit, proc: subprocess.Popen, controller: int, result: SoakResult,
          sync_every: int, started: float, deadline: float) -> None:
    pid = proc.pid
    first_sync_seen = last_sync_at(kit.cache)
    synced_at = first_sync_seen
    next_sync = sync_every
    while time.monotonic() - started < deadline and proc.poll() is None:
        time.sleep(0.2)
        seen = last_sync_at(kit.cache)
        if seen != synced_at:
            synced_at = seen
            result.syncs_done += 1
            if result.hwm_after_first_sync_kib is None:
                result.hwm_after_first_sync_kib = proc_field(pid, "VmHWM")
        rows = audit_rows(kit.cache)
        count = len(rows)
        if result.rss_after_50_kib is None and count >= 50:
            result.rss_after_50_kib = proc_field(pid, "VmRSS")
            result.threads_after_50 = proc_field(pid, "Threads")
        if count >= next_sync and count < result.codes:
            kit.publish()
            os.write(controller, b"s")  # the inspector presses s: sync now
            result.syncs_asked += 1
            next_sync += sync_every
        if count >= result.codes:
            result.rows, result.hashes = rows, kit.hashes()
            if result.covered == result.codes:
                time.sleep(1.0)  # one more status write
                break
    result.rss_end_kib = proc_field(pid, "VmRSS")
    result.threads_end = proc_field(pid, "Threads")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=500)
    parser.add_argument("--sync-every", type=int, default=20)
    parser.add_argument("--ids", type=int, default=200_000)
    args = parser.parse_args(argv)
    r = run_soak(args.codes, args.sync_every, args.ids)
    drift = r.rss_drift
    mix: dict[str, int] = {}
    for verdict, reason in r.expected:
        mix[f"{verdict}/{reason or '-'}"] = mix.get(f"{verdict}/{reason or '-'}", 0) + 1
    print(f"codes {r.codes}, verdicts recorded {len(r.rows)}, codes with a verdict {r.covered}, "
          f"wrong verdicts {len(r.wrong)}, all as expected: {r.verdicts_ok}")
    print(f"codes the camera missed on the first pass (caught as the replay looped): "
          f"{r.missed_first_pass if r.covered == r.codes else '-'}")
    print(f"mix: {', '.join(f'{k} {v}' for k, v in sorted(mix.items()))}")
    print(f"syncs asked {r.syncs_asked}, syncs done {r.syncs_done} (first one at start), "
          f"revocation list seq at the end {r.revocation_seq_end}")
    print(f"RSS after 50 codes {r.rss_after_50_kib} KiB, at the end {r.rss_end_kib} KiB, "
          f"drift {'-' if drift is None else f'{drift:+.1%}'}")
    print(f"peak RSS (VmHWM) once the first sync (a newer {args.ids}-id list) is done: "
          f"{r.hwm_after_first_sync_kib} KiB")
    print(f"threads after 50 codes {r.threads_after_50}, at the end {r.threads_end}; "
          f"alive at the end {r.alive_at_end}, camera {r.camera_at_end!r}, exit {r.exit_code}")
    print(f"wall time {r.seconds:.0f} s")
    for line in r.wrong[:5]:
        print(f"wrong: {line}")
    ok = r.verdicts_ok and r.alive_at_end and drift is not None and abs(drift) <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
