"""Peak memory of the running inspector app, with and without a 1,000,000-entry revocation list.

Run: ``.venv/bin/python bench/bench_memory.py [--entries 1000000] [--settle 6]``

The Raspberry Pi Zero 2 W has 512 MB for everything; the target is a peak under 150 MB for the
app. Each scenario starts the real ``verifier app --kiosk`` the way the systemd unit does (its
own process, a pseudo-terminal as the console, ``TERM=linux``, the config named by
``MLEG_VERIFIER_CONFIG``), with the replay camera looping 1280x720 frames that hold a valid
student code. It waits until the verdict for that code is on the screen, lets the app run a
few more seconds, stops it with SIGTERM (as ``systemctl stop`` does) and reads the child's
peak resident set size (``ru_maxrss`` from ``wait4``; ``VmHWM`` read just before the stop
agrees). The baseline is the same app in the same run with an empty revocation list.

Scenarios: empty list (baseline); 1M list in the cache; 1M list in the cache while the app's
background sync fetches a newer 1M list from a local HTTP server (the worst case: old and new
list both in memory); and the separate ``verifier sync`` process of the sync timer with 1M lists.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.server
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from subprocess import Popen

import cv2
import numpy as np

from issuer_stub.authority import YEAR, Ministry, University
from issuer_stub.keystore import public_pem
from issuer_stub.signing import StudentData, sign_revocation_list
from issuer_stub.wallet import Wallet
from verifier.core.revocation import ID_LENGTH

MB = 1024 * 1024
UNIT = Path(__file__).resolve().parents[1] / "systemd" / "mleg-verifier.service"
FAMILY_NAME = "Memorywska"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")


@dataclass(frozen=True)
class Run:
    name: str
    peak_kib: int  # ru_maxrss of the child (KiB on Linux)
    hwm_kib: int | None  # VmHWM just before SIGTERM (None for the sync command)
    seen: bool  # the verdict was on the screen (the app really scanned and verified)
    seconds: float


def verifier_command() -> list[str]:
    script = Path(sys.executable).with_name("verifier")
    if script.exists():
        return [str(script)]
    code = "import sys; from verifier.commands.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code]


def unit_environment() -> dict[str, str]:
    """The ``Environment=`` settings of the app's systemd unit (the config path aside)."""
    env = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            env[name] = value
    env.pop("MLEG_VERIFIER_CONFIG", None)
    return env


def random_ids(n: int) -> Iterator[bytes]:
    pool = os.urandom(ID_LENGTH * n)
    return (pool[i : i + ID_LENGTH] for i in range(0, len(pool), ID_LENGTH))


class World:
    """Anchor, trust list, a student's phone and revocation lists, written to ``root``."""

    def __init__(self, root: Path, entries: int) -> None:
        self.root = root
        self.now = int(time.time())
        self.ministry = Ministry()
        uni = University("PL-9998", "Politechnika Pamięciowa")
        self.ministry.admit(uni, nbf=self.now - YEAR, exp=self.now + YEAR)
        self.wallet = Wallet.new()
        student = StudentData("Ala", FAMILY_NAME, "2004-04-04", uni.name, "M1000")
        self.wallet.credential = uni.issue(
            student, self.wallet.public_key, iat=self.now - 86400, exp=self.now + 90 * 86400
        )
        (root / "anchor.pem").write_bytes(public_pem(self.ministry.key.public_key()))
        self.trust_list = self.ministry.trust_list(iat=self.now - 60)
        iat = self.now - 60
        self.empty = sign_revocation_list(self.ministry.key, 1, iat, [])
        self.big = sign_revocation_list(self.ministry.key, 1, iat, random_ids(entries))
        self.bigger = sign_revocation_list(self.ministry.key, 2, iat + 1, random_ids(entries))

    def frames(self, directory: Path) -> Path:
        """Two 1280x720 grey frames with the phone's current code (a fresh presentation)."""
        directory.mkdir(parents=True, exist_ok=True)
        qr = directory / "qr.png"
        self.wallet.present_png(int(time.time()), qr, scale=5)
        code = cv2.imread(str(qr), cv2.IMREAD_GRAYSCALE)
        qr.unlink()
        frame = np.full((720, 1280), 170, np.uint8)
        y, x = (720 - code.shape[0]) // 2, (1280 - code.shape[1]) // 2
        frame[y : y + code.shape[0], x : x + code.shape[1]] = code
        for i in range(2):
            cv2.imwrite(str(directory / f"frame{i}.png"), frame)
        return directory

    def config(self, name: str, revocations: bytes, list_url: str = "") -> Path:
        home = self.root / name
        cache = home / "cache"
        cache.mkdir(parents=True)
        (cache / "trustlist.cbor").write_bytes(self.trust_list)
        (cache / "revocations.cbor").write_bytes(revocations)
        frames = self.frames(home / "frames")
        lines = [
            f'anchor = "{self.root / "anchor.pem"}"',
            f'cache_dir = "{cache}"',
            'language = "en"',
        ]
        if list_url:
            lines.append(f'list_url = "{list_url}"')
        lines += [
            "[camera]",
            'source = "replay"',
            f'path = "{frames}"',
            "fps = 10.0",
        ]
        path = home / "config.toml"
        path.write_text("\n".join(lines) + "\n")
        return path


