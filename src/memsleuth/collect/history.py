"""Build a :class:`~memsleuth.analysis.series.History` from the local machine's sources.

Three sources give the same History, so the detector never knows which it
read:

* :func:`history_from_store` - the local store written by ``memsleuth record``;
* :func:`history_from_roots` - a series of bundles and/or plain root
  directories (a bare directory's time is the mtime of its ``proc/meminfo``);
* :func:`history_from_watch` - snapshots taken in-process, no daemon.

Series are extracted by :func:`memsleuth.store.extract.iter_points`, the
same code the recorder runs at write time, so a series key means the same
thing whichever way it was built.  Process identity is ``pid:starttime``;
its :class:`~memsleuth.analysis.series.ProcessInfo` comes from the latest
sample that saw it.
"""

from __future__ import annotations

import os
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from memsleuth.analysis.series import History, ProcessInfo, Series
from memsleuth.errors import BundleError, ParseError, StoreError, UsageError
from memsleuth.host import Host
from memsleuth.keys import cgroup_key, process_identity
from memsleuth.snapshot.capture import DEFAULT_PROCESS_FILES, capture
from memsleuth.snapshot.model import ProcessSample, Snapshot
from memsleuth.snapshot.schedule import run_schedule
from memsleuth.sources._kv import scan_fields
from memsleuth.sources.cgroup import memory_cgroup_of, parse_pid_cgroup
from memsleuth.store.extract import iter_points
from memsleuth.store.reader import SampleInfo, StoreReader

#: Per-process files a diagnosis reads: the recorder's set, plus who it is.
PROCESS_FILES: tuple[str, ...] = (*DEFAULT_PROCESS_FILES, "cmdline", "cgroup")

#: Past the last sample, at most this many more snapshots are rebuilt from a
#: store to name processes that exited before the window ended (each costs a
#: decompression of every process of that sample).
MAX_EXTRA_SNAPSHOTS = 32

OnSample = Callable[[int, int, Snapshot], None]


@dataclass(slots=True)
class _Builder:
    """Accumulates snapshots (in any order) into one History.

    Points are kept as a sample index and a double per point (12 bytes),
    not as Python tuples (about 110): a ``--watch`` must not grow the
    watcher's own memory by more than it reports in others.
    """

    times: list[float] = field(default_factory=list)
    points: dict[str, tuple[array[int], array[float]]] = field(default_factory=dict)
    processes: dict[str, tuple[float, ProcessInfo]] = field(default_factory=dict)
    latest: tuple[float, Snapshot] | None = None

    def add(self, t: float, snap: Snapshot) -> None:
        index = len(self.times)
        self.times.append(t)
        points = self.points
        for key, value in iter_points(snap):
            got = points.get(key)
            if got is None:
                got = points[key] = (array("I"), array("d"))
            got[0].append(index)
            got[1].append(value)
        for proc in snap.processes:
            self.add_process(t, proc)
        if self.latest is None or t >= self.latest[0]:
            self.latest = (t, snap)

    def add_process(self, t: float, proc: ProcessSample) -> None:
        if proc.kernel_thread:
            return
        seen = self.processes.get(f"{proc.pid}:{proc.starttime_ticks}")
        if seen is None or t >= seen[0]:
            info = process_info(proc)
            self.processes[info.identity] = (t, info)

    def build(self, source: str) -> History:
        times = self.times
        ordered = all(a < b for a, b in pairwise(times))
        series: dict[str, Series] = {}
        for key, (idx, vals) in self.points.items():
            if ordered:
                series[key] = Series(key=key, times=tuple(times[i] for i in idx), values=tuple(vals))
            else:
                pts = sorted(zip((times[i] for i in idx), vals, strict=True))
                series[key] = Series(key=key, times=tuple(p[0] for p in pts), values=tuple(p[1] for p in pts))
        latest = self.latest[1] if self.latest else None
        total = series.get("meminfo.MemTotal")
        return History(
            hostname=latest.meta.hostname if latest else None,
            kernel_release=latest.meta.kernel_release if latest else None,
            series=series,
            processes={k: info for k, (_, info) in self.processes.items()},
            mem_total_bytes=int(total.values[-1]) if total is not None and total.values else None,
            source=source,
        )


def process_info(proc: ProcessSample) -> ProcessInfo:
    """Who a process is, from the files a sample holds (``cmdline``/``cgroup`` if read)."""
    return ProcessInfo(
        pid=proc.pid,
        starttime_ticks=proc.starttime_ticks,
        comm=proc.comm,
        cmdline=proc.cmdline() or None,
        ppid=proc.ppid,
        uid=_uid(proc.files.get("status")),
        cgroup=_cgroup(proc.files.get("cgroup")),
    )


