"""``/proc/slabinfo`` (mode 0400), format version 2.1.

Each line: ``name active_objs num_objs objsize objperslab pagesperslab :
tunables limit batchcount sharedfactor : slabdata active_slabs num_slabs
sharedavail``.  SLUB prints the tunables as 0; SLAB (CentOS 6's default)
prints real ones.  ``objsize`` is bytes; slab counts are slabs of
``pagesperslab`` pages each.  SLUB reports ``active_slabs == num_slabs``.

Trap: SLUB merges caches; a line may stand for several caches (see
:mod:`memsleuth.sources.slab_sysfs`).  SLAB with statistics enabled adds
``: globalstat ... : cpustat ...`` columns, which we ignore.
"""

from __future__ import annotations

from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/slabinfo"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabCache:
    name: str
    active_objs: int
    num_objs: int
    objsize_bytes: int
    objperslab: int
    pagesperslab: int
    limit: int
    batchcount: int
    sharedfactor: int
    active_slabs: int
    num_slabs: int
    sharedavail: int

    def size_bytes(self, page_size_bytes: int) -> int:
        """Memory the cache holds, as slabtop's CACHE SIZE."""
        return self.num_slabs * self.pagesperslab * page_size_bytes

    @property
    def active_bytes(self) -> int:
        return self.active_objs * self.objsize_bytes

    def waste_bytes(self, page_size_bytes: int) -> int:
        return max(self.size_bytes(page_size_bytes) - self.active_bytes, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabInfo:
    version: str
    caches: tuple[SlabCache, ...]

    def cache(self, name: str) -> SlabCache | None:
        for c in self.caches:
            if c.name == name:
                return c
        return None


def parse_slabinfo(text: str) -> SlabInfo:
    lines = text.splitlines()
    if not lines or not lines[0].startswith("slabinfo - version:"):
        raise ParseError(SOURCE, "missing 'slabinfo - version:' header")
    version = lines[0].split(":", 1)[1].strip()
    if not version.startswith("2."):
        raise ParseError(SOURCE, f"unsupported slabinfo version {version}")
    caches = []
    for line in lines[1:]:
        if not line.strip() or line.startswith("#"):
            continue
        sections = line.split(":")
        head = sections[0].split()
        if len(sections) < 3 or len(head) < 6:
            raise ParseError(SOURCE, f"bad cache line {line!r}")
        tun = sections[1].split()
        data = sections[2].split()
        try:
            name = " ".join(head[:-5])
            nums = [int(v) for v in head[-5:]]
            tunables = [int(v) for v in tun[1:4]]
            slabdata = [int(v) for v in data[1:4]]
        except ValueError:
            raise ParseError(SOURCE, f"non-numeric field in {line!r}") from None
        if tun[:1] != ["tunables"] or data[:1] != ["slabdata"] or len(tunables) < 3 \
                or len(slabdata) < 3:
            raise ParseError(SOURCE, f"bad tunables/slabdata in {line!r}")
        caches.append(SlabCache(
            name=name, active_objs=nums[0], num_objs=nums[1], objsize_bytes=nums[2],
            objperslab=nums[3], pagesperslab=nums[4], limit=tunables[0],
            batchcount=tunables[1], sharedfactor=tunables[2], active_slabs=slabdata[0],
            num_slabs=slabdata[1], sharedavail=slabdata[2],
        ))
    return SlabInfo(version=version, caches=tuple(caches))
