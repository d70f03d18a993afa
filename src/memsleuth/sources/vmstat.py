"""``/proc/vmstat``: one ``name value`` counter or gauge per line.

Units: ``nr_*`` are pages (gauges); ``pgpgin``/``pgpgout`` are KiB despite
their names; ``pswpin``/``pswpout``, ``pgfault``, ``pgmajfault``, ``pgscan_*``,
``pgsteal_*``, ``allocstall_*``, ``slabs_scanned``, ``drop_*``, ``oom_kill``
are event counters since boot.

Traps: the set of keys changes with every kernel and config; 2.6.32 has
``allocstall`` (one counter) where 4.x has ``allocstall_<zone>``, no
``drop_pagecache``/``drop_slab`` (4.0+), no ``oom_kill`` (4.13+), no
``workingset_*`` (3.15+).  Everything absent is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.sources._kv import parse_space_kv

SOURCE = "proc/vmstat"


@dataclass(frozen=True, slots=True, kw_only=True)
class VmStat:
    #: every key as printed, raw
    counters: Mapping[str, int] = field(default_factory=dict)

    def get(self, key: str) -> int | None:
        return self.counters.get(key)

    def sum_prefix(self, prefix: str) -> int | None:
        """Sum of every counter starting with ``prefix`` (e.g. ``pgscan_``)."""
        values = [v for k, v in self.counters.items() if k.startswith(prefix)]
        return sum(values) if values else None

    @property
    def nr_free_pages(self) -> int | None:
        return self.counters.get("nr_free_pages")

    @property
    def pgfault(self) -> int | None:
        return self.counters.get("pgfault")

    @property
    def pgmajfault(self) -> int | None:
        return self.counters.get("pgmajfault")

    @property
    def slabs_scanned(self) -> int | None:
        return self.counters.get("slabs_scanned")

    @property
    def drop_pagecache(self) -> int | None:
        return self.counters.get("drop_pagecache")

    @property
    def drop_slab(self) -> int | None:
        return self.counters.get("drop_slab")

    @property
    def oom_kill(self) -> int | None:
        return self.counters.get("oom_kill")

    @property
    def pgscan(self) -> int | None:
        """All page-scan events (kswapd, direct, khugepaged; anon and file split
        on newer kernels are *additional* keys, so only the reclaimer keys count)."""
        keys = ("pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged", "pgscan_proactive")
        values = [self.counters[k] for k in keys if k in self.counters]
        if values:
            return sum(values)
        return self.sum_prefix("pgscan_kswapd_") or self.sum_prefix("pgscan_direct_")

    @property
    def allocstall(self) -> int | None:
        if "allocstall" in self.counters:
            return self.counters["allocstall"]
        return self.sum_prefix("allocstall_")


def parse_vmstat(text: str) -> VmStat:
    return VmStat(counters=MappingProxyType(parse_space_kv(text, SOURCE)))