def _uid(status: bytes | None) -> int | None:
    # one line, byte operations: as store.extract does for the same file
    if not status:
        return None
    start = status.find(b"\nUid:")
    if start < 0:
        return None
    parts = status[start + 5 : status.find(b"\n", start + 1)].split()
    return int(parts[0]) if parts and parts[0].isdigit() else None


def _cgroup(data: bytes | None) -> str | None:
    if not data:
        return None
    try:
        paths = parse_pid_cgroup(data.decode("utf-8", "replace"))
    except ParseError:
        return None
    return memory_cgroup_of(paths)


# -- the store ------------------------------------------------------------------
def history_from_store(
    path: str | os.PathLike[str], start: float | None = None, end: float | None = None
) -> History:
    """Every series of the store at ``path`` within ``[start, end]`` (Unix seconds)."""
    spath = os.fspath(path)
    with StoreReader.open(spath) as reader:
        samples = reader.samples(start, end)
        if not samples:
            raise StoreError(f"{spath}: no samples in the chosen window ({reader.count()} in the store)")
        series: dict[str, Series] = {}
        keys = reader.keys()
        for key in keys:
            pts = reader.series(key, start, end)
            if pts:
                series[key] = Series(
                    key=key, times=tuple(t for t, _ in pts), values=tuple(float(v) for _, v in pts)
                )
        builder = _Builder()
        # the newest sample keeps its raw files; an older window may end on a thinned one
        last = reader.snapshot_at(samples[-1].taken_at)
        for proc in last.processes:
            builder.add_process(last.started_at, proc)
        _name_exited(reader, samples, series, builder)
    total = series.get("meminfo.MemTotal")
    return History(
        hostname=last.meta.hostname,
        kernel_release=last.meta.kernel_release,
        series=series,
        processes={k: info for k, (_, info) in builder.processes.items()},
        mem_total_bytes=int(total.values[-1]) if total is not None and total.values else None,
        source=f"store {spath}",
    )


def _name_exited(reader: StoreReader, samples: Sequence[SampleInfo], series: dict[str, Series],
                 builder: _Builder) -> None:
    """Name processes that exited before the last sample, from the sample they were last in.

    The snapshots to rebuild are chosen by how many points the process has
    (a long-lived process matters more to a trend than a short one).  When
    that sample's raw files were thinned, the last earlier sample that has
    them is read (the process is named if it was already there).
    """
    by_time: dict[float, tuple[int, float]] = {}
    raw: tuple[int, float] | None = None
    for info in samples:
        if info.has_raw:
            raw = (info.id, info.taken_at)
        if raw is not None:
            by_time[info.taken_at] = raw
    last_seen: dict[str, tuple[float, int]] = {}
    for key, s in series.items():
        identity = process_identity(key)
        if identity is None:
            continue
        if identity in builder.processes:
            continue
        seen = last_seen.get(identity)
        if seen is None or s.times[-1] > seen[0]:
            last_seen[identity] = (s.times[-1], max(len(s), seen[1] if seen else 0))
    wanted: dict[int, float] = {}
    for _, (t, _n) in sorted(last_seen.items(), key=lambda kv: -kv[1][1]):
        found = by_time.get(t)
        if found is None:
            continue
        sid, taken = found
        if sid not in wanted and len(wanted) >= MAX_EXTRA_SNAPSHOTS:
            continue
        wanted[sid] = taken
    for sid, t in wanted.items():
        for proc in reader.snapshot(sid).processes:
            if f"{proc.pid}:{proc.starttime_ticks}" in last_seen:
                builder.add_process(t, proc)


# -- bundles and root directories -------------------------------------------------
def history_from_roots(paths: Iterable[str | os.PathLike[str]]) -> History:
    """One snapshot per bundle or root directory, ordered by capture time."""
    return history_from_hosts([Host.open(p) for p in paths])


def history_from_hosts(hosts: Sequence[Host]) -> History:
    """:func:`history_from_roots` on roots already opened (a caller that reads them again, for
    attribution, opens each bundle once)."""
    builder = _Builder()
    seen: dict[float, str] = {}
    labels: list[str] = []
    for host in hosts:
        t = host.meta.captured_at
        if t is None:
            raise BundleError(
                f"{host.label}: no capture time (no bundle header and no proc/meminfo to take "
                "its mtime from)"
            )
        if t in seen:
            raise UsageError(f"{host.label} and {seen[t]} have the same capture time ({t:.3f})")
        seen[t] = host.label
        labels.append(host.label)
        builder.add(t, capture(host, process_files=PROCESS_FILES))
    if not labels:
        raise UsageError("no roots given")
    source = f"{len(labels)} roots" if len(labels) > 1 else f"root {labels[0]}"
    return builder.build(source)


