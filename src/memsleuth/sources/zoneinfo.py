"""``/proc/zoneinfo``: per (node, zone) free pages, watermarks and counters.

Units: pages, everywhere (the page size is not in the file).  ``protection``
is the zone's ``lowmem_reserve`` array, one entry per zone type
(MAX_NR_ZONES): pages that an allocation which could have used a higher
zone must leave free here.

Formats (``zoneinfo_show_print`` in mm/vmstat.c):

* 2.6.32 (CentOS 6): ``pages free N``, then ``min``, ``low``, ``high``,
  ``scanned``, ``spanned``, ``present`` (no ``managed``), then the zone's
  ``nr_*``/``numa_*`` counters, then ``protection: (a, b, c, d)``, then
  ``pagesets`` (``cpu:``, ``count:``, ``high:``, ``batch:``), ``vm stats
  threshold``, ``all_unreclaimable``, ``prev_priority``, ``start_pfn``,
  ``inactive_ratio``.  Only populated zones are printed.
* ``managed`` appeared with ``zone->managed_pages`` in 3.8.
* 4.8 (node-based LRU): a ``per-node stats`` block under the first
  populated zone of each node holds the node counters (``nr_inactive_anon``,
  ``nr_slab_reclaimable`` ...); ``scanned`` became ``node_scanned`` and then
  went away; ``all_unreclaimable`` became ``node_unreclaimable``.
* Since about 4.12, unpopulated zones (``Movable``, ``Device``) are printed
  too, with watermarks and ``protection`` but no counters or pagesets.
* 5.x added ``boost`` (watermark boosting) and ``cma``, 6.x ``promo``
  (memory tiering) and ``nr_free_pages_blocks``; ``protection`` moved up
  among the watermarks; 6.18 prints ``vm stats threshold`` once per CPU.
  These are feature-detected, never inferred from a version.

Every ``key value`` line of a zone that is not a typed field lands in
:attr:`Zone.counters`, so a new kernel's counter is never lost.

MemAvailable without the kernel: ``si_mem_available()`` (3.14+) needs two
numbers this file gives:

* the sum of every zone's *low* watermark (``for_each_zone``, so the
  unpopulated zones modern kernels print count too: a Movable zone with no
  memory still has min = low = 32 pages);
* ``totalreserve_pages`` from ``calculate_totalreserve_pages()``
  (mm/page_alloc.c): for each zone, the largest ``lowmem_reserve`` entry
  plus the *high* watermark, capped at the zone's managed pages (present
  pages on kernels before ``managed``, which is what 2.6.32 did).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/zoneinfo"

#: zone header key -> field (all pages)
FIELDS: Mapping[str, str] = MappingProxyType({
    "pages free": "free_pages",
    "min": "min_pages",
    "low": "low_pages",
    "high": "high_pages",
    "boost": "boost_pages",
    "promo": "promo_pages",
    "scanned": "scanned_pages",
    "spanned": "spanned_pages",
    "present": "present_pages",
    "managed": "managed_pages",
    "cma": "cma_pages",
})

REQUIRED = ("pages free", "min", "low", "high")

_HEADER = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)")
_COLON_INT = re.compile(r"([a-z_ ]+):\s+(-?\d+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    node: int
    name: str
    free_pages: int
    min_pages: int
    low_pages: int
    high_pages: int
    #: watermark boost (5.0+)
    boost_pages: int | None = None
    #: memory-tiering promotion watermark (6.x)
    promo_pages: int | None = None
    #: pages scanned since the last reclaim success (2.6.32-4.7)
    scanned_pages: int | None = None
    spanned_pages: int | None = None
    present_pages: int | None = None
    #: ``None`` on kernels before ``managed`` existed (2.6.32)
    managed_pages: int | None = None
    cma_pages: int | None = None
    #: lowmem_reserve, one entry per zone type; ``()`` if not printed
    protection_pages: tuple[int, ...] = ()
    start_pfn: int | None = None
    #: ``all_unreclaimable`` (old) or ``node_unreclaimable`` (4.8+)
    unreclaimable: bool | None = None
    #: ``nr_*``, ``numa_*`` and any other zone ``key value`` line, raw pages/events
    counters: Mapping[str, int] = field(default_factory=dict)

    @property
    def populated(self) -> bool:
        return bool(self.present_pages)

    @property
    def reserve_pages(self) -> int:
        """This zone's share of ``totalreserve_pages``."""
        reserve = max(self.protection_pages, default=0) + self.high_pages
        cap = self.managed_pages if self.managed_pages is not None else self.present_pages
        return min(reserve, cap) if cap is not None else reserve


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneInfo:
    zones: tuple[Zone, ...]
    #: node -> the ``per-node stats`` counters (4.8+); empty before
    node_stats: Mapping[int, Mapping[str, int]] = field(default_factory=dict)

    def zone(self, node: int, name: str) -> Zone | None:
        for z in self.zones:
            if z.node == node and z.name == name:
                return z
        return None

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted({z.node for z in self.zones}))


