"""``memsleuth vmstat``: vmstat(8) columns, in vmstat's units (KiB, per second)."""

from __future__ import annotations

import dataclasses
from typing import Any

from memsleuth.analysis.vmstat import VmstatRow
from memsleuth.views.common import MISSING, Column

SCHEMA = "memsleuth.vmstat/1"


def _kib(v: float | None) -> str:
    return MISSING if v is None else str(int(v) // 1024)


def _per_s(v: float | None) -> str:
    return MISSING if v is None else str(round(v))


def _pct(v: float | None) -> str:
    return MISSING if v is None else str(round(v))


def _count(v: float | None) -> str:
    return MISSING if v is None else f"{round(v):,}"


#: (group, column) in vmstat's order; keys are VmstatRow fields
COLUMNS: tuple[tuple[str, Column], ...] = (
    ("procs", Column("procs_running", "r", _per_s, meaning="runnable tasks")),
    ("procs", Column("procs_blocked", "b", _per_s, meaning="tasks in uninterruptible sleep")),
    ("memory", Column("swapped_bytes", "swpd", _kib, meaning="swap used (KiB)")),
    ("memory", Column("free_bytes", "free", _kib, meaning="MemFree (KiB)")),
    ("memory", Column("buffers_bytes", "buff", _kib, meaning="Buffers (KiB)")),
    ("memory", Column("cache_bytes", "cache", _kib, meaning="Cached + SReclaimable (KiB)")),
    ("swap", Column("swap_in_bytes_per_second", "si", lambda v: _per_s(None if v is None
                    else v / 1024), meaning="swapped in, KiB/s")),
    ("swap", Column("swap_out_bytes_per_second", "so", lambda v: _per_s(None if v is None
                    else v / 1024), meaning="swapped out, KiB/s")),
    ("io", Column("block_in_kib_per_second", "bi", _per_s, meaning="read from block devices, KiB/s")),
    ("io", Column("block_out_kib_per_second", "bo", _per_s, meaning="written, KiB/s")),
    ("system", Column("interrupts_per_second", "in", _per_s, meaning="interrupts/s")),
    ("system", Column("context_switches_per_second", "cs", _per_s, meaning="context switches/s")),
    ("cpu", Column("cpu_user_percent", "us", _pct, meaning="user time % (incl. nice)")),
    ("cpu", Column("cpu_system_percent", "sy", _pct, meaning="kernel time % (incl. irq)")),
    ("cpu", Column("cpu_idle_percent", "id", _pct, meaning="idle %")),
    ("cpu", Column("cpu_iowait_percent", "wa", _pct, meaning="waiting for I/O %")),
    ("cpu", Column("cpu_steal_percent", "st", _pct, meaning="stolen by the hypervisor %")),
    ("cpu", Column("cpu_guest_percent", "gu", _pct, meaning="running guests %")),
)

MEM_COLUMNS: tuple[tuple[str, Column], ...] = (
    ("slab", Column("slab_bytes", "slab", _kib, meaning="Slab (KiB)")),
    ("slab", Column("slab_change_bytes_per_second", "slab/s",
                    lambda v: _per_s(None if v is None else v / 1024),
                    meaning="change of Slab, KiB/s")),
    ("dentry", Column("dentries", "dent", _count, meaning="dentries allocated (dentry-state)")),
    ("dentry", Column("negative_dentries", "neg", _count,
                      meaning="unused negative dentries (5.0+; '-' when the kernel lacks it)")),
    ("dentry", Column("dentries_per_second", "dent/s", _count, meaning="dentry change per s")),
    ("faults", Column("page_faults_per_second", "flt/s", _count, meaning="page faults/s")),
    ("faults", Column("major_faults_per_second", "maj/s", _count,
                      meaning="major faults (needed I/O)/s")),
)


def columns(mem: bool) -> tuple[tuple[str, Column], ...]:
    return COLUMNS + (MEM_COLUMNS if mem else ())


#: minimum width per column title, so rows line up while streaming
_WIDTH = {"r": 2, "b": 2, "swpd": 6, "free": 9, "buff": 7, "cache": 8, "si": 4, "so": 4,
          "bi": 5, "bo": 5, "in": 5, "cs": 5, "us": 2, "sy": 2, "id": 3, "wa": 2, "st": 2,
          "gu": 2, "slab": 8, "slab/s": 6, "dent": 11, "neg": 11, "dent/s": 7, "flt/s": 7,
          "maj/s": 5}


def header_lines(mem: bool) -> list[str]:
    """The two vmstat header lines: groups, then column titles."""
    groups: list[tuple[str, int]] = []
    titles = []
    for group, col in columns(mem):
        w = _WIDTH.get(col.title, len(col.title))
        titles.append(col.title.rjust(w))
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1] + w + 1)
        else:
            groups.append((group, w))
    top = " ".join(g.center(w, "-") if w >= len(g) + 2 else g[:w].center(w, "-")
                   for g, w in groups)
    return [top, " ".join(titles)]


def format_row(row: VmstatRow, mem: bool) -> str:
    values = dataclasses.asdict(row)
    return " ".join(col.fmt(values[col.key]).rjust(_WIDTH.get(col.title, len(col.title)))
                    for _, col in columns(mem))


def row_json(row: VmstatRow) -> dict[str, Any]:
    return dataclasses.asdict(row)
