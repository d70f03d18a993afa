"""``/proc/slabinfo`` (mode 0400), format version 2.1.

Layout: a ``slabinfo - version: 2.1`` line, a ``# name <active_objs> ...``
comment naming the columns, then one line per cache::

    name active_objs num_objs objsize objperslab pagesperslab
        : tunables limit batchcount sharedfactor
        : slabdata active_slabs num_slabs sharedavail

Units: ``objsize`` is bytes (the object, not its slot: SLUB adds metadata
and alignment); slab counts are slabs of ``pagesperslab`` pages, so a
cache's memory is ``num_slabs x pagesperslab x page size`` (slabtop's CACHE
SIZE).  The page size is not in the file: helpers take it as an argument.

Allocators:

* SLAB (CentOS 6 / 2.6.32's default; removed in 6.8) prints real tunables
  (``limit`` and ``batchcount`` of the per-CPU array caches, ``sharedfactor``)
  and ``sharedavail``.  With CONFIG_DEBUG_SLAB the header reads
  ``2.1 (statistics)`` and each line adds ``: globalstat`` (9 numbers) and
  ``: cpustat`` (4 numbers), named in the comment line.
* SLUB (the default since 2.6.23, the only allocator since 6.8) prints the
  tunables and ``sharedavail`` as 0 and ``active_slabs == num_slabs``.  Its
  ``active_objs`` counts objects in per-CPU slabs as in use, so usage reads
  high on idle caches.

Trap: SLUB merges caches of compatible size and flags (unless booted with
``slab_nomerge``), and prints one line per *merged* cache under the name of
the cache that created it: ``pid`` may also hold ``cred`` objects.  See
:mod:`memsleuth.sources.slab_sysfs` for the alias groups.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/slabinfo"

HEADER = "slabinfo - version:"

#: column names of the statistics sections when the comment line is missing
#: (``slabinfo_show_stats`` in mm/slab.c)
DEFAULT_STAT_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "globalstat": ("listallocs", "maxobjs", "grown", "reaped", "error", "maxfreeable",
                   "nodeallocs", "remotefrees", "alienoverflow"),
    "cpustat": ("allochit", "allocmiss", "freehit", "freemiss"),
})


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabCache:
    """One line of /proc/slabinfo: a cache (or, under SLUB, a merged group)."""

    name: str
    active_objs: int
    num_objs: int
    objsize_bytes: int
    objperslab: int
    pagesperslab: int
    #: SLAB's per-CPU array tunables; SLUB prints 0 for all three
    limit: int
    batchcount: int
    sharedfactor: int
    active_slabs: int
    num_slabs: int
    sharedavail: int
    #: ``: globalstat`` columns of a ``(statistics)`` slabinfo; ``None`` otherwise
    globalstat: Mapping[str, int] | None = None
    #: ``: cpustat`` columns of a ``(statistics)`` slabinfo; ``None`` otherwise
    cpustat: Mapping[str, int] | None = None

    @property
    def has_tunables(self) -> bool:
        """True for SLAB caches (limit >= 1); SLUB has no tunables and prints 0."""
        return self.limit > 0

    def total_bytes(self, page_size_bytes: int) -> int:
        """Memory the cache holds: ``num_slabs x pagesperslab x page size``."""
        return self.num_slabs * self.pagesperslab * page_size_bytes

    @property
    def active_bytes(self) -> int:
        """Bytes the live objects need: ``active_objs x objsize``."""
        return self.active_objs * self.objsize_bytes

    def waste_bytes(self, page_size_bytes: int) -> int:
        """Internal fragmentation: total minus what live objects need.

        Free slots, per-object metadata and alignment, and the slab's tail.
        Never negative: the counters are read without a lock, and a cache
        that grew between them must not report negative waste.
        """
        return max(self.total_bytes(page_size_bytes) - self.active_bytes, 0)

    @property
    def usage_percent(self) -> float | None:
        """``active_objs / num_objs`` in percent; ``None`` for an empty cache."""
        if self.num_objs == 0:
            return None
        return 100.0 * self.active_objs / self.num_objs


@dataclass(frozen=True, slots=True, kw_only=True)
class SlabInfo:
    #: ``2.1``; older 2.0 files parse the same way
    version: str
    #: the header said ``(statistics)`` (SLAB with CONFIG_DEBUG_SLAB)
    statistics: bool
    caches: tuple[SlabCache, ...]

    def cache(self, name: str) -> SlabCache | None:
        for c in self.caches:
            if c.name == name:
                return c
        return None

    def total_bytes(self, page_size_bytes: int) -> int:
        return sum(c.total_bytes(page_size_bytes) for c in self.caches)


def _ints(fields: list[str], line: str, source: str) -> list[int]:
    try:
        return [int(v) for v in fields]
    except ValueError:
        raise ParseError(source, f"non-numeric field in {line!r}") from None


def _stat_names(comment: str) -> dict[str, tuple[str, ...]]:
    """Column names of the ``globalstat``/``cpustat`` sections from the comment line."""
    names = dict(DEFAULT_STAT_NAMES)
    for section in comment.split(":")[1:]:
        words = section.split()
        if words and words[0] in names:
            names[words[0]] = tuple(w.strip("<>") for w in words[1:])
    return names


def iter_slabinfo_caches(text: str, *, source: str = SOURCE) -> Iterator[SlabCache]:
    """Yield one :class:`SlabCache` per cache line; raise on a bad header or line."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith(HEADER):
        raise ParseError(source, f"missing {HEADER!r} header")
    version = lines[0][len(HEADER):].split()
    if not version or not version[0].startswith("2."):
        raise ParseError(source, f"unsupported slabinfo version {lines[0]!r}")
    stat_names = dict(DEFAULT_STAT_NAMES)
    for line in lines[1:]:
        if line.startswith("#"):
            stat_names = _stat_names(line)
            continue
        if not line.strip():
            continue
        yield _cache(line, stat_names, source)


