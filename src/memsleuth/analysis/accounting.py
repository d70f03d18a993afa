"""Where every byte of RAM is: ``free``'s numbers, MemAvailable, and the bucket tree.

Three definitions of "used" coexist on real fleets, and the founding case
turned on the difference between them:

* **legacy** (procps 3.2, CentOS 6): ``used = MemTotal - MemFree``; the
  ``-/+ buffers/cache`` line subtracts only Buffers and Cached, so
  reclaimable slab (dentries, inodes) counts as used;
* **procps-ng 3.3**: ``used = total - free - buffers - (Cached + SReclaimable)``;
* **procps-ng 4.x** (today): ``used = MemTotal - MemAvailable``.

MemAvailable (Linux 3.14+, ``si_mem_available()`` in ``mm/show_mem.c``) counts
almost all reclaimable slab as available, so a host full of negative dentries
reads ~86% used on CentOS 6 and ~30% used on a modern distribution.  Neither
number says what is growing; the bucket tree does.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.analysis.derived import unaccounted
from memsleuth.sources.meminfo import MemInfo
from memsleuth.sources.zoneinfo import ZoneInfo, total_low_watermark_pages, totalreserve_pages
from memsleuth.units import percent

KIB = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Available:
    """MemAvailable as reported, or estimated the way the kernel would."""

    available_bytes: int
    #: ``kernel`` (reported), ``zoneinfo`` (kernel formula from watermarks),
    #: ``min_free_kbytes`` (procps-ng 3.3 fallback) or ``mem_free`` (last resort).
    method: str

    @property
    def estimated(self) -> bool:
        return self.method != "kernel"


def estimate_available(
    meminfo: MemInfo,
    *,
    zoneinfo: ZoneInfo | None = None,
    min_free_kbytes: int | None = None,
    page_size_bytes: int = 4096,
) -> Available:
    """MemAvailable, or the kernel's own estimate on kernels that lack it.

    The formula is ``si_mem_available()`` (Linux 3.14, commit 34e431b0ae39):

        available = MemFree - totalreserve
                  + pagecache - min(pagecache / 2, low watermarks)
                  + SReclaimable - min(SReclaimable / 2, low watermarks)

    with ``pagecache = Active(file) + Inactive(file)``.  On kernels from 4.20
    the last term uses KReclaimable, which includes SReclaimable.  Without
    zoneinfo we fall back to procps-ng 3.3's approximation, which takes the
    sum of low watermarks as ``min_free_kbytes * 5 / 4`` and ignores
    totalreserve.
    """
    if meminfo.mem_available_bytes is not None:
        return Available(available_bytes=meminfo.mem_available_bytes, method="kernel")
    free = meminfo.mem_free_bytes
    pagecache = (meminfo.active_file_bytes or 0) + (meminfo.inactive_file_bytes or 0)
    if pagecache == 0 and meminfo.active_file_bytes is None:
        # 2.6.18-era meminfo has no (file) split; Cached less Shmem is the closest
        pagecache = (meminfo.cached_bytes or 0) - (meminfo.shmem_bytes or 0)
    reclaimable = meminfo.k_reclaimable_bytes
    if reclaimable is None:
        reclaimable = meminfo.s_reclaimable_bytes or 0
    if zoneinfo is not None and zoneinfo.zones:
        low = total_low_watermark_pages(zoneinfo) * page_size_bytes
        reserve = totalreserve_pages(zoneinfo) * page_size_bytes
        method = "zoneinfo"
    elif min_free_kbytes is not None:
        low = min_free_kbytes * KIB * 5 // 4
        reserve = low  # procps subtracts the low watermark here
        method = "min_free_kbytes"
    else:
        return Available(available_bytes=free, method="mem_free")
    value = free - reserve
    value += pagecache - min(pagecache // 2, low)
    value += reclaimable - min(reclaimable // 2, low)
    return Available(available_bytes=max(value, 0), method=method)


@dataclass(frozen=True, slots=True, kw_only=True)
class FreeNumbers:
    """The numbers procps-ng 4.x ``free`` prints, plus the legacy definitions."""

    total_bytes: int
    used_bytes: int
    free_bytes: int
    shared_bytes: int | None
    buffers_bytes: int | None
    cache_bytes: int | None
    available_bytes: int
    available_method: str
    swap_total_bytes: int | None
    swap_used_bytes: int | None
    swap_free_bytes: int | None
    #: procps 3.2 (CentOS 6): total - free
    legacy_used_bytes: int
    #: procps 3.2's "-/+ buffers/cache" used: total - free - buffers - cached
    legacy_used_minus_cache_bytes: int
    #: SReclaimable: counted as used by the legacy view, as available by today's
    reclaimable_slab_bytes: int | None

    @property
    def buff_cache_bytes(self) -> int | None:
        if self.buffers_bytes is None or self.cache_bytes is None:
            return None
        return self.buffers_bytes + self.cache_bytes

    @property
    def used_percent(self) -> float | None:
        return percent(self.used_bytes, self.total_bytes)

    @property
    def legacy_used_percent(self) -> float | None:
        return percent(self.legacy_used_bytes, self.total_bytes)

    @property
    def legacy_used_minus_cache_percent(self) -> float | None:
        return percent(self.legacy_used_minus_cache_bytes, self.total_bytes)


def free_numbers(meminfo: MemInfo, available: Available) -> FreeNumbers:
    """procps-ng 4.0 ``free`` arithmetic (``library/meminfo.c``).

    cache = Cached + SReclaimable; used = total - available, falling back to
    total - free when that would be negative (as procps does).
    """
    total = meminfo.mem_total_bytes
    free = meminfo.mem_free_bytes
    cached = meminfo.cached_bytes
    sreclaimable = meminfo.s_reclaimable_bytes
    cache = None if cached is None else cached + (sreclaimable or 0)
    used = total - available.available_bytes
    if used < 0:
        used = total - free
    swap_total = meminfo.swap_total_bytes
    swap_free = meminfo.swap_free_bytes
    swap_used = None if swap_total is None or swap_free is None else swap_total - swap_free
    legacy_used = total - free
    return FreeNumbers(
        total_bytes=total,
        used_bytes=used,
        free_bytes=free,
        shared_bytes=meminfo.shmem_bytes,
        buffers_bytes=meminfo.buffers_bytes,
        cache_bytes=cache,
        available_bytes=available.available_bytes,
        available_method=available.method,
        swap_total_bytes=swap_total,
        swap_used_bytes=swap_used,
        swap_free_bytes=swap_free,
        legacy_used_bytes=legacy_used,
        legacy_used_minus_cache_bytes=legacy_used
        - (meminfo.buffers_bytes or 0)
        - (cached or 0),
        reclaimable_slab_bytes=sreclaimable,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """One leaf of the accounting tree."""

    key: str
    label: str
    #: ``None`` when this kernel does not report the field.
    size_bytes: int | None
    #: Whether the kernel can give these pages back under pressure.
    reclaimable: bool
    group: str
    meaning: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Accounting:
    total_bytes: int
    buckets: tuple[Bucket, ...]
    #: MemTotal minus every bucket: memory the kernel does not itemise
    #: (``alloc_pages()`` by drivers, GPU/RDMA buffers, balloon ...).
    unaccounted_bytes: int
    #: Notes on approximations made for this host (e.g. vmalloc overlap).
    notes: tuple[str, ...] = ()

    def bucket(self, key: str) -> Bucket | None:
        for b in self.buckets:
            if b.key == key:
                return b
        return None

    @property
    def reclaimable_bytes(self) -> int:
        return sum(b.size_bytes or 0 for b in self.buckets if b.reclaimable and b.key != "free")

    def by_group(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.buckets:
            out[b.group] = out.get(b.group, 0) + (b.size_bytes or 0)
        return out


def _hugetlb_bytes(m: MemInfo) -> int | None:
    if m.hugetlb_bytes is not None:
        return m.hugetlb_bytes
    if m.huge_pages_total is not None and m.hugepagesize_bytes is not None:
        return m.huge_pages_total * m.hugepagesize_bytes
    return None


def _slab_bytes(m: MemInfo) -> int | None:
    """SReclaimable + SUnreclaim, as the two slab buckets hold it (the kernel's Slab line)."""
    if m.s_reclaimable_bytes is None and m.s_unreclaim_bytes is None:
        return m.slab_bytes
    return (m.s_reclaimable_bytes or 0) + (m.s_unreclaim_bytes or 0)


def _diff(a: int | None, b: int | None) -> int | None:
    if a is None:
        return None
    return a - (b or 0)


def accounting(meminfo: MemInfo, *, vmalloc_overlap_bytes: int | None = None) -> Accounting:
    """Split MemTotal into buckets that add up, with the unaccounted gap last.

    ``vmalloc_overlap_bytes`` is the part of VmallocUsed already counted in
    KernelStack and Percpu (``kernel_clone`` and ``pcpu_*`` callers in
    /proc/vmallocinfo); without it the vmalloc bucket may double-count
    kernel stacks on ``CONFIG_VMAP_STACK`` kernels, and we say so.
    """
    m = meminfo
    notes: list[str] = []
    k_misc = None
    if m.k_reclaimable_bytes is not None:
        k_misc = m.k_reclaimable_bytes - (m.s_reclaimable_bytes or 0)
    vmalloc = m.vmalloc_used_bytes
    if vmalloc is not None:
        if vmalloc_overlap_bytes is not None:
            vmalloc = max(vmalloc - vmalloc_overlap_bytes, 0)
        elif vmalloc > 0:
            notes.append(
                "vmalloc may include kernel stacks (VMAP_STACK kernels): without "
                "/proc/vmallocinfo (root-only) they cannot be separated"
            )
    page_cache = _diff(m.cached_bytes, m.shmem_bytes)
    spec: list[tuple[str, str, int | None, bool, str, str]] = [
        ("free", "Free", m.mem_free_bytes, True, "free", "pages nobody uses"),
        ("page_cache", "Page cache", page_cache, True, "cache",
         "file contents cached in RAM (Cached less Shmem); dropped under pressure"),
        ("buffers", "Buffers", m.buffers_bytes, True, "cache",
         "block-device metadata cache (buffer_head pages)"),
        ("swap_cache", "Swap cache", m.swap_cached_bytes, True, "cache",
         "pages that are both in RAM and in swap"),
        ("shmem", "Shmem / tmpfs", m.shmem_bytes, False, "user",
         "tmpfs, /dev/shm and shared anonymous memory; counted in Cached but NOT reclaimable"),
        ("anon", "Anonymous (process heap/stack)", m.anon_pages_bytes, False, "user",
         "process private memory: malloc, stacks, anonymous mmap"),
        ("slab_reclaimable", "Slab, reclaimable", m.s_reclaimable_bytes, True, "kernel",
         "kernel object caches the shrinkers can free (dentry, inode caches)"),
        ("slab_unreclaimable", "Slab, unreclaimable", m.s_unreclaim_bytes, False, "kernel",
         "kernel objects in use (kmalloc, task_struct, sockets ...)"),
        ("kernel_misc_reclaimable", "Kernel misc reclaimable", k_misc, True, "kernel",
         "KReclaimable less SReclaimable: driver pools the kernel may reclaim"),
        ("kernel_stack", "Kernel stacks", m.kernel_stack_bytes, False, "kernel",
         "one stack per thread (16 KiB on x86_64)"),
        ("page_tables", "Page tables", m.page_tables_bytes, False, "kernel",
         "virtual-to-physical translation tables of every process"),
        ("sec_page_tables", "Secondary page tables", m.sec_page_tables_bytes, False, "kernel",
         "KVM/IOMMU page tables"),
        ("percpu", "Per-CPU", m.percpu_bytes, False, "kernel",
         "per-CPU allocator chunks (grows with memory cgroups and BPF maps)"),
        ("vmalloc", "vmalloc", vmalloc, False, "kernel",
         "virtually contiguous kernel allocations (modules, BPF, big tables)"),
        ("hugetlb", "HugeTLB pool", _hugetlb_bytes(m), False, "reserved",
         "huge pages reserved by vm.nr_hugepages, used or not"),
        ("zswap", "zswap pool", m.zswap_bytes, False, "kernel",
         "compressed swapped-out pages kept in RAM"),
        ("balloon", "Balloon", m.balloon_bytes, False, "reserved",
         "pages the hypervisor took back through the balloon driver"),
    ]
    buckets = tuple(
        Bucket(key=k, label=lbl, size_bytes=v, reclaimable=r, group=g, meaning=why)
        for k, lbl, v, r, g, why in spec
    )
    # the gap by its one definition (analysis.derived), on the same terms the buckets hold: vmalloc
    # less what vmallocinfo says is kernel stacks and per-CPU, HugeTLB from the pool if need be
    fields = {"MemTotal": m.mem_total_bytes, "MemFree": m.mem_free_bytes, "Buffers": m.buffers_bytes,
              "Cached": m.cached_bytes, "SwapCached": m.swap_cached_bytes, "AnonPages": m.anon_pages_bytes,
              "Slab": _slab_bytes(m), "KReclaimable": m.k_reclaimable_bytes,
              "SReclaimable": m.s_reclaimable_bytes, "KernelStack": m.kernel_stack_bytes,
              "PageTables": m.page_tables_bytes, "SecPageTables": m.sec_page_tables_bytes,
              "Percpu": m.percpu_bytes, "Hugetlb": _hugetlb_bytes(m), "Balloon": m.balloon_bytes,
              "Zswap": m.zswap_bytes, "VmallocUsed": vmalloc}
    gap = unaccounted(fields.get, required=("MemTotal",))
    assert gap is not None  # MemTotal is always there
    return Accounting(
        total_bytes=m.mem_total_bytes, buckets=buckets, unaccounted_bytes=gap, notes=tuple(notes)
    )
