"""Feedback beyond the screen: buzzer/LED on a Pi (gpiozero), the terminal bell elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from verifier.core.reasons import Verdict
from verifier.device.config import FeedbackConfig

log = logging.getLogger(__name__)

# (on seconds, off seconds) pairs: one long beep valid, three short invalid, two medium check.
PATTERNS: dict[Verdict, tuple[tuple[float, float], ...]] = {
    Verdict.VALID: ((0.4, 0.0),),
    Verdict.INVALID: ((0.08, 0.08), (0.08, 0.08), (0.08, 0.0)),
    Verdict.WARNING: ((0.2, 0.15), (0.2, 0.0)),
}


class Feedback(Protocol):
    def signal(self, verdict: Verdict) -> None: ...


class NoFeedback:
    def signal(self, verdict: Verdict) -> None:
        return None


class RecordingFeedback:
    """A test fake that remembers what it was asked to signal."""

    def __init__(self) -> None:
        self.signals: list[Verdict] = []

    def signal(self, verdict: Verdict) -> None:
        self.signals.append(verdict)


class BellFeedback:
    """The terminal bell: as many rings as the pattern has beeps (1 valid, 3 invalid, 2 check).

    ``ring(times)`` is given by the app, which spaces the rings on its own timer.
    """

    def __init__(self, ring: Callable[[int], None]) -> None:
        self._ring = ring

    def signal(self, verdict: Verdict) -> None:
        self._ring(len(PATTERNS[verdict]))


class GpioFeedback:
    """A buzzer and an optional LED on GPIO pins; gpiozero is imported only here."""

    def __init__(self, buzzer_pin: int, led_pin: int | None = None) -> None:
        from gpiozero import LED, Buzzer  # type: ignore[import-not-found]

        self._buzzer = Buzzer(buzzer_pin)
        self._led = LED(led_pin) if led_pin is not None else None

    def signal(self, verdict: Verdict) -> None:
        pattern = PATTERNS[verdict]
        on, off = pattern[0]
        # gpiozero runs the pattern in its own background thread.
        self._buzzer.beep(on_time=on, off_time=off or 0.01, n=len(pattern), background=True)
        if self._led is not None:
            self._led.blink(on_time=on, off_time=off or 0.01, n=len(pattern), background=True)


def make_feedback(config: FeedbackConfig) -> Feedback | None:
    """The feedback the config asks for; None means the app's terminal bell (the fallback
    off the Pi, or when the buzzer can't be opened)."""
    if config.kind == "none":
        return NoFeedback()
    if config.kind == "bell":
        return None
    try:
        return GpioFeedback(config.buzzer_pin, config.led_pin)
    except Exception as exc:  # ImportError off the Pi; gpiozero's own errors on a busy pin
        if config.kind == "gpio":
            log.warning("buzzer/LED unavailable (%s); using the terminal bell", exc)
        return None