def _cache(line: str, stat_names: Mapping[str, tuple[str, ...]], source: str) -> SlabCache:
    sections = [s.split() for s in line.split(" : ")]
    head = sections[0]
    if len(sections) < 3 or len(head) < 6:
        raise ParseError(source, f"bad cache line {line!r}")
    by_tag = {s[0]: s[1:] for s in sections[1:] if s}
    tunables = by_tag.get("tunables")
    slabdata = by_tag.get("slabdata")
    if tunables is None or slabdata is None or len(tunables) != 3 or len(slabdata) != 3:
        raise ParseError(source, f"bad tunables/slabdata in {line!r}")
    nums = _ints(head[-5:], line, source)
    tun = _ints(tunables, line, source)
    data = _ints(slabdata, line, source)
    stats: dict[str, Mapping[str, int]] = {}
    for tag, names in stat_names.items():
        if tag in by_tag:
            values = _ints(by_tag[tag], line, source)
            if len(values) != len(names):
                raise ParseError(source, f"{tag}: {len(values)} values for {len(names)} names "
                                         f"in {line!r}")
            stats[tag] = MappingProxyType(dict(zip(names, values, strict=True)))
    return SlabCache(
        name=" ".join(head[:-5]),
        active_objs=nums[0], num_objs=nums[1], objsize_bytes=nums[2],
        objperslab=nums[3], pagesperslab=nums[4],
        limit=tun[0], batchcount=tun[1], sharedfactor=tun[2],
        active_slabs=data[0], num_slabs=data[1], sharedavail=data[2],
        globalstat=stats.get("globalstat"), cpustat=stats.get("cpustat"),
    )


def parse_slabinfo(text: str, *, source: str = SOURCE) -> SlabInfo:
    """Parse the text of /proc/slabinfo into a :class:`SlabInfo`."""
    caches = tuple(iter_slabinfo_caches(text, source=source))
    first = text.splitlines()[0][len(HEADER):].split()
    return SlabInfo(version=first[0], statistics="(statistics)" in first, caches=caches)