# Runs a command and reports its peak RSS. Needed because Linux carries a parent's high-water
# mark into ``ru_maxrss`` of a child it forks and execs: this benchmark's own process holds
# three signed 1M lists, so children are started from this small, freshly exec'd launcher.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
print("pid", child.pid, flush=True)
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)
print("peak", usage.ru_maxrss, "exit", child.returncode, flush=True)
"""


def launch(command: list[str], env: dict[str, str], **kwargs: object) -> tuple[Popen, int]:
    """Start ``command`` under the launcher; (launcher, the command's pid)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *command], stdout=subprocess.PIPE, env=env, **kwargs
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    return proc, int(first[1])


def launcher_result(proc: Popen) -> tuple[int, int]:
    """(peak RSS in KiB, exit code) of the launched command."""
    assert proc.stdout is not None
    words = proc.stdout.read().split()
    proc.wait()
    return int(words[1]), int(words[3])


def vm_hwm_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


def run_app(
    name: str, config: Path, settle: float, unit_env: dict[str, str], deadline: float = 120.0
) -> Run:
    """The app on a pseudo-terminal until the verdict shows, ``settle`` s more, then SIGTERM."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLEG_")},
        "TERM": "linux",
        **unit_env,
        "MLEG_VERIFIER_CONFIG": str(config),
    }
    controller, console = pty.openpty()
    fcntl.ioctl(console, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    started = time.monotonic()
    proc, pid = launch(
        [*verifier_command(), "app", "--kiosk"], env, stdin=console, stderr=console,
        start_new_session=True,
    )
    os.close(console)
    screen, seen, seen_at = b"", False, None
    try:
        while time.monotonic() - started < deadline:
            if select.select([controller], [], [], 0.2)[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:
                    break  # the app is gone
                screen = (screen + chunk)[-200_000:]
                if not seen and FAMILY_NAME.encode() in ANSI.sub(b"", screen):
                    seen, seen_at = True, time.monotonic()
            if proc.poll() is not None:
                break
            if seen_at is not None and time.monotonic() - seen_at >= settle:
                break
        hwm = vm_hwm_kib(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        while proc.poll() is None:  # keep the terminal drained while it stops
            with contextlib.suppress(OSError):
                if select.select([controller], [], [], 0.1)[0]:
                    os.read(controller, 65536)
    finally:
        os.close(controller)
    peak, _code = launcher_result(proc)
    return Run(name, peak, hwm, seen, time.monotonic() - started)


def run_sync(name: str, config: Path, expect: bytes, unit_env: dict[str, str]) -> Run:
    """``verifier sync`` once; ok when the newer list ``expect`` is what the cache holds now."""
    env = {**os.environ, **unit_env, "MLEG_VERIFIER_CONFIG": str(config)}
    started = time.monotonic()
    proc, _pid = launch([*verifier_command(), "sync"], env)
    peak, code = launcher_result(proc)
    held = (config.parent / "cache" / "revocations.cbor").read_bytes()
    return Run(name, peak, None, code == 0 and held == expect, time.monotonic() - started)


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(Quiet, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--settle", type=float, default=6.0, help="seconds after the verdict")
    parser.add_argument("--limit-mb", type=float, default=150.0, help="the Zero 2 W target")
    parser.add_argument(
        "--without-unit-env",
        action="store_true",
        help="do not apply the unit's Environment= (e.g. MALLOC_MMAP_THRESHOLD_)",
    )
    args = parser.parse_args(argv)
    unit_env = {} if args.without_unit_env else unit_environment()

    with tempfile.TemporaryDirectory(prefix="mleg-mem-") as tmp:
        root = Path(tmp)
        world = World(root, args.entries)
        published = root / "published"
        published.mkdir()
        (published / "trustlist.cbor").write_bytes(world.trust_list)
        (published / "revocations.cbor").write_bytes(world.bigger)
        runs = [
            run_app(
                "app, empty revocation list (baseline)",
                world.config("empty", world.empty),
                args.settle,
                unit_env,
            ),
            run_app(
                f"app, {args.entries:,}-entry list",
                world.config("big", world.big),
                args.settle,
                unit_env,
            ),
        ]
        with serve(published) as url:
            runs.append(
                run_app(
                    f"app, {args.entries:,}-entry list + in-app sync of a newer one",
                    world.config("sync", world.big, list_url=url),
                    args.settle,
                    unit_env,
                )
            )
            runs.append(
                run_sync(
                    f"'verifier sync' (timer), {args.entries:,} held -> newer",
                    world.config("timer", world.big, list_url=url),
                    world.bigger,
                    unit_env,
                )
            )

    base = runs[0].peak_kib
    print(
        f"Peak memory, {sys.implementation.name} {sys.version.split()[0]}, "
        f"{os.cpu_count()} cpu, list {len(world.big) / MB:.1f} MiB, unit environment: "
        + (" ".join(f"{k}={v}" for k, v in unit_env.items()) or "none")
    )
    width = max(len(r.name) for r in runs)
    worst = 0.0
    for run in runs:
        peak = run.peak_kib / 1024
        hwm = "" if run.hwm_kib is None else f"(VmHWM {run.hwm_kib / 1024:6.1f}) "
        delta = "" if run is runs[0] else f"{(run.peak_kib - base) / 1024:+6.1f} MiB vs baseline"
        ok = "ok" if run.seen else "NOT SEEN"
        print(f"  {run.name:<{width}}  {peak:6.1f} MiB {hwm}{delta:<24} {ok} {run.seconds:5.1f} s")
        worst = max(worst, run.peak_kib * 1024 / 1e6)
    verdict = "under" if worst < args.limit_mb else "OVER"
    print(f"  worst peak {worst:.1f} MB: {verdict} the {args.limit_mb:.0f} MB target")
    return 0 if worst < args.limit_mb and all(r.seen for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
