"""``/proc/vmallocinfo`` (mode 0400): one line per vmalloc/vmap/ioremap area.

Format: ``0xSTART-0xEND  SIZE caller+0x../0x.. [pages=N] [phys=..] [flags...]
[N<node>=<pages>...]``.  SIZE is bytes of *address space*, including the
guard page and, for ioremap, device memory that is not RAM; only
``pages=N`` counts RAM.  Sum ``pages=`` to get VmallocUsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from memsleuth.errors import ParseError

SOURCE = "proc/vmallocinfo"

_FLAGS = frozenset({"ioremap", "vmalloc", "vmap", "user", "vpages", "unpurged", "vm_map_ram",
                    "dma-coherent", "vm_area"})


@dataclass(frozen=True, slots=True, kw_only=True)
class VmallocArea:
    start: int
    end: int
    size_bytes: int
    #: function name without the +offset/size suffix; None if not printed
    caller: str | None
    pages: int | None
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VmallocInfo:
    areas: tuple[VmallocArea, ...]

    def pages_by_caller(self) -> Mapping[str, int]:
        out: dict[str, int] = {}
        for a in self.areas:
            if a.pages:
                key = a.caller or "?"
                out[key] = out.get(key, 0) + a.pages
        return out

    @property
    def total_pages(self) -> int:
        return sum(a.pages or 0 for a in self.areas)


def parse_vmallocinfo(text: str) -> VmallocInfo:
    areas = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        rng, _, _ = parts[0].partition(" ")
        lo, sep, hi = rng.partition("-")
        if not sep or len(parts) < 2:
            raise ParseError(SOURCE, f"bad line {line!r}")
        try:
            start, end, size = int(lo, 16), int(hi, 16), int(parts[1])
        except ValueError:
            raise ParseError(SOURCE, f"bad range or size in {line!r}") from None
        caller = None
        pages = None
        flags = []
        for tok in parts[2:]:
            if tok.startswith("pages="):
                try:
                    pages = int(tok[6:])
                except ValueError:
                    raise ParseError(SOURCE, f"bad pages= in {line!r}") from None
            elif tok in _FLAGS:
                flags.append(tok)
            elif caller is None and not tok.startswith(("phys=", "N")) and "=" not in tok:
                caller = tok.split("+", 1)[0]
        areas.append(VmallocArea(start=start, end=end, size_bytes=size, caller=caller, pages=pages,
                                 flags=tuple(flags)))
    return VmallocInfo(areas=tuple(areas))
