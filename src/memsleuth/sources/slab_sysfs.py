"""``/sys/kernel/slab`` (SLUB only): merged caches, their aliases and flags.

Layout: one real directory per kmem_cache, and one symlink per cache *name*
that was merged into another cache::

    dentry/                      an unmergeable cache, named after itself
    :0000192/                    a merged cache, named by its unique id
    file_lock_cache -> :0000192  every name merged into it, as a symlink
    rtable          -> :0000192

Merging: when a cache is created, SLUB looks for an existing cache with a
slot size that fits (within a word), the same alignment and the same
``SLAB_MERGE_SAME`` flags, and no constructor, RCU-typesafe freeing, debug
flags or (with hardened usercopy) usercopy region; if it finds one it bumps
that cache's refcount and adds a symlink instead of creating a cache.
Booting with ``slab_nomerge`` (``slub_nomerge`` on old kernels) turns it off.
/proc/slabinfo then prints a single line for the group, under the name of
the cache that was created first (``file_lock_cache`` stands for
``rtable``, ``inet_peer`` ... too), so its numbers belong to the group.

The unique id is ``:`` + flag letters + ``-`` + the slot size in bytes, zero
padded (``create_unique_id()`` in mm/slub.c): ``d`` SLAB_CACHE_DMA, ``D``
SLAB_CACHE_DMA32, ``a`` SLAB_RECLAIM_ACCOUNT (counted in SReclaimable),
``F`` SLAB_CONSISTENCY_CHECKS, ``A`` SLAB_ACCOUNT (charged to memory cgroups),
``t`` SLAB_NOTRACK (kmemcheck, gone in 4.15).  The size is the slot (object
plus metadata and alignment), not slabinfo's objsize.

Files (mode 0400 or 0444): ``reclaim_account`` is ``1``/``0``; ``objects``
reads ``9387 N0=9387`` (objects in use, then per NUMA node; only with
CONFIG_SLUB_DEBUG); ``aliases`` is the number of *other* caches merged into
this one (refcount - 1).

The parser is pure: the caller lists the directory (``readlink`` of each
symlink) and reads the files; anything it could not read is ``None``.
SLAB (2.6.32's default) has no /sys/kernel/slab at all: no aliases, no
flag, and every slabinfo line is one cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "sys/kernel/slab"

#: flag letters of a merged cache's unique id (``create_unique_id`` in mm/slub.c)
ID_FLAGS: Mapping[str, str] = MappingProxyType({
    "d": "SLAB_CACHE_DMA",
    "D": "SLAB_CACHE_DMA32",
    "a": "SLAB_RECLAIM_ACCOUNT",
    "F": "SLAB_CONSISTENCY_CHECKS",
    "A": "SLAB_ACCOUNT",
    "t": "SLAB_NOTRACK",
})

_UNIQUE_ID = re.compile(r":([A-Za-z]*)-?([0-9]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabDir:
    """One real directory under /sys/kernel/slab: one kmem_cache."""

    directory: str
    #: cache names that are symlinks to this directory, sorted
    names: tuple[str, ...]
    #: flag letters of a ``:`` unique id (``"aA"``); ``None`` for a named directory
    id_flags: str | None
    #: slot size encoded in a ``:`` unique id; ``None`` for a named directory
    id_size_bytes: int | None
    #: counted in SReclaimable; ``None`` if the file was not read
    reclaim_account: bool | None
    #: objects in use; ``None`` if the file was not read
    objects: int | None
    #: NUMA node -> objects in use (empty if ``objects`` was not read)
    objects_per_node: Mapping[int, int] = field(default_factory=dict)
    #: the kernel's ``aliases`` count (other caches merged into this one)
    aliases: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabSysfs:
    #: real directory -> what it says
    dirs: Mapping[str, SlabDir]
    #: every entry (symlink or directory) -> its real directory
    canonical: Mapping[str, str]

    def resolve(self, name: str) -> str | None:
        """The real directory behind ``name``; ``None`` if not listed."""
        return self.canonical.get(name)

    def aliases_of(self, name: str) -> tuple[str, ...]:
        """Every cache name in ``name``'s merge group, sorted, ``name`` included.

        ``:``-ids are directories, not cache names, and are left out; an
        unmerged named directory is its own only name.
        """
        target = self.canonical.get(name)
        if target is None:
            return ()
        return tuple(sorted(n for n, d in self.canonical.items()
                            if d == target and not n.startswith(":")))

    def reclaimable(self, name: str) -> bool | None:
        """``reclaim_account`` of ``name``'s cache; ``None`` if unknown."""
        target = self.canonical.get(name)
        d = self.dirs.get(target) if target is not None else None
        return d.reclaim_account if d is not None else None

    def iter_alias_groups(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """``(directory, names)`` for every cache with at least two names."""
        for directory in sorted(self.dirs):
            names = self.aliases_of(directory)
            if len(names) > 1:
                yield directory, names


def parse_objects(text: str, *, source: str = SOURCE) -> tuple[int, dict[int, int]]:
    """``"9387 N0=9000 N1=387"`` -> ``(9387, {0: 9000, 1: 387})``."""
    parts = text.split()
    if not parts:
        raise ParseError(source, "empty objects file")
    per_node: dict[int, int] = {}
    try:
        total = int(parts[0])
        for p in parts[1:]:
            key, sep, value = p.partition("=")
            if not sep or not key.startswith("N"):
                raise ValueError(p)
            per_node[int(key[1:])] = int(value)
    except ValueError:
        raise ParseError(source, f"bad objects line {text.strip()!r}") from None
    return total, per_node


def parse_unique_id(directory: str) -> tuple[str, int] | None:
    """``":aA-0000192"`` -> ``("aA", 192)``; ``None`` for a named directory."""
    m = _UNIQUE_ID.fullmatch(directory)
    if m is None:
        return None
    return m.group(1), int(m.group(2))


def _flag(text: str | None, what: str, source: str) -> bool | None:
    if text is None:
        return None
    value = text.strip()
    if value not in ("0", "1"):
        raise ParseError(source, f"{what}: expected 0 or 1, got {value!r}")
    return value == "1"


def _count(text: str | None, what: str, source: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise ParseError(source, f"{what}: not an integer: {text.strip()!r}") from None


def parse_slab_sysfs(listing: Mapping[str, str | None],
                     files: Mapping[str, Mapping[str, str]],
                     *, source: str = SOURCE) -> SlabSysfs:
    """Build a :class:`SlabSysfs` from a listing and the files that were read.

    ``listing``: entry name -> symlink target (``None`` for a directory);
    targets may be relative (``:0000192``) or paths (``../slab/:0000192``).
    ``files``: directory -> {``reclaim_account``/``objects``/``aliases``: text}.
    A symlink whose target is not listed (the cache went away between the
    listing and the readlink) still resolves, to a directory with no record.
    """
    canonical: dict[str, str] = {}
    for name, target in listing.items():
        canonical[name] = name if target is None else target.rstrip("/").rsplit("/", 1)[-1]
    names: dict[str, list[str]] = {}
    for name, target in canonical.items():
        if name != target:
            names.setdefault(target, []).append(name)
    dirs: dict[str, SlabDir] = {}
    for name, target in listing.items():
        if target is not None:
            continue
        f = files.get(name, {})
        where = f"{source}/{name}"
        objects: int | None = None
        per_node: dict[int, int] = {}
        if "objects" in f:
            objects, per_node = parse_objects(f["objects"], source=f"{where}/objects")
        uid = parse_unique_id(name)
        dirs[name] = SlabDir(
            directory=name,
            names=tuple(sorted(names.get(name, ()))),
            id_flags=uid[0] if uid else None,
            id_size_bytes=uid[1] if uid else None,
            reclaim_account=_flag(f.get("reclaim_account"), "reclaim_account", where),
            objects=objects,
            objects_per_node=MappingProxyType(per_node),
            aliases=_count(f.get("aliases"), "aliases", where),
        )
    return SlabSysfs(dirs=MappingProxyType(dirs), canonical=MappingProxyType(canonical))
