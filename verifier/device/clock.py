"""The clock is a service injected at the edge; the core only ever receives ``now`` and
whether the clock can be vouched for (ML1 section 6.1).

A Raspberry Pi has no battery-backed clock: after a night off it boots with the time it saved
at shutdown (hours behind) until NTP sets it. Which clock to trust is a config choice:

- ``"system"`` (the default): the system clock as it is. Right for a desktop, a laptop, or a
  kit with a battery-backed clock (the Pi 5's, or a DS3231 on I2C).
- ``"ntp"``: the clock counts as synchronized only once NTP has set it since boot, read from
  the kernel's ``adjtimex`` state (what ``timedatectl`` reports as "System clock
  synchronized"). ``deploy/install.sh`` writes this on a kit without an RTC.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time
from collections.abc import Callable
from typing import Protocol

CLOCK_SOURCES = ("system", "ntp")
TIME_ERROR = 5  # adjtimex(2): "clock not synchronized" (STA_UNSYNC set, or worse)
_TIMEX_BYTES = 512  # struct timex is 208 bytes on 64-bit Linux; room to spare, zeroed (read only)


class Clock(Protocol):
    def now(self) -> int:
        """Epoch seconds."""
        ...

    def synchronized(self) -> bool:
        """Whether this clock can be vouched for (set by NTP, or battery-backed)."""
        ...


def kernel_clock_synchronized() -> bool:
    """The kernel's view, as ``timedatectl`` shows it: ``adjtimex`` does not say TIME_ERROR.

    Anything that prevents asking (not Linux, no libc) counts as not synchronized: the
    verifier then warns rather than vouches."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        buffer = ctypes.create_string_buffer(_TIMEX_BYTES)  # modes = 0: only read the state
        state = libc.adjtimex(buffer)
    except (OSError, AttributeError):
        return False
    return state >= 0 and state != TIME_ERROR


class SystemClock:
    """The real clock; ``source`` is the config's ``clock`` ("system" or "ntp")."""

    def __init__(
        self,
        source: str = "system",
        probe: Callable[[], bool] = kernel_clock_synchronized,
    ) -> None:
        if source not in CLOCK_SOURCES:
            raise ValueError(f"clock source must be one of {CLOCK_SOURCES}")
        self.source = source
        self._probe = probe

    def now(self) -> int:
        return int(time.time())

    def synchronized(self) -> bool:
        # Asked at every verdict (one cheap syscall), so the moment NTP sets the clock,
        # verdicts are normal again without a restart.
        return self.source == "system" or self._probe()


class FixedClock:
    """A test fake; ``advance`` moves it forward, ``set_synchronized`` flips its state."""

    def __init__(self, now: int, synchronized: bool = True) -> None:
        self._now = now
        self._synchronized = synchronized

    def now(self) -> int:
        return self._now

    def synchronized(self) -> bool:
        return self._synchronized

    def advance(self, seconds: int) -> None:
        self._now += seconds

    def set_synchronized(self, synchronized: bool) -> None:
        self._synchronized = synchronized
