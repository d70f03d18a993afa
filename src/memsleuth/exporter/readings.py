"""What each source of a scrape reads, as samples of the metric table.

One function per source; each captures only the files it needs from the
:class:`~memsleuth.host.Host` (the live root, a directory or a bundle) and
turns them into :class:`Sample` values through the analysis code the views
use (accounting, usage views, slab rows, process rows), so ``/metrics``
and ``memsleuth meminfo`` never disagree.  A value the kernel did not
give is skipped, never exported as 0.  A source that cannot be read raises
(:class:`~memsleuth.errors.MemsleuthError`); the scrape reports it as
``memsleuth_scrape_success{source} 0``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from memsleuth import metrics
from memsleuth.analysis.processes import process_row
from memsleuth.analysis.slab import slab_rows
from memsleuth.analysis.system import FILES as SYSTEM_FILES
from memsleuth.analysis.system import system_memory
from memsleuth.analysis.usage import usage_views
from memsleuth.errors import MemsleuthError
from memsleuth.host import Host
from memsleuth.metrics import MetricSpec
from memsleuth.snapshot.capture import capture
from memsleuth.snapshot.model import Snapshot, SnapshotMissing
from memsleuth.sources.dentry_state import DentryState, kernel_has_nr_negative, parse_dentry_state
from memsleuth.sources.inode_nr import InodeNr, parse_inode_nr

DENTRY_FILES = ("proc/sys/fs/dentry-state", "proc/sys/fs/inode-nr")
#: per-process files the PSS ranking reads (``stat`` for identity, ``smaps_rollup`` for Pss)
PROCESS_FILES = ("stat", "smaps_rollup")


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of a family: label values in the order of ``spec.labels``."""

    spec: MetricSpec
    labels: tuple[str, ...]
    value: float


def sample(spec: MetricSpec, value: float, **labels: str) -> Sample:
    """A sample of ``spec``; the labels must be exactly the family's (a typo fails here, not in
    Prometheus)."""
    if set(labels) != set(spec.labels):
        raise ValueError(f"{spec.name}: labels {sorted(labels)}, the table says {sorted(spec.labels)}")
    return Sample(spec, tuple(labels[name] for name in spec.labels), float(value))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _system_snapshot(host: Host, files: Sequence[str], *, slab_sysfs: bool = False) -> Snapshot:
    return capture(host, processes=False, cgroups=False, slab_sysfs=slab_sysfs, numa=False,
                   system_files=files)


# -- meminfo: MemTotal, the accounting buckets, the two "used", MemAvailable --------------------
VMALLOCINFO = "proc/vmallocinfo"
#: seconds a read of /proc/vmallocinfo is reused: it lists every vmalloc area (every kernel stack on
#: VMAP_STACK kernels, tens of thousands of lines on a busy host) under the kernel's vmap lock, and
#: all the buckets take from it is the part of VmallocUsed that is stacks and per-CPU, which moves
#: slowly; a scrape every few seconds must not walk it every time
VMALLOCINFO_EVERY = 300.0


