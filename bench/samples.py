"""One measurement, and taking it again when other processes disturbed it.

On a shared machine another program may take CPU in the middle of a measurement, and the figure comes out low
for reasons that have nothing to do with the registry. A sample during which other processes took more than
a set share of the CPUs is taken again, after waiting for the machine to calm down, up to a set number of
attempts and within a time budget for the whole run; the least disturbed attempt is kept, and the sample says
how many attempts it took.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.cpu import machine_busy_share

QUIET_POLL_SECONDS = 1.0
QUIET_WAIT_SECONDS = 10.0  # longest wait for the machine to calm down before another attempt


@dataclass(frozen=True, slots=True)
class Sample:
    value: float  # MB/s or requests/s
    server_cost: float  # the server's CPU: seconds per GB moved, or microseconds per request
    foreign_cpu: float  # share (0 to 1) of the machine's CPUs other processes used meanwhile
    detail: dict[str, float] = field(default_factory=dict)
    attempts: int = 1


# target -> metric -> one sample per repetition
Samples = dict[str, dict[str, list[Sample]]]


def wait_for_quiet(max_busy: float) -> None:
    """Return once the CPUs are no busier than `max_busy` (the benchmark itself is idle now), or in the end."""
    deadline = time.monotonic() + QUIET_WAIT_SECONDS
    while time.monotonic() < deadline and machine_busy_share(QUIET_POLL_SECONDS) > max_busy:
        pass


@dataclass(slots=True)
class Disturbance:
    """How much other processes may use of the CPUs during a sample, and how hard to try for less."""

    max_foreign_cpu: float
    attempts: int  # per sample
    budget_seconds: float  # for all the retries of a run together
    settle: Callable[[float], None] = wait_for_quiet  # waits until the CPUs are no busier than this
    clock: Callable[[], float] = time.monotonic
    spent: float = 0.0  # seconds of the budget used so far

    def undisturbed(self, measure: Callable[[], Sample]) -> Sample:
        """The first sample within the limit, else the least disturbed of those taken while attempts and budget last."""
        tried = [measure()]
        while (
            tried[-1].foreign_cpu > self.max_foreign_cpu
            and len(tried) < self.attempts
            and self.spent < self.budget_seconds
        ):
            started = self.clock()
            self.settle(self.max_foreign_cpu)
            tried.append(measure())
            self.spent += self.clock() - started
        best = min(tried, key=lambda sample: sample.foreign_cpu)
        return dataclasses.replace(best, attempts=len(tried))
