"""``memsleuth numa``: nodes, CPUs, memory per node, locality, slab and process spread."""

from __future__ import annotations

import textwrap
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.numa import NodeRow, NumaReport, ProcessSpread, SlabNodeRow
from memsleuth.units import human_bytes
from memsleuth.views.common import MISSING, Column, fmt_bytes, fmt_int, row_of, table

SCHEMA = "memsleuth.numa/1"
#: node columns shown in the slab and process tables (JSON has all)
MAX_NODE_COLUMNS = 4


def _count(v: int | None) -> str:
    """Event counts in SI steps, so that 10-digit counters fit 80 columns."""
    if v is None:
        return MISSING
    for step, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(v) >= step:
            return f"{v / step:.2f}{suffix}"
    return str(v)


def _signed(v: float | None) -> str:
    return MISSING if v is None else f"{v:+.1f}%"


def _pct(v: float | None, digits: int = 2) -> str:
    return MISSING if v is None else f"{v:.{digits}f}%"


#: memory per node (from the node's meminfo); keys are NodeRow fields
MEM_COLUMNS: tuple[Column, ...] = (
    Column("node", "NODE"),
    Column("mem_total_bytes", "TOTAL", fmt_bytes),
    Column("mem_free_bytes", "FREE", fmt_bytes),
    Column("mem_used_bytes", "USED", fmt_bytes),
    Column("file_pages_bytes", "FILE", fmt_bytes),
    Column("anon_pages_bytes", "ANON", fmt_bytes),
    Column("slab_bytes", "SLAB", fmt_bytes),
    Column("huge", "HUGE F/T", json=False, meaning="free/total hugetlb pages"),
    Column("free_vs_mean_percent", "FREE±", _signed),
    Column("used_vs_mean_percent", "USED±", _signed),
)
#: allocation locality (numastat)
LOCALITY_COLUMNS: tuple[Column, ...] = (
    Column("node", "NODE"),
    Column("numa_hit", "HIT", _count),
    Column("numa_miss", "MISS", _count),
    Column("numa_foreign", "FOREIGN", _count),
    Column("interleave_hit", "INTERLV", _count),
    Column("local_node", "LOCAL", _count),
    Column("other_node", "OTHER", _count),
    Column("miss_percent", "MISS%", _pct),
    Column("remote_percent", "REMOTE%", _pct),
)
#: slab objects per node; the N<node> columns follow
SLAB_COLUMNS: tuple[Column, ...] = (
    Column("cache", "SLAB CACHE", justify="left", cut=24, ellipsis=False),
    Column("objects", "OBJECTS", fmt_int),
)
#: the largest processes; the N<node> columns go after NODES
PROCESS_COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID"),
    Column("rss_bytes", "RSS", fmt_bytes),
    Column("nodes_used", "NODES"),
    Column("largest", "LARGEST", meaning="share on the node with most of its pages"),
    Column("command", "COMMAND", justify="left", cut=40, ellipsis=False),
)


def _huge(r: NodeRow) -> str:
    if r.huge_pages_total is None:
        return MISSING
    return f"{r.huge_pages_free if r.huge_pages_free is not None else MISSING}/{r.huge_pages_total}"


def render_numa(report: NumaReport, *, explain: bool) -> RenderableType:
    parts: list[RenderableType] = []
    parts.append(Text(f"NUMA node(s): {len(report.nodes)}"))
    for r in report.nodes:
        parts.append(Text(f"NUMA node{r.node} CPU(s): {r.cpulist or '(none: memory only)'}"))
    parts.append(Text(""))
    mem = table(MEM_COLUMNS, [{**row_of(MEM_COLUMNS, r), "huge": _huge(r)} for r in report.nodes],
                overflow="ellipsis", pipe="full")
    parts.append(mem)
    if report.free_imbalance_percent is not None:
        parts.append(Text(f"imbalance: free memory differs from the mean by up to "
                          f"{report.free_imbalance_percent:.1f}%, used by up to "
                          f"{report.used_imbalance_percent or 0.0:.1f}%", style="dim"))
    parts.append(Text(""))
    parts.append(table(LOCALITY_COLUMNS, [row_of(LOCALITY_COLUMNS, r) for r in report.nodes],
                       overflow="ellipsis", pipe="full"))
    nodes = [r.node for r in report.nodes][:MAX_NODE_COLUMNS]
    if report.slab:
        parts.append(Text(""))
        per_node = tuple(Column(f"N{n}", f"N{n}", fmt_int) for n in nodes)
        rows: list[dict[str, Any]] = [
            {"cache": s.cache, "objects": s.objects,
             **{f"N{n}": s.objects_per_node.get(n, 0) for n in nodes}} for s in report.slab]
        totals = report.slab_objects_per_node or {}
        rows.append({"cache": Text("all caches", style="bold"), "objects": sum(totals.values()),
                     **{f"N{n}": totals.get(n, 0) for n in nodes}})
        parts.append(table((*SLAB_COLUMNS, *per_node), rows, overflow="ellipsis", pipe="full"))
    if report.processes:
        parts.append(Text(""))
        per_node = tuple(Column(f"N{n}", f"N{n}", fmt_bytes) for n in nodes)
        prows = [{"pid": p.pid, "rss_bytes": p.rss_bytes, "nodes_used": p.nodes_used,
                  **{f"N{n}": p.bytes_per_node.get(n, 0) for n in nodes}, "largest": _largest(p),
                  "command": Text(p.command or f"[{p.comm}]", overflow="ellipsis", no_wrap=True)}
                 for p in report.processes]
        parts.append(table((*PROCESS_COLUMNS[:3], *per_node, *PROCESS_COLUMNS[3:]), prows,
                           overflow="ellipsis", pipe="full"))
        spread = report.spread_processes
        parts.append(Text(f"{len(spread)} of the {len(report.processes)} largest processes have "
                          "pages on more than one node", style="dim"))
    for note in report.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    if explain:
        parts += [Text(""), Text(explain_text(report))]
    return Group(*parts)


