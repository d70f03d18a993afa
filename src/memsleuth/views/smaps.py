"""``memsleuth smaps PID``: one row per mapping, pmap -X style, with totals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memsleuth.sources.smaps import Mapping, SmapsRollup, sum_mappings
from memsleuth.units import human_bytes
from memsleuth.views.common import Column, fmt_bytes

SCHEMA = "memsleuth.smaps/1"

#: smaps keys shown as columns; (kernel key, title, meaning)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Size", "SIZE", "virtual size of the mapping"),
    ("Rss", "RSS", "resident pages"),
    ("Pss", "PSS", "resident pages, shared ones divided among their sharers"),
    ("Private_Dirty", "PRIV_D", "private pages written to (anon heap, COW copies)"),
    ("Private_Clean", "PRIV_C", "private pages unchanged since read"),
    ("Shared_Clean", "SHR_C", "pages also mapped by other processes, unchanged"),
    ("Anonymous", "ANON", "pages not backed by a file"),
    ("Swap", "SWAP", "pages swapped out"),
)
WIDE_EXTRA: tuple[tuple[str, str, str], ...] = (
    ("Shared_Dirty", "SHR_D", "shared pages written to"),
    ("Referenced", "REF", "pages accessed recently"),
    ("AnonHugePages", "THP", "anonymous memory in transparent huge pages"),
    ("SwapPss", "SWAPPSS", "swap, shared slots divided among sharers"),
    ("Locked", "LOCKED", "mlocked pages"),
)

ADDRESS = Column("address", "ADDRESS", justify="left")


def _name(m: Mapping) -> str:
    name = m.pathname or ""
    return name + (" (deleted)" if m.deleted and "(deleted)" not in name else "")


def render_smaps(pid: int, command: str, maps: Sequence[Mapping], rollup: SmapsRollup | None,
                 *, wide: bool) -> RenderableType:
    cols = COLUMNS + (WIDE_EXTRA if wide else ())
    t = Table(box=None, header_style="bold", pad_edge=False,
              title=f"{pid}: {command}", title_justify="left")
    t.add_column("ADDRESS")
    t.add_column("PERM")
    for _, title, _ in cols:
        t.add_column(title, justify="right")
    t.add_column("MAPPING")
    for m in maps:
        t.add_row(f"{m.start:012x}", m.perms,
                  *(fmt_bytes(m.raw.get(key)) for key, _, _ in cols), _name(m))
    totals = sum_mappings(maps)
    t.add_row(Text("total", style="bold"), "", *(fmt_bytes(totals.get(k)) for k, _, _ in cols),
              f"{len(maps)} mappings")
    parts: list[RenderableType] = [t]
    if rollup is not None:
        same = all(totals.get(k, 0) == rollup.raw.get(k, 0)
                   for k in ("Rss", "Private_Clean", "Private_Dirty", "Swap"))
        pss_gap = rollup.raw.get("Pss", 0) - totals.get("Pss", 0)
        parts.append(Text(
            f"smaps_rollup: Rss {human_bytes(rollup.rss_bytes)}, Pss {human_bytes(rollup.pss_bytes)}"
            + ("; per-mapping totals agree" if same else
               "; totals differ from smaps_rollup (the process changed between the two reads)")
            + (f"; Pss differs by {pss_gap // 1024} kB from per-mapping rounding"
               if same and pss_gap else ""),
            style="dim" if same else "yellow"))
    return Group(*parts)


def mapping_json(m: Mapping) -> dict[str, Any]:
    return {
        "start": m.start, "end": m.end, "perms": m.perms, "offset": m.offset,
        "dev": f"{m.dev_major:02x}:{m.dev_minor:02x}", "inode": m.inode,
        "pathname": m.pathname, "deleted": m.deleted,
        "fields_bytes": dict(m.raw), "vm_flags": list(m.vm_flags),
    }


def smaps_json(pid: int, command: str, maps: Sequence[Mapping],
               rollup: SmapsRollup | None) -> dict[str, Any]:
    return {
        "pid": pid,
        "command": command,
        "mappings": [mapping_json(m) for m in maps],
        "totals_bytes": sum_mappings(maps),
        "rollup_bytes": dict(rollup.raw) if rollup else None,
    }
