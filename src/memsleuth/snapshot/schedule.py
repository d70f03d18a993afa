"""The one sampling schedule: ``memsleuth record`` and ``diagnose --watch`` both run on it.

Deadlines are ``start + k * interval`` on the monotonic clock, so an NTP
step changes timestamps, not the cadence.  After a slow sample (or a
suspend) the missed slots are skipped, not caught up in a burst.  A stop
(a signal handler sets the event) ends the loop after the sample being
taken: nothing is cut in half.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Schedule:
    """When the next sample is due, on the monotonic clock."""

    start: float
    interval: float
    k: int = 0

    @property
    def due(self) -> float:
        """The deadline of slot ``k``."""
        return self.start + self.k * self.interval

    def next_wait(self, now: float) -> float:
        """Advance past ``now`` and return the seconds to sleep until the next slot."""
        self.k += 1
        due = self.due
        if due <= now and self.interval > 0:
            self.k = int((now - self.start) // self.interval) + 1
            due = self.due
        return max(0.0, due - now)


def run_schedule(
    take: Callable[[int, float], object],
    *,
    interval: float,
    count: int | None = None,
    duration: float | None = None,
    stop: threading.Event | None = None,
    between: Callable[[float], bool] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] | None = None,
) -> int:
    """Call ``take(n, monotonic_start)`` on the schedule; return how many samples were taken.

    Ends after ``count`` samples, when the next slot lies past ``duration``
    seconds from the start, or when ``stop`` is set (checked between
    samples; the wait is interrupted).  ``between(now)`` runs after each
    sample except the last (the recorder's hourly retention) and returns
    whether it did any work.  ``sleep``
    replaces the wait, for tests; by default the wait is ``stop.wait``.
    """
    stop = stop if stop is not None else threading.Event()
    schedule = Schedule(start=monotonic(), interval=interval)
    n = 0
    while not stop.is_set():
        n += 1
        take(n, monotonic())
        if count is not None and n >= count:
            break
        now = monotonic()
        if between is not None and between(now):
            now = monotonic()  # it did work: the wait starts after it
        wait = schedule.next_wait(now)
        if duration is not None and schedule.due - schedule.start > duration + 1e-9:
            break
        if sleep is not None:
            sleep(wait)
        else:
            stop.wait(wait)
    return n


__all__ = ["Schedule", "run_schedule"]
