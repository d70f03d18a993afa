"""``/proc/meminfo`` (and the per-node ``/sys/devices/system/node/nodeN/meminfo``).

Units: the kernel prints kibibytes with the suffix ``kB``; the HugePages_*
lines are page *counts* with no suffix.  We convert kB to bytes here.

Traps:

* ``MemAvailable`` appeared in Linux 3.14 (commit 34e431b0ae39, "/proc/meminfo:
  provide estimated available memory"); RHEL 6.6+ backported it, plain 2.6.32
  does not have it.  It is ``None`` when absent; see
  :func:`memsleuth.analysis.accounting.estimate_available` for the kernel's
  own formula.
* ``KReclaimable`` appeared in 4.20; ``Percpu`` in 4.16; ``SecPageTables`` in
  6.0; ``Zswap`` in 5.19.  ``VmallocUsed`` read 0 on roughly 4.4–5.2.
* ``Cached`` includes ``Shmem`` (tmpfs) which is *not* reclaimable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError
from memsleuth.sources._kv import iter_colon_kb

SOURCE = "proc/meminfo"

#: kernel key -> record field; the data table that names every field we type.
#: HugePages_* are counts; everything else is bytes.
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "MemTotal": "mem_total_bytes",
        "MemFree": "mem_free_bytes",
        "MemAvailable": "mem_available_bytes",
        "Buffers": "buffers_bytes",
        "Cached": "cached_bytes",
        "SwapCached": "swap_cached_bytes",
        "Active": "active_bytes",
        "Inactive": "inactive_bytes",
        "Active(anon)": "active_anon_bytes",
        "Inactive(anon)": "inactive_anon_bytes",
        "Active(file)": "active_file_bytes",
        "Inactive(file)": "inactive_file_bytes",
        "Unevictable": "unevictable_bytes",
        "Mlocked": "mlocked_bytes",
        "SwapTotal": "swap_total_bytes",
        "SwapFree": "swap_free_bytes",
        "Zswap": "zswap_bytes",
        "Zswapped": "zswapped_bytes",
        "Dirty": "dirty_bytes",
        "Writeback": "writeback_bytes",
        "AnonPages": "anon_pages_bytes",
        "Mapped": "mapped_bytes",
        "Shmem": "shmem_bytes",
        "KReclaimable": "k_reclaimable_bytes",
        "Slab": "slab_bytes",
        "SReclaimable": "s_reclaimable_bytes",
        "SUnreclaim": "s_unreclaim_bytes",
        "KernelStack": "kernel_stack_bytes",
        "PageTables": "page_tables_bytes",
        "SecPageTables": "sec_page_tables_bytes",
        "NFS_Unstable": "nfs_unstable_bytes",
        "Bounce": "bounce_bytes",
        "WritebackTmp": "writeback_tmp_bytes",
        "CommitLimit": "commit_limit_bytes",
        "Committed_AS": "committed_as_bytes",
        "VmallocTotal": "vmalloc_total_bytes",
        "VmallocUsed": "vmalloc_used_bytes",
        "VmallocChunk": "vmalloc_chunk_bytes",
        "Percpu": "percpu_bytes",
        "HardwareCorrupted": "hardware_corrupted_bytes",
        "AnonHugePages": "anon_huge_pages_bytes",
        "ShmemHugePages": "shmem_huge_pages_bytes",
        "ShmemPmdMapped": "shmem_pmd_mapped_bytes",
        "FileHugePages": "file_huge_pages_bytes",
        "FilePmdMapped": "file_pmd_mapped_bytes",
        "CmaTotal": "cma_total_bytes",
        "CmaFree": "cma_free_bytes",
        "Balloon": "balloon_bytes",
        "HugePages_Total": "huge_pages_total",
        "HugePages_Free": "huge_pages_free",
        "HugePages_Rsvd": "huge_pages_rsvd",
        "HugePages_Surp": "huge_pages_surp",
        "Hugepagesize": "hugepagesize_bytes",
        "Hugetlb": "hugetlb_bytes",
        "DirectMap4k": "direct_map_4k_bytes",
        "DirectMap2M": "direct_map_2m_bytes",
        "DirectMap1G": "direct_map_1g_bytes",
    }
)

REQUIRED = ("MemTotal", "MemFree")


@dataclass(frozen=True, slots=True, kw_only=True)
class MemInfo:
    """One reading of /proc/meminfo.  Byte fields end in ``_bytes``."""

    mem_total_bytes: int
    mem_free_bytes: int
    mem_available_bytes: int | None = None
    buffers_bytes: int | None = None
    cached_bytes: int | None = None
    swap_cached_bytes: int | None = None
    active_bytes: int | None = None
    inactive_bytes: int | None = None
    active_anon_bytes: int | None = None
    inactive_anon_bytes: int | None = None
    active_file_bytes: int | None = None
    inactive_file_bytes: int | None = None
    unevictable_bytes: int | None = None
    mlocked_bytes: int | None = None
    swap_total_bytes: int | None = None
    swap_free_bytes: int | None = None
    zswap_bytes: int | None = None
    zswapped_bytes: int | None = None
    dirty_bytes: int | None = None
    writeback_bytes: int | None = None
    anon_pages_bytes: int | None = None
    mapped_bytes: int | None = None
    shmem_bytes: int | None = None
    k_reclaimable_bytes: int | None = None
    slab_bytes: int | None = None
    s_reclaimable_bytes: int | None = None
    s_unreclaim_bytes: int | None = None
    kernel_stack_bytes: int | None = None
    page_tables_bytes: int | None = None
    sec_page_tables_bytes: int | None = None
    nfs_unstable_bytes: int | None = None
    bounce_bytes: int | None = None
    writeback_tmp_bytes: int | None = None
    commit_limit_bytes: int | None = None
    committed_as_bytes: int | None = None
    vmalloc_total_bytes: int | None = None
    vmalloc_used_bytes: int | None = None
    vmalloc_chunk_bytes: int | None = None
    percpu_bytes: int | None = None
    hardware_corrupted_bytes: int | None = None
    anon_huge_pages_bytes: int | None = None
    shmem_huge_pages_bytes: int | None = None
    shmem_pmd_mapped_bytes: int | None = None
    file_huge_pages_bytes: int | None = None
    file_pmd_mapped_bytes: int | None = None
    cma_total_bytes: int | None = None
    cma_free_bytes: int | None = None
    balloon_bytes: int | None = None
    huge_pages_total: int | None = None
    huge_pages_free: int | None = None
    huge_pages_rsvd: int | None = None
    huge_pages_surp: int | None = None
    hugepagesize_bytes: int | None = None
    hugetlb_bytes: int | None = None
    direct_map_4k_bytes: int | None = None
    direct_map_2m_bytes: int | None = None
    direct_map_1g_bytes: int | None = None
    #: Every line as printed, in kernel order, converted to bytes where the
    #: kernel said kB (counts stay counts).  Keys we do not type still land
    #: here, so a new kernel's field is never lost.
    raw: Mapping[str, int] = field(default_factory=dict)


def parse_meminfo(text: str, *, source: str = SOURCE) -> MemInfo:
    """Parse the text of /proc/meminfo into a :class:`MemInfo`.

    Per-node files prefix each line with ``Node N``; pass them through
    :func:`memsleuth.sources.node.parse_node_meminfo` instead.
    """
    raw: dict[str, int] = {}
    for key, value, is_kb in iter_colon_kb(text, source):
        raw[key] = value * 1024 if is_kb else value
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise ParseError(source, f"missing required field(s) {', '.join(missing)}")
    kwargs = {FIELDS[k]: v for k, v in raw.items() if k in FIELDS}
    return MemInfo(raw=MappingProxyType(raw), **kwargs)
