"""The buddy allocator: free blocks per order, external fragmentation, order-N checks.

The two indices are the kernel's, in integer thousandths, computed exactly as
mm/vmstat.c does for ``/sys/kernel/debug/extfrag/{extfrag_index,unusable_index}``:

``fill_contig_page_info(zone, order)``
    ``free_pages = sum(nr_free[k] << k)``, ``free_blocks_total = sum(nr_free[k])``,
    ``free_blocks_suitable = sum(nr_free[k] << (k - order) for k >= order)``
    (free blocks counted in units of the requested size).

``__fragmentation_index(order)``
    0 when there are no free blocks; -1000 when a suitable block exists (the
    allocation would succeed: the index only means something for a failing
    request); otherwise ``1000 - (1000 + free_pages * 1000 / 2^order) /
    free_blocks_total`` in unsigned integer arithmetic.  Towards 0 the
    failure is from a lack of memory (reclaim helps); towards 1000, from
    fragmentation (compaction helps; ``vm.extfrag_threshold``, 500 by
    default, is where the kernel prefers compacting).

``unusable_free_index(order)``
    ``(free_pages - (free_blocks_suitable << order)) * 1000 / free_pages``,
    1000 when nothing is free: the share of free memory in blocks too small
    for the request.

Both are printed as ``index / 1000`` ``.`` ``index % 1000`` with C's
truncating division (``%2d.%03d``): -1000 prints ``-1.000``.

"Would an order-N allocation succeed now" is an approximation of
``__zone_watermark_ok()`` (mm/page_alloc.c): the zone's free pages minus
``2^N - 1`` must stay above the watermark plus the ``lowmem_reserve`` the
allocation's highest zone asks of this zone, and a free block of order N or
more must exist on a list the request may use (Unmovable, Movable or
Reclaimable: not HighAtomic, CMA or Isolate).  We ignore the high-atomic
reserve and CMA accounting, and per-CPU lists, so it is a snapshot estimate,
not the allocator's verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.analysis.slab import SlabRow, SlabTotals, slab_rows, totals
from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.buddyinfo import BuddyInfo, BuddyZone, parse_buddyinfo
from memsleuth.sources.pagetypeinfo import PagetypeInfo, parse_pagetypeinfo
from memsleuth.sources.zoneinfo import Zone, ZoneInfo, parse_zoneinfo

#: the migrate types an ordinary allocation may take from (MIGRATE_PCPTYPES)
PCP_TYPES = ("Unmovable", "Movable", "Reclaimable")
#: orders every report checks: 3 (kernel stacks, slab pages), 9 (2 MiB THP)
DEFAULT_CHECK_ORDERS = (3, 9)
ORDER_USES: Mapping[int, str] = MappingProxyType({
    0: "one page", 1: "e.g. a task's page-table pair", 2: "e.g. 16 KiB kmalloc",
    3: "kernel stack, slab page", 4: "64 KiB", 9: "2 MiB THP", 10: "4 MiB",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class ContigInfo:
    """The kernel's ``struct contig_page_info`` for one zone and order."""

    free_pages: int
    free_blocks_total: int
    free_blocks_suitable: int


def contig_info(free_blocks: Sequence[int], order: int) -> ContigInfo:
    """``fill_contig_page_info()``: free blocks counted for a request of ``order``."""
    pages = total = suitable = 0
    for k, blocks in enumerate(free_blocks):
        total += blocks
        pages += blocks << k
        if k >= order:
            suitable += blocks << (k - order)
    return ContigInfo(free_pages=pages, free_blocks_total=total, free_blocks_suitable=suitable)


