"""``memsleuth buddy``: free blocks per order, fragmentation indices, order-N checks, slab waste."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.buddy import (
    ORDER_USES,
    PCP_TYPES,
    AllocCheck,
    BuddyReport,
    OrderRow,
    ZoneFrag,
    format_index,
)
from memsleuth.analysis.slab import SlabRow
from memsleuth.units import human_bytes
from memsleuth.views.common import (
    MISSING,
    Column,
    ColumnTable,
    fmt_bytes,
    fmt_int,
    row_of,
    rows_json,
    table,
)

SCHEMA = "memsleuth.buddy/1"
_TYPE_TITLES = {"Unmovable": "UNMOV", "Movable": "MOV", "Reclaimable": "RECL"}


def _zone_title(z: ZoneFrag, page: int) -> list[RenderableType]:
    largest = (f"largest free block {human_bytes(z.largest_free_block_bytes)} "
               f"(order {z.largest_free_order})" if z.largest_free_order is not None
               else "no free block")
    out: list[RenderableType] = [Text(f"Node {z.node}, zone {z.zone}: "
                                      f"{human_bytes(z.free_pages * page)} free, {largest}", style="bold")]
    if z.min_pages is not None:
        out.append(Text(f"watermarks min {human_bytes(z.min_pages * page)}, low "
                        f"{human_bytes((z.low_pages or 0) * page)}, high "
                        f"{human_bytes((z.high_pages or 0) * page)}", style="dim"))
    return out


def order_columns(page: int, types: Sequence[str] = ()) -> tuple[Column, ...]:
    """One row per order; the JSON ``orders`` objects are the JSON columns, the migrate
    types (from pagetypeinfo) are table only."""
    return (
        Column("order", "ORDER"),
        Column("block_bytes", "BLOCK", human_bytes),
        Column("free_blocks", "FREE BLKS", fmt_int),
        Column("free_pages_at_or_above", "FREE ≥", lambda v: fmt_bytes(v * page),
               meaning="free memory in blocks of this order or larger"),
        Column("fragmentation_index_milli", "EXTFRAG", format_index),
        Column("fragmentation_index", "EXTFRAG", show=False),
        Column("unusable_index_milli", "UNUSABLE", lambda v: format_index(v, width=1)),
        Column("unusable_index", "UNUSABLE", show=False),
        *(Column(t, _TYPE_TITLES[t], fmt_int, json=False) for t in types),
    )


def _order_row(r: OrderRow, by_type: Mapping[str, tuple[int, ...]] | None,
               types: Sequence[str]) -> dict[str, Any]:
    return {"order": r.order, "block_bytes": r.block_bytes, "free_blocks": r.free_blocks,
            "free_pages_at_or_above": r.free_pages_at_or_above,
            "fragmentation_index_milli": r.fragmentation_index_milli,
            "fragmentation_index": format_index(r.fragmentation_index_milli).strip(),
            "unusable_index_milli": r.unusable_index_milli,
            "unusable_index": format_index(r.unusable_index_milli, width=1),
            **{t: by_type[t][r.order] for t in types if by_type is not None}}


def render_zone(z: ZoneFrag, page: int, highlight: int | None) -> ColumnTable:
    types = [t for t in PCP_TYPES if z.by_type is not None and t in z.by_type]
    return table(order_columns(page, types), [_order_row(r, z.by_type, types) for r in z.orders],
                 row_styles=["reverse" if r.order == highlight else None for r in z.orders],
                 overflow="ellipsis", pipe="full")


def _verdict(ok: bool | None) -> str:
    if ok is None:
        return "unknown"
    return "yes" if ok else "NO"


CHECK_COLUMNS: tuple[Column, ...] = (
    Column("node", "NODE"),
    Column("zone", "ZONE", justify="left"),
    Column("order", "ORDER"),
    Column("size_bytes", "SIZE", human_bytes),
    Column("free_after_bytes", "FREE-(2^N-1)", fmt_bytes, meaning="free memory after the allocation"),
    Column("needed_bytes", "LOW+RESERVE", fmt_bytes, meaning="what the zone must keep free"),
    Column("has_block", "BLOCK", lambda v: "yes" if v else "no", meaning="a free block of the order"),
    Column("verdict", "SUCCEEDS", meaning="yes, NO or unknown (no zoneinfo)"),
)


def render_checks(checks: tuple[AllocCheck, ...], page: int) -> ColumnTable:
    return table(CHECK_COLUMNS, [
        {"node": c.node, "zone": c.zone, "order": c.order, "size_bytes": page << c.order,
         "free_after_bytes": None if c.free_after_pages is None else c.free_after_pages * page,
         "needed_bytes": None if c.needed_pages is None else c.needed_pages * page,
         "has_block": c.has_block, "verdict": _verdict(c.ok)} for c in checks],
        overflow="ellipsis", pipe="full")


#: slab internal fragmentation; the JSON ``slab_waste.caches`` objects are the JSON columns
WASTE_COLUMNS: tuple[Column, ...] = (
    Column("name", "CACHE", justify="left", cut=26, ellipsis=False),
    Column("size_bytes", "SIZE", human_bytes),
    Column("active_bytes", "IN USE", human_bytes),
    Column("waste_bytes", "WASTE", human_bytes),
    Column("waste_percent", "WASTE%", lambda v: f"{v:.0f}%", json=False),
    Column("objsize_bytes", "OBJ SIZE", human_bytes),
)


def _waste_row(r: SlabRow) -> dict[str, Any]:
    return {**row_of(WASTE_COLUMNS, r), "waste_percent": 100.0 * r.waste_bytes / max(r.size_bytes, 1)}


def render_buddy(report: BuddyReport, *, explain: bool, order: int | None) -> RenderableType:
    page = report.page_size_bytes
    parts: list[RenderableType] = []
    for z in report.zones:
        parts += [*_zone_title(z, page), render_zone(z, page, order), Text("")]
    parts.append(Text("Would an allocation succeed now? (an approximation: see --explain)",
                      style="bold"))
    parts.append(render_checks(tuple(c for z in report.zones for c in z.checks), page))
    for c in report.node_checks:
        use = ORDER_USES.get(c.order, human_bytes(page << c.order))
        parts.append(Text(f"node {c.node}: order {c.order} ({use}): "
                          + {True: f"succeeds (zone {c.zone})", False: "would need reclaim or compaction",
                             None: "unknown"}[c.ok]))
    if report.slab_waste is not None and report.slab_totals is not None:
        tot = report.slab_totals
        parts += [Text(""), Text(
            f"Slab internal fragmentation: {human_bytes(tot.waste_bytes)} wasted of "
            f"{human_bytes(tot.size_bytes)} in slabs "
            f"({100.0 * tot.waste_bytes / max(tot.size_bytes, 1):.1f}%)", style="bold")]
        parts.append(table(WASTE_COLUMNS, [_waste_row(r) for r in report.slab_waste],
                           overflow="ellipsis", pipe="full"))
    for note in report.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if explain:
        parts += [Text(""), Text(explain_text(report, order))]
    return Group(*parts)


def explain_text(report: BuddyReport, order: int | None) -> str:
    page = report.page_size_bytes
    zones = [z for z in report.zones if z.free_pages]
    big = max(zones, key=lambda z: z.free_pages, default=None)
    bullets = [
        "The buddy allocator keeps free memory in blocks of 2^order pages (order 0 = "
        f"{human_bytes(page)}, order 9 = {human_bytes(page << 9)}, order 10 = {human_bytes(page << 10)}).  "
        "A freed block merges with its free neighbour (its buddy) into the next order; an "
        "allocation splits the smallest large-enough block.",
        "External fragmentation is free memory that exists but only in blocks too small for a "
        "request: there may be plenty free and still no contiguous 2 MiB.",
    ]
    if big is not None:
        o = order if order is not None and order < len(big.orders) else 9 if len(big.orders) > 9 else 0
        row = big.orders[o]
        bullets.append(
            f"In node {big.node} zone {big.zone}, {human_bytes(big.free_pages * page)} is free; "
            f"{human_bytes(row.free_pages_at_or_above * page)} of it sits in blocks of order {o} or "
            f"more, so UNUSABLE for order {o} is {format_index(row.unusable_index_milli, width=1)}: "
            f"the share of free memory an order-{o} request cannot use.")
        frag = row.fragmentation_index_milli
        if frag == -1000:
            bullets.append(
                f"EXTFRAG for order {o} is -1.000: a free block of that size exists, so the request "
                "would not fail for lack of contiguity (the index only scores failing requests).")
        else:
            bullets.append(
                f"EXTFRAG for order {o} is {format_index(frag).strip()}: no block is free.  Near 0 "
                "the failure is from a lack of memory (reclaim helps); near 1 it is from "
                "fragmentation (compaction helps; the kernel compacts above vm.extfrag_threshold, "
                "500 = 0.500 by default).")
    bullets += [
        "EXTFRAG = 1 - (1 + free_pages / 2^order) / free_blocks, computed per order as the kernel "
        "does for /sys/kernel/debug/extfrag/extfrag_index; UNUSABLE = (free pages - pages in "
        "blocks of the order or more) / free pages.",
        "SUCCEEDS: the zone keeps its low watermark after the allocation and has a free block of "
        "the order on an Unmovable, Movable or Reclaimable list.  Order 3 is a kernel stack or a "
        "slab page; order 9 is a transparent huge page (THP), which falls back to 4 KiB pages if "
        "it fails.",
        "Slab internal fragmentation is the other kind: memory inside slab pages not used by live "
        "objects (free slots, padding).  It is per cache, from /proc/slabinfo.",
    ]
    return "What this means:\n" + "\n".join(
        textwrap.fill(b, width=78, initial_indent="* ", subsequent_indent="  ") for b in bullets)


def check_json(c: AllocCheck, page: int) -> dict[str, Any]:
    return {"node": c.node, "zone": c.zone, "order": c.order, "size_bytes": page << c.order,
            "ok": c.ok, "free_after_pages": c.free_after_pages, "needed_pages": c.needed_pages,
            "has_block": c.has_block, "reason": c.reason}


def zone_json(z: ZoneFrag, page: int) -> dict[str, Any]:
    return {
        "node": z.node, "zone": z.zone, "free_blocks": list(z.free_blocks), "free_pages": z.free_pages,
        "free_bytes": z.free_pages * page, "largest_free_order": z.largest_free_order,
        "largest_free_block_bytes": z.largest_free_block_bytes,
        "min_pages": z.min_pages, "low_pages": z.low_pages, "high_pages": z.high_pages,
        "free_blocks_by_type": None if z.by_type is None else {k: list(v) for k, v in z.by_type.items()},
        "orders": rows_json(order_columns(page), [_order_row(r, None, ()) for r in z.orders]),
        "checks": [check_json(c, page) for c in z.checks],
    }


def report_json(report: BuddyReport) -> dict[str, Any]:
    page = report.page_size_bytes
    tot = report.slab_totals
    return {
        "page_size_bytes": page,
        "pageblock_order": report.pageblock_order,
        "zones": [zone_json(z, page) for z in report.zones],
        "node_checks": [check_json(c, page) for c in report.node_checks],
        "slab_waste": None if report.slab_waste is None or tot is None else {
            "total_waste_bytes": tot.waste_bytes, "total_size_bytes": tot.size_bytes,
            "caches": rows_json(WASTE_COLUMNS, [_waste_row(r) for r in report.slab_waste])},
        "notes": list(report.notes),
    }


__all__ = ["MISSING", "SCHEMA", "render_buddy", "report_json"]
