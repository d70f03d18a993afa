"""``/proc/kpageflags``: one 64-bit flag word per physical page frame (PFN).

The word for PFN ``n`` is at byte offset ``n * 8``, native-endian ``u64``.
Bit numbers are the stable ``KPF_*`` of include/uapi/linux/kernel-page-flags.h,
described in Documentation/admin-guide/mm/pagemap.rst.  Root only (0400).

Traps:

* Bit 23 was ``BALLOON`` (3.18) and became ``OFFLINE`` in 5.0; bit 1
  ``ERROR`` is no longer set by current kernels.
* Bits 32 and up are kernel-internal (``KPF_RESERVED``, ``KPF_MLOCKED`` ...)
  and only exported with ``CONFIG_DEBUG_KERNEL``-style builds: we keep them
  in :attr:`PageFlags.raw` but do not name them.
* For a compound page (THP, hugetlb, slab) some flags are set only on the
  head page; tail pages show ``COMPOUND_TAIL`` and the head's LRU state.
* Reading past the last PFN returns nothing: a short read, not an error.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/kpageflags"
ENTRY_BYTES = 8

#: bit -> (name, meaning); the ``KPF_*`` numbers.
FLAGS: Mapping[int, tuple[str, str]] = MappingProxyType({
    0: ("LOCKED", "locked for exclusive access, e.g. under I/O"),
    1: ("ERROR", "an I/O error occurred (unused by current kernels)"),
    2: ("REFERENCED", "referenced since it was last put on an LRU list"),
    3: ("UPTODATE", "contents are valid"),
    4: ("DIRTY", "written to; a file page not yet written back"),
    5: ("LRU", "on an LRU list: reclaim can consider it"),
    6: ("ACTIVE", "on the active LRU list (recently used)"),
    7: ("SLAB", "owned by the slab allocator"),
    8: ("WRITEBACK", "being written to disk"),
    9: ("RECLAIM", "to be reclaimed as soon as writeback completes"),
    10: ("BUDDY", "free, in the buddy allocator"),
    11: ("MMAP", "mapped into some process's page tables"),
    12: ("ANON", "anonymous memory (heap, stack, private writes), not file cache"),
    13: ("SWAPCACHE", "in the swap cache: has a swap slot"),
    14: ("SWAPBACKED", "backed by swap (anonymous or shmem)"),
    15: ("COMPOUND_HEAD", "first page of a compound (multi-page) allocation"),
    16: ("COMPOUND_TAIL", "a later page of a compound allocation"),
    17: ("HUGE", "part of a hugetlbfs huge page"),
    18: ("UNEVICTABLE", "cannot be reclaimed (mlocked, ramfs ...)"),
    19: ("HWPOISON", "hardware reported a memory error"),
    20: ("NOPAGE", "no struct page exists for this PFN"),
    21: ("KSM", "merged by kernel samepage merging"),
    22: ("THP", "part of a transparent huge page"),
    23: ("OFFLINE", "logically offline (ballooned out; BALLOON before 5.0)"),
    24: ("ZERO_PAGE", "the shared zero page (reads of untouched memory)"),
    25: ("IDLE", "not accessed since marked idle (page_idle tracking)"),
    26: ("PGTABLE", "holds a page table"),
})

#: name -> bit, for tests and callers that look one flag up.
BITS: Mapping[str, int] = MappingProxyType({name: bit for bit, (name, _) in FLAGS.items()})


@dataclass(frozen=True, slots=True, kw_only=True)
class PageFlags:
    """The decoded flag word of one page frame."""

    raw: int
    #: Names of the set documented bits, in bit order.
    names: tuple[str, ...]

    def has(self, name: str) -> bool:
        return bool(self.raw >> BITS[name] & 1)


def decode_flags(value: int) -> PageFlags:
    return PageFlags(raw=value, names=tuple(name for bit, (name, _) in FLAGS.items() if value >> bit & 1))


def decode_words(data: bytes, *, source: str = SOURCE) -> array[int]:
    """The ``u64`` words of a range of kpageflags (or kpagecount, kpagecgroup)."""
    if len(data) % ENTRY_BYTES:
        raise ParseError(source, f"{len(data)} bytes is not a whole number of 8-byte words")
    words = array("Q")
    words.frombytes(data)
    return words
