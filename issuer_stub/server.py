"""``issuer-stub serve``: the two signed lists over HTTP (aiohttp), the API, the web wallet.

The API (``/api/...``, see ``issuer_stub.api``) and the web wallet's static files
(``/wallet/``, see ``issuer_stub.webwallet``) share the app with the lists.

The files in ``DIR/public`` are the interface: anything that replaces them (``issuer-stub
revoke`` or ``publish`` in another process, or this server's own hourly timer) is served from
the next request on. Each response carries a strong ``ETag`` (a hash of the bytes, so two
publications within the same second never share one) and ``Last-Modified``; a matching
``If-None-Match`` (or, when absent, ``If-Modified-Since``) is answered ``304``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

from issuer_stub.api import MAX_BODY, add_api_routes, json_errors
from issuer_stub.errors import SetupError
from issuer_stub.registry import REVOCATION_FILE, TRUST_LIST_FILE, Registry
from issuer_stub.webwallet import WALLET_DIR, add_wallet_routes

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cose"
FILES = (TRUST_LIST_FILE, REVOCATION_FILE)
DEFAULT_REPUBLISH = 3600
# aiohttp's access log, one line a request: client, request line, status, bytes, seconds,
# user agent (the time is the log line's own). Paths and agents carry no personal data: codes
# and student data travel in bodies, which are never logged.
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i"'
# How often the timer looks at the revocation list's age: republishing is due when that age
# reaches the interval, so restarts and revocations in between never delay it.
TIMER_TICK = 60.0


@dataclass(frozen=True)
class _Snapshot:
    key: tuple[int, int, int]  # inode, mtime_ns, size: an atomic replace changes the inode
    body: bytes
    etag: str
    last_modified: str


class _FileCache:
    """The bytes and ETag of each public file, re-read whenever the file was replaced."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._held: dict[str, _Snapshot] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> _Snapshot | None:
        path = self.directory / name
        try:
            with open(path, "rb") as fh:  # stat and read the same inode
                st = os.fstat(fh.fileno())
                key = (st.st_ino, st.st_mtime_ns, st.st_size)
                with self._lock:
                    held = self._held.get(name)
                if held is not None and held.key == key:
                    return held
                body = fh.read()
        except FileNotFoundError:
            return None
        snap = _Snapshot(
            key=key,
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=formatdate(st.st_mtime, usegmt=True),
        )
        with self._lock:
            self._held[name] = snap
        return snap


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` uses weak comparison: ``W/"x"`` matches ``"x"``."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _not_modified(request: web.Request, snap: _Snapshot) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:  # RFC 9110 13.1.3: If-None-Match wins over If-Modified-Since
        return _etag_matches(inm, snap.etag)
    ims = request.if_modified_since
    return ims is not None and int(ims.timestamp()) >= int(snap.key[1] // 1_000_000_000)


INDEX = """<!doctype html>
<html lang="pl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>issuer-stub</title></head>
<body>
<h1>issuer-stub <small>(test issuer / wydawca testowy)</small></h1>
<ul>
<li><a href="wallet/">Portfel mLegitymacji / web wallet</a></li>
<li><a href="trustlist.cbor">trustlist.cbor</a> &middot;
    <a href="revocations.cbor">revocations.cbor</a> (signed lists for verifiers)</li>
<li>API: <code>/api/...</code> (see <code>issuer_stub/api.py</code>)</li>
</ul>
</body></html>
"""


def make_app(
    registry: Registry,
    clock: Callable[[], int] | None = None,
    wallet_dir: Path = WALLET_DIR,
) -> web.Application:
    """Lists, API and wallet; ``clock`` gives the API's ``now`` (tests pin it)."""
    cache = _FileCache(registry.public_dir)

    async def serve_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        snap = await asyncio.get_running_loop().run_in_executor(None, cache.get, name)
        if snap is None:
            raise web.HTTPNotFound(text="not published yet\n")
        headers = {
            "ETag": snap.etag,
            "Last-Modified": snap.last_modified,
            "Cache-Control": "no-cache",  # caches may keep it but must revalidate
        }
        if _not_modified(request, snap):
            return web.Response(status=304, headers=headers)
        return web.Response(body=snap.body, headers={**headers, "Content-Type": CONTENT_TYPE})

    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    pattern = "{name:" + "|".join(n.replace(".", r"\.") for n in FILES) + "}"
    app.router.add_get("/" + pattern, serve_file)  # HEAD is added too

    async def index(_request: web.Request) -> web.StreamResponse:
        return web.Response(text=INDEX, content_type="text/html", headers={
            "Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'none'"})

    app.router.add_get("/", index)
    add_api_routes(app, registry, clock or (lambda: int(time.time())))
    add_wallet_routes(app, wallet_dir)
    return app


async def _republish_loop(
    registry: Registry, every: int, clock: Callable[[], int], tick: float
) -> None:
    """Publish a fresh revocation list whenever the held one is ``every`` seconds old."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            age = await loop.run_in_executor(None, registry.revocation_age, clock())
            if age is None or age >= every:
                published = await loop.run_in_executor(
                    None, lambda: registry.publish(clock(), trust=False))
                log.info("timer: revocation list seq %s published (%s ids)",
                         published.revocation_seq, published.revoked)
        except Exception as exc:  # a full disk must not stop the timer for good
            log.error("republishing the revocation list failed: %s", exc)
        await asyncio.sleep(min(tick, every))


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Server TLS from PEM files (phones need HTTPS for WebCrypto); TLS 1.2 or newer."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise SetupError(f"cannot use the TLS certificate {cert} and key {key}: {exc}") from None
    return context


class ListServer:
    """The HTTP server and its timer in a background thread: ``start()`` returns the URL."""

    def __init__(
        self,
        registry: Registry,
        host: str = "127.0.0.1",
        port: int = 0,
        republish_every: int = DEFAULT_REPUBLISH,
        clock: Callable[[], int] | None = None,
        tick: float = TIMER_TICK,
        wallet_dir: Path = WALLET_DIR,
        ssl_context: ssl.SSLContext | None = None,
        access_log: bool = False,
    ) -> None:
        self.registry = registry
        self.access_log = access_log
        self.ssl_context = ssl_context
        self.wallet_dir = wallet_dir
        self.host, self.port = host, port
        self.republish_every = republish_every
        self.clock = clock or (lambda: int(time.time()))
        self.tick = tick
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        # Set when the server thread has finished. Waiting on it, not on Thread.join, because
        # Python 3.11's join marks a still-running thread stopped when a signal handler raises
        # inside it (Ctrl-C, SIGTERM), and the process would then exit before cleaning up.
        self._done = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(
            make_app(self.registry, self.clock, self.wallet_dir),
            access_log=logging.getLogger("aiohttp.access") if self.access_log else None,
            access_log_format=ACCESS_LOG_FORMAT,
            # aiohttp's own bounds on the request head (the body: issuer_stub.api)
            max_line_size=8190, max_field_size=8190, max_headers=64,
        )
        await runner.setup()
        timer: asyncio.Task[None] | None = None
        try:
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.url = f"{'https' if self.ssl_context else 'http'}://{host}:{port}"
            timer = asyncio.create_task(
                _republish_loop(self.registry, self.republish_every, self.clock, self.tick)
            )
            log.info("listening at %s (republishing every %s s)", self.url, self.republish_every)
            self._ready.set()
            await self._stop.wait()
            log.info("stopping")
        finally:
            if timer is not None:
                timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await timer
            await runner.cleanup()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()
            self._loop.close()
            self._done.set()

    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=self._run, name="list-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"the server did not start: {self._error}")
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already finished
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._done.wait(timeout)

    def wait(self) -> None:
        """Block until the server thread ends (Ctrl-C in the caller stops it)."""
        assert self._thread is not None
        while not self._done.wait(0.5):
            pass
        if self._error is not None:
            raise self._error