class MemoryReader:
    """The meminfo source: the system files of :func:`memsleuth.analysis.system.system_memory`,
    with /proc/vmallocinfo read at most every ``vmallocinfo_every`` seconds."""

    def __init__(self, host: Host, *, vmallocinfo_every: float = VMALLOCINFO_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._host = host
        self._every = vmallocinfo_every
        self._clock = clock
        self._vmalloc: tuple[float, bytes] | None = None

    def __call__(self) -> list[Sample]:
        now = self._clock()
        cached = self._vmalloc
        if cached is not None and now - cached[0] < self._every:
            snap = _system_snapshot(self._host, [f for f in SYSTEM_FILES if f != VMALLOCINFO])
            snap = replace(snap, files={**snap.files, VMALLOCINFO: cached[1]})
        else:
            snap = _system_snapshot(self._host, SYSTEM_FILES)
            data = snap.files.get(VMALLOCINFO)
            self._vmalloc = (now, data) if data is not None else None
        return memory_samples(snap)


def read_memory(host: Host) -> list[Sample]:
    """One read of the meminfo source, vmallocinfo included."""
    return memory_samples(_system_snapshot(host, SYSTEM_FILES))


def memory_samples(snap: Snapshot) -> list[Sample]:
    mem = system_memory(snap)
    views = usage_views(mem)
    out = [sample(metrics.MEMORY_TOTAL, mem.meminfo.mem_total_bytes)]
    for b in mem.accounting.buckets:
        if b.size_bytes is not None:
            out.append(sample(metrics.MEMORY_BUCKET, b.size_bytes, bucket=b.key,
                              reclaimable=_bool(b.reclaimable)))
    out.append(sample(metrics.MEMORY_BUCKET, mem.accounting.unaccounted_bytes, bucket="unaccounted",
                      reclaimable="false"))
    out.append(sample(metrics.MEMORY_USED, views.legacy_used_bytes, definition="legacy"))
    out.append(sample(metrics.MEMORY_USED, views.available_used_bytes, definition="available"))
    out.append(sample(metrics.MEMORY_AVAILABLE, views.available_bytes,
                      estimated=_bool(views.available_estimated)))
    return out


# -- dentry-state ---------------------------------------------------------------------------------
def inferred_negative(dentry: DentryState, inodes: InodeNr | None) -> int | None:
    """Negative dentries on a kernel without ``nr_negative`` (before 5.0): dentries beyond the
    in-memory inodes.  A positive dentry points at an inode, so what the dentry count has beyond
    the inode count is negative dentries (less the few extra names of hard links): the
    dentries-per-inode reading the ``nss-negative-dentries`` rule makes, as a count."""
    if inodes is None:
        return None
    return max(dentry.nr_dentry - inodes.nr_inodes, 0)


def read_dentry(host: Host) -> list[Sample]:
    snap = _system_snapshot(host, DENTRY_FILES)
    release = host.meta.kernel_release
    has_negative = kernel_has_nr_negative(release) if release else None
    dentry = snap.require(DENTRY_FILES[0], lambda t: parse_dentry_state(t, has_nr_negative=has_negative))
    out = [sample(metrics.DENTRIES, dentry.nr_dentry, state="total", inferred="false"),
           sample(metrics.DENTRIES, dentry.nr_unused, state="unused", inferred="false")]
    if dentry.nr_negative is not None:
        out.append(sample(metrics.DENTRIES, dentry.nr_negative, state="negative", inferred="false"))
    else:
        guess = inferred_negative(dentry, snap.parse(DENTRY_FILES[1], parse_inode_nr))
        if guess is not None:
            out.append(sample(metrics.DENTRIES, guess, state="negative", inferred="true"))
    return out


# -- slab caches (opt-in) ---------------------------------------------------------------------------
def cache_selected(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """``--slab-include`` globs (none: every cache), then ``--slab-exclude`` globs."""
    if include and not any(fnmatchcase(name, g) for g in include):
        return False
    return not any(fnmatchcase(name, g) for g in exclude)


def read_slab(host: Host, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Sample]:
    snap = _system_snapshot(host, ("proc/slabinfo",), slab_sysfs=True)
    rows = slab_rows(snap)
    if rows is None:
        raise SnapshotMissing("proc/slabinfo", snap.missing.get("proc/slabinfo", "not captured"))
    return [sample(metrics.SLAB_CACHE, r.size_bytes, cache=r.name, reclaimable=_bool(bool(r.reclaimable)))
            for r in rows if cache_selected(r.name, include, exclude)]


# -- the top processes by PSS (opt-in) --------------------------------------------------------------
def read_processes(host: Host, top: int) -> list[Sample]:
    snap = capture(host, processes=True, process_files=PROCESS_FILES, cgroups=False, slab_sysfs=False,
                   numa=False, system_files=())
    ranked: list[tuple[int, int, int, str]] = []
    for p in snap.processes:
        if p.kernel_thread:
            continue
        try:
            row = process_row(p, snap.meta.page_size_bytes)
        except (MemsleuthError, ValueError):
            continue  # a torn read of a dying task: skipped, as the capture skips a vanished one
        if row.pss_bytes is not None:
            ranked.append((row.pss_bytes, row.pid, row.starttime_ticks, row.comm))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [sample(metrics.PROCESS_PSS, pss, pid=str(pid), starttime=str(start), comm=comm)
            for pss, pid, start, comm in ranked[:top]]


__all__ = ["DENTRY_FILES", "PROCESS_FILES", "VMALLOCINFO_EVERY", "MemoryReader", "Sample", "cache_selected",
           "inferred_negative", "memory_samples", "read_dentry", "read_memory", "read_processes", "read_slab",
           "sample"]
