"""``/proc/buddyinfo``: free blocks per order in each (node, zone).

Layout (``frag_show_print`` in mm/vmstat.c)::

    Node 0, zone   Normal    845     98    191 ...    106

Column *k* is the number of free blocks of 2^k contiguous pages in the
buddy allocator's free lists.  Units: counts of blocks; a block at order
*k* is 2^k pages, so the zone's free pages are ``sum(count << k)`` (close
to zoneinfo's ``nr_free_pages``, minus pages sitting in per-CPU lists).

Traps:

* The number of orders is the kernel's NR_PAGE_ORDERS: 11 (0..10) on x86
  and most 4 KiB-page configs, but arm64 with 16/64 KiB pages, ppc64 and
  CONFIG_ARCH_FORCE_MAX_ORDER change it.  The meaning of MAX_ORDER itself
  changed in 6.4 ("mm, treewide: redefine MAX_ORDER sanely": before, the
  largest order was MAX_ORDER - 1; after, MAX_ORDER) and 6.8 renamed it
  MAX_PAGE_ORDER; the file has always printed one column per order, so we
  count the columns rather than trust a constant.
* Only populated zones are listed; buddyinfo does not split by migrate
  type (see :mod:`memsleuth.sources.pagetypeinfo`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/buddyinfo"

_ROW = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)\s*")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuddyZone:
    node: int
    zone: str
    #: index = order; value = free blocks of 2^order pages
    free_blocks: tuple[int, ...]

    @property
    def free_pages(self) -> int:
        """Pages free in the buddy lists of this zone."""
        return sum(count << order for order, count in enumerate(self.free_blocks))

    def free_pages_at_or_above(self, order: int) -> int:
        """Free pages in blocks of at least 2^``order`` pages: what an order-``order``
        allocation could use without compaction."""
        return sum(count << k for k, count in enumerate(self.free_blocks) if k >= order)


@dataclass(frozen=True, slots=True, kw_only=True)
class BuddyInfo:
    zones: tuple[BuddyZone, ...]

    @property
    def orders(self) -> int:
        """Number of orders printed (NR_PAGE_ORDERS of this kernel)."""
        return len(self.zones[0].free_blocks)

    def zone(self, node: int, zone: str) -> BuddyZone | None:
        for z in self.zones:
            if z.node == node and z.zone == zone:
                return z
        return None

    @property
    def free_pages(self) -> int:
        return sum(z.free_pages for z in self.zones)


def iter_buddyinfo(text: str, *, source: str = SOURCE) -> Iterator[BuddyZone]:
    """Yield one :class:`BuddyZone` per line."""
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _ROW.fullmatch(line)
        if m is None:
            raise ParseError(source, f"bad line {line!r}")
        yield BuddyZone(node=int(m.group(1)), zone=m.group(2),
                        free_blocks=tuple(int(v) for v in m.group(3).split()))


def parse_buddyinfo(text: str, *, source: str = SOURCE) -> BuddyInfo:
    """Parse the text of /proc/buddyinfo into a :class:`BuddyInfo`."""
    zones = tuple(iter_buddyinfo(text, source=source))
    if not zones:
        raise ParseError(source, "no zones")
    widths = {len(z.free_blocks) for z in zones}
    if len(widths) != 1:
        raise ParseError(source, f"rows have different numbers of orders: {sorted(widths)}")
    return BuddyInfo(zones=zones)
