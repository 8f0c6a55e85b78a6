"""Fetching the trust list and the revocation list: ``sync_lists()`` once, ``SyncScheduler`` often.

Network edge of the verifier (the core never imports this). Every list goes through
``ListStore.offer_*``, which checks the TA signature, the kid and the seq (ML1 section 5); this
module only moves bytes: timeouts, retries with backoff, conditional GETs, a size cap, and
bookkeeping in the store's state (no personal data: lists hold none).

Everything the server sends is hostile until the anchor's signature says otherwise: one overall
deadline per sync (``sync_deadline``, enforced on the sockets, see ``deadline.py``), headers parsed
with strict ASCII rules (``Content-Length`` digits, an IMF-fixdate ``Date``), no redirect to
another origin, no compressed body, a size cap.
"""

from __future__ import annotations

import calendar
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import ProtocolError

from verifier.core.errors import ConfigError, ListError
from verifier.core.keys import Anchor
from verifier.core.signedlist import MAX_LIST_BYTES
from verifier.device.clock import Clock, SystemClock
from verifier.device.config import DEFAULT_SYNC_DEADLINE, Config
from verifier.device.deadline import Deadline, deadline_session
from verifier.device.store import ListStore, Offer
from verifier.device.trustdata import load_anchor

log = logging.getLogger(__name__)


def _untrusted(url: str) -> str:
    return (f"the HTTPS certificate of {url} is not trusted (or not valid for that name): add "
            "its CA to the system CA store, or point REQUESTS_CA_BUNDLE at the CA's PEM file")

Status = Literal["fetched", "not_modified", "rejected", "failed"]
TRUST_LIST = "trust list"
REVOCATION_LIST = "revocation list"
# (name in reports, file on the server, key in the store's state)
_LISTS = (
    (TRUST_LIST, "trustlist.cbor", "trustlist"),
    (REVOCATION_LIST, "revocations.cbor", "revocations"),
)
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 3
# Strict ASCII forms (str.isdigit() also passes "²", and int() takes other scripts' digits).
_LENGTH = re.compile(r"[0-9]{1,19}", re.ASCII)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IMF_FIXDATE = re.compile(  # RFC 9110 section 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT"
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (" + "|".join(_MONTHS) + r") ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT",
    re.ASCII,
)
# A validator the server sent, stored and sent back: short printable ASCII only.
_VALIDATOR = re.compile(r"[\x20-\x7e]{1,256}", re.ASCII)


@dataclass(frozen=True)
class ListSync:
    """What one sync did with one list."""

    name: str
    status: Status
    message: str
    seq: int | None = None  # the seq now held (or offered, when rejected); None if unknown

    @property
    def ok(self) -> bool:
        return self.status in ("fetched", "not_modified")


@dataclass(frozen=True)
class SyncReport:
    trust_list: ListSync
    revocations: ListSync
    at: int  # local epoch seconds when the sync finished
    clock_skew: int | None = None  # server minus local seconds, only when beyond the window

    @property
    def lists(self) -> tuple[ListSync, ListSync]:
        return (self.trust_list, self.revocations)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.lists)


class _Unreachable(Exception):
    """The server could not be reached at all (no point asking for the second list)."""


class _Failed(Exception):
    """A transfer failed after its retries; the message is for the report."""


def content_length(value: str | None) -> int | None:
    """``Content-Length`` as an int: ASCII digits only, else None (unknown)."""
    if value is None or not _LENGTH.fullmatch(value.strip(" \t")):
        return None
    return int(value.strip(" \t"))


def http_date(value: str | None) -> int | None:
    """Epoch seconds of an IMF-fixdate ``Date`` header (the form servers must send), else None.

    Never raises: an absurd offset, a year past 9999 or a day that does not exist is None.
    """
    if not value:
        return None
    match = _IMF_FIXDATE.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    day, month, year, hour, minute, second = match.groups()
    fields = (int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second))
    y, mo, d, h, mi, sec = fields
    if y < 1 or not (1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60 and sec <= 60):
        return None
    return calendar.timegm((y, mo, d, h, mi, min(sec, 59), 0, 0, 0))


