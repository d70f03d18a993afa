"""Slab caches: size, usage, internal fragmentation, merged aliases, growth.

Sizes follow slabtop: a cache's memory is ``num_slabs x pagesperslab x
page size``.  Internal fragmentation ("waste") is that minus the bytes the
live objects need (``active_objs x objsize``): free slots in partial slabs,
per-object padding and alignment.  Computed here once, for the slab view,
``buddy`` and the detector alike.

SLUB merges caches with the same object size and flags (unless booted with
``slab_nomerge``): ``/proc/slabinfo`` then shows one line for several
caches, named after one of them; ``/sys/kernel/slab`` lists the others as
symlinks to the same directory.  A merged line's numbers belong to all of
its aliases together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.slab_sysfs import SlabSysfs, parse_slab_sysfs
from memsleuth.sources.slabinfo import parse_slabinfo

#: Caches the kernel creates with SLAB_RECLAIM_ACCOUNT (counted in
#: SReclaimable), for kernels without /sys/kernel/slab (SLAB, e.g. 2.6.32) or
#: when it is unreadable: exact names and name suffixes.
RECLAIMABLE_NAMES = frozenset({"dentry", "inode_cache", "buffer_head", "radix_tree_node",
                               "xfs_inode", "xfs_ili", "btrfs_inode", "nfs_inode_cache",
                               "fuse_inode", "mqueue_inode_cache"})
RECLAIMABLE_SUFFIXES = ("_inode_cache", "_inode")


def known_reclaimable(name: str) -> bool:
    """Whether a cache of this name is reclaimable on stock kernels."""
    return name in RECLAIMABLE_NAMES or name.endswith(RECLAIMABLE_SUFFIXES)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabRow:
    name: str
    active_objs: int
    num_objs: int
    objsize_bytes: int
    objperslab: int
    pagesperslab: int
    num_slabs: int
    size_bytes: int
    active_bytes: int
    waste_bytes: int
    usage_percent: float | None
    #: counted in SReclaimable (``reclaim_account``); from the cache name when
    #: sysfs is absent or unreadable (then ``reclaimable_inferred``)
    reclaimable: bool | None
    reclaimable_inferred: bool
    #: other caches merged into this one (SLUB aliases), excluding ``name``
    aliases: tuple[str, ...]
    growth_bytes_per_second: float | None = None
    growth_objects_per_second: float | None = None

    @property
    def merged(self) -> bool:
        return bool(self.aliases)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabTotals:
    caches: int
    active_caches: int
    active_objs: int
    num_objs: int
    size_bytes: int
    active_bytes: int
    waste_bytes: int
    reclaimable_bytes: int | None
    min_objsize_bytes: int | None
    max_objsize_bytes: int | None


def sysfs_of(snap: Snapshot) -> SlabSysfs | None:
    listing = snap.listings.get("sys/kernel/slab")
    if not listing:
        return None
    per_cache: dict[str, dict[str, str]] = {}
    for cache, target in listing.items():
        if target is not None:
            continue
        files = {}
        for name in ("reclaim_account", "objects"):
            text = snap.text(f"sys/kernel/slab/{cache}/{name}")
            if text is not None:
                files[name] = text
        per_cache[cache] = files
    return parse_slab_sysfs(dict(listing), per_cache)


def slab_rows(snap: Snapshot) -> list[SlabRow] | None:
    """One row per /proc/slabinfo line; ``None`` if slabinfo was not readable."""
    info = snap.parse("proc/slabinfo", parse_slabinfo)
    if info is None:
        return None
    sysfs = sysfs_of(snap)
    page = snap.meta.page_size_bytes
    rows = []
    for c in info.caches:
        size = c.num_slabs * c.pagesperslab * page
        active = c.active_objs * c.objsize_bytes
        reclaimable = None
        aliases: tuple[str, ...] = ()
        if sysfs is not None:
            reclaimable = sysfs.reclaimable(c.name)
            aliases = tuple(a for a in sysfs.aliases_of(c.name) if a != c.name)
        inferred = reclaimable is None
        if inferred:
            reclaimable = known_reclaimable(c.name)
        rows.append(SlabRow(
            name=c.name,
            active_objs=c.active_objs,
            num_objs=c.num_objs,
            objsize_bytes=c.objsize_bytes,
            objperslab=c.objperslab,
            pagesperslab=c.pagesperslab,
            num_slabs=c.num_slabs,
            size_bytes=size,
            active_bytes=active,
            waste_bytes=max(size - active, 0),
            usage_percent=100.0 * c.active_objs / c.num_objs if c.num_objs else None,
            reclaimable=reclaimable,
            reclaimable_inferred=inferred,
            aliases=aliases,
        ))
    return rows


def with_growth(cur: Iterable[SlabRow], prev: Iterable[SlabRow], seconds: float) -> list[SlabRow]:
    """Rows of ``cur`` with growth rates against ``prev`` over ``seconds``."""
    before = {r.name: r for r in prev}
    out = []
    for r in cur:
        p = before.get(r.name)
        grow_b = grow_o = None
        if p is not None and seconds > 0:
            grow_b = (r.size_bytes - p.size_bytes) / seconds
            grow_o = (r.active_objs - p.active_objs) / seconds
        out.append(dataclasses.replace(r, growth_bytes_per_second=grow_b,
                                       growth_objects_per_second=grow_o))
    return out


def totals(rows: Iterable[SlabRow]) -> SlabTotals:
    rows = list(rows)
    sizes = [r.objsize_bytes for r in rows if r.num_objs]
    known = [r for r in rows if r.reclaimable is not None]
    return SlabTotals(
        caches=len(rows),
        active_caches=sum(1 for r in rows if r.active_objs),
        active_objs=sum(r.active_objs for r in rows),
        num_objs=sum(r.num_objs for r in rows),
        size_bytes=sum(r.size_bytes for r in rows),
        active_bytes=sum(r.active_bytes for r in rows),
        waste_bytes=sum(r.waste_bytes for r in rows),
        reclaimable_bytes=sum(r.size_bytes for r in known if r.reclaimable) if known else None,
        min_objsize_bytes=min(sizes) if sizes else None,
        max_objsize_bytes=max(sizes) if sizes else None,
    )


SORT_KEYS: dict[str, Callable[[SlabRow], float | int | str]] = {
    "size": lambda r: r.size_bytes,
    "objects": lambda r: r.num_objs,
    "active": lambda r: r.active_objs,
    "objsize": lambda r: r.objsize_bytes,
    "waste": lambda r: r.waste_bytes,
    "usage": lambda r: -(r.usage_percent or 0.0),
    "growth": lambda r: r.growth_bytes_per_second or 0.0,
    "name": lambda r: r.name,
}


def sort_rows(rows: Iterable[SlabRow], key: str) -> list[SlabRow]:
    f = SORT_KEYS[key]
    return sorted(rows, key=f, reverse=key not in ("name", "usage"))
