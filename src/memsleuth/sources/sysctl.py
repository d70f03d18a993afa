"""Single-value files under ``/proc/sys`` (sysctls) and the THP mode files.

A sysctl file holds one integer (``/proc/sys/vm/min_free_kbytes``), or a
tab-separated vector (``/proc/sys/net/ipv4/tcp_mem``: ``low pressure high``),
followed by a newline (kernel/sysctl.c ``proc_dointvec`` and friends;
Documentation/admin-guide/sysctl/vm.rst, kernel.rst, fs.rst).

Units: the kernel does not print any; each sysctl has its own, written in
:data:`VM_SYSCTLS`.  The parsers here return the integer as printed and do
*not* convert, because the right conversion depends on which file was read
(``min_free_kbytes`` is KiB, ``tcp_mem`` is pages, ``swappiness`` is a
weight).  Callers look the unit up in the table.

Traps:

* ``tcp_mem`` and ``udp_mem`` are in *pages*, like the ``mem`` fields of
  ``/proc/net/sockstat``; ``min_free_kbytes`` and the ``*_reserve_kbytes``
  are KiB.
* ``swappiness`` ranges 0-200 since Linux 5.8 (0-100 before).
* ``overcommit_kbytes`` and ``overcommit_ratio`` are two views of one
  setting: writing one zeroes the other.  ``dirty_bytes`` and
  ``dirty_ratio`` behave the same way.
* ``nf_conntrack_*`` exist only when the nf_conntrack module is loaded, and
  are per network namespace.  ``fs.dentry-negative`` exists only on recent
  kernels.  A missing file is the caller's business (``SourceMissing``), not
  a parse error.
* THP mode files (``sys/kernel/mm/transparent_hugepage/enabled``,
  ``defrag``, ``shmem_enabled``) list every choice and bracket the active
  one: ``always [madvise] never``.  RHEL 6 spells the directory
  ``redhat_transparent_hugepage``; the file format is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from memsleuth.errors import ParseError

SOURCE = "proc/sys"
THP_ENABLED = "sys/kernel/mm/transparent_hugepage/enabled"

#: How to read a sysctl's integer.  ``kB``: KiB; ``pages``: base pages;
#: ``percent``: of the quantity the meaning names; ``per_10000``: fractions
#: of 10000; ``weight``: a relative weight; ``count``: a plain count;
#: ``mode``: an enumeration or bit mask, see the meaning.
Unit = Literal["kB", "pages", "percent", "per_10000", "weight", "count", "mode"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SysctlSpec:
    """What one sysctl file is: where it lives, its unit, what it means."""

    #: dotted sysctl name, as ``sysctl -a`` prints it
    name: str
    #: path relative to the root, as the snapshot keys it
    path: str
    unit: Unit
    #: one line, for views and findings
    meaning: str


def _spec(name: str, unit: Unit, meaning: str) -> SysctlSpec:
    return SysctlSpec(name=name, path="proc/sys/" + name.replace(".", "/"), unit=unit, meaning=meaning)


# fmt: off
_TABLE: tuple[tuple[str, Unit, str], ...] = (
    ("vm.min_free_kbytes", "kB",
     "free memory the kernel holds back; sets every zone's min watermark"),
    ("vm.watermark_scale_factor", "per_10000",
     "gap between the min, low and high watermarks: how early kswapd wakes"),
    ("vm.vfs_cache_pressure", "weight",
     "how hard reclaim pushes dentry and inode caches versus page cache (100 = fair)"),
    ("vm.swappiness", "weight",
     "cost of swapping anon pages versus dropping page cache (0-200, default 60)"),
    ("vm.overcommit_memory", "mode",
     "0 heuristic overcommit, 1 always allow, 2 strict: refuse past CommitLimit"),
    ("vm.overcommit_ratio", "percent",
     "share of RAM (excluding hugetlb) that mode 2 adds to swap for CommitLimit"),
    ("vm.overcommit_kbytes", "kB",
     "absolute alternative to overcommit_ratio; 0 means the ratio is used"),
    ("vm.admin_reserve_kbytes", "kB",
     "memory kept back for root sessions under strict overcommit"),
    ("vm.user_reserve_kbytes", "kB",
     "memory kept back so a user can kill a runaway process under strict overcommit"),
    ("vm.nr_hugepages", "count",
     "huge pages of the default size in the hugetlb pool: reserved, not in MemAvailable"),
    ("vm.zone_reclaim_mode", "mode",
     "bit mask; non-zero reclaims on the local NUMA node before allocating remotely"),
    ("vm.dirty_ratio", "percent",
     "dirty page cache, as a share of available memory, at which writers block"),
    ("vm.dirty_background_ratio", "percent",
     "dirty page cache, as a share of available memory, at which writeback starts"),
    ("vm.max_map_count", "count",
     "most memory mappings (VMAs) one process may have; mmap fails with ENOMEM past it"),
    ("vm.panic_on_oom", "mode",
     "0 OOM-kill a task, 1 panic unless the OOM is cpuset/memcg-local, 2 always panic"),
    ("kernel.pid_max", "count",
     "PIDs wrap at this value; also caps the number of tasks"),
    ("kernel.threads-max", "count",
     "system-wide task limit; boot default keeps kernel stacks under 1/8 of RAM"),
    ("net.netfilter.nf_conntrack_count", "count",
     "connections tracked now; each entry is slab memory (nf_conntrack cache)"),
    ("net.netfilter.nf_conntrack_max", "count",
     "conntrack table limit; past it new connections are dropped"),
    ("fs.dentry-negative", "mode",
     "1: unlink frees the dentry instead of leaving a negative one (recent kernels)"),
)
# fmt: on
_SPECS = tuple(_spec(name, unit, meaning) for name, unit, meaning in _TABLE)

#: dotted sysctl name -> :class:`SysctlSpec`: the sysctls memsleuth reads.
VM_SYSCTLS: Mapping[str, SysctlSpec] = MappingProxyType({s.name: s for s in _SPECS})


def parse_int_sysctl(text: str, *, source: str = SOURCE) -> int:
    """A sysctl holding one integer (may be negative), returned as printed."""
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        raise ParseError(source, f"expected one integer, got {value[:40]!r}") from None


def parse_int_vector(text: str, *, source: str = SOURCE) -> tuple[int, ...]:
    """A sysctl holding several integers (``tcp_mem``: ``low pressure high``)."""
    try:
        values = tuple(int(v) for v in text.split())
    except ValueError:
        raise ParseError(source, f"expected integers, got {text.strip()[:40]!r}") from None
    if not values:
        raise ParseError(source, "empty file, expected integers")
    return values


def parse_thp_enabled(text: str, *, source: str = THP_ENABLED) -> str:
    """The bracketed choice: ``always [madvise] never`` -> ``madvise``.

    Also reads ``defrag`` and ``shmem_enabled``, which share the format.
    """
    chosen = [w[1:-1] for w in text.split() if w.startswith("[") and w.endswith("]")]
    if len(chosen) != 1 or not chosen[0]:
        raise ParseError(source, f"expected exactly one [choice]: {text.strip()[:80]!r}")
    return chosen[0]
