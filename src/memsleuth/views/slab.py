"""``memsleuth slab``: slabtop, with reclaimability, aliases, waste and growth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.slab import SlabRow, SlabTotals
from memsleuth.units import human_bytes
from memsleuth.views.common import MISSING, Column, row_of, table

SCHEMA = "memsleuth.slab/1"


def _rate(v: float | None) -> str:
    if v is None:
        return MISSING
    return ("+" if v > 0 else "") + human_bytes(v) + "/s"


def _yn(v: bool | None) -> str:
    return MISSING if v is None else ("yes" if v else "")


COLUMNS: tuple[Column, ...] = (
    Column("num_objs", "OBJS", lambda v: f"{v:,}", meaning="object slots allocated"),
    Column("active_objs", "ACTIVE", lambda v: f"{v:,}", meaning="objects in use"),
    Column("usage_percent", "USE", lambda v: f"{v:.0f}%", meaning="ACTIVE / OBJS"),
    Column("objsize_bytes", "OBJ SIZE", human_bytes, meaning="bytes per object"),
    Column("size_bytes", "SIZE", human_bytes,
           meaning="num_slabs x pages per slab x page size (as slabtop's CACHE SIZE)"),
    Column("waste_bytes", "WASTE", human_bytes,
           meaning="SIZE - ACTIVE x OBJ SIZE: internal fragmentation"),
    Column("reclaimable", "RECL", _yn, meaning="counted in SReclaimable (reclaim_account)"),
    Column("name", "NAME", str, justify="left", meaning="cache name"),
)
GROWTH = Column("growth_bytes_per_second", "GROWTH", _rate, meaning="change of SIZE per second")


def render_slab(rows: Sequence[SlabRow], tot: SlabTotals, *, growth: bool,
                show_aliases: bool) -> RenderableType:
    head = Text(
        f"caches {tot.active_caches}/{tot.caches} active, objects {tot.active_objs:,}/"
        f"{tot.num_objs:,} ({100.0 * tot.active_objs / max(tot.num_objs, 1):.1f}%), "
        f"size {human_bytes(tot.size_bytes)}, in use {human_bytes(tot.active_bytes)}, "
        f"waste {human_bytes(tot.waste_bytes)}"
        + (f", reclaimable {human_bytes(tot.reclaimable_bytes)}"
           if tot.reclaimable_bytes is not None else "")
    )
    cols = list(COLUMNS)
    if growth:
        cols.insert(-1, GROWTH)
    t = table(cols, [_display_row(r, cols, show_aliases) for r in rows], overflow="ellipsis", pipe="full")
    parts: list[RenderableType] = [head, Text(""), t]
    if any(r.reclaimable_inferred for r in rows):
        parts.append(Text("* reclaimable by the cache's name: this kernel has no readable "
                          "/sys/kernel/slab/*/reclaim_account", style="dim"))
    return Group(*parts)


def _display_row(r: SlabRow, cols: Sequence[Column], show_aliases: bool) -> dict[str, Any]:
    row = row_of(cols, r)
    if r.reclaimable_inferred and r.reclaimable:
        row["reclaimable"] = Text("yes*")
    if r.aliases:
        extra = ", ".join(r.aliases[:4]) + (" ..." if len(r.aliases) > 4 else "")
        row["name"] = (f"{r.name} (+{len(r.aliases)} merged: {extra})" if show_aliases
                       else f"{r.name} (+{len(r.aliases)} merged)")
    return row


def row_json(r: SlabRow) -> dict[str, Any]:
    d = {f: getattr(r, f) for f in SlabRow.__dataclass_fields__}
    d["aliases"] = list(r.aliases)
    d["merged"] = r.merged
    return d


def totals_json(t: SlabTotals) -> dict[str, Any]:
    return {f: getattr(t, f) for f in SlabTotals.__dataclass_fields__}


def render_slab_frame(rows: Sequence[SlabRow], tot: SlabTotals, *, growth: bool, show_aliases: bool,
                      sort: str, at: float, hints: bool) -> RenderableType:
    """One frame of ``slab --interval``: a header line (time, order), then the slab view."""
    import time

    head = f"memsleuth slab - {time.strftime('%H:%M:%S', time.localtime(at))}, sorted by {sort}"
    if growth:
        head += ", growth since the previous frame"
    if hints:
        head += "  (q quits; a b c l v n o p s u sort as slabtop)"
    return Group(Text(head, style="bold"), render_slab(rows, tot, growth=growth, show_aliases=show_aliases))
