"""A per-frame bound on the decoder's work and time, checked inside its loops.

Every expensive step of the module-grid reader (a template match, a warp of the symbol, a
polish evaluation, an equaliser fit, a zxing read of the rendered symbol) calls
``Budget.spend(units)`` before it runs, which counts the units and checks the deadline and
the caps. So a frame costs at most the budget plus one such step, whatever its geometry.

A unit is calibrated to CPU time: about 0.1 ms of one core of the development machine
(``bench/bench_speed.py`` fits it), so about 0.4 ms on a Pi 4 (0.26-0.6) and 0.8 ms on a
Zero 2 W; each step spends units in proportion to the pixels it touches. The count does not
depend on the machine, so a cap in units bounds the time on a Pi by construction, and the
tests bound it, not the wall time.

A budget can also be resumed (``resume``): a symbol's work cut at the end of one frame's
slice goes on in the next, and the steps already done are not paid again (``remember``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from verifier.core.errors import VerifierError

T = TypeVar("T")


class OutOfBudget(VerifierError):
    """The frame's decode budget ran out. Raised inside the decoder and caught there: the
    frame then reads as "no code" and the camera's next frame gets a fresh budget."""

    title = "Decode budget spent"


class Budget:
    """``seconds`` of time (None: no deadline) and ``max_work`` units (None: no cap) from
    the moment it is made; ``work`` counts the units spent so far. ``slice_end``: the work
    at which this slice ends (None: none)."""

    def __init__(
        self,
        seconds: float | None = None,
        max_work: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.max_work = max_work
        self.work = 0
        self.slice_end: int | None = None
        self._slice_deadline: float | None = None  # (on ``clock``) when this slice ends
        self._stop: Callable[[], bool] | None = None
        self._progress = False  # a remembered step was completed in this slice
        self._clock = clock
        self._deadline = None if seconds is None else clock() + seconds
        self._memo: dict[Hashable, object] = {}

    @property
    def exhausted(self) -> bool:
        """True once the deadline has passed or a cap is reached (does not raise)."""
        if self.max_work is not None and self.work >= self.max_work:
            return True
        at_end = self.slice_end is not None and self.work >= self.slice_end
        if self._progress and (at_end or self._slice_timed_out()):
            return True
        return self._deadline is not None and self._clock() > self._deadline

    def _slice_timed_out(self) -> bool:
        return self._slice_deadline is not None and self._clock() > self._slice_deadline

    @property
    def spent(self) -> bool:
        """The whole work cap is used up (not just this slice): nothing left to resume."""
        return self.max_work is not None and self.work >= self.max_work

    def spend(self, units: int = 1) -> None:
        """Count ``units`` of work about to be done; OutOfBudget if there is no room left.
        A slice ends before a step that would end past it, but only once a remembered step
        was completed in it: so every slice gets somewhere (it runs over by at most the one
        remembered step it completes, ~20 ms here at the most). The same for the slice's
        time (``resume``'s ``slice_seconds``)."""
        past = self.slice_end is not None and self.work + units > self.slice_end
        if (self._progress and (past or self._slice_timed_out())) or self.exhausted:
            raise OutOfBudget(f"decode budget spent after {self.work} units of work")
        if self._stop is not None and self._stop():
            raise OutOfBudget("slice stopped: its work is no longer wanted")
        self.work += units

    def resume(
        self,
        seconds: float | None,
        units: int | None,
        slice_seconds: float | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Start a new slice: ``seconds`` from now (None: no deadline) and ``units`` more
        work (None: up to the cap); ``slice_seconds``: the slice also ends that long from
        now (like its units, only once a remembered step was completed in it); ``stop``:
        the slice ends at the next step once it returns True (its work is not wanted)."""
        self._stop = stop
        now = self._clock()
        self._deadline = None if seconds is None else now + seconds
        self.slice_end = None if units is None else self.work + units
        self._slice_deadline = None if slice_seconds is None else now + slice_seconds
        self._progress = False

    @property
    def remembered(self) -> int:
        """How many steps are remembered (each holds its result until the budget goes)."""
        return len(self._memo)

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``key`` for this budget's life: a step cut short by the
        end of a slice and run again in the next one replays the steps it had done."""
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        value = compute()
        self._memo[key] = value
        self._progress = True
        return value


def spend(budget: Budget | None, units: int = 1) -> None:
    """``budget.spend(units)``, or nothing for an unbudgeted call (tests, tools)."""
    if budget is not None:
        budget.spend(units)


def remember(budget: Budget | None, key: Hashable, compute: Callable[[], T]) -> T:
    """``budget.remember(key, compute)``, or just ``compute()`` without a budget."""
    return compute() if budget is None else budget.remember(key, compute)


def units(pixels: float, per_unit: float) -> int:
    """Units for a step that touches ``pixels`` pixels, ``per_unit`` of them a unit (at
    least one unit)."""
    return max(1, math.ceil(pixels / per_unit))
