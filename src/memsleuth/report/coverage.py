"""What the history covers: the sampling interval, the gaps in it, and the series that start or stop
inside the window (a process that started or exited, a cache that appeared)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memsleuth.analysis.series import History
from memsleuth.keys import CgroupKey, ProcessKey, SlabKey, parse_key

#: a pause between samples longer than this many intervals is a gap
GAP_INTERVALS = 3.0
#: gaps and series listed by name at most
LIST_LIMIT = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    start: float
    end: float
    #: samples that the interval says should be there
    missing: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesSpan:
    key: str
    first: float
    last: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageDetail:
    samples: int
    #: the median time between samples, seconds (None with fewer than two)
    interval: float | None
    gaps: tuple[Gap, ...]
    missing_samples: int
    #: series that begin after the first sample or end before the last, by family
    started: dict[str, tuple[SeriesSpan, ...]]
    stopped: dict[str, tuple[SeriesSpan, ...]]


def _family(key: str) -> str:
    p = parse_key(key)
    if isinstance(p, ProcessKey):
        return "processes"
    if isinstance(p, SlabKey):
        return "slab caches"
    if isinstance(p, CgroupKey):
        return "cgroups"
    return key.split(".", 1)[0]


def _subject(key: str) -> str:
    """One entry per process, cache or cgroup (not one per field)."""
    p = parse_key(key)
    if isinstance(p, ProcessKey):
        return f"proc.{p.identity}"
    if isinstance(p, SlabKey):
        return f"slab.{p.cache}"
    if isinstance(p, CgroupKey):
        return f"cgroup.{p.path}"
    return key


def coverage_detail(history: History) -> CoverageDetail:
    grid = history.get("meminfo.MemTotal")
    if grid is not None and len(grid):
        times = np.asarray(grid.times, dtype=np.float64)
    else:
        times = np.array(sorted({t for s in history.series.values() for t in s.times}), dtype=np.float64)
    n = int(times.shape[0])
    if n < 2:
        return CoverageDetail(samples=n, interval=None, gaps=(), missing_samples=0, started={}, stopped={})
    diffs = np.diff(times)
    interval = float(np.median(diffs))
    gaps = []
    if interval > 0:
        for i in np.flatnonzero(diffs > GAP_INTERVALS * interval):
            d = float(diffs[i])
            gaps.append(Gap(start=float(times[i]), end=float(times[i + 1]),
                            missing=max(round(d / interval) - 1, 1)))
    start, end = float(times[0]), float(times[-1])
    slack = 1.5 * interval
    started: dict[str, dict[str, SeriesSpan]] = {}
    stopped: dict[str, dict[str, SeriesSpan]] = {}
    for key, s in history.series.items():
        if not len(s) or key.startswith("derived."):
            continue
        span = SeriesSpan(key=_subject(key), first=s.times[0], last=s.times[-1])
        fam = _family(key)
        if s.times[0] > start + slack:
            started.setdefault(fam, {}).setdefault(span.key, span)
        if s.times[-1] < end - slack:
            stopped.setdefault(fam, {}).setdefault(span.key, span)
    gaps.sort(key=lambda g: g.end - g.start, reverse=True)
    return CoverageDetail(
        samples=n, interval=interval, gaps=tuple(gaps), missing_samples=sum(g.missing for g in gaps),
        started={k: tuple(sorted(v.values(), key=lambda x: x.first)) for k, v in sorted(started.items())},
        stopped={k: tuple(sorted(v.values(), key=lambda x: x.last)) for k, v in sorted(stopped.items())},
    )


__all__ = ["GAP_INTERVALS", "LIST_LIMIT", "CoverageDetail", "Gap", "SeriesSpan", "coverage_detail"]
