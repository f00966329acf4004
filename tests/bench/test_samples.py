"""Retaking samples that other processes disturbed: how often, within what budget, and which one is kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bench.samples import Disturbance, Sample

NO_LIMIT = 1e9


def measurements(*foreign_shares: float) -> Callable[[], Sample]:
    """A measurement whose n-th run reports the n-th share, with the run number as its value."""
    runs: Iterator[tuple[int, float]] = enumerate(foreign_shares, start=1)

    def measure() -> Sample:
        run, share = next(runs)
        return Sample(value=float(run), server_cost=0.0, foreign_cpu=share)

    return measure


class Clock:
    """Time that moves only when a wait says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> Callable[[float], None]:
        def settle(_max_busy: float) -> None:
            self.now += seconds

        return settle


def test_an_undisturbed_sample_is_taken_once_without_waiting() -> None:
    waits: list[float] = []
    policy = Disturbance(max_foreign_cpu=0.1, attempts=3, budget_seconds=NO_LIMIT, settle=waits.append)

    sample = policy.undisturbed(measurements(0.05, 0.0))

    assert (sample.value, sample.attempts) == (1.0, 1)
    assert waits == []


def test_a_disturbed_sample_is_retaken_after_waiting_until_one_is_within_the_limit() -> None:
    waits: list[float] = []
    policy = Disturbance(max_foreign_cpu=0.1, attempts=3, budget_seconds=NO_LIMIT, settle=waits.append)

    sample = policy.undisturbed(measurements(0.4, 0.08, 0.0))

    assert (sample.value, sample.attempts) == (2.0, 2)
    assert waits == [0.1]


def test_when_every_attempt_is_disturbed_the_least_disturbed_is_kept() -> None:
    policy = Disturbance(max_foreign_cpu=0.1, attempts=3, budget_seconds=NO_LIMIT, settle=lambda _limit: None)

    sample = policy.undisturbed(measurements(0.5, 0.2, 0.3, 0.0))

    assert (sample.value, sample.foreign_cpu, sample.attempts) == (2.0, 0.2, 3)


def test_a_single_attempt_keeps_even_a_disturbed_sample() -> None:
    policy = Disturbance(max_foreign_cpu=0.1, attempts=1, budget_seconds=NO_LIMIT, settle=lambda _limit: None)

    sample = policy.undisturbed(measurements(0.9, 0.0))

    assert (sample.value, sample.attempts) == (1.0, 1)


def test_retries_stop_once_the_run_has_spent_its_budget() -> None:
    clock = Clock()
    policy = Disturbance(max_foreign_cpu=0.1, attempts=5, budget_seconds=15.0, settle=clock.wait(10.0), clock=clock)

    first = policy.undisturbed(measurements(0.5, 0.4, 0.3, 0.0))
    second = policy.undisturbed(measurements(0.6, 0.0))

    assert (first.value, first.foreign_cpu, first.attempts) == (3.0, 0.3, 3)
    assert policy.spent == 20.0
    assert (second.value, second.attempts) == (1.0, 1)
