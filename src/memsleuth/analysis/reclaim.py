"""What ``drop_caches`` could free, and what it did free.

``/proc/sys/vm/drop_caches`` takes 1 (clean page cache), 2 (reclaimable slab
objects: dentries and inodes, through the shrinkers) or 3 (both); each write
bumps ``drop_pagecache`` / ``drop_slab`` in /proc/vmstat.  It frees only what
is unused: dirty and under-writeback pages, mapped pages in use, and
dentries and inodes still referenced stay.  So the estimates here are upper
bounds:

* slab: ``SReclaimable`` (the caches with ``reclaim_account``, listed by
  name from /proc/slabinfo and /sys/kernel/slab);
* page cache: ``Active(file) + Inactive(file) - Dirty - Writeback``.  Shmem
  and tmpfs pages sit on the anon LRU lists (they are swap-backed), so they
  are already outside the file lists, though ``Cached`` includes them:
  drop_caches never frees them.

After a drop, MemFree can lag by seconds on a VM with free page reporting
(the balloon driver reports freed pages in batches), so the buckets are
measured directly (Slab, SReclaimable, Cached, dentry objects) and MemFree
is read again after a settle time.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.analysis.slab import SlabRow, slab_rows
from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.dentry_state import parse_dentry_state
from memsleuth.sources.meminfo import parse_meminfo
from memsleuth.sources.vmstat import parse_vmstat

#: mode -> value written to drop_caches
MODES: dict[str, int] = {"pagecache": 1, "slab": 2, "both": 3}

FILES = ("proc/meminfo", "proc/vmstat", "proc/slabinfo", "proc/sys/fs/dentry-state",
         "proc/version", "proc/sys/kernel/hostname")

WARNING = (
    "drop_caches is a stop-gap, not a fix: the cause keeps refilling the cache.  It walks "
    "every cache under locks; dropping tens of GB of dentries stalls the host for seconds "
    "and dropped page cache is read back from disk.  On a busy host run it off-peak, one "
    "host at a time.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Buckets:
    """One reading of what drop_caches acts on."""

    mem_free_bytes: int | None
    mem_available_bytes: int | None
    cached_bytes: int | None
    buffers_bytes: int | None
    shmem_bytes: int | None
    slab_bytes: int | None
    s_reclaimable_bytes: int | None
    s_unreclaim_bytes: int | None
    clean_page_cache_bytes: int | None
    dentry_cache_bytes: int | None
    dentry_objects: int | None
    nr_negative: int | None
    drop_slab: int | None
    drop_pagecache: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReclaimPlan:
    mode: str
    drop_caches_value: int
    buckets: Buckets
    #: reclaimable slab caches, largest first
    caches: tuple[SlabRow, ...]
    #: upper bound of what the drop frees
    estimate_bytes: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketChange:
    name: str
    before: int | None
    after: int | None

    @property
    def change(self) -> int | None:
        """``after - before``: negative for what the drop freed."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


def clean_page_cache(active_file: int | None, inactive_file: int | None, dirty: int | None,
                     writeback: int | None) -> int | None:
    if active_file is None or inactive_file is None:
        return None
    return max(active_file + inactive_file - (dirty or 0) - (writeback or 0), 0)


def buckets(snap: Snapshot) -> Buckets:
    mi = snap.parse("proc/meminfo", parse_meminfo)
    vm = snap.parse("proc/vmstat", parse_vmstat)
    ds = snap.parse("proc/sys/fs/dentry-state", parse_dentry_state)
    rows = slab_rows(snap)
    dentry = next((r for r in rows or () if r.name == "dentry"), None)
    return Buckets(
        mem_free_bytes=mi.mem_free_bytes if mi else None,
        mem_available_bytes=mi.mem_available_bytes if mi else None,
        cached_bytes=mi.cached_bytes if mi else None,
        buffers_bytes=mi.buffers_bytes if mi else None,
        shmem_bytes=mi.shmem_bytes if mi else None,
        slab_bytes=mi.slab_bytes if mi else None,
        s_reclaimable_bytes=mi.s_reclaimable_bytes if mi else None,
        s_unreclaim_bytes=mi.s_unreclaim_bytes if mi else None,
        clean_page_cache_bytes=clean_page_cache(
            mi.active_file_bytes, mi.inactive_file_bytes, mi.dirty_bytes, mi.writeback_bytes)
        if mi else None,
        dentry_cache_bytes=dentry.size_bytes if dentry else None,
        dentry_objects=ds.nr_dentry if ds else None,
        nr_negative=ds.nr_negative if ds else None,
        drop_slab=vm.drop_slab if vm else None,
        drop_pagecache=vm.drop_pagecache if vm else None,
    )


def plan(snap: Snapshot, mode: str) -> ReclaimPlan:
    value = MODES[mode]
    b = buckets(snap)
    rows = slab_rows(snap) or []
    caches = tuple(sorted((r for r in rows if r.reclaimable and r.size_bytes),
                          key=lambda r: -r.size_bytes))
    parts: list[int | None] = []
    if value & 2:
        parts.append(b.s_reclaimable_bytes)
    if value & 1:
        parts.append(b.clean_page_cache_bytes)
    estimate = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
    return ReclaimPlan(mode=mode, drop_caches_value=value, buckets=b, caches=caches,
                       estimate_bytes=estimate)


#: buckets compared before/after, in display order
CHANGED = ("s_reclaimable_bytes", "slab_bytes", "dentry_cache_bytes", "dentry_objects",
           "nr_negative", "cached_bytes", "clean_page_cache_bytes", "buffers_bytes",
           "mem_free_bytes", "mem_available_bytes", "drop_slab", "drop_pagecache")


def changes(before: Buckets, after: Buckets) -> list[BucketChange]:
    return [BucketChange(name=n, before=getattr(before, n), after=getattr(after, n)) for n in CHANGED]


__all__ = ["CHANGED", "FILES", "MODES", "WARNING", "BucketChange", "Buckets", "ReclaimPlan",
           "buckets", "changes", "clean_page_cache", "plan"]
