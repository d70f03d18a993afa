"""``memsleuth numa``: nodes, CPUs, memory per node, locality, slab and process spread."""

from __future__ import annotations

import textwrap
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memsleuth.analysis.numa import NodeRow, NumaReport, ProcessSpread, SlabNodeRow
from memsleuth.units import human_bytes
from memsleuth.views.common import MISSING, fmt_bytes

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


def _table(*titles: str, left: tuple[str, ...] = ()) -> Table:
    t = Table(box=None, header_style="bold", pad_edge=False)
    for title in titles:
        t.add_column(title, justify="left" if title in left else "right")
    return t


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
    mem = _table("NODE", "TOTAL", "FREE", "USED", "FILE", "ANON", "SLAB", "HUGE F/T", "FREE±", "USED±")
    for r in report.nodes:
        mem.add_row(str(r.node), fmt_bytes(r.mem_total_bytes), fmt_bytes(r.mem_free_bytes),
                    fmt_bytes(r.mem_used_bytes), fmt_bytes(r.file_pages_bytes),
                    fmt_bytes(r.anon_pages_bytes), fmt_bytes(r.slab_bytes), _huge(r),
                    _signed(r.free_vs_mean_percent), _signed(r.used_vs_mean_percent))
    parts.append(mem)
    if report.free_imbalance_percent is not None:
        parts.append(Text(f"imbalance: free memory differs from the mean by up to "
                          f"{report.free_imbalance_percent:.1f}%, used by up to "
                          f"{report.used_imbalance_percent or 0.0:.1f}%", style="dim"))
    parts.append(Text(""))
    loc = _table("NODE", "HIT", "MISS", "FOREIGN", "INTERLV", "LOCAL", "OTHER", "MISS%", "REMOTE%")
    for r in report.nodes:
        loc.add_row(str(r.node), _count(r.numa_hit), _count(r.numa_miss), _count(r.numa_foreign),
                    _count(r.interleave_hit), _count(r.local_node), _count(r.other_node),
                    _pct(r.miss_percent), _pct(r.remote_percent))
    parts.append(loc)
    nodes = [r.node for r in report.nodes][:MAX_NODE_COLUMNS]
    if report.slab:
        parts.append(Text(""))
        t = _table("SLAB CACHE", "OBJECTS", *(f"N{n}" for n in nodes), left=("SLAB CACHE",))
        for s in report.slab:
            t.add_row(s.cache[:24], f"{s.objects:,}",
                      *(f"{s.objects_per_node.get(n, 0):,}" for n in nodes))
        totals = report.slab_objects_per_node or {}
        t.add_row(Text("all caches", style="bold"), f"{sum(totals.values()):,}",
                  *(f"{totals.get(n, 0):,}" for n in nodes))
        parts.append(t)
    if report.processes:
        parts.append(Text(""))
        t = _table("PID", "RSS", "NODES", *(f"N{n}" for n in nodes), "LARGEST", "COMMAND",
                   left=("COMMAND",))
        for p in report.processes:
            t.add_row(str(p.pid), fmt_bytes(p.rss_bytes), str(p.nodes_used),
                      *(fmt_bytes(p.bytes_per_node.get(n, 0)) for n in nodes),
                      _largest(p), Text(_cmd(p), overflow="ellipsis", no_wrap=True))
        parts.append(t)
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


def _cmd(p: ProcessSpread) -> str:
    return (p.command or f"[{p.comm}]")[:40]


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
