"""``/proc/PID/numa_maps``: per VMA, its NUMA policy and where its pages sit.

A line is ``<start> <policy> [file=<path>|heap|stack] [huge] [anon=N]
[dirty=N] [mapped=N] [mapmax=N] [swapcache=N] [active=N] [writeback=N]
[N<node>=N ...] [kernelpagesize_kB=N]`` (fs/proc/task_mmu.c
``show_numa_map``; Documentation/admin-guide/mm/numa_memory_policy.rst).

Units: ``start`` is a hexadecimal address.  The counts are *pages of the
VMA's own page size*: base pages normally, huge pages for a hugetlb VMA
(``huge``), whose ``kernelpagesize_kB`` says how big.  A THP counts as its
base pages.  :func:`bytes_per_node` turns counts into bytes per VMA.

Traps:

* The kernel omits zero counts: an absent ``anon``/``dirty``/``swapcache``/
  ``writeback`` is a known 0, so those fields are ``int``.  ``mapped`` is
  omitted when it equals ``anon`` or ``dirty``; ``active`` when every page is
  active, or always for hugetlb; ``mapmax`` when it is at most 1.  A VMA with
  no pages in memory prints only address, policy and name (no
  ``kernelpagesize_kB``).
* The policy may contain spaces (``prefer (many)``, ``weighted
  interleave``), flags (``bind=static:0-1``) and a node list.
* ``file=`` escapes newline, tab, space and ``=`` as ``\\ooo`` octal; we
  decode them.  ``(deleted)`` then follows as ``\\040(deleted)``.
* Without ``CONFIG_NUMA`` the file does not exist.  Reading it walks page
  tables like smaps does: expensive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/PID/numa_maps"

#: ``key=value`` attributes that carry a count.  ``mapped`` becomes
#: :attr:`NumaMap.pages`; ``mapmax`` counts mappers, not pages; the others
#: become ``<key>_pages``.
COUNT_KEYS = frozenset({"anon", "dirty", "mapped", "mapmax", "swapcache", "active", "writeback"})
_FLAGS = frozenset({"heap", "stack", "huge"})
_ESCAPES = {"\\012": "\n", "\\011": "\t", "\\040": " ", "\\075": "="}


@dataclass(frozen=True, slots=True, kw_only=True)
class NumaMap:
    """One line of /proc/PID/numa_maps."""

    start: int
    #: As printed: ``default``, ``bind:0-1``, ``interleave=static:0-3`` ...
    policy: str
    #: Backing file with escapes decoded; ``None`` for anonymous memory.
    file: str | None = None
    heap: bool = False
    stack: bool = False
    #: A hugetlb VMA: counts are in huge pages of ``kernelpagesize_bytes``.
    huge: bool = False
    #: Pages present (the kernel's ``md->pages``; ``mapped=`` or implied).
    pages: int = 0
    anon_pages: int = 0
    dirty_pages: int = 0
    swapcache_pages: int = 0
    writeback_pages: int = 0
    #: ``None`` when not printed: every page active, or a hugetlb VMA.
    active_pages: int | None = None
    #: Highest mapcount of any page; ``None`` when not printed (at most 1).
    mapmax: int | None = None
    #: Node id -> pages on that node (only nodes with pages are printed).
    node_pages: Mapping[int, int] = field(default_factory=dict)
    #: ``None`` when the VMA has no pages (the kernel stops before it).
    kernelpagesize_bytes: int | None = None


def _unescape(path: str) -> str:
    if "\\" not in path:
        return path
    for esc, ch in _ESCAPES.items():
        path = path.replace(esc, ch)
    return path


def _parse_line(line: str, source: str) -> NumaMap:
    tokens = line.split()
    if len(tokens) < 2:
        raise ParseError(source, f"expected '<address> <policy> ...': {line!r}")
    try:
        start = int(tokens[0], 16)
    except ValueError:
        raise ParseError(source, f"bad address: {line!r}") from None
    policy = [tokens[1]]
    i = 2
    n = len(tokens)
    # Policy words run until the first attribute (``key=`` of ours, N<id>=,
    # file=, or a bare flag); policy flags like ``bind=static`` are not ours.
    while i < n:
        tok = tokens[i]
        key = tok.partition("=")[0]
        if tok in _FLAGS or key == "file" or key in COUNT_KEYS or key == "kernelpagesize_kB":
            break
        if key[:1] == "N" and key[1:].isdigit():
            break
        policy.append(tok)
        i += 1
    file: str | None = None
    flags: set[str] = set()
    counts: dict[str, int] = {}
    nodes: dict[int, int] = {}
    page_kb: int | None = None
    try:
        for tok in tokens[i:]:
            key, eq, value = tok.partition("=")
            if not eq:
                if tok not in _FLAGS:
                    raise ParseError(source, f"unknown word {tok!r} in {line!r}")
                flags.add(tok)
            elif key == "file":
                file = _unescape(value)
            elif key in COUNT_KEYS:
                counts[key] = int(value)
            elif key == "kernelpagesize_kB":
                page_kb = int(value)
            elif key[:1] == "N" and key[1:].isdigit():
                nodes[int(key[1:])] = int(value)
            # other key=value: a newer kernel's attribute; ignore it
    except ValueError:
        raise ParseError(source, f"non-integer count in {line!r}") from None
    anon = counts.get("anon", 0)
    huge = "huge" in flags
    # Every counted page lands on exactly one node, so when ``mapped`` is
    # omitted (it equalled anon or dirty) the node counts still add up to it.
    pages = counts.get("mapped", sum(nodes.values()))
    active = counts.get("active")
    if active is None and not huge:
        active = pages
    return NumaMap(
        start=start,
        policy=" ".join(policy),
        file=file,
        heap="heap" in flags,
        stack="stack" in flags,
        huge=huge,
        pages=pages,
        anon_pages=anon,
        dirty_pages=counts.get("dirty", 0),
        swapcache_pages=counts.get("swapcache", 0),
        writeback_pages=counts.get("writeback", 0),
        active_pages=active,
        mapmax=counts.get("mapmax"),
        node_pages=MappingProxyType(nodes),
        kernelpagesize_bytes=None if page_kb is None else page_kb * 1024,
    )


def iter_numa_maps(text: str, *, source: str = SOURCE) -> Iterator[NumaMap]:
    """Yield a :class:`NumaMap` per line of /proc/PID/numa_maps."""
    for line in text.splitlines():
        if line.strip():
            yield _parse_line(line, source)


def parse_numa_maps(text: str, *, source: str = SOURCE) -> tuple[NumaMap, ...]:
    """Parse the text of /proc/PID/numa_maps; empty text gives ``()``."""
    return tuple(iter_numa_maps(text, source=source))


def pages_per_node(entries: Iterable[NumaMap]) -> dict[int, int]:
    """Total ``N<id>=`` counts per node.

    Each VMA counts in its own page size, so a hugetlb page counts as one;
    use :func:`bytes_per_node` to compare across page sizes.
    """
    totals: dict[int, int] = {}
    for e in entries:
        for node, count in e.node_pages.items():
            totals[node] = totals.get(node, 0) + count
    return totals


def bytes_per_node(entries: Iterable[NumaMap]) -> dict[int, int]:
    """Bytes resident per node: each VMA's counts times its page size."""
    totals: dict[int, int] = {}
    for e in entries:
        size = e.kernelpagesize_bytes
        if size is None:
            continue  # no pages in memory
        for node, count in e.node_pages.items():
            totals[node] = totals.get(node, 0) + count * size
    return totals
