"""Timing step functions: warm-ups first, the device synchronised before every clock reading,
and the median and spread over repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Step = Callable[[], object]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Timing:
    """Seconds per step, one figure per repeat (each the mean over that repeat's steps)."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def max(self) -> float:
        return max(self.seconds)


def measure(
    step: Step,
    synchronize: Callable[[], None],
    steps: int,
    warmup: int,
    repeats: int,
    on_step: Callable[[], None] | None = None,
    clock: Clock = time.perf_counter,
) -> Timing:
    """Runs `step` `warmup` times untimed, then `repeats` times `steps` steps, calling
    `synchronize` (wait for the device) before every clock reading; `on_step` is called after
    each step, timed or not (a progress bar)."""
    return measure_interleaved([(step, synchronize)], steps, warmup, repeats, on_step, clock)[0]


def measure_interleaved(
    workloads: Sequence[tuple[Step, Callable[[], None]]],
    steps: int,
    warmup: int,
    repeats: int,
    on_step: Callable[[], None] | None = None,
    clock: Clock = time.perf_counter,
) -> list[Timing]:
    """Times several (step, synchronize) workloads as `measure` does, taking turns repeat by
    repeat, so that load from other processes or a change of clock speed hits them alike and
    their ratios hold even on a busy machine."""
    for name, value, least in (("steps", steps, 1), ("warmup", warmup, 0), ("repeats", repeats, 1)):
        if value < least:
            raise ValueError(f"measure: {name} must be >= {least}, got {value}")
    for step, synchronize in workloads:
        for _ in range(warmup):
            step()
            if on_step is not None:
                on_step()
        synchronize()
    seconds: list[list[float]] = [[] for _ in workloads]
    for _ in range(repeats):
        for (step, synchronize), record in zip(workloads, seconds):
            start = clock()
            for _ in range(steps):
                step()
                if on_step is not None:
                    on_step()
            synchronize()
            record.append((clock() - start) / steps)
    return [Timing(tuple(record)) for record in seconds]
