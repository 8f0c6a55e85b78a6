"""A per-frame bound on the decoder's work and time, checked inside its loops.

Every expensive step of the module-grid reader (a template match, a warp of the symbol, a
polish evaluation, an equaliser fit, a zxing read of the rendered symbol) calls
``Budget.spend()``, which counts one unit of work and checks the deadline. So a frame costs at
most the budget plus one such step, whatever its geometry, and the count is a measure of work
that does not depend on the machine (the tests bound it, not the wall time).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from verifier.core.errors import VerifierError


class OutOfBudget(VerifierError):
    """The frame's decode budget ran out. Raised inside the decoder and caught there: the
    frame then reads as "no code" and the camera's next frame gets a fresh budget."""

    title = "Decode budget spent"


class Budget:
    """``seconds`` of time (None: no deadline) and ``max_work`` units (None: no cap) from
    the moment it is made; ``work`` counts the units spent so far."""

    def __init__(
        self,
        seconds: float | None = None,
        max_work: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.max_work = max_work
        self.work = 0
        self._clock = clock
        self._deadline = None if seconds is None else clock() + seconds

    @property
    def exhausted(self) -> bool:
        """True once the deadline has passed or the work cap is reached (does not raise)."""
        if self.max_work is not None and self.work >= self.max_work:
            return True
        return self._deadline is not None and self._clock() > self._deadline

    def spend(self, units: int = 1) -> None:
        """Count ``units`` of work about to be done; OutOfBudget if there is no room left."""
        if self.exhausted:
            raise OutOfBudget(f"decode budget spent after {self.work} units of work")
        self.work += units


def spend(budget: Budget | None, units: int = 1) -> None:
    """``budget.spend(units)``, or nothing for an unbudgeted call (tests, tools)."""
    if budget is not None:
        budget.spend(units)
