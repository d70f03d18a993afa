"""NUMA node files under ``/sys/devices/system/node/nodeN/``.

* ``meminfo``: ``/proc/meminfo``'s format with every line prefixed by
  ``Node N `` (drivers/base/node.c ``node_read_meminfo``)::

      Node 0 MemTotal:       24684084 kB

  Units as in :mod:`memsleuth.sources.meminfo`: kB, converted to bytes;
  ``HugePages_*`` are counts of the default-size huge pages on that node.
* ``numastat``: ``key value`` lines of page-allocation *event counters*
  (counts of pages, cumulative since boot): ``numa_hit``, ``numa_miss``,
  ``numa_foreign``, ``interleave_hit``, ``local_node``, ``other_node``.
* ``cpulist``: the node's CPUs as ranges, ``0-7,16-23``.  ``possible``,
  ``online``, ``has_memory`` and ``has_cpu`` in the parent directory use the
  same list format (for nodes).

Traps:

* Per-node meminfo prints only node-scoped counters: no ``MemAvailable``,
  ``Buffers``, ``Cached``, ``Swap*``, ``Committed_AS``, ``Vmalloc*``,
  ``DirectMap*``.  Those fields are ``None`` in the node's
  :class:`~memsleuth.sources.meminfo.MemInfo`.  It prints two lines of its
  own, ``MemUsed`` (MemTotal - MemFree) and ``FilePages`` (page cache
  including shmem and swap cache: what ``Buffers + Cached + SwapCached``
  are system-wide), which :class:`NodeMemInfo` types.
* Old kernels (2.6.32) print a node's *present* pages as its ``MemTotal``,
  so node totals exceed the system's by the boot-time reservations; later
  kernels print *managed* pages, like the system-wide line, and the totals
  add up.  With memory hot-plug (virtio-mem) they can drift apart again.
* ``numastat`` is counted on the node where the page was allocated:
  ``numa_hit + numa_miss == local_node + other_node`` on each node, and on a
  two-node machine one node's ``numa_foreign`` is the other's
  ``numa_miss``.  The counters are folded from per-CPU deltas, so a live
  reading can be off by a few pages.
* A memory-only node (CXL, PMEM, a CPU-less NUMA node) has an empty
  ``cpulist`` (a lone newline): that is an empty tuple, not an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError
from memsleuth.sources._kv import parse_space_kv
from memsleuth.sources.meminfo import MemInfo, parse_meminfo

SOURCE_MEMINFO = "sys/devices/system/node/nodeN/meminfo"
SOURCE_NUMASTAT = "sys/devices/system/node/nodeN/numastat"
SOURCE_CPULIST = "sys/devices/system/node/nodeN/cpulist"

#: numastat key -> record field (all plain counts of pages allocated).
NUMASTAT_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "numa_hit": "numa_hit",
        "numa_miss": "numa_miss",
        "numa_foreign": "numa_foreign",
        "interleave_hit": "interleave_hit",
        "local_node": "local_node",
        "other_node": "other_node",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeMemInfo:
    """One reading of a node's meminfo."""

    node: int
    #: The node's lines typed with meminfo's :data:`~memsleuth.sources.meminfo.FIELDS`;
    #: system-only fields are ``None``.  ``meminfo.raw`` has every line,
    #: including the two below, with the ``Node N`` prefix removed.
    meminfo: MemInfo
    mem_used_bytes: int | None = None
    file_pages_bytes: int | None = None


def parse_node_meminfo(text: str, *, source: str = SOURCE_MEMINFO) -> NodeMemInfo:
    """Parse ``/sys/devices/system/node/nodeN/meminfo``.

    Every line must carry the same ``Node N`` prefix.
    """
    node: int | None = None
    body: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(None, 2)
        if len(parts) != 3 or parts[0] != "Node":
            raise ParseError(source, f"line without a 'Node N' prefix: {line!r}")
        try:
            this = int(parts[1])
        except ValueError:
            raise ParseError(source, f"node id is not an integer: {line!r}") from None
        if node is None:
            node = this
        elif this != node:
            raise ParseError(source, f"lines for nodes {node} and {this} in one file")
        body.append(parts[2])
    if node is None:
        raise ParseError(source, "empty file")
    meminfo = parse_meminfo("\n".join(body), source=source)
    return NodeMemInfo(
        node=node,
        meminfo=meminfo,
        mem_used_bytes=meminfo.raw.get("MemUsed"),
        file_pages_bytes=meminfo.raw.get("FilePages"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NumaStat:
    """One reading of a node's numastat: cumulative counts of pages."""

    #: Allocated here, as the allocation preferred.
    numa_hit: int | None = None
    #: Allocated here although another node was preferred (that node was low).
    numa_miss: int | None = None
    #: Preferred here but allocated elsewhere.
    numa_foreign: int | None = None
    #: Interleave-policy allocations that got this node as intended.
    interleave_hit: int | None = None
    #: Allocated here for a task running on this node.
    local_node: int | None = None
    #: Allocated here for a task running on another node.
    other_node: int | None = None
    #: Every line as printed.
    raw: Mapping[str, int] = field(default_factory=dict)


def parse_numastat(text: str, *, source: str = SOURCE_NUMASTAT) -> NumaStat:
    """Parse ``/sys/devices/system/node/nodeN/numastat``."""
    raw = parse_space_kv(text, source)
    if not raw:
        raise ParseError(source, "empty file")
    kwargs = {f: raw[k] for k, f in NUMASTAT_FIELDS.items() if k in raw}
    return NumaStat(raw=MappingProxyType(raw), **kwargs)


def parse_cpulist(text: str, *, source: str = SOURCE_CPULIST) -> tuple[int, ...]:
    """``0-7,16-23`` -> ``(0, 1, ..., 7, 16, ..., 23)``, sorted, no duplicates.

    Also accepts the kernel's stride form ``0-15:2`` (every second CPU) that
    ``cpulist_parse`` takes on input.  An empty list is ``()``.
    """
    value = text.strip()
    if not value:
        return ()
    cpus: set[int] = set()
    for chunk in value.split(","):
        span, _, stride_text = chunk.partition(":")
        first_text, dash, last_text = span.partition("-")
        try:
            first = int(first_text)
            last = int(last_text) if dash else first
            stride = int(stride_text) if stride_text else 1
        except ValueError:
            raise ParseError(source, f"bad range {chunk!r} in {value!r}") from None
        if first < 0 or last < first or stride < 1:
            raise ParseError(source, f"bad range {chunk!r} in {value!r}")
        cpus.update(range(first, last + 1, stride))
    return tuple(sorted(cpus))


def format_cpulist(cpus: Iterable[int]) -> str:
    """The inverse of :func:`parse_cpulist`: ``(0, 1, 2, 5)`` -> ``0-2,5``."""
    ranges: list[str] = []
    ordered = sorted(set(cpus))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        first, last = ordered[i], ordered[j]
        ranges.append(str(first) if first == last else f"{first}-{last}")
        i = j + 1
    return ",".join(ranges)