def _largest(p: ProcessSpread) -> str:
    if p.largest_node is None or p.largest_share_percent is None:
        return MISSING
    return f"{p.largest_share_percent:.0f}% N{p.largest_node}"


def explain_text(report: NumaReport) -> str:
    n = len(report.nodes)
    bullets = [
        f"This machine has {n} NUMA node{'s' if n != 1 else ''}.  A node is a set of CPUs and "
        "the memory attached to them; a CPU reads its own node's memory faster than another "
        "node's, which goes over the socket interconnect.",
    ]
    if report.nodes:
        r = report.nodes[0]
        bullets.append(f"node{r.node} has CPUs {r.cpulist or 'none'} and "
                       f"{human_bytes(r.mem_total_bytes)} of memory, {human_bytes(r.mem_free_bytes)} free.")
    bullets += [
        "FILE is page cache on the node, ANON process memory, SLAB kernel objects; HUGE F/T is "
        "free/total preallocated huge pages (hugetlbfs).",
        "HIT counts pages allocated on the node the allocation preferred.  MISS counts pages put "
        "here because the preferred node was short of memory; FOREIGN, pages meant for this node "
        "that went elsewhere.  MISS% = MISS / (HIT + MISS).  LOCAL and OTHER: pages allocated "
        "here for a task running on this or on another node; REMOTE% = OTHER / (LOCAL + OTHER) "
        "is how often a task got memory from a remote node.",
    ]
    worst = max((r for r in report.nodes if r.miss_percent is not None),
                key=lambda r: r.miss_percent or 0.0, default=None)
    if worst is not None:
        bullets.append(f"Here node{worst.node} has the highest miss ratio: {worst.miss_percent:.3f}% "
                       f"({worst.numa_miss:,} of "
                       f"{(worst.numa_hit or 0) + (worst.numa_miss or 0):,} pages).")
    if report.free_imbalance_percent is not None:
        bullets.append(
            "FREE± and USED± compare each node with the mean over nodes.  The largest gap in free "
            f"memory is {report.free_imbalance_percent:.1f}%: the node that runs low first starts "
            "reclaim, or (with vm.zone_reclaim_mode=0) spills its allocations to another node, and "
            "MISS grows there.")
    else:
        bullets.append("With one node there is no imbalance and no remote memory: MISS and OTHER "
                       "stay 0.")
    if report.processes:
        spread = report.spread_processes
        bullets.append(
            "For each large process, numa_maps says on which node each resident page sits.  "
            "LARGEST is the share on its biggest node: 100% is all on one node; 50% on two nodes "
            "means half of its memory is remote for a thread on either node.  "
            f"{len(spread)} of the {len(report.processes)} listed are spread.")
    if report.slab:
        top = report.slab[0]
        bullets.append("Slab objects come from the node of the CPU that asked for them; the "
                       f"largest cache here is {top.cache} with {top.objects:,} objects.")
    return "What this means:\n" + "\n".join(
        textwrap.fill(b, width=78, initial_indent="* ", subsequent_indent="  ") for b in bullets)


def node_json(r: NodeRow) -> dict[str, Any]:
    d = {f: getattr(r, f) for f in NodeRow.__dataclass_fields__}
    d["cpus"] = list(r.cpus)
    return d


def slab_json(s: SlabNodeRow) -> dict[str, Any]:
    return {"cache": s.cache, "objects": s.objects,
            "objects_per_node": {str(k): v for k, v in s.objects_per_node.items()}}


def process_json(p: ProcessSpread) -> dict[str, Any]:
    return {"pid": p.pid, "comm": p.comm, "command": p.command, "rss_bytes": p.rss_bytes,
            "bytes_per_node": {str(k): v for k, v in p.bytes_per_node.items()},
            "numa_maps_bytes": p.numa_maps_bytes, "nodes_used": p.nodes_used, "spread": p.spread,
            "largest_node": p.largest_node, "largest_share_percent": p.largest_share_percent}


def report_json(report: NumaReport) -> dict[str, Any]:
    return {
        "nodes": [node_json(r) for r in report.nodes],
        "imbalance": {"free_percent": report.free_imbalance_percent,
                      "used_percent": report.used_imbalance_percent},
        "slab": None if report.slab is None else [slab_json(s) for s in report.slab],
        "slab_objects_per_node": None if report.slab_objects_per_node is None
        else {str(k): v for k, v in report.slab_objects_per_node.items()},
        "processes": [process_json(p) for p in report.processes],
        "notes": list(report.notes),
    }