class _ZoneBuilder:
    """Accumulates one zone's lines; sections are ``head``, ``node`` and ``pagesets``."""

    def __init__(self, node: int, name: str) -> None:
        self.node = node
        self.name = name
        self.values: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self.protection: tuple[int, ...] = ()
        self.start_pfn: int | None = None
        self.unreclaimable: bool | None = None
        self.section = "head"

    def build(self, source: str) -> Zone:
        missing = [k for k in REQUIRED if k not in self.values]
        if missing:
            raise ParseError(source, f"node {self.node} zone {self.name}: no {missing[0]!r} line")
        typed = {FIELDS[k]: v for k, v in self.values.items()}
        return Zone(node=self.node, name=self.name, protection_pages=self.protection,
                    start_pfn=self.start_pfn, unreclaimable=self.unreclaimable,
                    counters=MappingProxyType(self.counters), **typed)


def _int(value: str, line: str, source: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ParseError(source, f"non-numeric value in {line!r}") from None


def parse_zoneinfo(text: str, *, source: str = SOURCE) -> ZoneInfo:
    """Parse the text of /proc/zoneinfo (2.6.32 through 6.x) into a :class:`ZoneInfo`."""
    zones: list[Zone] = []
    node_stats: dict[int, dict[str, int]] = {}
    cur: _ZoneBuilder | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        header = _HEADER.fullmatch(stripped)
        if header is not None:
            if cur is not None:
                zones.append(cur.build(source))
            cur = _ZoneBuilder(int(header.group(1)), header.group(2))
            continue
        if cur is None:
            raise ParseError(source, f"data before the first zone header: {line!r}")
        if stripped == "per-node stats":
            cur.section = "node"
        elif stripped == "pagesets":
            cur.section = "pagesets"
        elif stripped.startswith("pages free"):
            cur.section = "head"
            cur.values["pages free"] = _int(stripped.split()[-1], line, source)
        elif stripped.startswith("protection:"):
            inner = stripped.partition(":")[2].strip()
            if not (inner.startswith("(") and inner.endswith(")")):
                raise ParseError(source, f"bad protection line {line!r}")
            cur.protection = tuple(_int(v, line, source)
                                   for v in inner[1:-1].replace(",", " ").split())
        elif ":" in stripped:
            m = _COLON_INT.fullmatch(stripped)
            if m is None:
                raise ParseError(source, f"bad line {line!r}")
            key, value = m.group(1), int(m.group(2))
            if key == "start_pfn":
                cur.start_pfn = value
            elif key in ("node_unreclaimable", "all_unreclaimable"):
                cur.unreclaimable = value != 0
            # cpu/count/high/batch/high_min/high_max/vm stats threshold are
            # per-CPU pageset state; prev_priority/inactive_ratio are tuning
        else:
            parts = stripped.split()
            if len(parts) != 2:
                raise ParseError(source, f"expected 'key value': {line!r}")
            key, value = parts[0], _int(parts[1], line, source)
            if cur.section == "node":
                node_stats.setdefault(cur.node, {})[key] = value
            elif cur.section == "head" and key in FIELDS:
                cur.values[key] = value
            elif cur.section != "pagesets":
                cur.counters[key] = value
    if cur is None:
        raise ParseError(source, "no zones")
    zones.append(cur.build(source))
    return ZoneInfo(zones=tuple(zones),
                    node_stats=MappingProxyType({n: MappingProxyType(v)
                                                 for n, v in node_stats.items()}))


def total_low_watermark_pages(info: ZoneInfo) -> int:
    """Sum of every printed zone's low watermark (``wmark_low`` in si_mem_available)."""
    return sum(z.low_pages for z in info.zones)


def totalreserve_pages(info: ZoneInfo) -> int:
    """The kernel's ``totalreserve_pages`` (``calculate_totalreserve_pages()``).

    Per zone: ``max(lowmem_reserve) + high watermark``, capped at the zone's
    managed pages, or at present pages where ``managed`` is not printed
    (2.6.32, whose kernel capped at present pages).  Summed over zones.
    """
    return sum(z.reserve_pages for z in info.zones)
