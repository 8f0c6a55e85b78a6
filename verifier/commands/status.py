"""``verifier status [--json | --prometheus FILE]``: how this kit is, for its operator and a fleet.

Everything is read, nothing changed: the anchor, the lists held (verified with the anchor, as
the app would), the sync bookkeeping in ``state.json``, the audit log (read-only: today's
counts) and the running app's runtime status file (camera, fps, audit health). Figures only:
no name, no credential id, no code is in any of them.

``--prometheus FILE`` writes the same figures in Prometheus' text format, atomically, for
node_exporter's textfile collector (``mleg-verifier-metrics.timer`` does it every minute).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from verifier.core.errors import ConfigError, ListError
from verifier.core.reasons import Verdict
from verifier.device import buildinfo
from verifier.device.atomicfile import write_atomic
from verifier.device.audit import DB_FILE, AuditLog, day_start
from verifier.device.config import Config
from verifier.device.runtime import read_candidates, read_status
from verifier.device.store import ListStore
from verifier.device.trustdata import load_anchor

APP_FRESH = 30  # a runtime status older than this: the app is not running (or is hung)
STALE_LIST = 20 * 3600  # the alert threshold deploy/README suggests, flagged here too


@dataclass
class ListFigures:
    held: bool = False
    seq: int | None = None
    iat: int | None = None
    age: int | None = None
    entries: int | None = None  # issuers in the trust list, ids in the revocation list
    error: str | None = None
    last_status: str | None = None  # what the last sync did with it
    last_success: int | None = None


@dataclass
class Status:
    version: str
    commit: str
    at: int
    anchor_kid: str | None = None
    anchor_error: str | None = None
    trust_list: ListFigures = field(default_factory=ListFigures)
    revocation_list: ListFigures = field(default_factory=ListFigures)
    last_sync_at: int | None = None
    last_sync_ok: bool | None = None
    clock_offset: int | None = None  # list server minus this kit, seconds, at the last sync
    clock_synchronized: bool | None = None  # the kernel's NTP state (what timedatectl shows)
    clock_source: str | None = None  # the config's `clock`: "ntp" verdicts need it synchronized
    app_running: bool = False
    app_started_at: int | None = None
    app_restarts: int | None = None  # systemd's NRestarts for the app unit, where readable
    camera: str | None = None
    camera_fps: float | None = None
    audit_ok: bool | None = None
    audit_pending: int | None = None
    counts_today: dict[str, int] = field(default_factory=dict)
    disk_free_bytes: int | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _lists(status: Status, config: Config) -> None:
    try:
        anchor = load_anchor(config.anchor)
    except ConfigError as exc:
        status.anchor_error = exc.message
        status.problems.append(f"trust anchor: {exc.message}")
        return
    status.anchor_kid = anchor.kid.hex()
    store = ListStore(config.cache_dir, anchor)
    state = store.state()
    for figures, load, key, what in (
        (status.trust_list, store.trust_list, "trustlist", "trust list"),
        (status.revocation_list, store.revocations, "revocations", "revocation list"),
    ):
        meta = state.get(key)
        if isinstance(meta, dict):
            figures.last_status = _str(meta.get("last_status"))
            figures.last_success = _int(meta.get("last_success"))
        try:
            held = load()
        except (ListError, ConfigError) as exc:
            figures.error = exc.message
            status.problems.append(f"{what}: {exc.message}")
            continue
        if held is None:
            status.problems.append(f"{what}: none held (run 'verifier sync')")
            continue
        figures.held, figures.seq, figures.iat = True, held.seq, held.iat
        figures.age = status.at - held.iat
        figures.entries = len(held.issuers) if key == "trustlist" else len(held)  # type: ignore[union-attr,arg-type]
        if figures.age > STALE_LIST:
            status.problems.append(f"{what}: {figures.age // 3600} h old")
    last = state.get("last_sync")
    if isinstance(last, dict):
        status.last_sync_at = _int(last.get("at"))
        ok = last.get("ok")
        status.last_sync_ok = ok if isinstance(ok, bool) else None
        status.clock_offset = _int(last.get("clock_offset", last.get("clock_skew")))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _app(status: Status, config: Config) -> None:
    running = read_status(read_candidates(config.cache_dir))
    updated = None if running is None else _int(running.get("updated_at"))
    if running is None or updated is None or not -APP_FRESH <= status.at - updated <= APP_FRESH:
        status.problems.append("app: not running")
        return
    status.app_running = True
    status.app_started_at = _int(running.get("started_at"))
    status.camera = _str(running.get("camera"))
    fps = running.get("fps")
    status.camera_fps = float(fps) if isinstance(fps, int | float) else None
    audit_ok = running.get("audit_ok")
    status.audit_ok = audit_ok if isinstance(audit_ok, bool) else None
    status.audit_pending = _int(running.get("audit_pending"))
    counts = running.get("counts")
    if not status.counts_today and isinstance(counts, dict):
        status.counts_today = {str(k): v for k, v in counts.items() if _int(v) is not None}
    if status.camera != "ok":
        status.problems.append(f"camera: {status.camera}")
    if status.audit_ok is False:
        status.problems.append("audit log: cannot be written")


def _counts(status: Status, config: Config) -> None:
    directory = config.cache_dir / "audit"
    if not (directory / DB_FILE).exists():
        return
    try:
        log = AuditLog(directory, readonly=True)
        try:
            counted = log.counts_since(day_start(status.at))
        finally:
            log.close()
    except Exception:  # a locked or damaged log: the app's own counts then
        return
    status.counts_today = {verdict.value: counted.get(verdict, 0) for verdict in Verdict}


def _restarts(unit: str = "mleg-verifier.service") -> int | None:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None
    try:
        value = subprocess.run(
            [systemctl, "show", "--property=NRestarts", "--value", unit],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(value) if value.isdigit() else None


def collect(
    config: Config,
    now: int | None = None,
    restarts: bool = True,
    clock_probe: Callable[[], bool] | None = None,
) -> Status:
    at = int(time.time()) if now is None else now
    status = Status(version=buildinfo.version(), commit=buildinfo.commit(), at=at)
    _lists(status, config)
    _counts(status, config)
    _app(status, config)
    from verifier.device.clock import kernel_clock_synchronized

    status.clock_source = config.clock
    status.clock_synchronized = (clock_probe or kernel_clock_synchronized)()
    if not status.clock_synchronized:
        status.problems.append(
            "clock: not synchronized (timedatectl; the verdicts warn while it is not)"
            if config.clock == "ntp" else "clock: not synchronized by NTP (timedatectl)"
        )
    if restarts:
        status.app_restarts = _restarts()
    where = config.cache_dir
    while not where.exists() and where != where.parent:  # not created yet: its file system
        where = where.parent
    with contextlib.suppress(OSError):
        status.disk_free_bytes = shutil.disk_usage(where).free
    return status


# ---- output ------------------------------------------------------------------------------
def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if abs(seconds) < 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def render_text(status: Status) -> str:
    lines = [f"verifier {status.version} (commit {status.commit})"]
    lines.append(f"anchor kid: {status.anchor_kid or '-'}")
    both = (("trust list", status.trust_list), ("revocations", status.revocation_list))
    for name, figures in both:
        if figures.held:
            lines.append(
                f"{name}: seq {figures.seq}, issued {_age(figures.age)} ago, "
                f"{figures.entries} entries, last sync: {figures.last_status or '-'}"
            )
        else:
            lines.append(f"{name}: not held ({figures.error or 'none in the cache'})")
    if status.last_sync_at is None:
        lines.append("last sync: never")
    else:
        outcome = "ok" if status.last_sync_ok else "failed"
        lines.append(f"last sync: {_age(status.at - status.last_sync_at)} ago, {outcome}")
    sync_state = {None: "unknown", True: "synchronized", False: "NOT synchronized"}
    offset = "-" if status.clock_offset is None else f"{status.clock_offset:+d} s"
    lines.append(
        f"clock: {sync_state[status.clock_synchronized]} (config clock = "
        f"{status.clock_source or '-'}), offset at last sync {offset}"
    )
    if status.app_running:
        fps = "-" if status.camera_fps is None else f"{status.camera_fps:.1f}"
        lines.append(f"app: running, camera {status.camera}, {fps} decoded frames/s")
        if status.audit_ok is False:
            lines.append(f"audit log: CANNOT BE WRITTEN ({status.audit_pending} waiting)")
    else:
        lines.append("app: not running")
    if status.app_restarts is not None:
        lines.append(f"app restarts: {status.app_restarts}")
    counts = status.counts_today
    lines.append(
        f"today: {counts.get('valid', 0)} valid, {counts.get('invalid', 0)} invalid, "
        f"{counts.get('warning', 0)} to check"
    )
    if status.disk_free_bytes is not None:
        lines.append(f"disk free: {status.disk_free_bytes / 1e6:.0f} MB")
    lines.extend(f"problem: {problem}" for problem in status.problems)
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(status: Status) -> str:
    """Prometheus text exposition format; one HELP/TYPE per metric, all gauges."""
    # name -> (help, samples): one group per metric, as the format requires.
    metrics: dict[str, tuple[str, list[tuple[str, float]]]] = {}

    def gauge(name: str, help_text: str, *samples: tuple[str, float | int | bool | None]) -> None:
        kept = [(labels, float(value)) for labels, value in samples if value is not None]
        if kept:
            metrics.setdefault(f"mleg_verifier_{name}", (help_text, []))[1].extend(kept)

    kid = _label(status.anchor_kid or "")
    gauge("info", "Build and trust anchor of this kit (value 1).",
          (f'{{version="{_label(status.version)}",commit="{_label(status.commit)}",'
           f'anchor_kid="{kid}"}}', 1))
    for key, figures in (("trust", status.trust_list), ("revocation", status.revocation_list)):
        tag = f'{{list="{key}"}}'
        gauge("list_held", "1 when a list that verifies with the anchor is held.",
              (tag, figures.held))
        gauge("list_seq", "Sequence number of the list held.", (tag, figures.seq))
        gauge("list_issued_timestamp_seconds", "iat of the list held.", (tag, figures.iat))
        gauge("list_age_seconds", "Seconds since the list held was issued.", (tag, figures.age))
    gauge("last_sync_timestamp_seconds", "When the last sync finished.",
          ("", status.last_sync_at))
    gauge("last_sync_ok", "1 when the last sync got both lists.", ("", status.last_sync_ok))
    gauge("clock_offset_seconds", "List server's clock minus this kit's, at the last sync.",
          ("", status.clock_offset))
    gauge("clock_synchronized", "1 when the system clock is synchronized (NTP).",
          ("", status.clock_synchronized))
    gauge("app_up", "1 while the app runs and updates its status.", ("", status.app_running))
    gauge("app_start_timestamp_seconds", "When the running app started.",
          ("", status.app_started_at))
    gauge("app_restarts", "systemd's restart count of the app unit since boot.",
          ("", status.app_restarts))
    gauge("camera_up", "1 while the camera delivers frames.",
          ("", status.camera == "ok" if status.app_running else False))
    gauge("camera_fps", "Frames decoded per second.", ("", status.camera_fps))
    gauge("audit_writable", "0 while verdicts cannot be written to the audit log.",
          ("", status.audit_ok))
    for verdict in Verdict:
        gauge("verdicts_today", "Verdicts since midnight (Warsaw), per verdict.",
              (f'{{verdict="{verdict.value}"}}', status.counts_today.get(verdict.value, 0)))
    gauge("disk_free_bytes", "Free bytes on the cache's file system.",
          ("", status.disk_free_bytes))
    gauge("status_timestamp_seconds", "When these figures were taken.", ("", status.at))
    out: list[str] = []
    for name, (help_text, samples) in metrics.items():
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        out += [f"{name}{labels} {value:.17g}" for labels, value in samples]
    return "\n".join(out) + "\n"


def run_status(
    config: Config,
    as_json: bool,
    prometheus: str | None,
    out: TextIO,
    now: int | None = None,
    clock_probe: Callable[[], bool] | None = None,
) -> int:
    status = collect(config, now, clock_probe=clock_probe)
    if prometheus is not None:
        text = render_prometheus(status)
        if prometheus == "-":
            out.write(text)
        else:
            write_atomic(Path(prometheus), text.encode(), mode=0o644)
        return 0
    if as_json:
        out.write(json.dumps(status.to_json(), sort_keys=True) + "\n")
    else:
        out.write(render_text(status))
    return 0
