"""Batched reads of the page-granular binary files: pagemap, kpageflags, kpagecount.

These files are indexed by page (pagemap by virtual page, the ``kpage*``
files by physical frame), 8 bytes an entry.  Reading them one entry at a
time costs a system call per page; here a virtual range is read with one
``pread`` per area, and a set of PFNs with one ``pread`` per run of nearby
frames (runs closer than :data:`PFN_GAP_PAGES` are merged; reading a few
unneeded words is cheaper than another system call).

Everything goes through :meth:`Host.read_at`, so a directory root with
hand-made binary files works in tests, and errors are the typed ones
(:class:`~memsleuth.errors.AccessDenied` when not root).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from memsleuth.host import Host
from memsleuth.sources.kpagecount import decode_counts
from memsleuth.sources.kpageflags import decode_words
from memsleuth.sources.pagemap import ENTRY_BYTES, decode_entries, entry_offset

KPAGEFLAGS = "proc/kpageflags"
KPAGECOUNT = "proc/kpagecount"

#: Two PFNs closer than this are read in the same ``pread``.  The kernel
#: looks up every frame it returns, so words read across a gap are not free:
#: comparing a forked 64 MiB buffer (17,634 scattered PFNs) took 24 ms with
#: 64, 29 ms with 512 and 43 ms with 4096 (fewer reads, more words).
PFN_GAP_PAGES = 64


def read_pagemap(host: Host, pid: int, start: int, end: int, page_size_bytes: int) -> array[int]:
    """The raw pagemap entries of ``[start, end)`` of process ``pid``, one per page.

    A range past the end of the address space reads short; the missing
    entries are returned as 0 (not present), so the result always has one
    entry per page.
    """
    pages = (end - start) // page_size_bytes
    data = host.read_at(f"proc/{pid}/pagemap", entry_offset(start, page_size_bytes), pages * ENTRY_BYTES)
    values = decode_entries(data[: len(data) - len(data) % ENTRY_BYTES], source=f"proc/{pid}/pagemap")
    if len(values) < pages:
        values.extend([0] * (pages - len(values)))
    return values


def pfn_runs(pfns: Iterable[int], gap_pages: int = PFN_GAP_PAGES) -> list[tuple[int, int]]:
    """Cover the PFNs with ``[first, last]`` runs, merging those closer than ``gap_pages``."""
    runs: list[tuple[int, int]] = []
    for pfn in sorted(set(pfns)):
        if runs and pfn - runs[-1][1] <= gap_pages:
            runs[-1] = (runs[-1][0], pfn)
        else:
            runs.append((pfn, pfn))
    return runs


def _read_words(host: Host, path: str, pfns: Iterable[int], *, counts: bool) -> dict[int, int]:
    wanted = sorted(set(pfns))
    out: dict[int, int] = {}
    i = 0
    for first, last in pfn_runs(wanted):
        data = host.read_at(path, first * ENTRY_BYTES, (last - first + 1) * ENTRY_BYTES)
        data = data[: len(data) - len(data) % ENTRY_BYTES]
        words = decode_counts(data) if counts else decode_words(data, source=path)
        # pick only the wanted words: a run may span thousands of unneeded ones
        while i < len(wanted) and wanted[i] <= last:
            k = wanted[i] - first
            if k < len(words):
                out[wanted[i]] = words[k]
            i += 1
    return out


def read_kpageflags(host: Host, pfns: Iterable[int]) -> dict[int, int]:
    """PFN -> raw ``kpageflags`` word, for the PFNs that exist (root only)."""
    return _read_words(host, KPAGEFLAGS, pfns, counts=False)


def read_kpagecount(host: Host, pfns: Iterable[int]) -> dict[int, int]:
    """PFN -> mapcount from ``kpagecount``, for the PFNs that exist (root only)."""
    return _read_words(host, KPAGECOUNT, pfns, counts=True)


def node_of_pfn(host: Host, pfn: int, page_size_bytes: int) -> int | None:
    """The NUMA node whose memory block holds ``pfn``, or ``None`` when unknown.

    Block ``M`` covers PFNs ``[M * block_pages, (M + 1) * block_pages)``; the
    node owning it has a ``memoryM`` entry (see
    :mod:`memsleuth.sources.memory_block`).  Without memory-block sysfs
    (no ``CONFIG_MEMORY_HOTPLUG``) the answer is ``None``.
    """
    from memsleuth.errors import AccessDenied, ProcessGone, SourceMissing
    from memsleuth.sources.memory_block import node_index, parse_block_size_bytes

    raw = host.read_optional("sys/devices/system/memory/block_size_bytes")
    if raw is None:
        return None
    block = pfn // (parse_block_size_bytes(raw.decode("ascii", "replace")) // page_size_bytes)
    try:
        names = host.listdir("sys/devices/system/node")
    except (SourceMissing, AccessDenied, ProcessGone):
        return None
    for name in sorted(names):
        node = node_index(name)
        if node is not None and host.exists(f"sys/devices/system/node/{name}/memory{block}"):
            return node
    return None
