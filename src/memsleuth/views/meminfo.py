"""``memsleuth meminfo``: every field, grouped and explained, and the accounting tree."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.accounting import Accounting, Available
from memsleuth.sources.meminfo import FIELDS, MemInfo
from memsleuth.units import human_bytes, percent
from memsleuth.views.common import BLANK, Column, table
from memsleuth.views.topics import topic, topic_text

SCHEMA = "memsleuth.meminfo/1"

#: (group, [(kernel key, one-line meaning)]) in display order.  Keys the
#: kernel prints but this table lacks are shown under "Other".
GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Totals", (
        ("MemTotal", "usable RAM: physical memory less kernel code and firmware reservations"),
        ("MemFree", "pages on the free lists right now"),
        ("MemAvailable", "kernel's estimate of what can be allocated without swapping (3.14+)"),
    )),
    ("Page cache and buffers", (
        ("Buffers", "block-device metadata cache"),
        ("Cached", "page cache for files, INCLUDING Shmem/tmpfs"),
        ("SwapCached", "pages present both in RAM and in swap"),
        ("Dirty", "cached pages waiting to be written back"),
        ("Writeback", "pages being written back now"),
        ("Mapped", "cached pages mapped into some process (libraries, mmap'd files)"),
        ("Shmem", "tmpfs, /dev/shm, SysV shm and shared anon; not reclaimable without swap"),
        ("NFS_Unstable", "NFS pages sent but not yet committed (always 0 since 6.0)"),
        ("Bounce", "bounce buffers for old devices"),
        ("WritebackTmp", "FUSE temporary writeback buffers"),
    )),
    ("LRU lists", (
        ("Active", "recently used pages (anon + file)"),
        ("Inactive", "pages that are candidates for reclaim"),
        ("Active(anon)", "recently used anonymous and shmem pages"),
        ("Inactive(anon)", "anonymous and shmem pages that could be swapped"),
        ("Active(file)", "recently used file pages"),
        ("Inactive(file)", "file pages the kernel will reclaim first"),
        ("Unevictable", "pages that cannot be reclaimed (mlock, ramfs, SHM_LOCK)"),
        ("Mlocked", "pages locked with mlock()"),
    )),
    ("Anonymous memory", (
        ("AnonPages", "private anonymous pages mapped by processes (heap, stacks)"),
        ("AnonHugePages", "anonymous memory backed by transparent huge pages"),
    )),
    ("Kernel", (
        ("Slab", "kernel object caches, reclaimable plus unreclaimable"),
        ("SReclaimable", "slab the shrinkers can free: dentries, inodes"),
        ("SUnreclaim", "slab in use: kmalloc, task_struct, sockets ..."),
        ("KReclaimable", "SReclaimable plus other kernel memory marked reclaimable (4.20+)"),
        ("KernelStack", "one kernel stack per thread"),
        ("PageTables", "page tables of all processes"),
        ("SecPageTables", "KVM and IOMMU secondary page tables (6.0+)"),
        ("Percpu", "per-CPU allocations (4.16+); grows with memory cgroups"),
        ("VmallocTotal", "size of the vmalloc address space (not memory)"),
        ("VmallocUsed", "pages backing vmalloc areas"),
        ("VmallocChunk", "largest free vmalloc block (0 since 4.4)"),
        ("HardwareCorrupted", "RAM the kernel took offline after memory errors"),
    )),
    ("Swap and compression", (
        ("SwapTotal", "swap space configured"),
        ("SwapFree", "swap space unused"),
        ("Zswap", "RAM used by the zswap compressed pool"),
        ("Zswapped", "data stored in zswap, uncompressed size"),
    )),
    ("Overcommit", (
        ("CommitLimit", "allocation limit under vm.overcommit_memory=2"),
        ("Committed_AS", "address space promised to processes (may exceed RAM)"),
    )),
    ("Huge pages", (
        ("ShmemHugePages", "shmem/tmpfs backed by huge pages"),
        ("ShmemPmdMapped", "shmem mapped with huge pages into user space"),
        ("FileHugePages", "page cache backed by huge pages"),
        ("FilePmdMapped", "page cache mapped with huge pages into user space"),
        ("HugePages_Total", "hugetlb pool size (pages)"),
        ("HugePages_Free", "hugetlb pages not allocated"),
        ("HugePages_Rsvd", "hugetlb pages promised but not yet faulted in"),
        ("HugePages_Surp", "hugetlb pages above the pool size (overcommit)"),
        ("Hugepagesize", "default huge page size"),
        ("Hugetlb", "memory used by hugetlb pools of all sizes"),
    )),
    ("Other", (
        ("CmaTotal", "contiguous memory allocator area"),
        ("CmaFree", "free part of the CMA area"),
        ("Balloon", "pages taken by the virtio balloon"),
        ("DirectMap4k", "kernel direct map covered by 4 KiB pages (not usage)"),
        ("DirectMap2M", "kernel direct map covered by 2 MiB pages (not usage)"),
        ("DirectMap1G", "kernel direct map covered by 1 GiB pages (not usage)"),
    )),
)

_COUNT_KEYS = frozenset({"HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"})

#: --explain: the concepts this view leans on, from the one text ``memsleuth help`` prints
EXPLAIN_TOPICS = ("memavailable", "page-cache", "reclaimable-slab", "buckets", "unaccounted")


def explain_text() -> str:
    return "How to read this:\n\n" + "\n\n".join(
        topic_text(t) for t in (topic(name) for name in EXPLAIN_TOPICS) if t is not None)


def iter_rows(m: MemInfo) -> list[tuple[str, str, int, str]]:
    """(group, key, value, meaning) for every field the kernel printed."""
    rows: list[tuple[str, str, int, str]] = []
    seen: set[str] = set()
    for group, entries in GROUPS:
        for key, meaning in entries:
            if key in m.raw:
                rows.append((group, key, m.raw[key], meaning))
                seen.add(key)
    for key, value in m.raw.items():
        if key not in seen:
            rows.append(("Other", key, value, "(not described by this memsleuth version)"))
    return rows


def _value(key: str, value: int) -> str:
    return f"{value:,}" if key in _COUNT_KEYS else human_bytes(value)


#: the field table; a value is shown in bytes or, for HugePages_* counts, as a number
FIELD_COLUMNS: tuple[Column, ...] = (
    Column("key", "field", justify="left"),
    Column("value", "value"),
    Column("meaning", "meaning", justify="left"),
)
BUCKET_COLUMNS: tuple[Column, ...] = (
    Column("label", "bucket", justify="left"),
    Column("size_bytes", "size", human_bytes),
    Column("percent", "%", lambda v: f"{v:.1f}", json=False),
    Column("reclaimable", "reclaimable", lambda v: "yes" if v else "", justify="left"),
)


def render_meminfo(m: MemInfo, acct: Accounting, avail: Available, *, explain: bool) -> RenderableType:
    rows: list[dict[str, Any]] = []
    last_group = None
    for group, key, value, meaning in iter_rows(m):
        if group != last_group:
            rows.append({"key": Text(group, style="bold cyan"), "value": BLANK, "meaning": BLANK})
            last_group = group
        rows.append({"key": "  " + key, "value": _value(key, value), "meaning": meaning})
    if m.mem_available_bytes is None:
        rows.append({"key": Text("  MemAvailable*", style="yellow"),
                     "value": human_bytes(avail.available_bytes),
                     "meaning": f"not reported by this kernel; estimated ({avail.method})"})
    parts: list[RenderableType] = [table(FIELD_COLUMNS, rows, overflow="ellipsis", pipe="full"), Text(""),
                                   render_accounting(acct)]
    if explain:
        parts += [Text(""), Text(explain_text())]
    return Group(*parts)


def render_accounting(acct: Accounting) -> RenderableType:
    rows: list[dict[str, Any]] = [
        {"label": b.label, "size_bytes": b.size_bytes,
         "percent": percent(b.size_bytes, acct.total_bytes), "reclaimable": b.reclaimable}
        for b in acct.buckets if b.size_bytes is not None]
    rows.append({"label": Text("Unaccounted (gap)", style="bold"), "size_bytes": acct.unaccounted_bytes,
                 "percent": percent(acct.unaccounted_bytes, acct.total_bytes), "reclaimable": False})
    rows.append({"label": Text("MemTotal", style="bold"), "size_bytes": acct.total_bytes,
                 "percent": 100.0, "reclaimable": False})
    parts: list[RenderableType] = [table(BUCKET_COLUMNS, rows, title="Where MemTotal goes",
                                         title_justify="left", overflow="ellipsis", pipe="full")]
    for note in acct.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    return Group(*parts)


def accounting_json(acct: Accounting) -> dict[str, Any]:
    return {
        "total_bytes": acct.total_bytes,
        "buckets": [
            {"key": b.key, "label": b.label, "size_bytes": b.size_bytes,
             "reclaimable": b.reclaimable, "group": b.group, "meaning": b.meaning}
            for b in acct.buckets
        ],
        "unaccounted_bytes": acct.unaccounted_bytes,
        "notes": list(acct.notes),
    }


def meminfo_json(m: MemInfo, acct: Accounting, avail: Available) -> dict[str, Any]:
    return {
        "fields": [
            {"group": g, "key": k, "field": FIELDS.get(k), "value": v,
             "unit": "pages" if k in _COUNT_KEYS else "bytes", "meaning": meaning}
            for g, k, v, meaning in iter_rows(m)
        ],
        "available": {"bytes": avail.available_bytes, "method": avail.method,
                      "estimated": avail.estimated},
        "accounting": accounting_json(acct),
    }
