"""``/proc/vmallocinfo`` (mode 0400): one line per vmalloc/vmap/ioremap area.

Layout (``s_show`` in mm/vmalloc.c)::

    0xSTART-0xEND  SIZE [caller+0xoff/0xlen [module]] [pages=N] [phys=ADDR]
        [ioremap] [vmalloc] [vmap] [user] [vpages] ... [N0=n0 N1=n1 ...]

Units: SIZE is bytes of *address space*: it includes the trailing guard
page (a 16 KiB kernel stack shows 20480) and, for ioremap, device memory
that is not RAM.  Only ``pages=N`` counts RAM pages, so group by caller on
``pages=``, never on SIZE.  Since 5.3 meminfo's VmallocUsed is that sum for
VM_ALLOC areas (it read 0 from 4.4 to 5.2).  ``N<node>=`` split the pages
by NUMA node.

Traps:

* START and END are printed with ``%pK``: since 4.15 they are *hashed*
  unless kptr_restrict is 1 and the reader has CAP_SYSLOG, so END - START
  need not equal SIZE and END may even be below START.  They are kept as
  printed and never checked.
* The caller is ``%pS``: ``func+0xoff/0xlen``, then `` [module]`` for module
  code, or a bare address when the symbol is unknown; it is absent for
  areas without one.  We group by the function name.
* Lines without a caller: ``unpurged vm_area`` (lazily freed areas waiting
  for a TLB flush, 5.x+), ``vm_map_ram`` (per-CPU vmap blocks).
* ``phys=`` is bare hex on 2.6.32 (``phys=fed00000``) and ``%pa`` (``0x...``)
  on modern kernels.  Flags come and go (``vpages`` meant VM_VPAGES before
  4.x and "the page array is itself vmalloc'ed" after; ``sparse``,
  ``dma-coherent`` ...): any bare word after the caller is kept as a flag.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from memsleuth.errors import ParseError

SOURCE = "proc/vmallocinfo"

#: words the kernel prints after the caller; a third token in this set is not a caller
KNOWN_FLAGS = frozenset({"ioremap", "vmalloc", "vmap", "user", "vpages", "sparse", "dma-coherent",
                         "unpurged", "vm_area", "vm_map_ram"})


@dataclass(frozen=True, slots=True, kw_only=True)
class VmallocArea:
    #: as printed: hashed since 4.15 unless kptr_restrict allows real addresses
    start: int
    end: int
    #: address space, guard page and device memory included
    size_bytes: int
    #: function name without ``+off/len``; ``None`` if not printed
    caller: str | None
    #: the caller as printed (``func+0x94/0x3e0``)
    caller_symbol: str | None = None
    #: module of the caller (``[nf_conntrack]``), ``None`` for built-in code
    module: str | None = None
    #: RAM pages backing the area (``pages=``); ``None`` if not printed
    pages: int | None = None
    phys: int | None = None
    flags: tuple[str, ...] = ()
    #: NUMA node -> pages (``N0=4``)
    pages_per_node: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class VmallocInfo:
    areas: tuple[VmallocArea, ...]

    def pages_by_caller(self) -> Mapping[str, int]:
        """Caller function -> RAM pages (``pages=``), largest first."""
        out: dict[str, int] = {}
        for a in self.areas:
            if a.pages:
                key = a.caller or "?"
                out[key] = out.get(key, 0) + a.pages
        return MappingProxyType(dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))))

    @property
    def total_pages(self) -> int:
        """Sum of ``pages=`` over every area."""
        return sum(a.pages or 0 for a in self.areas)

    def iter_flagged(self, flag: str) -> Iterator[VmallocArea]:
        return (a for a in self.areas if flag in a.flags)


def _hex(value: str, line: str, source: str) -> int:
    try:
        return int(value, 16)
    except ValueError:
        raise ParseError(source, f"bad hex {value!r} in {line!r}") from None


def _area(line: str, source: str) -> VmallocArea:
    parts = line.split()
    lo, sep, hi = parts[0].partition("-")
    if not sep or len(parts) < 2:
        raise ParseError(source, f"bad line {line!r}")
    start, end = _hex(lo, line, source), _hex(hi, line, source)
    try:
        size = int(parts[1])
    except ValueError:
        raise ParseError(source, f"bad size in {line!r}") from None
    rest = parts[2:]
    caller_symbol = module = None
    if rest and rest[0] not in KNOWN_FLAGS and "=" not in rest[0]:
        caller_symbol = rest.pop(0)
        if rest and rest[0].startswith("[") and rest[0].endswith("]"):
            module = rest.pop(0)[1:-1]
    pages = phys = None
    flags: list[str] = []
    per_node: dict[int, int] = {}
    for tok in rest:
        key, eq, value = tok.partition("=")
        try:
            if not eq:
                flags.append(tok)
            elif key == "pages":
                pages = int(value)
            elif key == "phys":
                phys = int(value, 16)
            elif key[:1] == "N" and key[1:].isdigit():
                per_node[int(key[1:])] = int(value)
            else:
                raise ParseError(source, f"unknown field {tok!r} in {line!r}")
        except ValueError:
            raise ParseError(source, f"bad {tok!r} in {line!r}") from None
    return VmallocArea(
        start=start, end=end, size_bytes=size,
        caller=caller_symbol.split("+", 1)[0] if caller_symbol else None,
        caller_symbol=caller_symbol, module=module, pages=pages, phys=phys,
        flags=tuple(flags), pages_per_node=MappingProxyType(per_node),
    )


def iter_vmallocinfo(text: str, *, source: str = SOURCE) -> Iterator[VmallocArea]:
    """Yield one :class:`VmallocArea` per line."""
    for line in text.splitlines():
        if line.strip():
            yield _area(line, source)


def parse_vmallocinfo(text: str, *, source: str = SOURCE) -> VmallocInfo:
    """Parse the text of /proc/vmallocinfo into a :class:`VmallocInfo` (empty: no areas)."""
    return VmallocInfo(areas=tuple(iter_vmallocinfo(text, source=source)))
