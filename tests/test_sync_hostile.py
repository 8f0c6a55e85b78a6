"""`verifier sync` against a hostile list server: a raw-socket server on 127.0.0.1 that misbehaves.

Every case ends within its deadline (a short ``sync_deadline`` here; the upper bounds asserted
are generous, not timings), never replaces the lists held, and leaves ``state.json`` readable.
"""

from __future__ import annotations

import functools
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from issuer_stub.keystore import public_pem
from tests.conftest import NOW, World
from verifier.commands.cli import main as verifier_main
from verifier.device.clock import FixedClock
from verifier.device.config import Config, parse_config
from verifier.device.store import STATE_FILE, ListStore
from verifier.device.sync import (
    Syncer,
    SyncReport,
    SyncScheduler,
    content_length,
    http_date,
)

DEADLINE = 1.5
# Far above the deadline, far below the per-read timeout (30 s) that the old sync relied on.
ENDS_WITHIN = 15.0

Handler = Callable[[socket.socket, "HostileServer"], None]


class HostileServer:
    """Accepts connections on 127.0.0.1 and hands each raw socket to ``handler`` on a thread."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.requests.append(read_request(conn))
                self.handler(conn, self)
            except OSError:  # the client hung up, as it should on a hostile answer
                pass

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the test is over."""
        self.stop.wait(seconds)

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)


def read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class Lists:
    """The good lists held before each case, and a ministry to sign more."""

    def __init__(self, tmp_path: Path) -> None:
        self.world = World()
        self.trust = self.world.ministry.trust_list(iat=NOW - 3600)
        self.revocations = self.world.ministry.revocation_list(iat=NOW - 600)
        self.cache = tmp_path / "cache"
        self.store = ListStore(self.cache, self.world.ministry.anchor)
        self.store.offer_trust_list(self.trust)
        self.store.offer_revocations(self.revocations)

    def syncer(self, url: str, **knobs: object) -> Syncer:
        knobs.setdefault("deadline", DEADLINE)
        knobs.setdefault("retries", 1)
        knobs.setdefault("backoff", 0.05)
        return Syncer(self.store, url, clock=FixedClock(NOW), **knobs)  # type: ignore[arg-type]

    def assert_untouched(self) -> None:
        assert self.store.trust_list_path.read_bytes() == self.trust
        assert self.store.revocation_path.read_bytes() == self.revocations
        state = json.loads((self.cache / STATE_FILE).read_text(encoding="utf-8"))
        assert isinstance(state, dict) and "last_sync" in state


