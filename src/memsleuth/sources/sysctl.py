"""Single-value files under ``/proc/sys`` (sysctls) and the THP mode.

Units follow the sysctl's own name: ``*_kbytes`` are KiB, ``*_ratio`` and
``vfs_cache_pressure`` percent, ``nr_hugepages`` pages, the rest counts or
modes.  :data:`VM_SYSCTLS` names the ones memsleuth reads and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/sys"

#: sysctl name -> (path under the root, unit, meaning)
VM_SYSCTLS: Mapping[str, tuple[str, str, str]] = MappingProxyType({
    "vm.min_free_kbytes": ("proc/sys/vm/min_free_kbytes", "KiB",
                           "free memory the kernel keeps back; sets the zone watermarks"),
    "vm.watermark_scale_factor": ("proc/sys/vm/watermark_scale_factor", "1/10000 of RAM",
                                  "distance between watermarks: how early kswapd wakes"),
    "vm.vfs_cache_pressure": ("proc/sys/vm/vfs_cache_pressure", "percent",
                              "how hard reclaim pushes on dentry and inode caches (100 = fair)"),
    "vm.swappiness": ("proc/sys/vm/swappiness", "0-200", "preference for swapping anon over "
                      "dropping page cache"),
    "vm.overcommit_memory": ("proc/sys/vm/overcommit_memory", "mode",
                             "0 heuristic, 1 always, 2 strict (CommitLimit)"),
    "vm.overcommit_ratio": ("proc/sys/vm/overcommit_ratio", "percent",
                            "share of RAM in CommitLimit under mode 2"),
    "vm.overcommit_kbytes": ("proc/sys/vm/overcommit_kbytes", "KiB",
                             "absolute alternative to overcommit_ratio"),
    "vm.admin_reserve_kbytes": ("proc/sys/vm/admin_reserve_kbytes", "KiB",
                                "memory kept for root under strict overcommit"),
    "vm.user_reserve_kbytes": ("proc/sys/vm/user_reserve_kbytes", "KiB",
                               "memory kept for recovery under strict overcommit"),
    "vm.nr_hugepages": ("proc/sys/vm/nr_hugepages", "pages", "size of the hugetlb pool"),
    "vm.zone_reclaim_mode": ("proc/sys/vm/zone_reclaim_mode", "mode",
                             "reclaim in the local NUMA node before going remote"),
    "vm.dirty_ratio": ("proc/sys/vm/dirty_ratio", "percent",
                       "dirty page cache at which writers are throttled"),
    "vm.dirty_background_ratio": ("proc/sys/vm/dirty_background_ratio", "percent",
                                  "dirty page cache at which writeback starts"),
    "vm.max_map_count": ("proc/sys/vm/max_map_count", "mappings", "VMAs per process"),
    "vm.panic_on_oom": ("proc/sys/vm/panic_on_oom", "mode", "panic instead of OOM-killing"),
    "kernel.pid_max": ("proc/sys/kernel/pid_max", "pids", "largest PID"),
    "kernel.threads-max": ("proc/sys/kernel/threads-max", "threads", "system-wide thread limit"),
    "net.netfilter.nf_conntrack_count": ("proc/sys/net/netfilter/nf_conntrack_count", "entries",
                                         "connections tracked now"),
    "net.netfilter.nf_conntrack_max": ("proc/sys/net/netfilter/nf_conntrack_max", "entries",
                                       "size limit of the conntrack table"),
    "fs.dentry-negative": ("proc/sys/fs/dentry-negative", "mode",
                           "1: unlink does not leave a negative dentry (6.8+)"),
})


def parse_int_sysctl(text: str) -> int:
    """A sysctl holding one integer."""
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        raise ParseError(SOURCE, f"expected one integer, got {value[:40]!r}") from None


def parse_int_vector(text: str) -> tuple[int, ...]:
    """A sysctl holding several integers (``tcp_mem``: ``low pressure high``)."""
    try:
        values = tuple(int(v) for v in text.split())
    except ValueError:
        raise ParseError(SOURCE, f"expected integers, got {text.strip()[:40]!r}") from None
    if not values:
        raise ParseError(SOURCE, "empty sysctl")
    return values


def parse_thp_enabled(text: str) -> str:
    """``always [madvise] never`` -> ``madvise`` (the bracketed choice)."""
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    raise ParseError("sys/kernel/mm/transparent_hugepage/enabled", f"no [choice] in {text!r}")
