"""``/proc/pagetypeinfo`` (mode 0400 since 5.4): free blocks by migrate type.

Layout (``pagetypeinfo_show`` in mm/vmstat.c)::

    Page block order: 9
    Pages per block:  512

    Free pages count per migrate type at order       0      1 ...     10
    Node    0, zone   Normal, type    Unmovable      1      0 ...      0
    ...

    Number of blocks type     Unmovable      Movable  Reclaimable ...
    Node 0, zone   Normal          158         1516          118 ...

and, with CONFIG_PAGE_OWNER (4.6+), a third table ``Number of mixed blocks``
laid out like the second.

Units: the first table counts free *blocks* of 2^order pages per
(node, zone, migrate type), like buddyinfo split by type; the block tables
count *pageblocks* of ``pages per block`` pages (2^``page block order``).

Traps:

* Migrate types and their order vary: 2.6.32 prints ``Unmovable
  Reclaimable Movable Reserve Isolate``; 4.4+ replaced ``Reserve`` with
  ``HighAtomic``; ``CMA`` appears with CONFIG_CMA.  We read the names from
  the header rather than assume them.
* Since 5.4 ("mm, vmstat: reduce zone->lock holding time by
  /proc/pagetypeinfo") the kernel stops counting a free list at 100000
  blocks and prints ``>100000``; such cells are lower bounds, listed in
  :attr:`PagetypeFree.capped_orders`.  The same series made the file 0400.
* The whole layout, headers included, is printed once per NUMA node with
  memory; the parser joins the nodes' rows.
* The number of orders is the kernel's NR_PAGE_ORDERS (11 on x86), see
  :mod:`memsleuth.sources.buddyinfo`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/pagetypeinfo"

FREE_HEADER = "Free pages count per migrate type at order"
BLOCKS_HEADER = "Number of blocks type"
MIXED_HEADER = "Number of mixed blocks"

_FREE_ROW = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+),\s+type\s+(\S+)((?:\s+>?\d+)+)\s*")
_BLOCK_ROW = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\d+)+)\s*")


@dataclass(frozen=True, slots=True, kw_only=True)
class PagetypeFree:
    node: int
    zone: str
    migrate_type: str
    #: index = order; value = free blocks of 2^order pages (a lower bound where capped)
    free_blocks: tuple[int, ...]
    #: orders printed as ``>100000`` (5.4+): the count stopped there
    capped_orders: tuple[int, ...] = ()

    @property
    def free_pages(self) -> int:
        return sum(count << order for order, count in enumerate(self.free_blocks))


@dataclass(frozen=True, slots=True, kw_only=True)
class PagetypeBlocks:
    node: int
    zone: str
    #: migrate type -> pageblocks of that type
    pageblocks: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PagetypeInfo:
    page_block_order: int
    pages_per_block: int
    #: the order columns of the free table (0 .. NR_PAGE_ORDERS - 1)
    orders: tuple[int, ...]
    #: migrate types in the kernel's order, from the blocks table header
    migrate_types: tuple[str, ...]
    free: tuple[PagetypeFree, ...]
    blocks: tuple[PagetypeBlocks, ...]
    #: ``Number of mixed blocks`` (CONFIG_PAGE_OWNER); ``None`` if not printed
    mixed_blocks: tuple[PagetypeBlocks, ...] | None = None

    def free_of(self, node: int, zone: str, migrate_type: str) -> PagetypeFree | None:
        for f in self.free:
            if (f.node, f.zone, f.migrate_type) == (node, zone, migrate_type):
                return f
        return None

    def blocks_of(self, node: int, zone: str) -> PagetypeBlocks | None:
        for b in self.blocks:
            if (b.node, b.zone) == (node, zone):
                return b
        return None


def _header_int(line: str, label: str, source: str) -> int:
    key, sep, value = line.partition(":")
    if not sep or key.strip() != label:
        raise ParseError(source, f"expected {label!r}: {line!r}")
    try:
        return int(value)
    except ValueError:
        raise ParseError(source, f"non-numeric {label!r}: {line!r}") from None


def iter_pagetypeinfo_free(lines: list[str], *, source: str = SOURCE) -> Iterator[PagetypeFree]:
    """Yield the rows of the free-pages table from its body lines."""
    for line in lines:
        m = _FREE_ROW.fullmatch(line)
        if m is None:
            raise ParseError(source, f"bad free-pages row {line!r}")
        cells = m.group(4).split()
        yield PagetypeFree(
            node=int(m.group(1)), zone=m.group(2), migrate_type=m.group(3),
            free_blocks=tuple(int(c.lstrip(">")) for c in cells),
            capped_orders=tuple(i for i, c in enumerate(cells) if c.startswith(">")),
        )


def _blocks(lines: list[str], types: tuple[str, ...], source: str) -> tuple[PagetypeBlocks, ...]:
    rows = []
    for line in lines:
        m = _BLOCK_ROW.fullmatch(line)
        if m is None:
            raise ParseError(source, f"bad block-count row {line!r}")
        counts = [int(v) for v in m.group(3).split()]
        if len(counts) != len(types):
            raise ParseError(source, f"{len(counts)} counts for {len(types)} types: {line!r}")
        rows.append(PagetypeBlocks(node=int(m.group(1)), zone=m.group(2),
                                   pageblocks=MappingProxyType(dict(zip(types, counts, strict=True)))))
    return tuple(rows)


def parse_pagetypeinfo(text: str, *, source: str = SOURCE) -> PagetypeInfo:
    """Parse the text of /proc/pagetypeinfo into a :class:`PagetypeInfo`.

    The kernel prints the whole layout once per NUMA node with memory,
    headers included; the rows of every node are joined here.
    """
    header_ints: dict[str, set[int]] = {"Page block order": set(), "Pages per block": set()}
    columns: dict[str, list[str]] = {}
    rows: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        label = line.partition(":")[0].strip()
        if label in header_ints:
            header_ints[label].add(_header_int(line, label, source))
            current = None
            continue
        for title in (FREE_HEADER, BLOCKS_HEADER, MIXED_HEADER):
            if line.startswith(title):
                cols = line[len(title):].split()
                if columns.setdefault(title, cols) != cols:
                    raise ParseError(source, f"{title!r} columns differ between nodes: {line!r}")
                rows.setdefault(title, [])
                current = title
                break
        else:
            if current is None:
                raise ParseError(source, f"row outside any table: {line!r}")
            rows[current].append(line)
    for label, values in header_ints.items():
        if len(values) != 1:
            raise ParseError(source, f"{label!r}: expected one value, got {sorted(values)}")
    if FREE_HEADER not in columns or BLOCKS_HEADER not in columns:
        raise ParseError(source, "missing the free-pages or the block-count table")
    try:
        orders = tuple(int(o) for o in columns[FREE_HEADER])
    except ValueError:
        raise ParseError(source, f"bad order columns {columns[FREE_HEADER]!r}") from None
    free = tuple(iter_pagetypeinfo_free(rows[FREE_HEADER], source=source))
    for f in free:
        if len(f.free_blocks) != len(orders):
            raise ParseError(source, f"{len(f.free_blocks)} counts for {len(orders)} orders "
                                     f"(node {f.node} zone {f.zone} {f.migrate_type})")
    types = tuple(columns[BLOCKS_HEADER])
    mixed = None
    if MIXED_HEADER in columns:
        mixed = _blocks(rows[MIXED_HEADER], tuple(columns[MIXED_HEADER]), source)
    return PagetypeInfo(
        page_block_order=header_ints["Page block order"].pop(),
        pages_per_block=header_ints["Pages per block"].pop(),
        orders=orders, migrate_types=types, free=free,
        blocks=_blocks(rows[BLOCKS_HEADER], types, source), mixed_blocks=mixed,
    )
