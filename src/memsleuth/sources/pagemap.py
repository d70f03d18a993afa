"""``/proc/PID/pagemap``: one 64-bit entry per virtual page of a process.

The entry for virtual address ``vaddr`` is at byte offset
``(vaddr // page_size) * 8``; entries are native-endian ``u64``
(Documentation/admin-guide/mm/pagemap.rst).  Bits:

* 63 present in RAM; 62 swapped out (then bits 0-4 are the swap type and
  5-54 the swap offset); 61 a file page or shared-anonymous page;
* 57 userfaultfd write-protected (5.13), 58 a guard region (6.15);
* 56 the page is exclusively mapped (4.2); 55 the PTE is soft-dirty (3.11);
* 0-54 the page frame number (PFN) when present.

Traps:

* The PFN reads as **0 without CAP_SYS_ADMIN**; the flag bits stay
  visible.  Linux commit ab676b7d6fbf ("pagemap: do not leak physical
  addresses to non-privileged userspace") (in v4.0) made the whole file
  root-only; commit 1c90308e7a77 ("pagemap: hide physical addresses from
  non-privileged users") (in v4.2) reopened it with PFNs zeroed, and commit
  ab6ecf247a93 ("mm: /proc/pid/pagemap: hide swap entries from
  unprivileged users") (in v4.18) zeroed swap entries too.  A present page
  with PFN 0 therefore means "hidden", not frame 0.
* Reading another process's pagemap needs ``PTRACE_MODE_READ``.
* A page never touched (demand paging) has neither bit 63 nor 62: the
  kernel has not allocated it yet.  So has a page whose PTE was dropped
  (a clean file page reclaimed), which the next access faults back in.
* Inside a transparent huge page the entries still describe 4 KiB
  subpages: consecutive PFNs of one compound page.

This module decodes bytes; :class:`~memsleuth.host.Host` reads them.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/PID/pagemap"
ENTRY_BYTES = 8

PM_PRESENT = 1 << 63
PM_SWAP = 1 << 62
PM_FILE = 1 << 61
PM_GUARD_REGION = 1 << 58
PM_UFFD_WP = 1 << 57
PM_MMAP_EXCLUSIVE = 1 << 56
PM_SOFT_DIRTY = 1 << 55
PFN_MASK = (1 << 55) - 1
SWAP_TYPE_MASK = 0x1F
SWAP_OFFSET_SHIFT = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class PagemapEntry:
    """One decoded pagemap entry."""

    raw: int
    present: bool
    swapped: bool
    #: Bit 61: the page belongs to a file (page cache) or is shared anonymous memory.
    file_or_shared_anon: bool
    #: Bit 56: only this process maps the page (a COW-shared page is not exclusive).
    exclusive: bool
    soft_dirty: bool
    uffd_wp: bool
    guard_region: bool
    #: Page frame number; ``None`` when not present, or hidden (read as 0 without root).
    pfn: int | None
    swap_type: int | None
    swap_offset: int | None

    @property
    def pfn_hidden(self) -> bool:
        """Present, but the kernel zeroed the PFN (reader lacks CAP_SYS_ADMIN)."""
        return self.present and self.pfn is None


def decode_entry(value: int) -> PagemapEntry:
    """Decode one 64-bit pagemap value."""
    present = bool(value & PM_PRESENT)
    swapped = bool(value & PM_SWAP)
    low = value & PFN_MASK
    return PagemapEntry(
        raw=value,
        present=present,
        swapped=swapped,
        file_or_shared_anon=bool(value & PM_FILE),
        exclusive=bool(value & PM_MMAP_EXCLUSIVE),
        soft_dirty=bool(value & PM_SOFT_DIRTY),
        uffd_wp=bool(value & PM_UFFD_WP),
        guard_region=bool(value & PM_GUARD_REGION),
        pfn=low if present and low else None,
        swap_type=(low & SWAP_TYPE_MASK) if swapped and not present else None,
        swap_offset=(low >> SWAP_OFFSET_SHIFT) if swapped and not present else None,
    )


def decode_entries(data: bytes, *, source: str = SOURCE) -> array[int]:
    """The raw ``u64`` values of a pagemap range, in page order.

    An ``array('Q')`` rather than records: a 1 GiB range is 262,144 entries,
    and the callers (COW comparison) only need the PFN and two bits.
    """
    if len(data) % ENTRY_BYTES:
        raise ParseError(source, f"{len(data)} bytes is not a whole number of 8-byte entries")
    values = array("Q")
    values.frombytes(data)
    if values.itemsize != ENTRY_BYTES:  # pragma: no cover - no such platform in practice
        raise ParseError(source, "this platform has no 8-byte unsigned array type")
    return values


def entry_offset(vaddr: int, page_size_bytes: int) -> int:
    """Byte offset of the entry describing ``vaddr`` in the pagemap file."""
    return (vaddr // page_size_bytes) * ENTRY_BYTES


def pfn_of(value: int) -> int | None:
    """The PFN of a raw entry: ``None`` if not present or hidden."""
    if not value & PM_PRESENT:
        return None
    return (value & PFN_MASK) or None

