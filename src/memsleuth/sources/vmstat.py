"""``/proc/vmstat``: one ``name value`` counter or gauge per line.

Units differ per key, and the names do not say so:

* ``nr_*`` are gauges in pages, except ``nr_kernel_stack`` which counts
  *stacks* on 2.6.32 (meminfo multiplies it by THREAD_SIZE) and KiB from
  4.7 on; we leave that one untyped.
* ``pgpgin``/``pgpgout`` are KiB despite their names: the block layer counts
  512-byte sectors and ``vmstat_start()`` in ``mm/vmstat.c`` halves them on
  the way out.  We convert them to bytes.
* ``pswpin``/``pswpout``, ``pgscan_*``, ``pgsteal_*`` and
  ``workingset_refault*`` count pages (``*_pages`` fields); ``pgfault``,
  ``pgmajfault``, ``allocstall*``, ``oom_kill`` and ``drop_*`` count events;
  ``slabs_scanned`` counts shrinker *objects* scanned, not slabs.

All event counters are cumulative since boot; rates are for the analysis
layer (store raw, derive on read).

Traps: the set of keys changes with every kernel and config, so every key
is kept raw in :attr:`VmStat.counters` and every typed field is ``None``
when the kernel did not print it.

* Reclaim counters were per zone until the node-based LRU of 4.8:
  2.6.32 prints ``pgscan_kswapd_<zone>``, ``pgscan_direct_<zone>`` and
  ``pgsteal_<zone>`` (no kswapd/direct split for steal); later 3.x/4.x
  kernels ``pgsteal_kswapd_<zone>``/``pgsteal_direct_<zone>``; 4.8+ plain
  ``pgscan_kswapd``, ``pgscan_direct`` (+ ``pgscan_khugepaged`` 5.x,
  ``pgscan_proactive`` 6.x).  5.8+ also prints ``pgscan_anon``/``pgscan_file``
  and ``pgsteal_anon``/``pgsteal_file``, a second split of the *same* pages,
  and ``pgscan_direct_throttle`` counts throttling events, not pages: a
  naive ``pgscan_*`` prefix sum double counts.  The ``*_pages`` sums below
  add only the reclaimer keys.
* ``allocstall`` is one counter up to 4.9 and ``allocstall_<zone>`` from 4.10.
* ``drop_pagecache``/``drop_slab`` appeared in 4.0, ``oom_kill`` in 4.13,
  ``workingset_refault`` in 3.15 (file pages only; split into ``_anon`` and
  ``_file`` in 5.9), ``nr_kernel_misc_reclaimable`` in 4.20.  2.6.32 has
  none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError
from memsleuth.sources._kv import parse_space_kv

SOURCE = "proc/vmstat"

KIB = 1024

#: kernel key -> record field, for keys copied as printed (pages or events).
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "nr_free_pages": "nr_free_pages",
        "nr_slab_reclaimable": "nr_slab_reclaimable_pages",
        "nr_slab_unreclaimable": "nr_slab_unreclaimable_pages",
        "nr_kernel_misc_reclaimable": "nr_kernel_misc_reclaimable_pages",
        "nr_file_pages": "nr_file_pages",
        "nr_anon_pages": "nr_anon_pages",
        "nr_shmem": "nr_shmem_pages",
        "nr_dirty": "nr_dirty_pages",
        "nr_writeback": "nr_writeback_pages",
        "pgfault": "pgfault",
        "pgmajfault": "pgmajfault",
        "pswpin": "pswpin_pages",
        "pswpout": "pswpout_pages",
        "slabs_scanned": "slabs_scanned",
        "drop_pagecache": "drop_pagecache",
        "drop_slab": "drop_slab",
        "oom_kill": "oom_kill",
        "compact_stall": "compact_stall",
    }
)

#: kernel key -> record field, for keys printed in KiB.
KIB_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "pgpgin": "pgpgin_bytes",
        "pgpgout": "pgpgout_bytes",
    }
)

#: zone suffixes of the per-zone counters (``TEXTS_FOR_ZONES`` in mm/vmstat.c)
ZONE_SUFFIXES: tuple[str, ...] = ("dma", "dma32", "normal", "high", "movable", "device")

#: the reclaimers whose ``pgscan_<who>``/``pgsteal_<who>`` keys partition the pages (4.8+)
RECLAIMERS: tuple[str, ...] = ("kswapd", "direct", "khugepaged", "proactive")


@dataclass(frozen=True, slots=True, kw_only=True)
class VmStat:
    """One reading of /proc/vmstat.  Every typed field is ``None`` when absent."""

    nr_free_pages: int | None = None
    nr_slab_reclaimable_pages: int | None = None
    nr_slab_unreclaimable_pages: int | None = None
    nr_kernel_misc_reclaimable_pages: int | None = None
    nr_file_pages: int | None = None
    nr_anon_pages: int | None = None
    nr_shmem_pages: int | None = None
    nr_dirty_pages: int | None = None
    nr_writeback_pages: int | None = None
    pgfault: int | None = None
    pgmajfault: int | None = None
    pgpgin_bytes: int | None = None
    pgpgout_bytes: int | None = None
    pswpin_pages: int | None = None
    pswpout_pages: int | None = None
    slabs_scanned: int | None = None
    drop_pagecache: int | None = None
    drop_slab: int | None = None
    oom_kill: int | None = None
    compact_stall: int | None = None
    #: ``workingset_refault_file`` (5.9+), or ``workingset_refault`` (3.15-5.8,
    #: which counted file pages only)
    workingset_refault_file_pages: int | None = None
    #: pages scanned by kswapd, summed over zones on kernels before 4.8
    pgscan_kswapd_pages: int | None = None
    #: pages scanned by direct reclaim, summed over zones before 4.8
    pgscan_direct_pages: int | None = None
    #: every reclaimer's scanned pages (kswapd + direct + khugepaged + proactive)
    pgscan_pages: int | None = None
    #: pages reclaimed by kswapd; ``None`` on 2.6.32, which does not split steal
    pgsteal_kswapd_pages: int | None = None
    #: pages reclaimed by direct reclaim; ``None`` on 2.6.32
    pgsteal_direct_pages: int | None = None
    #: every reclaimer's reclaimed pages (2.6.32: the ``pgsteal_<zone>`` sum)
    pgsteal_pages: int | None = None
    #: direct-reclaim stalls: ``allocstall`` (<= 4.9) or the ``allocstall_<zone>`` sum
    allocstall: int | None = None
    #: every key as printed, raw (pgpgin in KiB, nr_* in pages ...)
    counters: Mapping[str, int] = field(default_factory=dict)

    def get(self, key: str) -> int | None:
        """The raw value of ``key``, or ``None`` if this kernel does not print it."""
        return self.counters.get(key)


def _sum(counters: Mapping[str, int], keys: Iterable[str]) -> int | None:
    values = [counters[k] for k in keys if k in counters]
    return sum(values) if values else None


def _per_zone(counters: Mapping[str, int], prefix: str) -> int | None:
    return _sum(counters, (f"{prefix}_{z}" for z in ZONE_SUFFIXES))


def _reclaim(counters: Mapping[str, int], what: str, who: str) -> int | None:
    """``<what>_<who>`` (4.8+), else the per-zone ``<what>_<who>_<zone>`` sum."""
    key = f"{what}_{who}"
    if key in counters:
        return counters[key]
    return _per_zone(counters, key)


def _add(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def parse_vmstat(text: str, *, source: str = SOURCE) -> VmStat:
    """Parse the text of /proc/vmstat into a :class:`VmStat`."""
    counters = parse_space_kv(text, source)
    if not counters:
        raise ParseError(source, "no counters")
    kwargs: dict[str, int | None] = {FIELDS[k]: v for k, v in counters.items() if k in FIELDS}
    kwargs.update({KIB_FIELDS[k]: v * KIB for k, v in counters.items() if k in KIB_FIELDS})
    kwargs["workingset_refault_file_pages"] = counters.get(
        "workingset_refault_file", counters.get("workingset_refault"))

    scan = {who: _reclaim(counters, "pgscan", who) for who in RECLAIMERS}
    steal = {who: _reclaim(counters, "pgsteal", who) for who in RECLAIMERS}
    kwargs["pgscan_kswapd_pages"] = scan["kswapd"]
    kwargs["pgscan_direct_pages"] = scan["direct"]
    kwargs["pgscan_pages"] = _add(*scan.values())
    kwargs["pgsteal_kswapd_pages"] = steal["kswapd"]
    kwargs["pgsteal_direct_pages"] = steal["direct"]
    # 2.6.32-3.x: pgsteal_<zone>, one counter for every reclaimer
    kwargs["pgsteal_pages"] = _add(*steal.values(), _per_zone(counters, "pgsteal"))
    kwargs["allocstall"] = (counters["allocstall"] if "allocstall" in counters
                            else _per_zone(counters, "allocstall"))
    return VmStat(counters=MappingProxyType(counters), **kwargs)
