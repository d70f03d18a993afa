"""NUMA: nodes and their CPUs, memory per node, allocation locality, spread.

Everything here is computed from one snapshot (node files, slab sysfs) and
from the ``numa_maps`` of a bounded set of processes the command read.

* **Locality** (``numastat``): ``numa_miss`` counts pages allocated on this
  node although another node was preferred (that node was short of free
  memory).  The miss ratio is ``numa_miss / (numa_hit + numa_miss)``: of the
  pages allocated here, the share that was a fallback.  ``other_node`` /
  (``local_node`` + ``other_node``) is the share allocated here for a task
  running on another node (remote memory for that task).
* **Imbalance between nodes**: each node's free and used bytes against the
  mean over nodes, in percent (``+12.0`` = 12% above the mean).  The
  largest absolute deviation is the headline.  One node: no imbalance.
* **Process spread** (``numa_maps``): a process's resident bytes per node;
  "share on the largest node" is the fraction of its bytes on its biggest
  node (100% = all local to one node; 50% on two nodes = evenly spread).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.analysis.slab import sysfs_of
from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.node import (
    NodeMemInfo,
    NumaStat,
    format_cpulist,
    parse_cpulist,
    parse_node_meminfo,
    parse_numastat,
)
from memsleuth.sources.numa_maps import NumaMap, bytes_per_node
from memsleuth.sources.pid_statm import parse_pid_statm

NODE_DIR = "sys/devices/system/node"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRow:
    node: int
    cpus: tuple[int, ...]
    #: lscpu style, ``0-7,16-23``; empty for a memory-only node
    cpulist: str
    mem_total_bytes: int | None
    mem_free_bytes: int | None
    mem_used_bytes: int | None
    file_pages_bytes: int | None
    anon_pages_bytes: int | None
    slab_bytes: int | None
    huge_pages_total: int | None
    huge_pages_free: int | None
    numa_hit: int | None
    numa_miss: int | None
    numa_foreign: int | None
    interleave_hit: int | None
    local_node: int | None
    other_node: int | None
    #: numa_miss / (numa_hit + numa_miss), percent
    miss_percent: float | None
    #: other_node / (local_node + other_node), percent
    remote_percent: float | None
    #: free and used bytes against the mean over nodes, percent
    free_vs_mean_percent: float | None
    used_vs_mean_percent: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabNodeRow:
    """One slab cache's objects per node (``/sys/kernel/slab/<cache>/objects``)."""

    cache: str
    objects: int
    objects_per_node: Mapping[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessSpread:
    pid: int
    comm: str
    command: str | None
    rss_bytes: int | None
    #: node -> resident bytes (numa_maps counts x page size)
    bytes_per_node: Mapping[int, int]
    numa_maps_bytes: int
    nodes_used: int
    largest_node: int | None
    #: share of numa_maps_bytes on the largest node, percent
    largest_share_percent: float | None

    @property
    def spread(self) -> bool:
        return self.nodes_used > 1


@dataclass(frozen=True, slots=True, kw_only=True)
class NumaReport:
    nodes: tuple[NodeRow, ...]
    #: largest |free vs mean| and |used vs mean| over nodes; None with one node
    free_imbalance_percent: float | None
    used_imbalance_percent: float | None
    #: top caches by objects, with the per-node split; None if not readable
    slab: tuple[SlabNodeRow, ...] | None
    slab_objects_per_node: Mapping[int, int] | None
    processes: tuple[ProcessSpread, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def spread_processes(self) -> tuple[ProcessSpread, ...]:
        return tuple(p for p in self.processes if p.spread)


def node_ids(snap: Snapshot) -> list[int]:
    """Nodes with any captured file, ascending."""
    ids = set()
    prefix = NODE_DIR + "/node"
    for path in snap.paths_under(prefix):
        head = path[len(prefix):].partition("/")[0]
        if head.isdigit():
            ids.add(int(head))
    return sorted(ids)


def _pct(part: int | None, whole: int | None) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    return 100.0 * part / whole


def _vs_mean(values: Sequence[int | None]) -> list[float | None]:
    known = [v for v in values if v is not None]
    if len(known) < 2 or len(known) != len(values):
        return [None] * len(values)
    mean = sum(known) / len(known)
    if mean == 0:
        return [None] * len(values)
    return [100.0 * (v - mean) / mean for v in known]


def _max_abs(values: Iterable[float | None]) -> float | None:
    known = [abs(v) for v in values if v is not None]
    return max(known) if known else None


def node_rows(snap: Snapshot) -> list[NodeRow]:
    """One row per node, with the imbalance columns filled in."""
    parsed: list[tuple[int, tuple[int, ...], NodeMemInfo | None, NumaStat | None]] = []
    for n in node_ids(snap):
        base = f"{NODE_DIR}/node{n}"
        cpus = snap.parse(f"{base}/cpulist", parse_cpulist) or ()
        mem = snap.parse(f"{base}/meminfo", parse_node_meminfo)
        stat = snap.parse(f"{base}/numastat", parse_numastat)
        parsed.append((n, cpus, mem, stat))
    free = [m.meminfo.mem_free_bytes if m else None for _, _, m, _ in parsed]
    used = [_used(m) for _, _, m, _ in parsed]
    free_dev = _vs_mean(free)
    used_dev = _vs_mean(used)
    rows = []
    for i, (n, cpus, mem, stat) in enumerate(parsed):
        mi = mem.meminfo if mem else None
        hit = stat.numa_hit if stat else None
        miss = stat.numa_miss if stat else None
        local = stat.local_node if stat else None
        other = stat.other_node if stat else None
        rows.append(NodeRow(
            node=n, cpus=cpus, cpulist=format_cpulist(cpus),
            mem_total_bytes=mi.mem_total_bytes if mi else None,
            mem_free_bytes=free[i], mem_used_bytes=used[i],
            file_pages_bytes=mem.file_pages_bytes if mem else None,
            anon_pages_bytes=mi.anon_pages_bytes if mi else None,
            slab_bytes=mi.slab_bytes if mi else None,
            huge_pages_total=mi.huge_pages_total if mi else None,
            huge_pages_free=mi.huge_pages_free if mi else None,
            numa_hit=hit, numa_miss=miss,
            numa_foreign=stat.numa_foreign if stat else None,
            interleave_hit=stat.interleave_hit if stat else None,
            local_node=local, other_node=other,
            miss_percent=_pct(miss, None if hit is None or miss is None else hit + miss),
            remote_percent=_pct(other, None if local is None or other is None else local + other),
            free_vs_mean_percent=free_dev[i], used_vs_mean_percent=used_dev[i],
        ))
    return rows


def _used(mem: NodeMemInfo | None) -> int | None:
    if mem is None:
        return None
    if mem.mem_used_bytes is not None:
        return mem.mem_used_bytes
    return mem.meminfo.mem_total_bytes - mem.meminfo.mem_free_bytes


def slab_per_node(snap: Snapshot, limit: int) -> tuple[list[SlabNodeRow], dict[int, int]] | None:
    """Top ``limit`` caches by objects, and the objects of all caches per node.

    ``None`` when no ``objects`` file was captured (not SLUB, no
    CONFIG_SLUB_DEBUG, or not root: the files are mode 0400).
    """
    sysfs = sysfs_of(snap)
    if sysfs is None:
        return None
    dirs = [d for d in sysfs.dirs.values() if d.objects is not None]
    if not dirs:
        return None
    totals: dict[int, int] = {}
    for d in dirs:
        for node, count in d.objects_per_node.items():
            totals[node] = totals.get(node, 0) + count
    top = sorted(dirs, key=lambda d: (-(d.objects or 0), d.directory))[:limit]
    rows = []
    for d in top:
        # a merged cache's directory is a ":id"; name it after its first alias
        name = d.directory if not d.directory.startswith(":") or not d.names else d.names[0]
        rows.append(SlabNodeRow(cache=name, objects=d.objects or 0,
                                objects_per_node=MappingProxyType(dict(d.objects_per_node))))
    return rows, dict(sorted(totals.items()))


def top_by_rss(snap: Snapshot, limit: int) -> list[tuple[int, int]]:
    """``(pid, rss_bytes)`` of the ``limit`` largest user processes (statm)."""
    page = snap.meta.page_size_bytes
    out = []
    for p in snap.processes:
        text = p.text("statm")
        if p.kernel_thread or p.zombie or text is None:
            continue
        out.append((p.pid, parse_pid_statm(text).resident_pages * page))
    out.sort(key=lambda t: (-t[1], t[0]))
    return out[:limit]


def process_spread(*, pid: int, comm: str, command: str | None, rss_bytes: int | None,
                   maps: Iterable[NumaMap]) -> ProcessSpread:
    per_node = {n: b for n, b in sorted(bytes_per_node(maps).items()) if b > 0}
    total = sum(per_node.values())
    largest = max(per_node, key=lambda n: (per_node[n], -n)) if per_node else None
    return ProcessSpread(
        pid=pid, comm=comm, command=command, rss_bytes=rss_bytes,
        bytes_per_node=MappingProxyType(per_node), numa_maps_bytes=total,
        nodes_used=len(per_node), largest_node=largest,
        largest_share_percent=_pct(per_node[largest], total) if largest is not None else None,
    )


def numa_report(snap: Snapshot, processes: Sequence[ProcessSpread], *, slab_limit: int,
                notes: Sequence[str] = ()) -> NumaReport:
    rows = node_rows(snap)
    slab = slab_per_node(snap, slab_limit)
    return NumaReport(
        nodes=tuple(rows),
        free_imbalance_percent=_max_abs(r.free_vs_mean_percent for r in rows),
        used_imbalance_percent=_max_abs(r.used_vs_mean_percent for r in rows),
        slab=tuple(slab[0]) if slab else None,
        slab_objects_per_node=MappingProxyType(slab[1]) if slab else None,
        processes=tuple(processes),
        notes=tuple(notes),
    )
