"""What each series is: the subject it names, how specific it is, and which sums contain it.

A series key (:mod:`memsleuth.keys`) becomes a :class:`Subject` (kind,
human name, unit, rank, reclaimable) or nothing (headroom, configuration,
event counters).  :func:`covers` says when one subject's growth is part of
another's: a process's anon pages in AnonPages and its cgroup's ``anon``,
a slab cache in SReclaimable, dentry counts beside the dentry cache.  The
detector (:mod:`.detect`) groups findings by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.analysis.derived import GAP_KEY
from memsleuth.analysis.series import History
from memsleuth.keys import CgroupKey, MeminfoKey, ProcessKey, SlabKey, parse_key

#: meminfo keys that are headroom or configuration, not consumption
_MEMINFO_SKIP = frozenset({
    "MemTotal", "MemFree", "MemAvailable", "SwapTotal", "SwapFree", "CommitLimit", "VmallocTotal",
    "VmallocChunk", "Hugepagesize", "HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
    "HugePages_Surp", "CmaTotal", "CmaFree", "DirectMap4k", "DirectMap2M", "DirectMap1G", "DirectMap4M",
})
#: page-cache family and virtual totals: assessed so they can be *related*, never a finding of their own
_MEMINFO_CONTEXT = frozenset({
    "Cached", "Buffers", "Active(file)", "Inactive(file)", "Mapped", "Active", "Inactive", "Dirty",
    "Writeback", "WritebackTmp", "NFS_Unstable", "Bounce", "FileHugePages", "FilePmdMapped",
    "SwapCached", "Committed_AS", "Zswapped",
})
#: sums of more specific buckets: a finding only if nothing more specific explains them
_MEMINFO_AGGREGATE = frozenset({
    "AnonPages", "Active(anon)", "Inactive(anon)", "Slab", "KReclaimable", "AnonHugePages",
})
_MEMINFO_RECLAIMABLE = frozenset({"SReclaimable", "KReclaimable"})
#: cgroup memory.stat keys in bytes (v2 and v1); the rest are event counters
_CGROUP_BYTE_KEYS = frozenset({
    "anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables", "percpu", "sock",
    "vmalloc", "shmem", "zswap", "zswapped", "file_mapped", "file_dirty", "file_writeback",
    "swapcached", "anon_thp", "file_thp", "shmem_thp", "inactive_anon", "active_anon", "inactive_file",
    "active_file", "unevictable", "slab_reclaimable", "slab_unreclaimable", "slab",
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "swap",
})
_CGROUP_CONTEXT = frozenset({
    "file", "file_mapped", "file_dirty", "file_writeback", "inactive_file", "active_file", "file_thp",
    "cache", "mapped_file", "dirty", "writeback", "swapcached", "zswapped",
})
_CGROUP_RECLAIMABLE = frozenset({"slab_reclaimable"})
#: slab caches flagged SLAB_RECLAIM_ACCOUNT (``reclaim_account=1``) on common kernels
_RECLAIMABLE_CACHES = frozenset({
    "dentry", "buffer_head", "radix_tree_node", "xfs_inode", "ext4_extent_status", "mbcache",
    "nfs_inode_cache", "fuse_inode", "btrfs_inode", "ovl_inode", "isofs_inode_cache", "xfs_dquot",
})
_SOCK_CACHES = frozenset({"sock_inode_cache", "TCP", "TCPv6", "UDP", "UDPv6", "RAW", "RAWv6",
                          "skbuff_head_cache", "skbuff_small_head", "request_sock_TCP", "tw_sock_TCP"})
_PROC_FIELDS = {"pss_bytes": "bytes", "rss_anon_bytes": "bytes", "vm_pte_bytes": "bytes", "threads": "count"}
_COUNT_KEYS = frozenset({
    "dentry.nr_dentry", "dentry.nr_unused", "dentry.nr_negative", "inode.nr_inodes",
    "sockstat.sockets_used", "sockstat.tcp_inuse", "sockstat.tcp_orphan", "sockstat.tcp_tw",
    "sockstat.tcp_alloc", "sockstat.tcp_mem_pages", "sockstat.udp_inuse", "sockstat.udp_mem_pages",
    "sockstat.frag_inuse", "sockstat.raw_inuse",
})
#: about what one object of a counted kind costs, in bytes (dentry 192; an fs inode 600-1,100;
#: a socket 1-2 KiB; *_mem_pages count pages): the counts get the byte series' effect-size floor
_OBJECT_BYTES = (("dentry.", 192.0), ("inode.", 600.0), ("sockstat.tcp_mem_pages", 4096.0),
                 ("sockstat.udp_mem_pages", 4096.0), ("sockstat.", 1024.0))
_ANON_SUMS = frozenset({
    "meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.AnonHugePages",
    "meminfo.Committed_AS", "meminfo.Active", "meminfo.Inactive",
})


def is_reclaimable_cache(name: str) -> bool:
    """Slab caches the shrinkers free: the known list and every ``*inode_cache``."""
    return name in _RECLAIMABLE_CACHES or (name.endswith("inode_cache") and name != "sock_inode_cache")


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    key: str
    kind: str
    name: str
    unit: str
    #: 0 = most specific; 9 = context only (never a primary finding)
    rank: int
    reclaimable: bool = False


def subject(key: str, history: History) -> Subject | None:
    """The subject ``key`` names, or ``None`` when it is not a subject of its own."""
    k = parse_key(key)
    if k is None:
        return None
    if isinstance(k, MeminfoKey):
        f = key[8:]
        if f in _MEMINFO_SKIP:
            return None
        rank = 9 if f in _MEMINFO_CONTEXT else 5 if f in _MEMINFO_AGGREGATE else 3
        unit = "count" if f.startswith("HugePages_") else "bytes"
        return Subject(key=key, kind="meminfo", name=f, unit=unit, rank=rank,
                       reclaimable=f in _MEMINFO_RECLAIMABLE)
    if isinstance(k, SlabKey):
        if k.field != "size_bytes":
            return None
        return Subject(key=key, kind="slab", name=f"slab cache {k.cache}", unit="bytes", rank=1,
                       reclaimable=is_reclaimable_cache(k.cache))
    if key in _COUNT_KEYS:
        kind = key.split(".", 1)[0]
        return Subject(key=key, kind=kind, name=key, unit="count", rank=4,
                       reclaimable=kind in ("dentry", "inode"))
    if key == "sockstat.frag_memory_bytes":
        return Subject(key=key, kind="sockstat", name=key, unit="bytes", rank=4)
    if isinstance(k, CgroupKey):
        if k.stat is None or k.stat not in _CGROUP_BYTE_KEYS:
            return None
        depth = 0 if k.path == "/" else k.path.count("/")
        rank = 9 if k.stat in _CGROUP_CONTEXT else (5 if depth == 0 else 2)
        return Subject(key=key, kind="cgroup", name=f"{k.path} {k.stat}", unit="bytes", rank=rank,
                       reclaimable=k.stat in _CGROUP_RECLAIMABLE)
    if isinstance(k, ProcessKey):
        punit = _PROC_FIELDS.get(k.field)
        if punit is None:
            return None
        info = history.processes.get(k.identity)
        comm = info.comm if info is not None else "?"
        return Subject(key=key, kind="process", name=f"{comm} (pid {k.pid})", unit=punit, rank=0)
    if key == GAP_KEY:
        return Subject(key=key, kind="gap", name="unaccounted (gap)", unit="bytes", rank=3)
    return None


def covers(primary: Subject, other: Subject, history: History) -> bool:
    """Whether ``other`` is a sum that includes ``primary``, or counts the same objects."""
    p, o = primary.key, other.key
    if p == o:
        return False
    pk, ok = parse_key(p), parse_key(o)
    if isinstance(pk, ProcessKey):
        if isinstance(ok, ProcessKey):
            return ok.identity == pk.identity
        field = pk.field
        if field == "threads":
            return o == "meminfo.KernelStack" or o.startswith("slab.task_struct") or (
                o.endswith(".kernel_stack"))
        if field == "vm_pte_bytes":
            return o == "meminfo.PageTables" or o.endswith(".pagetables")
        if o in _ANON_SUMS:
            return True
        if isinstance(ok, CgroupKey) and ok.stat is not None:
            if ok.stat not in ("anon", "active_anon", "inactive_anon", "rss", "anon_thp", "rss_huge"):
                return False
            info = history.processes.get(pk.identity)
            if info is None or info.cgroup is None:
                return True
            cg = ok.path
            return cg == "/" or info.cgroup == cg or info.cgroup.startswith(cg.rstrip("/") + "/")
        return False
    if isinstance(pk, SlabKey):
        name = pk.cache
        common = {"meminfo.Slab"}
        if primary.reclaimable:
            common |= {"meminfo.SReclaimable", "meminfo.KReclaimable"}
        else:
            common |= {"meminfo.SUnreclaim"}
        if o in common:
            return True
        if other.kind == "cgroup":
            own = ".slab_reclaimable" if primary.reclaimable else ".slab_unreclaimable"
            return o.endswith((".slab", ".kernel", own))
        if name == "dentry":
            return other.kind in ("dentry",)
        if "inode" in name and name != "sock_inode_cache":
            return other.kind == "inode"
        if name in _SOCK_CACHES:
            return other.kind == "sockstat"
        if name.startswith("task_struct"):
            return o == "meminfo.KernelStack" or o.endswith(".kernel_stack")
        return False
    if isinstance(pk, CgroupKey) and pk.stat is not None:
        path, stat = pk.path, pk.stat
        if isinstance(ok, CgroupKey) and ok.stat is not None:
            opath, ostat = ok.path, ok.stat
            ancestor = opath == "/" or path.startswith(opath.rstrip("/") + "/")
            if ostat == stat:
                return ancestor
            if opath == path or ancestor:
                return ((ostat in ("kernel", "slab") and stat in ("slab_reclaimable", "slab_unreclaimable",
                                                                  "kernel_stack", "pagetables", "percpu",
                                                                  "vmalloc", "sec_pagetables"))
                        or (ostat in ("file", "cache") and stat == "shmem"))
            return False
        equiv = _CGROUP_TO_MEMINFO.get(stat, ())
        return o in equiv
    if primary.kind == "meminfo":
        f = primary.name
        return o in _MEMINFO_COVERS.get(f, ()) or (other.kind == "cgroup" and o.rsplit(".", 1)[1] in
                                                   _MEMINFO_TO_CGROUP.get(f, ()))
    if primary.kind in ("dentry", "inode"):
        return o in ("meminfo.SReclaimable", "meminfo.KReclaimable", "meminfo.Slab") or (
            other.kind == primary.kind)
    if primary.kind == "sockstat":
        return other.kind == "sockstat"
    return False


def traits(key: str) -> tuple[str, bool]:
    """(unit, reclaimable) of any series key, a subject or not: ``count`` unless the key names bytes
    (meminfo sizes, ``*_bytes``, cgroup memory files); reclaimable for the kernel caches the
    shrinkers free (reclaimable slab caches, dentries, inodes, SReclaimable and KReclaimable)."""
    k = parse_key(key)
    if isinstance(k, MeminfoKey):
        return ("count" if k.field.startswith("HugePages_") else "bytes"), k.field in _MEMINFO_RECLAIMABLE
    if isinstance(k, SlabKey):
        return ("bytes" if k.field.endswith("_bytes") else "count"), is_reclaimable_cache(k.cache)
    if isinstance(k, CgroupKey):
        byte = k.stat in _CGROUP_BYTE_KEYS if k.stat is not None else True
        return ("bytes" if byte else "count"), k.stat in _CGROUP_RECLAIMABLE
    reclaimable = key.startswith(("dentry.", "inode.")) or key.endswith("_reclaimable_bytes")
    return ("bytes" if key.endswith("_bytes") else "count"), reclaimable


def object_bytes(key: str) -> float | None:
    """About what one object of a counted kind costs (``dentry.*``: 192 B), else ``None``."""
    return next((b for p, b in _OBJECT_BYTES if key.startswith(p)), None)


def candidate_keys(history: History) -> list[str]:
    """The series detection looks at: all but event counters, PSI and file handles."""
    return [k for k in history.series if not k.startswith(("vmstat.", "psi.", "file."))]


_CGROUP_TO_MEMINFO: dict[str, tuple[str, ...]] = {
    "anon": ("meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Committed_AS"),
    "rss": ("meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Committed_AS"),
    "shmem": ("meminfo.Shmem", "meminfo.Cached", "meminfo.Active(anon)", "meminfo.Inactive(anon)"),
    "slab_reclaimable": ("meminfo.SReclaimable", "meminfo.KReclaimable", "meminfo.Slab"),
    "slab_unreclaimable": ("meminfo.SUnreclaim", "meminfo.Slab"),
    "slab": ("meminfo.Slab",),
    "kernel_stack": ("meminfo.KernelStack",),
    "pagetables": ("meminfo.PageTables",),
    "percpu": ("meminfo.Percpu",),
    "vmalloc": ("meminfo.VmallocUsed",),
    "sock": (),
}
_MEMINFO_COVERS: dict[str, tuple[str, ...]] = {
    "Shmem": ("meminfo.Cached", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Active",
              "meminfo.Inactive", "meminfo.Committed_AS", "meminfo.Mapped"),
    "SReclaimable": ("meminfo.Slab", "meminfo.KReclaimable", "dentry.nr_dentry", "dentry.nr_unused",
                     "dentry.nr_negative", "inode.nr_inodes"),
    "SUnreclaim": ("meminfo.Slab",),
    "AnonPages": ("meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Committed_AS", "meminfo.Active",
                  "meminfo.Inactive", "meminfo.AnonHugePages"),
    "Active(anon)": ("meminfo.Active", "meminfo.AnonPages", "meminfo.Committed_AS"),
    "Inactive(anon)": ("meminfo.Inactive", "meminfo.AnonPages", "meminfo.Committed_AS"),
    "AnonHugePages": ("meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)"),
    "KReclaimable": ("meminfo.Slab", "meminfo.SReclaimable"),
    "Slab": ("meminfo.SReclaimable", "meminfo.SUnreclaim", "meminfo.KReclaimable"),
    "Unevictable": ("meminfo.Mlocked",),
    "Mlocked": ("meminfo.Unevictable",),
}
_MEMINFO_TO_CGROUP: dict[str, tuple[str, ...]] = {
    "AnonPages": ("anon", "rss"), "Shmem": ("shmem",), "SReclaimable": ("slab_reclaimable", "slab"),
    "SUnreclaim": ("slab_unreclaimable", "slab"), "KernelStack": ("kernel_stack", "kernel"),
    "PageTables": ("pagetables", "kernel"), "Percpu": ("percpu", "kernel"),
    "VmallocUsed": ("vmalloc", "kernel"),
}


__all__ = ["Subject", "candidate_keys", "covers", "is_reclaimable_cache", "object_bytes", "subject", "traits"]
