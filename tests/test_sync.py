"""Keeping the lists fresh: a real issuer directory, a real HTTP server on 127.0.0.1, the sync."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from issuer_stub.cli import main as issuer_main
from issuer_stub.keystore import load_private_key, new_key, write_atomic
from issuer_stub.registry import Registry
from issuer_stub.server import ListServer
from issuer_stub.signing import sign_revocation_list
from issuer_stub.wallet import Wallet
from verifier.commands.cli import main as verifier_main
from verifier.commands.sync import format_line, run_sync
from verifier.core.freshness import format_age, summarise
from verifier.core.reasons import Reason, Verdict
from verifier.device.clock import FixedClock
from verifier.device.config import Config
from verifier.device.store import ListStore
from verifier.device.sync import ListSync, Syncer, SyncReport, SyncScheduler, syncer_for
from verifier.device.trustdata import load_anchor, load_trust_data
from verifier.imaging.pipeline import check_text

NOW = int(time.time())
STUDENT = ["--given-names", "Anna", "--family-name", "Nowak", "--birth-date", "2003-01-02",
           "--album", "A-1"]


class Env:
    """An issuer directory served on 127.0.0.1 and a verifier config pointing at it."""

    def __init__(self, root: Path) -> None:
        self.issuer = root / "issuer"
        self.registry = Registry(self.issuer)
        self.registry.init("PL-1043", "Uczelnia", NOW)
        self.server: ListServer | None = None
        self.url = ""
        self.config = Config(anchor=self.registry.anchor_path, cache_dir=root / "cache")
        self.sleeps: list[float] = []

    def start(self) -> None:
        self.server = ListServer(self.registry, "127.0.0.1", 0, clock=lambda: NOW)
        self.url = self.server.start()
        self.config = replace(self.config, list_url=self.url)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    @property
    def store(self) -> ListStore:
        return ListStore(self.config.cache_dir, load_anchor(self.config.anchor))

    def syncer(self, **knobs: Any) -> Syncer:
        knobs.setdefault("sleep", self.sleeps.append)
        knobs.setdefault("clock", FixedClock(NOW))
        return syncer_for(self.config, **knobs)

    def sync(self, **knobs: Any) -> SyncReport:
        return self.syncer(**knobs).run()

    def serve_bytes(self, name: str, data: bytes) -> None:
        write_atomic(self.registry.public_dir / name, data)

    def ta_key(self) -> Any:
        return load_private_key(self.issuer / "ta.key.pem")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    e.start()
    try:
        yield e
    finally:
        e.stop()


def statuses(report: SyncReport) -> tuple[str, str]:
    return report.trust_list.status, report.revocations.status


def held(env: Env) -> tuple[int | None, int | None]:
    trust, revocations = env.store.trust_list(), env.store.revocations()
    return (None if trust is None else trust.seq, None if revocations is None else revocations.seq)


# The happy paths -----------------------------------------------------------------------------
def test_first_sync_fetches_both_lists_and_records_state(env: Env) -> None:
    # The server's Date header is the real time: compare it with the real time now, not with
    # NOW taken when the module was collected (minutes ago in a long run).
    now = int(time.time())
    report = env.sync(clock=FixedClock(now))
    assert statuses(report) == ("fetched", "fetched") and report.ok
    assert (report.trust_list.seq, report.revocations.seq) == (1, 1)
    assert held(env) == (1, 1)
    state = env.store.state()
    for key in ("trustlist", "revocations"):
        assert state[key]["etag"].startswith('"')
        assert state[key]["last_modified"].endswith("GMT")
        assert state[key]["last_success"] == now and state[key]["last_status"] == "fetched"
    assert state["last_sync"]["ok"] is True
    # The server's Date is the real time; NOW was taken when this module was imported, which
    # may be minutes before this test runs in a long suite: agree with the real clock here.
    assert env.sync(clock=FixedClock(int(time.time()))).clock_skew is None


def test_second_sync_is_a_conditional_get_answered_304(env: Env) -> None:
    env.sync()
    report = env.sync()
    assert statuses(report) == ("not_modified", "not_modified") and report.ok
    assert "held is current" in report.trust_list.message  # the 304 path, not a re-download
    assert held(env) == (1, 1)


def test_a_newer_list_is_accepted(env: Env) -> None:
    env.sync()
    env.registry.publish(NOW + 60)
    report = env.sync()
    assert statuses(report) == ("fetched", "fetched")
    assert held(env) == (2, 2)


def test_same_bytes_again_without_etag_is_a_no_op(env: Env) -> None:
    env.sync()
    env.store.record_state(trustlist={}, revocations={})  # forget the validators
    report = env.sync()
    assert statuses(report) == ("not_modified", "not_modified")
    assert "already held" in report.revocations.message


def test_conditional_headers_are_not_sent_without_a_held_list(env: Env) -> None:
    """A lost cache with remembered ETags must not be answered 304 forever."""
    env.sync()
    env.store.revocation_path.unlink()
    report = env.sync()
    assert report.revocations.status == "fetched"
    assert held(env) == (1, 1)


# Never a worse list --------------------------------------------------------------------------
def test_an_older_list_is_rejected_and_the_newer_one_kept(env: Env) -> None:
    old = env.registry.revocation_path.read_bytes()
    env.registry.publish(NOW + 60)
    env.sync()
    env.serve_bytes("revocations.cbor", old)
    report = env.sync()
    assert report.revocations.status == "rejected" and not report.ok
    assert "not newer" in report.revocations.message
    assert held(env) == (2, 2)
    assert "keeping seq 2" in format_line(report.revocations)
    state = env.store.state()["revocations"]
    assert state["last_failure"] == NOW and state["last_status"] == "rejected"


def test_equal_seq_with_different_bytes_is_rejected(env: Env) -> None:
    env.sync()
    twin = sign_revocation_list(env.ta_key(), 1, NOW + 5, [os.urandom(16)])
    env.serve_bytes("revocations.cbor", twin)
    report = env.sync()
    assert report.revocations.status == "rejected"
    assert env.store.revocations() is not None
    assert len(env.store.revocations()) == 0  # type: ignore[arg-type]


def test_a_list_signed_by_another_key_is_rejected(env: Env) -> None:
    env.sync()
    forged = sign_revocation_list(new_key(), 99, NOW, [])
    env.serve_bytes("revocations.cbor", forged)
    report = env.sync()
    assert report.revocations.status == "rejected"
    assert "kid" in report.revocations.message
    assert held(env) == (1, 1)


def test_a_truncated_list_is_rejected(env: Env) -> None:
    env.sync()
    env.registry.publish(NOW + 60)
    whole = env.registry.trust_list_path.read_bytes()
    env.serve_bytes("trustlist.cbor", whole[: len(whole) - 10])
    report = env.sync()
    assert report.trust_list.status == "rejected"
    assert report.revocations.status == "fetched"
    assert held(env) == (1, 2)


def test_a_rejected_first_list_leaves_no_list(env: Env) -> None:
    env.serve_bytes("trustlist.cbor", b"\xd2\x84garbage")
    report = env.sync()
    assert report.trust_list.status == "rejected"
    assert held(env) == (None, 1)
    assert format_line(report.trust_list).endswith("no list held")


def test_an_oversize_list_is_not_downloaded(env: Env) -> None:
    env.sync()
    env.registry.publish(NOW + 60)
    report = env.sync(max_bytes=200)  # the trust list is ~280 bytes, the revocations ~120
    assert report.trust_list.status == "failed"
    assert "too large" in report.trust_list.message
    assert report.revocations.status == "fetched"
    assert held(env) == (1, 2)


class _Streamed:
    """A response without Content-Length whose body never ends: the cap must stop it."""

    headers: dict[str, str] = {}

    def __init__(self) -> None:
        self.chunks_read = 0

    def iter_content(self, size: int) -> Iterator[bytes]:
        while True:
            self.chunks_read += 1
            yield b"\0" * size


def test_a_stream_without_length_is_aborted_past_the_cap(env: Env) -> None:
    syncer = env.syncer(max_bytes=1_000_000)
    response = _Streamed()
    with pytest.raises(Exception, match="too large"):
        syncer._read_capped(response, "http://x/revocations.cbor")  # type: ignore[arg-type]
    assert response.chunks_read == 1_000_000 // (64 * 1024) + 1


# Failures ------------------------------------------------------------------------------------
def test_server_down_keeps_the_old_lists_and_records_the_failure(env: Env) -> None:
    env.sync()
    env.stop()
    report = env.sync(retries=2, backoff=0.5)
    assert statuses(report) == ("failed", "failed") and not report.ok
    assert "cannot reach" in report.trust_list.message
    assert report.revocations.message.startswith("not tried")
    assert env.sleeps == [0.5, 1.0]  # backoff, and no retries for the second list
    assert held(env) == (1, 1)
    state = env.store.state()
    assert state["trustlist"]["last_failure"] == NOW
    assert state["trustlist"]["last_success"] == NOW  # the earlier success is kept
    assert state["last_sync"]["ok"] is False


def test_a_missing_file_is_reported_without_retries(env: Env) -> None:
    env.sync()
    env.registry.revocation_path.unlink()  # the server now answers 404 for it
    report = env.sync()
    assert report.revocations.status == "failed" and "HTTP 404" in report.revocations.message
    assert env.sleeps == []  # a 404 is not retried
    assert held(env) == (1, 1)


class _FakeResponse:
    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status_code, self.body = status, body
        self.headers = {"Content-Length": str(len(body))}

    def __enter__(self) -> _FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def iter_content(self, size: int) -> Iterator[bytes]:
        yield self.body


class _FlakySession:
    """Answers 503 twice, then serves ``body``; records the request headers."""

    def __init__(self, body: bytes) -> None:
        self.body, self.calls = body, 0
        self.sent: list[dict[str, str]] = []

    def get(self, url: str, headers: dict[str, str], **kwargs: Any) -> _FakeResponse:
        self.calls += 1
        self.sent.append(headers)
        return _FakeResponse(503) if self.calls <= 2 else _FakeResponse(200, self.body)


def test_server_errors_are_retried_with_backoff(env: Env) -> None:
    session = _FlakySession(env.registry.trust_list_path.read_bytes())
    syncer = env.syncer(session=session, backoff=2.0, retries=2)
    status, body, _headers = syncer._get("http://127.0.0.1:9/trustlist.cbor", {})
    assert (status, body, session.calls, env.sleeps) == (200, session.body, 3, [2.0, 4.0])
    session.calls = -10  # now it only ever answers 503
    report = env.sync(session=session, retries=1)
    assert report.trust_list.status == "failed" and "HTTP 503" in report.trust_list.message
    assert held(env) == (None, None)
    sent = session.sent[-1]
    assert sent["Accept-Encoding"] == "identity" and "If-None-Match" not in sent


def _fail_on(monkeypatch: pytest.MonkeyPatch, name: str, nth: int) -> None:
    """Make the nth call of os.<name> raise, as a full disk or a yanked card would."""
    real = getattr(os, name)
    calls = {"n": 0}

    def broken(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, broken)


@pytest.mark.parametrize(
    ("name", "nth"),
    [("fchmod", 1), ("fdopen", 1), ("fsync", 1), ("replace", 1), ("fsync", 2)],
    ids=["mode", "open", "fsync-file", "rename", "fsync-dir"],
)
def test_a_failure_at_each_step_of_the_write_never_corrupts_the_cache(
    env: Env, monkeypatch: pytest.MonkeyPatch, name: str, nth: int
) -> None:
    env.sync()
    env.registry.publish(NOW + 60)
    with monkeypatch.context() as m:
        _fail_on(m, name, nth)
        report = env.sync()
    trust_seq, _ = held(env)  # loads, i.e. verifies with the anchor
    if name == "fsync" and nth == 2:
        assert trust_seq == 2  # the rename happened; only the directory fsync failed
    else:
        assert trust_seq == 1
        assert report.trust_list.status == "failed"
        assert "cannot store" in report.trust_list.message
    leftovers = [p.name for p in env.config.cache_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert env.sync().ok  # and the next sync repairs everything
    assert held(env) == (2, 2)


def test_clock_skew_beyond_the_window_is_reported(env: Env) -> None:
    report = env.sync(clock=FixedClock(int(time.time()) - 3600))
    assert report.clock_skew is not None and 3500 < report.clock_skew < 3700
    assert report.ok  # skew is reported, not a failure of the sync


# The whole loop ------------------------------------------------------------------------------
def test_a_revocation_at_the_issuer_bites_after_one_sync(env: Env, tmp_path: Path) -> None:
    wallet = tmp_path / "wallet.json"
    assert issuer_main(["issue", str(env.issuer), *STUDENT, "--wallet", str(wallet),
                        "--now", str(NOW)]) == 0
    assert env.sync().ok
    text = Wallet.load(wallet).present(NOW)
    before = check_text(text, load_trust_data(env.config), NOW)
    assert before.verdict == Verdict.VALID

    assert issuer_main(["revoke", str(env.issuer), "--wallet", str(wallet),
                        "--now", str(NOW)]) == 0
    assert check_text(text, load_trust_data(env.config), NOW).verdict == Verdict.VALID
    report = env.sync()
    assert report.revocations.status == "fetched"
    after = check_text(text, load_trust_data(env.config), NOW)
    assert after.verdict == Verdict.INVALID and after.reason == Reason.REVOKED


# Command and scheduler -----------------------------------------------------------------------
def test_run_sync_exit_codes(env: Env) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_sync(env.config, out, err) == 0
    assert out.getvalue().splitlines() == [
        "trust list: fetched, seq 1 stored",
        "revocation list: fetched, seq 1 stored",
    ]
    assert run_sync(replace(env.config, list_url=""), out, err) == 2
    assert "no list_url" in err.getvalue()
    env.stop()
    out, err = io.StringIO(), io.StringIO()
    fast = lambda config: syncer_for(config, sleep=lambda s: None).run()  # noqa: E731
    assert run_sync(env.config, out, err, sync=fast) == 1
    assert "cannot reach" in err.getvalue() and "keeping seq 1" in err.getvalue()


def test_verifier_sync_subcommand(env: Env, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'anchor = "{env.config.anchor}"\nlist_url = "{env.url}"\n'
                      f'cache_dir = "{env.config.cache_dir}"\n')
    assert verifier_main(["--config", str(config), "sync"]) == 0
    assert "seq 1 stored" in capsys.readouterr().out
    config.write_text(f'anchor = "{env.config.anchor}"\n')
    assert verifier_main(["--config", str(config), "sync"]) == 2


def test_clock_skew_line_in_the_command(env: Env) -> None:
    err = io.StringIO()
    skewed = lambda config: syncer_for(config, clock=FixedClock(0)).run()  # noqa: E731
    assert run_sync(env.config, io.StringIO(), err, sync=skewed) == 0
    assert "behind the list server" in err.getvalue()


def _report(ok: bool) -> SyncReport:
    status = "fetched" if ok else "failed"
    item = ListSync("trust list", status, "x", 1)  # type: ignore[arg-type]
    return SyncReport(item, replace(item, name="revocation list"), at=NOW)


def test_scheduler_syncs_at_start_on_trigger_and_stops() -> None:
    calls: list[int] = []
    reports: list[SyncReport] = []
    done = threading.Semaphore(0)

    def fake_sync() -> SyncReport:
        calls.append(1)
        if len(calls) == 2:
            raise requests.ConnectionError("boom")
        return _report(ok=True)

    errors: list[Exception] = []
    scheduler = SyncScheduler(
        fake_sync, interval=3600,
        on_report=lambda r: (reports.append(r), done.release()),
        on_error=lambda e: (errors.append(e), done.release()),
    )
    scheduler.start()
    try:
        assert done.acquire(timeout=10)  # the sync at start
        scheduler.trigger()
        assert done.acquire(timeout=10)  # on demand; this one raises
        scheduler.trigger()
        assert done.acquire(timeout=10)  # and the thread is still alive after the error
    finally:
        scheduler.stop()
    assert not scheduler.running
    assert len(calls) == 3 and len(reports) == 2 and len(errors) == 1
    assert scheduler.last_report is reports[-1]


def test_scheduler_with_the_real_sync(env: Env) -> None:
    got = threading.Event()
    scheduler = SyncScheduler.from_config(env.config, on_report=lambda r: got.set())
    scheduler.start()
    try:
        assert got.wait(10)
    finally:
        scheduler.stop()
    assert scheduler.last_report is not None and scheduler.last_report.ok
    assert held(env) == (1, 1)


# Freshness for the status bar ----------------------------------------------------------------
def test_freshness_summary(env: Env) -> None:
    env.sync()
    trust, revocations = env.store.trust_list(), env.store.revocations()
    fresh = summarise(trust, revocations, NOW + 600)
    assert (fresh.trust_list_age, fresh.revocation_age, fresh.revoked_count) == (600, 600, 0)
    assert not fresh.stale and not fresh.clock_behind and fresh.can_verify
    assert summarise(trust, revocations, NOW + 24 * 3600 + 1).stale
    assert summarise(trust, revocations, NOW - 1).clock_behind
    missing = summarise(trust, None, NOW)
    assert missing.stale and missing.revocation_age is None
    assert not summarise(None, None, NOW).can_verify
    with_state = summarise(trust, revocations, NOW + 30, env.store.state())
    assert (with_state.last_sync_age, with_state.last_sync_ok) == (30, True)
    assert fresh.last_sync_age is None and fresh.last_sync_ok is None
    assert [format_age(s) for s in (None, 5, 600, 7200, 3 * 86400, -90)] == [
        "-", "5 s", "10 min", "2 h", "3 d", "-1 min"
    ]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sync_on_a_terminal_shows_download_progress(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.start()
    try:
        err = _Tty()
        assert run_sync(env.config, io.StringIO(), err) == 0
    finally:
        env.stop()
    shown = err.getvalue()
    size = env.registry.revocation_path.stat().st_size / 1e6
    assert f"\rrevocations.cbor: {size:.1f} of {size:.1f} MB" in shown
    assert "\rtrustlist.cbor:" in shown and shown.endswith("\n")


def test_sync_in_a_pipe_or_log_prints_no_progress(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.start()
    try:
        err = io.StringIO()
        assert run_sync(env.config, io.StringIO(), err) == 0
    finally:
        env.stop()
    assert err.getvalue() == ""