@pytest.fixture
def lists(tmp_path: Path) -> Lists:
    return Lists(tmp_path)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], HostileServer]]:
    servers: list[HostileServer] = []

    def start(handler: Handler) -> HostileServer:
        servers.append(HostileServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def timed_sync(syncer: Syncer) -> tuple[SyncReport, float]:
    started = time.monotonic()
    report = syncer.run()
    return report, time.monotonic() - started


def answer(status: str, headers: list[str], body: bytes = b"") -> bytes:
    head = "".join(f"{h}\r\n" for h in [f"HTTP/1.1 {status}", *headers, "Connection: close"])
    return (head + "\r\n").encode("latin-1") + body


# Stalls: each ends at the deadline ------------------------------------------------------------
def drip_body(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(answer("200 OK", ["Content-Length: 100000"]))
    while not server.stop.is_set():
        conn.sendall(b"\x00")
        server.wait(0.1)


def drip_headers(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not server.stop.is_set():
        conn.sendall(b"X")  # one header line that never ends
        server.wait(0.1)


def never_answers(conn: socket.socket, server: HostileServer) -> None:
    server.wait(60)


@pytest.mark.parametrize("handler", [drip_body, drip_headers, never_answers])
def test_a_stalling_server_is_cut_off_at_the_sync_deadline(
    lists: Lists, serve: Callable[[Handler], HostileServer], handler: Handler
) -> None:
    server = serve(handler)
    report, took = timed_sync(lists.syncer(server.url))
    assert not report.ok and took < ENDS_WITHIN
    assert "sync deadline" in report.trust_list.message
    assert report.revocations.message.startswith("not tried")  # the deadline covers both lists
    lists.assert_untouched()


def test_the_apps_background_sync_is_free_again_after_the_deadline(
    lists: Lists, serve: Callable[[Handler], HostileServer]
) -> None:
    """The scheduler behind the app's background sync and its `s` key: a dripping server
    yields a failed report, and a triggered sync runs after it instead of waiting forever."""
    server = serve(drip_body)
    reports: list[SyncReport] = []
    done = threading.Semaphore(0)

    def on_report(report: SyncReport) -> None:
        reports.append(report)
        done.release()

    scheduler = SyncScheduler(lists.syncer(server.url).run, 3600.0, on_report=on_report)
    scheduler.start()
    try:
        assert done.acquire(timeout=ENDS_WITHIN)  # the sync at start ends at its deadline
        scheduler.trigger()  # what `s` does
        assert done.acquire(timeout=ENDS_WITHIN)
    finally:
        scheduler.stop()
    assert len(reports) == 2 and not any(report.ok for report in reports)
    lists.assert_untouched()


def test_the_deadline_covers_retries_and_backoff(
    lists: Lists, serve: Callable[[Handler], HostileServer]
) -> None:
    """A 503 each time with a long backoff: the retries stop when the deadline would pass."""
    server = serve(lambda conn, _: conn.sendall(answer("503 Busy", ["Content-Length: 0"])))
    report, took = timed_sync(lists.syncer(server.url, retries=5, backoff=10.0, sleep=time.sleep))
    assert not report.ok and took < ENDS_WITHIN
    assert "HTTP 503" in report.trust_list.message
    lists.assert_untouched()


# Hostile headers and bodies: a clean failure, never a crash ------------------------------------
def huge_header_line(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(answer("200 OK", ["X-Big: " + "A" * 200_000, "Content-Length: 0"]))


def too_many_headers(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(answer("200 OK", [f"X-{i}: {i}" for i in range(5000)] + ["Content-Length: 0"]))


@functools.cache
def bomb() -> bytes:
    return gzip.compress(b"\x00" * (100 * 1024 * 1024), compresslevel=6)  # 100 MiB in 100 kB


def gzip_bomb(conn: socket.socket, server: HostileServer) -> None:
    bomb = globals()["bomb"]()
    headers = ["Content-Encoding: gzip", f"Content-Length: {len(bomb)}"]
    conn.sendall(answer("200 OK", headers, bomb))


def truncated_body(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(answer("200 OK", ["Content-Length: 5000"], b"\xd2\x84" * 10))


def bad_chunk_size(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(answer("200 OK", ["Transfer-Encoding: chunked"], b"zz\r\nabc\r\n0\r\n\r\n"))


def huge_content_length(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(answer("200 OK", ["Content-Length: 99999999999999999999999"], b"x"))


def garbage_status(conn: socket.socket, server: HostileServer) -> None:
    conn.sendall(b"\xff\xfe NOT HTTP AT ALL\r\n\r\n")


def redirect_to(location: str) -> Handler:
    def handler(conn: socket.socket, server: HostileServer) -> None:
        conn.sendall(answer("302 Found", [f"Location: {location}", "Content-Length: 0"]))

    return handler


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        (huge_header_line, "not a valid HTTP answer"),
        (too_many_headers, "not a valid HTTP answer"),
        (gzip_bomb, "Content-Encoding gzip"),
        (truncated_body, "failed"),
        (bad_chunk_size, "failed"),
        (huge_content_length, "failed"),
        (garbage_status, "not a valid HTTP answer"),
        (redirect_to("http://192.0.2.1/trustlist.cbor"), "another host or scheme"),
        (redirect_to("https://127.0.0.1:1/trustlist.cbor"), "another host or scheme"),
        (redirect_to("file:///etc/passwd"), "another host or scheme"),
        (redirect_to("/again"), "redirects"),  # same origin, but it never ends
    ],
    ids=lambda value: getattr(value, "__name__", None) or str(value)[:24],
)
def test_a_hostile_answer_fails_cleanly_and_keeps_the_lists(
    lists: Lists, serve: Callable[[Handler], HostileServer], handler: Handler, words: str
) -> None:
    bomb()  # made before the clock starts
    server = serve(handler)
    report, took = timed_sync(lists.syncer(server.url))
    assert not report.ok and took < ENDS_WITHIN
    messages = " ".join(item.message for item in report.lists)
    assert words in messages or words in report.trust_list.status
    lists.assert_untouched()


def serve_lists(lists: Lists, headers: list[str]) -> Handler:
    """Answers with the right list, under hostile headers."""

    def handler(conn: socket.socket, server: HostileServer) -> None:
        request = server.requests[-1]
        body = lists.trust if b"trustlist" in request.split(b"\r\n", 1)[0] else lists.revocations
        conn.sendall(answer("200 OK", headers, body))

    return handler


@pytest.mark.parametrize(
    "headers",
    [
        ["Date: Mon, 01 Jan 2024 00:00:00 +99999999999999999999"],
        ["Date: Fri, 31 Dec 99999 23:59:59 GMT"],
        ["Date: Mon, 31 Feb 2024 00:00:00 GMT"],
        ["Date: \xb2\xb3"],
        ["Content-Length: \xb2"],
        ["Content-Length: -5"],
        ["ETag: " + "\xe9" * 300, "Last-Modified: \x7f"],
    ],
    ids=["date-offset", "date-year", "date-day", "date-latin1", "length-superscript",
         "length-negative", "validators"],
)
def test_hostile_headers_around_a_good_list_are_ignored(
    lists: Lists, serve: Callable[[Handler], HostileServer], headers: list[str]
) -> None:
    """The list itself is fine (the one held: a no-op); the headers must not crash the sync."""
    server = serve(serve_lists(lists, headers))
    report, took = timed_sync(lists.syncer(server.url))
    assert [item.status for item in report.lists] == ["not_modified", "not_modified"]
    assert report.clock_skew is None and took < ENDS_WITHIN
    lists.assert_untouched()
    state = lists.store.state()
    assert state["trustlist"].get("etag") is None  # never stored, never sent back


def test_a_redirect_within_the_list_origin_is_followed(
    lists: Lists, serve: Callable[[Handler], HostileServer]
) -> None:
    good = serve_lists(lists, [])

    def handler(conn: socket.socket, server: HostileServer) -> None:
        path = server.requests[-1].split(b" ", 2)[1]
        if path.startswith(b"/moved/"):
            good(conn, server)
        else:
            conn.sendall(answer("301 Moved", [f"Location: /moved{path.decode()}"]))

    report = lists.syncer(serve(handler).url).run()
    assert [item.status for item in report.lists] == ["not_modified", "not_modified"]
    lists.assert_untouched()


def test_the_cli_prints_each_failure_once(
    lists: Lists,
    serve: Callable[[Handler], HostileServer],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    server = serve(lambda conn, _: conn.sendall(answer("404 Not Found", ["Content-Length: 0"])))
    anchor = tmp_path / "anchor.pem"
    anchor.write_bytes(public_pem(lists.world.ministry.key.public_key()))
    config = tmp_path / "config.toml"
    config.write_text(
        f'anchor = "{anchor}"\ncache_dir = "{lists.cache}"\nlist_url = "{server.url}"\n'
        "sync_deadline = 5\n"
    )
    assert verifier_main(["--config", str(config), "sync"]) == 1
    err = capfd.readouterr().err
    assert err.count("trust list: failed") == 1 and err.count("revocation list: failed") == 1
    assert err.count("HTTP 404") == 2  # once per list, not once more from a log record
    lists.assert_untouched()


# The strict parsers on their own ----------------------------------------------------------------
def test_http_date_accepts_only_the_imf_fixdate_form() -> None:
    assert http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    for bad in ("Sun, 06 Nov 1994 08:49:37 +0000", "Sunday, 06-Nov-94 08:49:37 GMT",
                "Sun, ٠6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 0000 08:49:37 GMT", "", None):
        assert http_date(bad) is None


def test_content_length_takes_ascii_digits_only() -> None:
    assert content_length("1234") == 1234 and content_length(" 7 ") == 7
    for bad in ("²", "٣", "-1", "1_000", "+5", "1e3", "", None, "9" * 40):
        assert content_length(bad) is None


def test_sync_deadline_is_validated_and_defaults_under_the_interval() -> None:
    assert Config().sync_deadline == 120 < Config().sync_interval
    assert parse_config({"sync_interval": 60}).sync_deadline == 30
    assert parse_config({"sync_deadline": 5}).sync_deadline == 5
    for bad in ({"sync_deadline": 0}, {"sync_deadline": "5"}, {"sync_deadline": 900},
                {"sync_interval": 100, "sync_deadline": 100}):
        with pytest.raises(Exception, match="sync_deadline"):
            parse_config(bad)
