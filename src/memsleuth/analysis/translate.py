"""Virtual to physical: page-table indices, the pagemap entry, the frame behind it.

x86-64 (and arm64 with 4 KiB pages) translate a virtual address by walking
a tree of page tables, 512 entries each, 9 address bits per level:

* 4-level paging (48-bit addresses): PGD bits 47-39, PUD 38-30, PMD 29-21,
  PTE 20-12, then a 12-bit offset inside the 4 KiB page;
* 5-level paging (57-bit addresses, ``la57``): a PGD indexed by bits 56-48
  on top, and what was the PGD becomes the P4D (bits 47-39).

Which one runs: on x86 the kernel removes ``la57`` from ``/proc/cpuinfo``
when it does not use 5-level tables (no kernel support, or ``no5lvl``), so
``la57`` listed means 5 levels.  A mapping above 2^47 (only possible with
5 levels, and only when a program asks for a high address) confirms it; in
its absence a 5-level kernel still gives 47-bit user addresses, whose P4D
walk is identical to a 4-level one with PGD index 0 above it.

The kernel does not expose page-table entries themselves; ``pagemap``
gives what the final entry says (present, swapped, PFN), ``kpageflags`` and
``kpagecount`` describe the frame.  A transparent huge page mapped by a PMD
ends the walk one level early (the low 21 bits are the offset); pagemap
still reports the 4 KiB subpage's PFN, so the physical address is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memsleuth.sources.kpageflags import PageFlags, decode_flags
from memsleuth.sources.maps import VmArea
from memsleuth.sources.pagemap import PagemapEntry, decode_entry

BITS_PER_LEVEL = 9
ENTRIES_PER_TABLE = 1 << BITS_PER_LEVEL
LEVEL_NAMES_4 = ("PGD", "PUD", "PMD", "PTE")
LEVEL_NAMES_5 = ("PGD", "P4D", "PUD", "PMD", "PTE")
#: Highest user address + 1 with 4-level paging (128 TiB).
USER_LIMIT_4LEVEL = 1 << 47


@dataclass(frozen=True, slots=True, kw_only=True)
class TableIndex:
    """Which entry of one page-table level an address selects."""

    level: str
    index: int
    #: Address bits used, highest first: (47, 39) for a 4-level PGD.
    high_bit: int
    low_bit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    levels: int
    indices: tuple[TableIndex, ...]
    page_offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Translation:
    pid: int
    address: int
    page_size_bytes: int
    split: Split
    #: Why this many levels: ``la57``, ``address above 47 bits``, ``no la57``.
    levels_reason: str
    vma: VmArea | None
    entry: PagemapEntry | None
    physical_address: int | None
    flags: PageFlags | None
    mapcount: int | None
    numa_node: int | None
    notes: tuple[str, ...]

    @property
    def state(self) -> str:
        """``unmapped``, ``present``, ``swapped``, ``not_present`` or ``unknown``."""
        if self.vma is None:
            return "unmapped"
        if self.entry is None:
            return "unknown"
        if self.entry.present:
            return "present"
        if self.entry.swapped:
            return "swapped"
        return "not_present"


def parse_address(text: str) -> int:
    """``0x7ffd12345678``, ``7ffd12345678`` or ``7FFD_1234_5678`` -> int (hex always)."""
    value = text.strip().lower().replace("_", "").removeprefix("0x")
    if value.startswith(("-", "+")):
        raise ValueError(f"not a hexadecimal address (an address has no sign): {text!r}")
    if not value:
        raise ValueError(f"not a hexadecimal address: {text!r}")
    try:
        address = int(value, 16)
    except ValueError:
        raise ValueError(f"not a hexadecimal address: {text!r}") from None
    if address >= 1 << 64:
        raise ValueError(f"address does not fit in 64 bits: {text!r}")
    return address


def paging_levels(cpu_flags: frozenset[str], vmas: Sequence[VmArea]) -> tuple[int, str]:
    """4 or 5 levels, and the evidence (see the module docstring)."""
    high = any(v.end > USER_LIMIT_4LEVEL and v.start < (1 << 63) for v in vmas)
    if high:
        return 5, "a mapping lies above 47 bits"
    if "la57" in cpu_flags:
        return 5, "la57 in /proc/cpuinfo (the kernel runs 5-level page tables)"
    return 4, "no la57 in /proc/cpuinfo"


def split_address(address: int, levels: int = 4, page_shift: int = 12) -> Split:
    """The table index at each level and the offset inside the page."""
    if levels not in (4, 5):
        raise ValueError(f"levels must be 4 or 5, not {levels}")
    names = LEVEL_NAMES_5 if levels == 5 else LEVEL_NAMES_4
    indices = []
    for depth, name in enumerate(names):
        low = page_shift + BITS_PER_LEVEL * (levels - 1 - depth)
        indices.append(TableIndex(level=name, index=(address >> low) & (ENTRIES_PER_TABLE - 1),
                                  high_bit=low + BITS_PER_LEVEL - 1, low_bit=low))
    return Split(levels=levels, indices=tuple(indices), page_offset=address & ((1 << page_shift) - 1))


def find_vma(vmas: Sequence[VmArea], address: int) -> VmArea | None:
    return next((v for v in vmas if v.start <= address < v.end), None)


def translate(*, pid: int, address: int, page_size_bytes: int, vmas: Sequence[VmArea],
              cpu_flags: frozenset[str], pagemap_value: int | None, flags_word: int | None,
              mapcount: int | None, numa_node: int | None, notes: Sequence[str] = ()) -> Translation:
    """Combine what was read into one :class:`Translation` (no I/O here)."""
    levels, reason = paging_levels(cpu_flags, vmas)
    split = split_address(address, levels, page_size_bytes.bit_length() - 1)
    entry = None if pagemap_value is None else decode_entry(pagemap_value)
    out_notes = list(notes)
    physical = None
    if entry is not None and entry.pfn is not None:
        physical = entry.pfn * page_size_bytes + split.page_offset
    if entry is not None and entry.pfn_hidden:
        out_notes.append("the page is present but its PFN reads as 0: the kernel hides physical "
                         "frame numbers from readers without CAP_SYS_ADMIN (run as root)")
    flags = None if flags_word is None else decode_flags(flags_word)
    if flags is not None and (flags.has("THP") or flags.has("HUGE")):
        out_notes.append("the frame is part of a huge page: if it is mapped by a PMD, the walk "
                         "stops at the PMD and the PTE index is part of a 2 MiB offset")
    return Translation(pid=pid, address=address, page_size_bytes=page_size_bytes, split=split,
                       levels_reason=reason, vma=find_vma(vmas, address), entry=entry,
                       physical_address=physical, flags=flags, mapcount=mapcount,
                       numa_node=numa_node, notes=tuple(out_notes))
