"""``memsleuth reclaim``: the dry-run estimate, the warning, and the measured result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.reclaim import WARNING, BucketChange, Buckets, ReclaimPlan
from memsleuth.views.common import Column, fmt_bytes, fmt_int, table

SCHEMA = "memsleuth.reclaim/1"

#: bucket -> (label, is a byte amount)
LABELS: Mapping[str, tuple[str, bool]] = {
    "s_reclaimable_bytes": ("SReclaimable", True),
    "slab_bytes": ("Slab", True),
    "dentry_cache_bytes": ("dentry cache", True),
    "dentry_objects": ("dentries (nr_dentry)", False),
    "nr_negative": ("negative dentries", False),
    "cached_bytes": ("Cached", True),
    "clean_page_cache_bytes": ("clean page cache", True),
    "buffers_bytes": ("Buffers", True),
    "mem_free_bytes": ("MemFree", True),
    "mem_available_bytes": ("MemAvailable", True),
    "drop_slab": ("vmstat drop_slab", False),
    "drop_pagecache": ("vmstat drop_pagecache", False),
}


def plan_json(p: ReclaimPlan, *, limit: int) -> dict[str, Any]:
    b = p.buckets
    return {
        "mode": p.mode,
        "drop_caches_value": p.drop_caches_value,
        "reclaimable": {
            "s_reclaimable_bytes": b.s_reclaimable_bytes,
            "clean_page_cache_bytes": b.clean_page_cache_bytes,
            "shmem_bytes": b.shmem_bytes,
            "estimate_bytes": p.estimate_bytes,
            "caches": [{"name": r.name, "size_bytes": r.size_bytes, "active_objs": r.active_objs,
                        "objsize_bytes": r.objsize_bytes, "aliases": list(r.aliases)}
                       for r in p.caches[:limit]],
        },
        "warning": WARNING,
    }


def result_json(rows: Sequence[BucketChange], *, sync_seconds: float | None, write_seconds: float,
                settle_seconds: float, settled: Buckets) -> dict[str, Any]:
    return {
        "sync_seconds": sync_seconds,
        "write_seconds": write_seconds,
        "settle_seconds": settle_seconds,
        "buckets": [{"name": r.name, "before": r.before, "after": r.after, "change": r.change}
                    for r in rows],
        "mem_free_after_settle_bytes": settled.mem_free_bytes,
        "mem_available_after_settle_bytes": settled.mem_available_bytes,
    }


CACHE_COLUMNS: tuple[Column, ...] = (
    Column("size_bytes", "SIZE", fmt_bytes),
    Column("active_objs", "OBJECTS", fmt_int),
    Column("name", "RECLAIMABLE CACHE", str, justify="left", no_wrap=True, max_width=40),
)


#: before and after --yes; the cells are formatted per bucket (bytes or a count)
RESULT_COLUMNS: tuple[Column, ...] = (
    Column("label", "BUCKET", str, justify="left"),
    Column("before", "BEFORE", str),
    Column("after", "AFTER", str),
    Column("change", "CHANGE", str),
)


def _fmt(name: str, value: int | None, *, sign: bool = False) -> str:
    text = fmt_bytes(value) if LABELS[name][1] else fmt_int(value)
    return "+" + text if sign and value is not None and value > 0 else text


def render_reclaim(doc: Mapping[str, Any]) -> RenderableType:
    rec = doc["reclaimable"]
    value = doc["drop_caches_value"]
    parts: list[RenderableType] = []
    what = {1: "clean page cache", 2: "reclaimable slab", 3: "reclaimable slab and clean page cache"}
    verb = "would free at most" if doc["dry_run"] else "could free at most"
    parts.append(Text(f"drop_caches={value} ({what[value]}) {verb} "
                      f"{fmt_bytes(rec['estimate_bytes'])}", style="bold"))
    if value & 2:
        parts.append(Text(f"  reclaimable slab (SReclaimable): {fmt_bytes(rec['s_reclaimable_bytes'])}"))
    if value & 1:
        parts.append(Text(f"  clean page cache: {fmt_bytes(rec['clean_page_cache_bytes'])} "
                          f"(Shmem/tmpfs {fmt_bytes(rec['shmem_bytes'])} stays)"))
    if value & 2 and rec["caches"]:
        parts.append(Text(""))
        parts.append(table(CACHE_COLUMNS, [
            {**c, "name": c["name"] + (f" (+{len(c['aliases'])} merged)" if c["aliases"] else "")}
            for c in rec["caches"]], pipe="full"))
    parts.append(Text(""))
    parts.append(Text("warning: " + doc["warning"], style="yellow"))
    result = doc.get("result")
    if result is None:
        parts.append(Text(f"dry run: nothing was dropped.  Add --yes to write {value} to "
                          "/proc/sys/vm/drop_caches.", style="bold"))
        return Group(*parts)
    parts.append(Text(""))
    head = f"wrote {value} to /proc/sys/vm/drop_caches in {result['write_seconds']:.2f}s"
    if result["sync_seconds"] is not None:
        head += f" (after sync, {result['sync_seconds']:.2f}s)"
    parts.append(Text(head, style="bold"))
    rows = [{"label": LABELS[b["name"]][0], "before": _fmt(b["name"], b["before"]),
             "after": _fmt(b["name"], b["after"]), "change": _fmt(b["name"], b["change"], sign=True)}
            for b in result["buckets"]]
    parts.append(table(RESULT_COLUMNS, rows, pipe="full"))
    parts.append(Text(f"MemFree after {result['settle_seconds']:g}s settle: "
                      f"{fmt_bytes(result['mem_free_after_settle_bytes'])} "
                      "(it lags the drop on VMs with free page reporting)", style="dim"))
    return Group(*parts)