def fragmentation_index(order: int, info: ContigInfo) -> int:
    """``__fragmentation_index()`` in thousandths: -1000 means a block is free."""
    requested = 1 << order
    if not info.free_blocks_total:
        return 0
    if info.free_blocks_suitable:
        return -1000
    return 1000 - (1000 + info.free_pages * 1000 // requested) // info.free_blocks_total


def unusable_free_index(order: int, info: ContigInfo) -> int:
    """``unusable_free_index()`` in thousandths: free memory too fragmented for ``order``."""
    if info.free_pages == 0:
        return 1000
    return (info.free_pages - (info.free_blocks_suitable << order)) * 1000 // info.free_pages


def format_index(value: int, *, width: int = 2) -> str:
    """The kernel's ``"%2d.%03d"`` of ``value / 1000``, ``value % 1000`` (C truncation)."""
    whole = int(value / 1000)
    frac = value - whole * 1000
    return f"{whole:{width}d}.{frac:03d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRow:
    order: int
    block_bytes: int
    free_blocks: int
    #: free pages in blocks of this order or larger
    free_pages_at_or_above: int
    fragmentation_index_milli: int
    unusable_index_milli: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocCheck:
    """Would an order-``order`` allocation from this zone succeed now (approximately)?"""

    order: int
    node: int
    zone: str
    ok: bool | None
    #: zone free pages (zoneinfo ``pages free``) minus 2^order - 1
    free_after_pages: int | None
    #: the low watermark plus lowmem_reserve (what the fast path needs)
    needed_pages: int | None
    #: a free block of order >= ``order`` on an Unmovable/Movable/Reclaimable list
    has_block: bool
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ZoneFrag:
    node: int
    zone: str
    free_blocks: tuple[int, ...]
    free_pages: int
    largest_free_order: int | None
    largest_free_block_bytes: int | None
    orders: tuple[OrderRow, ...]
    #: migrate type -> free blocks per order (pagetypeinfo); None if unreadable
    by_type: Mapping[str, tuple[int, ...]] | None
    min_pages: int | None
    low_pages: int | None
    high_pages: int | None
    checks: tuple[AllocCheck, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuddyReport:
    page_size_bytes: int
    zones: tuple[ZoneFrag, ...]
    #: per node and order: would it succeed in any zone of the node
    node_checks: tuple[AllocCheck, ...]
    slab_waste: tuple[SlabRow, ...] | None
    slab_totals: SlabTotals | None
    pageblock_order: int | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def order_rows(free_blocks: Sequence[int], page_size: int) -> list[OrderRow]:
    rows = []
    for order, blocks in enumerate(free_blocks):
        info = contig_info(free_blocks, order)
        rows.append(OrderRow(
            order=order, block_bytes=page_size << order, free_blocks=blocks,
            free_pages_at_or_above=info.free_blocks_suitable << order,
            fragmentation_index_milli=fragmentation_index(order, info),
            unusable_index_milli=unusable_free_index(order, info),
        ))
    return rows


def _reserve_pages(zone: Zone, node_zones: Sequence[Zone]) -> int | None:
    """``lowmem_reserve[highest zone]`` for an allocation whose highest zone is the node's top
    populated zone; None when the printed zones do not line up with the array."""
    populated = [z for z in node_zones if z.populated]
    if not zone.protection_pages or not populated:
        return None
    if len(node_zones) != len(zone.protection_pages):
        return None  # old kernels print populated zones only: indices unknown
    top = node_zones.index(populated[-1])
    return zone.protection_pages[top]


def check_alloc(order: int, bz: BuddyZone, zone: Zone | None, node_zones: Sequence[Zone],
                by_type: Mapping[str, tuple[int, ...]] | None) -> AllocCheck:
    if by_type is not None:
        usable = [by_type[t] for t in PCP_TYPES if t in by_type]
        has_block = any(b for blocks in usable for b in blocks[order:])
    else:
        has_block = any(bz.free_blocks[order:])
    if zone is None:
        return AllocCheck(order=order, node=bz.node, zone=bz.zone, ok=None, free_after_pages=None,
                          needed_pages=None, has_block=has_block,
                          reason="no zoneinfo: watermarks unknown")
    reserve = _reserve_pages(zone, node_zones)
    free_after = zone.free_pages - ((1 << order) - 1)
    needed = zone.low_pages + (reserve or 0)
    if free_after <= needed:
        ok, reason = False, "free pages at or below the low watermark + reserve"
    elif not has_block:
        ok, reason = False, f"no free block of order >= {order} on a usable list"
    else:
        ok, reason = True, "above the low watermark with a free block"
    return AllocCheck(order=order, node=bz.node, zone=bz.zone, ok=ok, free_after_pages=free_after,
                      needed_pages=needed, has_block=has_block, reason=reason)


def _by_type(pti: PagetypeInfo | None, node: int, zone: str) -> Mapping[str, tuple[int, ...]] | None:
    if pti is None:
        return None
    out = {f.migrate_type: f.free_blocks for f in pti.free if (f.node, f.zone) == (node, zone)}
    return MappingProxyType(out) if out else None


def analyse(buddy: BuddyInfo, *, page_size: int, zoneinfo: ZoneInfo | None = None,
            pagetypeinfo: PagetypeInfo | None = None,
            check_orders: Sequence[int] = DEFAULT_CHECK_ORDERS) -> list[ZoneFrag]:
    out = []
    for bz in buddy.zones:
        zone = zoneinfo.zone(bz.node, bz.zone) if zoneinfo else None
        node_zones = [z for z in zoneinfo.zones if z.node == bz.node] if zoneinfo else []
        by_type = _by_type(pagetypeinfo, bz.node, bz.zone)
        largest = max((k for k, n in enumerate(bz.free_blocks) if n), default=None)
        checks = tuple(check_alloc(o, bz, zone, node_zones, by_type)
                       for o in check_orders if o < len(bz.free_blocks))
        out.append(ZoneFrag(
            node=bz.node, zone=bz.zone, free_blocks=bz.free_blocks, free_pages=bz.free_pages,
            largest_free_order=largest,
            largest_free_block_bytes=None if largest is None else page_size << largest,
            orders=tuple(order_rows(bz.free_blocks, page_size)), by_type=by_type,
            min_pages=zone.min_pages if zone else None, low_pages=zone.low_pages if zone else None,
            high_pages=zone.high_pages if zone else None, checks=checks,
        ))
    return out


def node_checks(zones: Sequence[ZoneFrag]) -> list[AllocCheck]:
    """Per node and order, the best zone's verdict (the allocator falls back across zones)."""
    best: dict[tuple[int, int], AllocCheck] = {}
    rank = {True: 2, None: 1, False: 0}
    for z in zones:
        for c in z.checks:
            key = (c.node, c.order)
            if key not in best or rank[c.ok] > rank[best[key].ok]:
                best[key] = c
    return [best[k] for k in sorted(best)]


def buddy_report(snap: Snapshot, *, check_orders: Sequence[int] = DEFAULT_CHECK_ORDERS,
                 slab_limit: int = 10) -> BuddyReport | None:
    """``None`` when /proc/buddyinfo was not captured."""
    buddy = snap.parse("proc/buddyinfo", parse_buddyinfo)
    if buddy is None:
        return None
    notes: list[str] = []
    zi = snap.parse("proc/zoneinfo", parse_zoneinfo)
    pti = snap.parse("proc/pagetypeinfo", parse_pagetypeinfo)
    if pti is None:
        reason = snap.missing.get("proc/pagetypeinfo", "not captured")
        notes.append(f"no free blocks per migrate type: /proc/pagetypeinfo {reason}; the order "
                     "checks count blocks of every type")
    if zi is None:
        notes.append("no /proc/zoneinfo: watermarks unknown, order checks skipped")
    page = snap.meta.page_size_bytes
    zones = analyse(buddy, page_size=page, zoneinfo=zi, pagetypeinfo=pti, check_orders=check_orders)
    rows = slab_rows(snap)
    waste = tot = None
    if rows is None:
        reason = snap.missing.get("proc/slabinfo", "not captured")
        notes.append(f"no slab internal fragmentation: /proc/slabinfo {reason}")
    else:
        tot = totals(rows)
        waste = tuple(sorted((r for r in rows if r.waste_bytes), key=lambda r: (-r.waste_bytes, r.name))
                      [:slab_limit])
    return BuddyReport(page_size_bytes=page, zones=tuple(zones), node_checks=tuple(node_checks(zones)),
                       slab_waste=waste, slab_totals=tot,
                       pageblock_order=pti.page_block_order if pti else None, notes=tuple(notes))
