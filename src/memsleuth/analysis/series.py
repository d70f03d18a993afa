"""The series protocol: what every detector input looks like, whatever its source.

A :class:`History` is built from the local store, from a series of bundles
or plain root directories, from an in-process ``--watch``, or (later) from
Prometheus; analysis never knows which.  Series names follow
:mod:`memsleuth.store.extract` (``meminfo.SReclaimable``,
``slab.dentry.size_bytes``, ``proc.<pid>:<starttime>.pss_bytes``,
``cgroup.<path>.memory.stat.<key>`` ...).  Values are raw: bytes for sizes,
counts for counts, cumulative counters as counters (rates are derived on
read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from memsleuth.keys import process_identity


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One metric over time; ``times`` are Unix seconds, ascending."""

    key: str
    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.values):
            raise ValueError(f"series {self.key}: {len(self.times)} times, {len(self.values)} values")

    def __len__(self) -> int:
        return len(self.times)

    @property
    def span_seconds(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessInfo:
    """Who a ``proc.<pid>:<starttime>.*`` series belongs to (last seen)."""

    pid: int
    starttime_ticks: int
    comm: str
    cmdline: str | None = None
    ppid: int | None = None
    uid: int | None = None
    cgroup: str | None = None

    @property
    def identity(self) -> str:
        return f"{self.pid}:{self.starttime_ticks}"


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """Everything a diagnosis reads: series plus the context to name subjects."""

    hostname: str | None
    kernel_release: str | None
    series: Mapping[str, Series]
    #: ``"pid:starttime"`` -> who that is
    processes: Mapping[str, ProcessInfo] = field(default_factory=dict)
    #: MemTotal in bytes (the headroom reference); ``None`` if unknown
    mem_total_bytes: int | None = None
    #: where the history came from, for the report ("store /var/lib/...", "3 bundles")
    source: str = ""

    def get(self, key: str) -> Series | None:
        return self.series.get(key)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.series if k.startswith(prefix))

    @property
    def start(self) -> float | None:
        starts = [s.times[0] for s in self.series.values() if s.times]
        return min(starts) if starts else None

    @property
    def end(self) -> float | None:
        ends = [s.times[-1] for s in self.series.values() if s.times]
        return max(ends) if ends else None


def sample_count(history: History) -> int:
    """Distinct sample times in ``history`` (the number of snapshots it came from)."""
    times: set[float] = set()
    for s in history.series.values():
        times.update(s.times)
    return len(times)


def trim(history: History, start: float | None = None, end: float | None = None) -> History:
    """``history`` restricted to ``[start, end]``; processes no longer in it are dropped."""
    lo = float("-inf") if start is None else start
    hi = float("inf") if end is None else end
    series: dict[str, Series] = {}
    for key, s in history.series.items():
        kept = [(t, v) for t, v in zip(s.times, s.values, strict=True) if lo <= t <= hi]
        if kept:
            series[key] = Series(key=key, times=tuple(t for t, _ in kept), values=tuple(v for _, v in kept))
    alive = {i for i in map(process_identity, series) if i is not None}
    processes = {k: v for k, v in history.processes.items() if k in alive}
    return replace(history, series=series, processes=processes)
