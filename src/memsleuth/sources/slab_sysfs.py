"""``/sys/kernel/slab`` (SLUB): merge aliases, reclaim_account, per-node objects.

The directory has one real directory per cache, named after the cache or,
for mergeable caches, ``:<flags>-<size>`` (``:0000192``, ``:A-0000192``);
every cache name merged into it is a symlink to that directory.  Files are
mode 0400.  ``reclaim_account`` is 1 for caches counted in SReclaimable;
``objects`` reads ``9387 N0=9387`` (total, then per node).

SLAB (2.6.32 default) has no /sys/kernel/slab: no aliases, no flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "sys/kernel/slab"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabDir:
    directory: str
    reclaim_account: bool | None
    objects: int | None
    objects_per_node: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabSysfs:
    #: real directory -> what it says
    dirs: Mapping[str, SlabDir]
    #: every name (alias or directory) -> its real directory
    canonical: Mapping[str, str]

    def resolve(self, name: str) -> str | None:
        return self.canonical.get(name)

    def aliases_of(self, name: str) -> tuple[str, ...]:
        """Every cache name sharing ``name``'s directory, sorted (``:xxx`` names excluded)."""
        target = self.canonical.get(name)
        if target is None:
            return ()
        return tuple(sorted(n for n, d in self.canonical.items()
                            if d == target and not n.startswith(":")))

    def reclaimable(self, name: str) -> bool | None:
        target = self.canonical.get(name)
        d = self.dirs.get(target) if target else None
        return d.reclaim_account if d else None


def parse_objects(text: str) -> tuple[int, dict[int, int]]:
    parts = text.split()
    if not parts:
        raise ParseError(SOURCE, "empty objects file")
    try:
        total = int(parts[0])
        per_node = {int(k[1:]): int(v) for k, _, v in (p.partition("=") for p in parts[1:])
                    if k.startswith("N")}
    except ValueError:
        raise ParseError(SOURCE, f"bad objects line {text.strip()!r}") from None
    return total, per_node


def parse_slab_sysfs(listing: Mapping[str, str | None],
                     files: Mapping[str, Mapping[str, str]]) -> SlabSysfs:
    """``listing``: entry -> symlink target (None for directories);
    ``files``: directory -> {file name: text} for the files that could be read."""
    canonical: dict[str, str] = {}
    for name, target in listing.items():
        canonical[name] = name if target is None else target.rstrip("/").rsplit("/", 1)[-1]
    dirs: dict[str, SlabDir] = {}
    for name, target in listing.items():
        if target is not None:
            continue
        f = files.get(name, {})
        reclaim = f.get("reclaim_account")
        objects: int | None = None
        per_node: dict[int, int] = {}
        if "objects" in f:
            objects, per_node = parse_objects(f["objects"])
        dirs[name] = SlabDir(
            directory=name,
            reclaim_account=None if reclaim is None else reclaim.strip() == "1",
            objects=objects,
            objects_per_node=MappingProxyType(per_node),
        )
    return SlabSysfs(dirs=MappingProxyType(dirs), canonical=MappingProxyType(canonical))
