"""``memsleuth smaps PID``: one row per mapping, pmap -X style, with totals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.sources.smaps import Mapping, SmapsRollup, sum_mappings
from memsleuth.units import human_bytes
from memsleuth.views.common import BLANK, Column, fmt_bytes, table
from memsleuth.views.topics import Field, column_fields, explain_text

SCHEMA = "memsleuth.smaps/1"

#: smaps keys shown as columns: the kernel key is the column key
FIELD_COLUMNS: tuple[Column, ...] = (
    Column("Size", "SIZE", fmt_bytes,
           meaning="virtual size of the mapping: address space, most of it perhaps never touched"),
    Column("Rss", "RSS", fmt_bytes, meaning="resident pages: in RAM now, shared ones in full"),
    Column("Pss", "PSS", fmt_bytes, meaning="resident pages, shared ones divided among their sharers"),
    Column("Private_Dirty", "PRIV_D", fmt_bytes,
           meaning="private pages written to (anon heap, COW copies)"),
    Column("Private_Clean", "PRIV_C", fmt_bytes, meaning="private pages unchanged since read"),
    Column("Shared_Clean", "SHR_C", fmt_bytes, meaning="pages also mapped by other processes, unchanged"),
    Column("Anonymous", "ANON", fmt_bytes, meaning="pages not backed by a file"),
    Column("Swap", "SWAP", fmt_bytes, meaning="pages swapped out"),
)
WIDE_EXTRA: tuple[Column, ...] = (
    Column("Shared_Dirty", "SHR_D", fmt_bytes, meaning="shared pages written to"),
    Column("Referenced", "REF", fmt_bytes, meaning="pages accessed recently"),
    Column("AnonHugePages", "THP", fmt_bytes, meaning="anonymous memory in transparent huge pages"),
    Column("SwapPss", "SWAPPSS", fmt_bytes, meaning="swap, shared slots divided among sharers"),
    Column("Locked", "LOCKED", fmt_bytes, meaning="mlocked pages"),
)
ADDRESS = Column("address", "ADDRESS", lambda v: f"{v:012x}", justify="left", meaning="start address")
PERMS = Column("perms", "PERM", justify="left", meaning="r/w/x and p (private) or s (shared)")
MAPPING = Column("mapping", "MAPPING", justify="left", meaning="file, [heap], [stack] ... or empty (anon)")


def _name(m: Mapping) -> str:
    name = m.pathname or ""
    return name + (" (deleted)" if m.deleted and "(deleted)" not in name else "")


#: the concepts smaps's columns lean on (memsleuth help TOPIC prints the same text)
TOPICS: tuple[str, ...] = ("rss", "pss", "uss")


def explain_smaps(*, wide: bool) -> str:
    """``smaps --explain``: each column, the total line, then RSS, PSS and USS."""
    fields = column_fields((ADDRESS, PERMS, *FIELD_COLUMNS, *(WIDE_EXTRA if wide else ()), MAPPING))
    fields += [
        Field(name="total", text="the columns summed over every mapping; USS is PRIV_D + PRIV_C"),
        Field(name="smaps_rollup", text="the kernel's own totals for the process, read just "
              "after smaps: they agree unless the process changed between the two reads (PSS "
              "may differ by rounding, as smaps rounds each mapping down to whole kB)"),
    ]
    return explain_text(fields, TOPICS)


def render_smaps(pid: int, command: str, maps: Sequence[Mapping], rollup: SmapsRollup | None,
                 *, wide: bool, explain: bool = False) -> RenderableType:
    fields = FIELD_COLUMNS + (WIDE_EXTRA if wide else ())
    rows: list[dict[str, Any]] = [
        {"address": m.start, "perms": m.perms, **{c.key: m.raw.get(c.key) for c in fields},
         "mapping": _name(m)}
        for m in maps]
    totals = sum_mappings(maps)
    rows.append({"address": Text("total", style="bold"), "perms": BLANK,
                 **{c.key: totals.get(c.key) for c in fields}, "mapping": f"{len(maps)} mappings"})
    t = table((ADDRESS, PERMS, *fields, MAPPING), rows, title=f"{pid}: {command}", title_justify="left",
              overflow="ellipsis", pipe="full")
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
    if explain:
        parts += [Text(""), Text(explain_smaps(wide=wide))]
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
