"""``/proc/PID/smaps`` and ``/proc/PID/smaps_rollup``.

smaps prints, per VMA, the maps header line (see
:func:`memsleuth.sources.maps.parse_vma_header`) followed by ``Key:  N kB``
lines, ``THPeligible:  0|1``, ``ProtectionKey:  N`` (with memory protection
keys only) and ``VmFlags: rd wr mr ...``.  smaps_rollup (Linux 4.14, commit
493b0e9d945f "mm: add /proc/pid/smaps_rollup") prints one block whose header
spans the first VMA's start to the last VMA's end with the pseudo-name
``[rollup]`` and the same keys summed over all VMAs.

Units: every ``kB`` value is converted to bytes; ``THPeligible`` is a flag
and ``ProtectionKey`` a number.  ``KernelPageSize``/``MMUPageSize`` are page
*sizes*, so they are not summed by :func:`sum_mappings`.

Traps:

* **Pss rounding.**  The kernel keeps Pss at a finer precision (shifted by
  ``PSS_SHIFT``) and truncates it to whole kB when printing.  smaps truncates
  *each VMA*; smaps_rollup sums first and truncates once.  So the sum of
  smaps ``Pss`` (likewise ``Pss_Dirty``, ``SwapPss`` and ``Locked``, which is
  a Pss too) can be below the rollup by up to 1 kB per VMA.  ``Rss``,
  ``Shared_*``, ``Private_*``, ``Anonymous`` and ``Swap`` are whole pages
  and add up exactly (for the same instant).
* ``Pss_Anon``, ``Pss_File`` and ``Pss_Shmem`` (5.x) are printed only by
  smaps_rollup, never per VMA; ``Pss_Dirty`` is 6.x.  Older kernels lack
  the lines and the fields are ``None``.
* smaps_rollup's ``Locked`` over-counted (it re-added the running Pss at
  each locked VMA) on 4.14–4.20 until a 2019 fix backported to 4.14.y and
  4.19.y; do not trust it on those kernels.
* USS (unique set size, as smem defines it) is ``Private_Clean +
  Private_Dirty``: pages mapped by this process only.  A private page that
  is shared copy-on-write with a fork counts as Shared, not Private.
* The ``[vsyscall]`` gate area appears in smaps but not in the rollup.
* Kernel threads and zombies have no mm: both files read empty.  Reading
  smaps of another user's process needs ``PTRACE_MODE_READ``.
* smaps walks page tables and is expensive (milliseconds per process, and it
  takes the mmap lock); prefer smaps_rollup when totals are enough.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError
from memsleuth.sources.maps import VmaHeader, parse_vma_header

SOURCE = "proc/PID/smaps"
SOURCE_ROLLUP = "proc/PID/smaps_rollup"

#: kernel key -> record field, for the ``kB`` keys (converted to bytes).
FIELDS: collections.abc.Mapping[str, str] = MappingProxyType(
    {
        "Size": "size_bytes",
        "KernelPageSize": "kernel_page_size_bytes",
        "MMUPageSize": "mmu_page_size_bytes",
        "Rss": "rss_bytes",
        "Pss": "pss_bytes",
        "Pss_Dirty": "pss_dirty_bytes",
        "Pss_Anon": "pss_anon_bytes",
        "Pss_File": "pss_file_bytes",
        "Pss_Shmem": "pss_shmem_bytes",
        "Shared_Clean": "shared_clean_bytes",
        "Shared_Dirty": "shared_dirty_bytes",
        "Private_Clean": "private_clean_bytes",
        "Private_Dirty": "private_dirty_bytes",
        "Referenced": "referenced_bytes",
        "Anonymous": "anonymous_bytes",
        "KSM": "ksm_bytes",
        "LazyFree": "lazy_free_bytes",
        "AnonHugePages": "anon_huge_pages_bytes",
        "ShmemPmdMapped": "shmem_pmd_mapped_bytes",
        "FilePmdMapped": "file_pmd_mapped_bytes",
        "Shared_Hugetlb": "shared_hugetlb_bytes",
        "Private_Hugetlb": "private_hugetlb_bytes",
        "Swap": "swap_bytes",
        "SwapPss": "swap_pss_bytes",
        "Locked": "locked_bytes",
    }
)

#: Keys that are not quantities of memory and must not be summed.
NOT_ADDITIVE = frozenset({"KernelPageSize", "MMUPageSize", "THPeligible", "ProtectionKey"})

#: Keys whose per-VMA value is a truncated Pss (see the module docstring).
PSS_ROUNDED = frozenset(
    {"Pss", "Pss_Dirty", "Pss_Anon", "Pss_File", "Pss_Shmem", "SwapPss", "Locked"}
)

_VMFLAGS = "VmFlags"
_THP = "THPeligible"
_PKEY = "ProtectionKey"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryCounters:
    """The ``Key: N kB`` counters smaps prints for each VMA and smaps_rollup sums over all of them."""

    rss_bytes: int
    pss_bytes: int | None = None
    pss_dirty_bytes: int | None = None
    pss_anon_bytes: int | None = None
    pss_file_bytes: int | None = None
    pss_shmem_bytes: int | None = None
    shared_clean_bytes: int | None = None
    shared_dirty_bytes: int | None = None
    private_clean_bytes: int | None = None
    private_dirty_bytes: int | None = None
    referenced_bytes: int | None = None
    anonymous_bytes: int | None = None
    ksm_bytes: int | None = None
    lazy_free_bytes: int | None = None
    anon_huge_pages_bytes: int | None = None
    shmem_pmd_mapped_bytes: int | None = None
    file_pmd_mapped_bytes: int | None = None
    shared_hugetlb_bytes: int | None = None
    private_hugetlb_bytes: int | None = None
    swap_bytes: int | None = None
    swap_pss_bytes: int | None = None
    locked_bytes: int | None = None
    #: Every numeric ``Key:`` line, kB converted to bytes; keys we do not type are kept here.
    raw: collections.abc.Mapping[str, int] = field(default_factory=dict)

    @property
    def uss_bytes(self) -> int | None:
        """``Private_Clean + Private_Dirty`` (smem's USS)."""
        return _uss(self.private_clean_bytes, self.private_dirty_bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mapping(MemoryCounters):
    """One VMA of /proc/PID/smaps: the maps header plus its memory counters."""

    start: int
    end: int
    perms: str
    offset: int
    dev_major: int
    dev_minor: int
    inode: int
    pathname: str | None = None
    deleted: bool = False
    size_bytes: int
    kernel_page_size_bytes: int | None = None
    mmu_page_size_bytes: int | None = None
    thp_eligible: bool | None = None
    protection_key: int | None = None
    #: Two-letter VMA flags (``rd wr ex mr mw me ac ...``), as printed.
    vm_flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SmapsRollup(MemoryCounters):
    """/proc/PID/smaps_rollup: the smaps keys summed over every VMA."""

    #: Start of the lowest VMA and end of the highest (the ``[rollup]`` span).
    start: int
    end: int


def _uss(clean: int | None, dirty: int | None) -> int | None:
    if clean is None or dirty is None:
        return None
    return clean + dirty


def _parse_key_line(
    parts: list[str], raw: dict[str, int], line: str, source: str
) -> tuple[str, ...] | None:
    """Store one ``Key: N [kB]`` line in ``raw``; return VmFlags if it is that line."""
    key = parts[0][:-1]
    if key == _VMFLAGS:
        return tuple(parts[1:])
    try:
        value = int(parts[1])
    except (IndexError, ValueError):
        if key in FIELDS or key in (_THP, _PKEY):
            raise ParseError(source, f"value is not an integer: {line!r}") from None
        return None  # a future non-numeric key: not ours to judge
    if len(parts) > 2 and parts[2] == "kB":
        value *= 1024
    raw[key] = value
    return None


def _mapping(
    header: VmaHeader, raw: dict[str, int], flags: tuple[str, ...], source: str
) -> Mapping:
    if "Size" not in raw or "Rss" not in raw:
        raise ParseError(source, f"mapping at {header[0]:x} lacks Size or Rss (truncated?)")
    kwargs = {FIELDS[k]: v for k, v in raw.items() if k in FIELDS}
    thp = raw.get(_THP)
    return Mapping(
        start=header[0],
        end=header[1],
        perms=header[2],
        offset=header[3],
        dev_major=header[4],
        dev_minor=header[5],
        inode=header[6],
        pathname=header[7],
        deleted=header[8],
        thp_eligible=None if thp is None else bool(thp),
        protection_key=raw.get(_PKEY),
        vm_flags=flags,
        raw=MappingProxyType(raw),
        **kwargs,
    )


def iter_smaps(text: str, *, source: str = SOURCE) -> Iterator[Mapping]:
    """Yield a :class:`Mapping` per VMA block of /proc/PID/smaps."""
    header: VmaHeader | None = None
    raw: dict[str, int] = {}
    flags: tuple[str, ...] = ()
    # The hot loop of the whole package (25 lines per VMA, hundreds of VMAs
    # per process): the common ``Key: N kB`` line is handled inline.
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key[-1] == ":":
            if header is None:
                raise ParseError(source, f"key before any mapping header: {line!r}")
            if len(parts) == 3 and parts[2] == "kB":
                try:
                    raw[key[:-1]] = int(parts[1]) * 1024
                    continue
                except ValueError:
                    pass
            got = _parse_key_line(parts, raw, line, source)
            if got is not None:
                flags = got
            continue
        # Only a header's first token (``start-end``) does not end in a colon.
        if header is not None:
            yield _mapping(header, raw, flags, source)
        header = parse_vma_header(line, source)
        raw = {}
        flags = ()
    if header is not None:
        yield _mapping(header, raw, flags, source)


def parse_smaps(text: str, *, source: str = SOURCE) -> tuple[Mapping, ...]:
    """Parse the text of /proc/PID/smaps; empty text gives an empty tuple."""
    return tuple(iter_smaps(text, source=source))


def parse_smaps_rollup(text: str, *, source: str = SOURCE_ROLLUP) -> SmapsRollup:
    """Parse the text of /proc/PID/smaps_rollup into a :class:`SmapsRollup`.

    Empty text (a kernel thread, a zombie, or a process whose mm went away
    while we read) raises :class:`~memsleuth.errors.ParseError`: there is no
    rollup to report, and the caller decides whether that means "gone".
    """
    lines = iter(text.splitlines())
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        raise ParseError(source, "empty: the process has no address space")
    header = parse_vma_header(first, source)
    if header[7] != "[rollup]":
        raise ParseError(source, f"header is not a [rollup] span: {first!r}")
    raw: dict[str, int] = {}
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0][-1] != ":":
            raise ParseError(source, f"unexpected line (a second header?): {line!r}")
        _parse_key_line(parts, raw, line, source)
    if "Rss" not in raw:
        raise ParseError(source, "missing required field Rss")
    kwargs = {FIELDS[k]: v for k, v in raw.items() if k in FIELDS}
    return SmapsRollup(start=header[0], end=header[1], raw=MappingProxyType(raw), **kwargs)


def sum_mappings(mappings: Iterable[Mapping]) -> dict[str, int]:
    """Total every additive key over ``mappings``, keyed by kernel key, in bytes.

    The result is comparable with :attr:`SmapsRollup.raw` taken at the same
    instant: exactly for Rss, Shared_*, Private_*, Anonymous and Swap; the
    keys in :data:`PSS_ROUNDED` sum low by under 1 kB per VMA.  ``Size`` is
    included (the rollup does not print it).
    """
    totals: dict[str, int] = {}
    for m in mappings:
        for key, value in m.raw.items():
            if key not in NOT_ADDITIVE:
                totals[key] = totals.get(key, 0) + value
    return totals
