"""Runs: one stored row for as long as a value stays the same (see :mod:`memsleuth.store.format`).

The writer (and the upgrade from schema 1) keeps the *open* runs of a table
in memory, ``key -> (first_sample_id, value)``, and moves them to the next
sample with :func:`step`.  The reader turns runs back into one value per
sample with :class:`Timeline`.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True, kw_only=True)
class Step(Generic[K, V]):
    """What one sample does to the runs of a table."""

    #: the open runs after the sample
    open: dict[K, tuple[int, V]]
    #: runs that end before this sample: ``(key, first_sample_id)``; their ``until`` is this sample
    closed: list[tuple[K, int]]
    #: runs that start at this sample: ``(key, value)``
    opened: list[tuple[K, V]]


def step(open_runs: Mapping[K, tuple[int, V]], current: Mapping[K, V], sample_id: int) -> Step[K, V]:
    """Sample ``sample_id`` holds ``current``: extend, close and open runs.

    A value equal to its open run's (``==``, so ``2 == 2.0``) extends it; a
    different value closes it and opens a new one; a key the sample does
    not have closes its run.
    """
    new_open: dict[K, tuple[int, V]] = {}
    closed: list[tuple[K, int]] = []
    opened: list[tuple[K, V]] = []
    for key, value in current.items():
        run = open_runs.get(key)
        if run is not None:
            if run[1] == value:
                new_open[key] = run
                continue
            closed.append((key, run[0]))
        opened.append((key, value))
        new_open[key] = (sample_id, value)
    closed += [(key, run[0]) for key, run in open_runs.items() if key not in current]
    return Step(open=new_open, closed=closed, opened=opened)


@dataclass(slots=True)
class Timeline:
    """The samples of a store in id (write) order, to expand runs into one value per sample.

    ``window(lo, hi)`` picks the samples taken within ``[lo, hi]``;
    :meth:`expand` then gives ``(taken_at, value)`` for every sample of the
    window that a run covers, ordered by ``(taken_at, id)`` like the samples
    list.
    """

    ids: list[int]
    times: list[float]
    #: ids ascending also have times ascending (the wall clock never went back)
    monotonic: bool = field(init=False)
    _window: tuple[float, float, list[int]] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.monotonic = all(a <= b for a, b in zip(self.times, self.times[1:], strict=False))

    def window(self, lo: float, hi: float) -> list[int]:
        """Positions of the samples taken within ``[lo, hi]``, ascending (cached for repeated reads)."""
        w = self._window
        if w is not None and w[0] == lo and w[1] == hi:
            return w[2]
        if self.monotonic:
            a = bisect.bisect_left(self.times, lo)
            b = bisect.bisect_right(self.times, hi)
            positions = list(range(a, b))
        else:
            positions = [i for i, t in enumerate(self.times) if lo <= t <= hi]
        self._window = (lo, hi, positions)
        return positions

    def id_range(self, positions: list[int]) -> tuple[int, int]:
        """The smallest and largest sample id of a non-empty window."""
        return self.ids[positions[0]], self.ids[positions[-1]]

    def expand(self, runs: Iterable[tuple[int, int, V]], positions: list[int]) -> list[tuple[float, V]]:
        """``(taken_at, value)`` for each window sample covered by one of ``runs``.

        ``runs`` are ``(first_sample_id, until_sample_id, value)``, ordered
        and not overlapping (one series); an open run's ``until`` is larger
        than any id.
        """
        if not positions:
            return []
        ids, times = self.ids, self.times
        if self.monotonic:
            w0, w1 = positions[0], positions[-1] + 1
            out: list[tuple[float, V]] = []
            for first, until, value in runs:
                a = bisect.bisect_left(ids, first, w0, w1)
                b = bisect.bisect_left(ids, until, w0, w1)
                if a < b:
                    out += [(t, value) for t in times[a:b]]
            return out
        inside = set(positions)
        found: list[tuple[float, int, V]] = []
        for first, until, value in runs:
            a = bisect.bisect_left(ids, first)
            b = bisect.bisect_left(ids, until)
            found += [(times[i], ids[i], value) for i in range(a, b) if i in inside]
        found.sort(key=_time_and_id)
        return [(t, v) for t, _, v in found]


def _time_and_id(item: tuple[float, int, object]) -> tuple[float, int]:
    return item[0], item[1]


__all__ = ["Step", "Timeline", "step"]