def _printable(text: str, limit: int = 120) -> str:
    """Server-supplied text for a report line: printable ASCII, cut short."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in text[:limit])
    return clean + ("..." if len(text) > limit else "")


@dataclass
class Syncer:
    """One sync of both lists into ``store`` from ``base_url``; knobs injectable for tests."""

    store: ListStore
    base_url: str
    session: requests.Session = field(default_factory=deadline_session)
    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], None] = time.sleep
    retries: int = 2
    backoff: float = 1.0
    timeout: tuple[float, float] = (5.0, 30.0)  # connect, read (between bytes)
    max_bytes: int = MAX_LIST_BYTES
    window: int = 90
    # One deadline for the whole sync, both lists, retries and backoff included (seconds).
    deadline: float = float(DEFAULT_SYNC_DEADLINE)
    # Called as (url, bytes received, Content-Length or None) while a body downloads: a 1M
    # list is 16 MB, a minute on a 2 Mbit/s link.
    progress: Callable[[str, int, int | None], None] | None = None
    _active: Deadline | None = field(default=None, init=False, repr=False)

    def run(self) -> SyncReport:
        results: list[ListSync] = []
        skews: list[int] = []
        unreachable: str | None = None
        with Deadline(self.deadline) as deadline:
            self._active = deadline
            try:
                for name, filename, key in _LISTS:
                    if unreachable is None and deadline.expired:
                        unreachable = self._deadline_message()
                    if unreachable is not None:
                        result = ListSync(
                            name, "failed", f"not tried, {unreachable}", self._held_seq(key)
                        )
                    else:
                        try:
                            result = self._sync_one(name, filename, key, skews)
                        except _Unreachable as exc:
                            unreachable = str(exc)
                            result = ListSync(name, "failed", unreachable, self._held_seq(key))
                    self._record(key, result)
                    results.append(result)
            finally:
                self._active = None
                self._close_connections()
        skew = max(skews, key=abs) if skews else None
        if skew is not None and abs(skew) <= self.window:
            skew = None
        report = SyncReport(results[0], results[1], at=self.clock.now(), clock_skew=skew)
        offset = max(skews, key=abs) if skews else None  # for `verifier status`, any size
        self._save_state(
            last_sync={"at": report.at, "ok": report.ok, "clock_skew": skew, "clock_offset": offset}
        )
        return report

    # One list --------------------------------------------------------------------------------
    def _sync_one(self, name: str, filename: str, key: str, skews: list[int]) -> ListSync:
        held_seq = self._held_seq(key)
        # identity: signed random ids do not compress (bench/RESULTS.md), and an uncompressed
        # body makes Content-Length exact and rules out a decompression bomb.
        headers = {"Accept": "application/cose", "Accept-Encoding": "identity"}
        if held_seq is not None:  # conditional only while a good list is actually held
            meta = self._state_of(key)
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
        url = f"{self.base_url}/{filename}"
        try:
            status, body, response_headers = self._get(url, headers)
        except _Failed as exc:
            return ListSync(name, "failed", str(exc), held_seq)
        skew = self._skew(response_headers.get("Date"))  # 304s carry a Date too
        if skew is not None:
            skews.append(skew)
        if status == 304:
            if held_seq is None:  # cannot happen: no conditional headers were sent
                return ListSync(name, "failed", "server answered 304 to a plain GET", None)
            return ListSync(name, "not_modified", f"seq {held_seq} held is current", held_seq)
        assert body is not None
        try:
            offer = self._offer(key, body)
        except ListError as exc:
            return ListSync(name, "rejected", _without(exc.message, name), held_seq)
        except OSError as exc:
            return ListSync(name, "failed", f"cannot store: {exc.strerror or exc}", held_seq)
        self._save_meta(
            key,
            etag=_validator(response_headers.get("ETag")),
            last_modified=_validator(response_headers.get("Last-Modified")),
        )
        if offer.accepted:
            return ListSync(name, "fetched", f"seq {offer.seq} stored", offer.seq)
        return ListSync(name, "not_modified", f"seq {offer.seq} already held", offer.seq)

    def _offer(self, key: str, body: bytes) -> Offer:
        if key == "trustlist":
            return self.store.offer_trust_list(body)
        return self.store.offer_revocations(body)

    def _deadline_message(self) -> str:
        return f"the sync deadline of {self.deadline:g} s passed (sync_deadline)"

    def _remaining(self) -> float:
        return float("inf") if self._active is None else self._active.remaining()

    def _expired(self) -> bool:
        return self._active is not None and self._active.expired

    def _get(self, url: str, headers: dict[str, str]) -> tuple[int, bytes | None, Any]:
        """GET with retries: (status, body or None for 304, headers).

        Raises _Unreachable when no connection could be made, _Failed for anything else
        (the deadline passing included).
        """
        last, unreachable = "", False
        for attempt in range(self.retries + 1):
            if attempt:
                pause = self.backoff * 2 ** (attempt - 1)
                if pause >= self._remaining():
                    break  # no time left for another try: report the last failure
                self.sleep(pause)
            try:
                return self._get_once(url, headers)
            except _Failed:
                raise
            except _Retry as exc:
                last, unreachable = str(exc), False
            except requests.exceptions.SSLError:  # retrying will not make it trusted
                last, unreachable = _untrusted(url), False
                break
            except requests.ConnectionError as exc:
                if exc.args and isinstance(exc.args[0], ProtocolError):  # it answered nonsense
                    last, unreachable = f"transfer of {url} failed (not a valid HTTP answer)", False
                else:
                    last, unreachable = f"cannot reach {url} ({type(exc).__name__})", True
            except requests.Timeout:
                last, unreachable = f"timed out fetching {url}", False
            except (requests.RequestException, ValueError, OSError) as exc:
                # a broken transfer, bad headers, a bad chunk size (http.client's ValueError)
                last, unreachable = f"transfer of {url} failed ({type(exc).__name__})", False
            if self._expired():
                raise _Failed(self._deadline_message())
        raise (_Unreachable if unreachable else _Failed)(last)

    def _get_once(self, url: str, headers: dict[str, str]) -> tuple[int, bytes | None, Any]:
        """One GET, following at most a few redirects, and only within the list URL's origin."""
        origin = _origin(url)
        for _hop in range(_MAX_REDIRECTS + 1):
            if self._expired():
                raise _Failed(self._deadline_message())
            remaining = self._remaining()
            timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
            with self.session.get(
                url, headers=headers, timeout=timeout, stream=True, allow_redirects=False
            ) as response:
                code = response.status_code
                if code in _REDIRECTS:
                    target = urljoin(url, response.headers.get("Location") or "")
                    if not target or _origin(target) != origin:
                        raise _Failed(
                            f"HTTP {code} from {url} to another host or scheme "
                            f"({_printable(target)}): not followed, set list_url to the "
                            "lists' real address"
                        )
                    url = target
                    continue
                if code == 304:
                    return 304, None, response.headers
                if code == 200:
                    return 200, self._read_capped(response, url), response.headers
                if code in _RETRY_STATUS:
                    raise _Retry(f"HTTP {code} from {url}")
                raise _Failed(f"HTTP {code} from {url}")
        raise _Failed(f"more than {_MAX_REDIRECTS} redirects from {url}")

    def _read_capped(self, response: requests.Response, url: str) -> bytes:
        """The body, aborting as soon as it would pass ``max_bytes`` (never read it whole)."""
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":  # asked for identity: a compressed body could be a bomb
            raise _Failed(f"{url} came with Content-Encoding {_printable(encoding, 20)}: refused")
        total = content_length(response.headers.get("Content-Length"))
        if total is not None and total > self.max_bytes:
            raise _Failed(f"list too large ({total} bytes > {self.max_bytes}): not downloaded")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise _Failed(f"list too large (over {self.max_bytes} bytes): download aborted")
            chunks.append(chunk)
            if self.progress is not None:
                self.progress(url, size, total)
            if self._expired():
                raise _Failed(self._deadline_message())
        if self._expired():  # the watchdog cut the connection: whatever arrived is incomplete
            raise _Failed(self._deadline_message())
        return b"".join(chunks)

    def _skew(self, date: str | None) -> int | None:
        """Server clock minus ours, from the HTTP ``Date`` header (1 s resolution)."""
        server = http_date(date)
        return None if server is None else server - self.clock.now()

    def _close_connections(self) -> None:
        """Drop kept-alive connections: the next sync is minutes away, and must start clean."""
        close = getattr(self.session, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # closing a broken socket must not fail a finished sync
                log.debug("closing the sync's connections: %s", exc)

    # State bookkeeping -----------------------------------------------------------------------
    def _held_seq(self, key: str) -> int | None:
        try:
            held = self.store.trust_list() if key == "trustlist" else self.store.revocations()
        except (ListError, ConfigError):
            return None
        return None if held is None else held.seq

    def _state_of(self, key: str) -> dict[str, Any]:
        entry = self.store.state().get(key)
        return entry if isinstance(entry, dict) else {}

    def _save_meta(self, key: str, **values: Any) -> None:
        self._save_state(**{key: {**self._state_of(key), **values}})

    def _record(self, key: str, result: ListSync) -> None:
        now = self.clock.now()
        values: dict[str, Any] = {"last_status": result.status, "last_message": result.message}
        if result.ok:
            values["last_success"] = now
        else:  # reported once by the caller (the CLI's line, the scheduler's log record)
            values["last_failure"] = now
        self._save_meta(key, **values)

    def _save_state(self, **values: Any) -> None:
        try:
            self.store.record_state(**values)
        except OSError as exc:  # a full disk must not turn a sync into a crash
            log.warning("cannot record sync state: %s", exc)


class _Retry(Exception):
    """An answer worth trying again (a 5xx, a 429)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: never the list's origin
        return ("", "", None)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return (parts.scheme.lower(), (parts.hostname or "").lower(), port or default)


def _validator(value: str | None) -> str | None:
    """An ``ETag``/``Last-Modified`` worth sending back, or None."""
    return value if value is not None and _VALIDATOR.fullmatch(value) else None


def _without(message: str, name: str) -> str:
    """``"trust list: kid is ..."`` -> ``"kid is ..."`` (the report already names the list)."""
    return message.removeprefix(f"{name}: ")


def syncer_for(config: Config, anchor: Anchor | None = None, **knobs: Any) -> Syncer:
    """A Syncer from the config; ConfigError when there is no list URL or anchor."""
    if not config.list_url:
        raise ConfigError("no list_url in the config: nowhere to sync from")
    anchor = anchor or load_anchor(config.anchor)
    knobs.setdefault("window", config.window)
    knobs.setdefault("deadline", float(config.sync_deadline))
    return Syncer(ListStore(config.cache_dir, anchor), config.list_url, **knobs)


def sync_lists(config: Config, anchor: Anchor | None = None, **knobs: Any) -> SyncReport:
    """Fetch both lists once; raises ConfigError only for configuration problems."""
    return syncer_for(config, anchor, **knobs).run()


class SyncScheduler:
    """Runs ``sync`` now, then every ``interval`` seconds, and at once after ``trigger()``.

    After a failed sync the next try comes after ``retry_after`` seconds (if sooner). Callbacks
    run on the scheduler's thread: a UI must hand them over to its own (Textual:
    ``app.call_from_thread``).
    """

    def __init__(
        self,
        sync: Callable[[], SyncReport],
        interval: float,
        on_report: Callable[[SyncReport], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        retry_after: float = 60.0,
    ) -> None:
        self._sync = sync
        self.interval = interval
        self.retry_after = min(retry_after, interval)
        self._on_report = on_report
        self._on_error = on_error
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: SyncReport | None = None

    @classmethod
    def from_config(cls, config: Config, **kwargs: Any) -> SyncScheduler:
        syncer = syncer_for(config)
        return cls(syncer.run, float(config.sync_interval), **kwargs)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("scheduler already started")
        self._thread = threading.Thread(target=self._loop, name="list-sync", daemon=True)
        self._thread.start()

    def trigger(self) -> None:
        """Sync as soon as possible (a sync already running is not interrupted)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            delay = self.interval
            try:
                report = self._sync()
            except Exception as exc:  # keep the thread alive; report and try again later
                delay = self.retry_after
                if self._on_error is not None:
                    self._on_error(exc)
                else:
                    log.warning("list sync failed: %s", exc)
            else:
                self.last_report = report
                if not report.ok:
                    delay = self.retry_after
                    for item in report.lists:
                        if not item.ok:
                            log.warning("%s: %s", item.name, item.message)
                if self._on_report is not None:
                    self._on_report(report)
            self._wake.wait(delay)