# -- live, in-process ------------------------------------------------------------
def history_from_watch(
    host: Host,
    duration_s: float,
    interval_s: float,
    *,
    on_sample: OnSample | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] | None = None,
) -> History:
    """Sample ``host`` every ``interval_s`` for ``duration_s`` seconds, then build the History.

    The schedule runs on the monotonic clock: a slow capture delays the next
    one but does not shift the rest, and missed slots are skipped.  Each
    sample is timed by its wall-clock start.  ``on_sample(n, expected,
    snapshot)`` is called after each sample (progress for the CLI).  Setting
    ``stop`` (from a signal handler) ends the watch early, with the samples
    taken so far.

    On the live host the watcher's own process is left out: it grows by
    the points it keeps, by construction (about 3 MiB over 61 samples of
    1,400 series), and would otherwise report itself.
    """
    if interval_s <= 0:
        raise UsageError("the interval must be positive")
    if duration_s < 0:
        raise UsageError("the duration must not be negative")
    expected = int(duration_s // interval_s) + 1
    me = os.getpid()
    builder = _Builder()
    #: sample time -> the watcher's own anonymous memory then (RssAnon, bytes)
    own: dict[float, float] = {}
    own_cgroup: str | None = None

    def take(n: int, _mono: float) -> None:
        nonlocal own_cgroup
        snap = capture(host, process_files=PROCESS_FILES)
        if host.live:
            mine = [p for p in snap.processes if p.pid == me]
            for p in mine:
                anon = scan_fields(p.files.get("status") or b"", ("RssAnon",)).get("RssAnon")
                if anon is not None:
                    own[snap.started_at] = float(anon)
                own_cgroup = own_cgroup or _cgroup(p.files.get("cgroup"))
            snap = replace(snap, processes=tuple(p for p in snap.processes if p.pid != me))
        builder.add(snap.started_at, snap)
        if on_sample is not None:
            on_sample(n, expected, snap)

    run_schedule(take, interval=interval_s, duration=duration_s, stop=stop, monotonic=clock, sleep=sleep)
    source = f"watch {host.label}, every {interval_s:g} s for {duration_s:g} s"
    history = builder.build(source)
    if own and own_cgroup is not None:
        history = without_own_growth(history, own, own_cgroup)
    return history


#: the memory.stat keys a process's anonymous pages are counted in (v2 and v1)
_ANON_STATS = ("anon", "active_anon", "inactive_anon", "rss")


def without_own_growth(history: History, own: Mapping[float, float], cgroup: str) -> History:
    """``history`` with the watcher's own anonymous growth taken out of its memory cgroup and that
    cgroup's ancestors (``anon``, ``active_anon``, ``inactive_anon``, ``rss``).

    The watcher keeps its samples in memory, so its cgroup grows by what it keeps; without this the
    watch reports that growth (a few MiB over two minutes) as a leak of the cgroup it runs in.  New
    anonymous pages may land on either LRU list, so the growth is taken from both lists: a
    correction that can only make those series fall, never rise.
    """
    first = own[min(own)]
    paths = {cgroup, "/"}
    parts = cgroup.strip("/").split("/")
    paths.update("/" + "/".join(parts[:i]) for i in range(1, len(parts)))
    series = dict(history.series)
    for path in paths:
        for stat in _ANON_STATS:
            key = cgroup_key(path, "memory.stat", stat)
            s = series.get(key)
            if s is None:
                continue
            series[key] = Series(key=key, times=s.times, values=tuple(
                v - (own[t] - first if t in own else 0.0) for t, v in zip(s.times, s.values, strict=True)))
    grew = own[max(own)] - first
    note = f"; memsleuth's own growth ({grew / (1 << 20):+.1f} MiB) taken out of its cgroup {cgroup}"
    return replace(history, series=series, source=history.source + note)


__all__ = [
    "MAX_EXTRA_SNAPSHOTS",
    "PROCESS_FILES",
    "history_from_hosts",
    "history_from_roots",
    "history_from_store",
    "history_from_watch",
    "process_info",
    "without_own_growth",
]
