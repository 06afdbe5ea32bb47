"""The search's budget: counted work, so the same input gives the same plan on any machine and load.

`planner.timeBudget` seconds are converted to a number of search steps (VISITS_PER_SECOND per second) and
every step the search takes (one state expanded, one relaxation table built, one threshold probe) is
counted against it. The rate is calibrated on this project's reference machine (x86_64, 2 shared cores, the
benchmark's compute-bound family): a step costs STEP_SECONDS there, so a search that uses its whole budget
stops near the stated seconds (`seifer bench planner` reports the measured CPU times). A faster machine
finishes sooner, a slower one later, but both produce the same plan. A wall-clock cap of WALL_FACTOR times
the budget is only a safety net against extremely slow machines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

STEP_SECONDS = 100e-6  # CPU seconds per counted step measured on the reference machine (docs/benchmarks.md)
VISITS_PER_SECOND = round(1.0 / STEP_SECONDS)
WALL_FACTOR = 20.0


class Timeout(Exception):
    """The budget is spent."""


def steps_for(budget_s: float) -> int:
    """Counted steps a budget of `budget_s` seconds allows (at least one)."""
    return max(1, int(budget_s * VISITS_PER_SECOND))


@dataclass
class Budget:
    """What a search may still spend: steps (deterministic; None = unlimited) and a wall-clock deadline."""

    steps_left: int | None = None
    deadline: float | None = None
    spent: int = 0

    @classmethod
    def for_seconds(cls, budget_s: float) -> Budget:
        return cls(steps_for(budget_s), time.perf_counter() + max(WALL_FACTOR * budget_s, 1.0))

    def spend(self, steps: int = 1) -> None:
        self.spent += steps
        if self.steps_left is not None:
            self.steps_left -= steps
            if self.steps_left < 0:
                raise Timeout
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise Timeout
