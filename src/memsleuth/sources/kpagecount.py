"""``/proc/kpagecount``: how many times each physical page frame is mapped.

One native-endian ``u64`` per PFN, at byte offset ``pfn * 8``; root only.
The count is the page's mapcount: page-table entries pointing at it over
all processes.  A page shared copy-on-write by a parent and its child
after ``fork()`` counts 2; a page cache page nobody maps counts 0.

Traps:

* Since the folio conversion (6.x) a page inside a large folio (THP, large
  page cache folio) may report the folio's average or precise per-page
  count depending on ``CONFIG_PAGE_MAPCOUNT``; do not expect exactly 1 or
  2 there.
* Free pages, slab and page tables count 0.  Past the last PFN the read
  is short.
"""

from __future__ import annotations

from array import array

from memsleuth.sources.kpageflags import decode_words

SOURCE = "proc/kpagecount"


def decode_counts(data: bytes) -> array[int]:
    """Mapcounts of a contiguous PFN range, in PFN order."""
    return decode_words(data, source=SOURCE)
