"""One overall deadline for a batch of HTTP transfers (a whole ``verifier sync``).

Per-read socket timeouts never fire against a server that sends one byte a second; this does.
``Deadline`` is a context manager: while it is entered on a thread, every socket a
``deadline_session()`` opens on that thread is registered with it, and when the time is up a
timer thread shuts those sockets down, so the blocked read returns at once and the transfer
fails (the caller sees ``expired``). Connects are bounded by their own timeout, set to at most
the time remaining; name resolution and a TLS handshake in progress cannot be interrupted this
way (a handshake's reads still have the per-read timeout).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


class Deadline:
    """``seconds`` from entering, for everything the entering thread sends through the session."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._end = monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._expired = threading.Event()
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        return 0.0 if self._expired.is_set() else max(0.0, self._end - self._monotonic())

    @property
    def expired(self) -> bool:
        return self._expired.is_set() or self._monotonic() >= self._end

    def __enter__(self) -> Deadline:
        self._end = self._monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.name = "sync-deadline"
        self._timer.start()
        _current.deadline = self
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if getattr(_current, "deadline", None) is self:
            _current.deadline = None

    def register(self, sock: socket.socket) -> None:
        """Watch a socket; one opened after the deadline is shut at once."""
        with self._lock:
            self._sockets.add(sock)
            late = self._expired.is_set()
        if late:
            _shut(sock)

    def _expire(self) -> None:
        self._expired.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also on an SSLSocket: it wakes a read blocked on the fd.
    # A closed socket object has no fd any more (-1), so this never reaches a reused fd.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch(sock: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and isinstance(sock, socket.socket):
        deadline.register(sock)


class _HTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock


class _HTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)  # the TLS socket that took over the plain one's fd


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP proxy) are watched."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def deadline_session() -> requests.Session:
    """A requests session whose transfers a ``Deadline`` entered on the same thread can end."""
    session = requests.Session()
    session.mount("http://", DeadlineAdapter())
    session.mount("https://", DeadlineAdapter())
    return session
