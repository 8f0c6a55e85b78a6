"""Failed-attempt limiting for guessable inputs (activation codes, the admin token).

An activation code has ~50 bits, so guessing is hopeless anyway; the limit keeps it that way
against a scripted client and keeps the log quiet. Pure logic with ``now`` passed in: each
client (remote address) may fail ``max_failures`` times in ``window`` seconds; after that it
is refused until its oldest failure leaves the window. Successes don't reset the count (a
client that guesses between good codes gains nothing).
"""

from __future__ import annotations

from collections import deque

from issuer_stub.errors import TooManyAttempts

MAX_CLIENTS = 10_000  # bounded memory: forget the quietest clients beyond this


class AttemptLimiter:
    def __init__(self, max_failures: int = 10, window: int = 600) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[int]] = {}

    def _recent(self, client: str, now: int) -> deque[int]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, client: str, now: int) -> None:
        """Raise TooManyAttempts while ``client`` is over its limit."""
        times = self._recent(client, now)
        if len(times) >= self.max_failures:
            wait = times[0] + self.window - now
            raise TooManyAttempts(
                f"too many failed attempts; try again in {wait} s", retry_after=wait
            )

    def failed(self, client: str, now: int) -> None:
        times = self._recent(client, now)
        times.append(now)
        self._failures[client] = times
        if len(self._failures) > MAX_CLIENTS:
            oldest = min(self._failures, key=lambda c: self._failures[c][-1])
            del self._failures[oldest]
