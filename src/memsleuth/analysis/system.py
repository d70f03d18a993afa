"""System-wide memory from one snapshot: meminfo, MemAvailable, free, buckets."""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.analysis.accounting import (
    Accounting,
    Available,
    FreeNumbers,
    accounting,
    estimate_available,
    free_numbers,
)
from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.meminfo import MemInfo, parse_meminfo
from memsleuth.sources.sysctl import parse_int_sysctl
from memsleuth.sources.vmallocinfo import parse_vmallocinfo
from memsleuth.sources.zoneinfo import parse_zoneinfo

#: files :func:`system_memory` reads; commands pass this to ``capture``
FILES: tuple[str, ...] = (
    "proc/meminfo",
    "proc/zoneinfo",
    "proc/vmallocinfo",
    "proc/sys/vm/min_free_kbytes",
    "proc/version",
    "proc/sys/kernel/hostname",
)

#: vmalloc callers whose pages meminfo already counts elsewhere
_OVERLAP_CALLERS = ("kernel_clone", "dup_task_struct", "alloc_thread_stack_node", "pcpu_")


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemMemory:
    meminfo: MemInfo
    available: Available
    free: FreeNumbers
    accounting: Accounting


def system_memory(snap: Snapshot) -> SystemMemory:
    meminfo = snap.require("proc/meminfo", parse_meminfo)
    zoneinfo = snap.parse("proc/zoneinfo", parse_zoneinfo)
    min_free = snap.parse("proc/sys/vm/min_free_kbytes", parse_int_sysctl)
    available = estimate_available(
        meminfo,
        zoneinfo=zoneinfo,
        min_free_kbytes=min_free,
        page_size_bytes=snap.meta.page_size_bytes,
    )
    overlap = None
    vmalloc = snap.parse("proc/vmallocinfo", parse_vmallocinfo)
    if vmalloc is not None:
        by_caller = vmalloc.pages_by_caller()
        pages = sum(n for caller, n in by_caller.items() if caller.startswith(_OVERLAP_CALLERS))
        overlap = pages * snap.meta.page_size_bytes
    return SystemMemory(
        meminfo=meminfo,
        available=available,
        free=free_numbers(meminfo, available),
        accounting=accounting(meminfo, vmalloc_overlap_bytes=overlap),
    )
