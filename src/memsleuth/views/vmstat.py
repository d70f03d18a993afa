"""``memsleuth vmstat``: vmstat(8) columns, in vmstat's units (KiB, per second)."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from memsleuth.analysis.vmstat import VmstatRow, VmstatStats
from memsleuth.sources.slabinfo import SlabCache
from memsleuth.views.common import MISSING, Column
from memsleuth.views.topics import Field, column_fields, explain_text

SCHEMA = "memsleuth.vmstat/1"


#: ``-S``: procps's unit letters and what each divides KiB-scaled values by (vmstat.c ``dataUnit``)
UNITS: dict[str, int] = {"b": 1, "B": 1, "k": 1000, "K": 1024, "m": 1000000, "M": 1048576}


@dataclass(frozen=True, slots=True, kw_only=True)
class VmstatOptions:
    mem: bool = False
    #: -a: inactive and active memory instead of buff and cache
    active: bool = False
    #: -w: procps's wide layout
    wide: bool = False
    #: -t: a timestamp column
    timestamp: bool = False
    #: -S: a key of UNITS
    unit: str = "K"


def _f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def unit_convert(value_bytes: int, unit: str) -> int:
    """A memory value in the -S unit, computed as procps's ``unitConvert()``: the KiB count as a
    C float, divided by the unit, times 1024, truncated (so above 16 GiB an odd KiB count is
    rounded to even, as vmstat prints it)."""
    size_kib = _f32(float(value_bytes // 1024))
    return int(_f32(_f32(size_kib / _f32(float(UNITS[unit]))) * 1024.0))


def _mem(unit: str) -> Callable[[float | None], str]:
    def fmt(v: float | None) -> str:
        return MISSING if v is None else str(unit_convert(int(v), unit))

    return fmt


def _swap_rate(unit: str) -> Callable[[float | None], str]:
    def fmt(v: float | None) -> str:
        return MISSING if v is None else str(round(v / UNITS[unit]))

    return fmt


def _per_s(v: float | None) -> str:
    return MISSING if v is None else str(round(v))


def _pct(v: float | None) -> str:
    return MISSING if v is None else str(round(v))


def _count(v: float | None) -> str:
    return MISSING if v is None else f"{round(v):,}"


def _kib(v: float | None) -> str:
    return MISSING if v is None else str(int(v) // 1024)


def base_columns(opts: VmstatOptions) -> tuple[tuple[str, Column], ...]:
    """vmstat(8)'s columns, in its order; keys are VmstatRow fields."""
    mem = _mem(opts.unit)
    swap = _swap_rate(opts.unit)
    u = "bytes" if opts.unit in "bB" else f"{opts.unit}{'iB' if opts.unit.isupper() else 'B'}"
    if opts.active:
        third = Column("inactive_bytes", "inact", mem,
                       meaning=f"Inactive ({u}): pages not used lately, the first the kernel "
                       "reclaims (file pages) or swaps (anonymous)")
        fourth = Column("active_bytes", "active", mem,
                        meaning=f"Active ({u}): pages used recently, kept in RAM for now")
    else:
        third = Column("buffers_bytes", "buff", mem,
                       meaning=f"Buffers ({u}): cache of block-device metadata")
        fourth = Column("cache_bytes", "cache", mem,
                        meaning=f"Cached + SReclaimable ({u}): file pages and reclaimable kernel "
                        "slab in RAM, given back when programs need memory")
    return (
        ("procs", Column("procs_running", "r", _per_s,
                         meaning="tasks running or waiting for a CPU")),
        ("procs", Column("procs_blocked", "b", _per_s,
                         meaning="tasks in uninterruptible sleep, mostly waiting for disk I/O")),
        ("memory", Column("swapped_bytes", "swpd", mem, meaning=f"swap in use ({u})")),
        ("memory", Column("free_bytes", "free", mem,
                          meaning=f"MemFree ({u}): RAM nobody uses; low is normal, the kernel "
                          "fills idle RAM with cache")),
        ("memory", third),
        ("memory", fourth),
        ("swap", Column("swap_in_bytes_per_second", "si", swap,
                        meaning=f"swapped in from disk per second ({u}/s); steadily above 0 "
                        "means RAM is short")),
        ("swap", Column("swap_out_bytes_per_second", "so", swap,
                        meaning=f"swapped out to disk per second ({u}/s)")),
        ("io", Column("block_in_kib_per_second", "bi", _per_s,
                      meaning="read from block devices, KiB/s (pgpgin)")),
        ("io", Column("block_out_kib_per_second", "bo", _per_s,
                      meaning="written to block devices, KiB/s (pgpgout)")),
        ("system", Column("interrupts_per_second", "in", _per_s, meaning="interrupts per second")),
        ("system", Column("context_switches_per_second", "cs", _per_s,
                          meaning="context switches per second")),
        ("cpu", Column("cpu_user_percent", "us", _pct, meaning="CPU time in user code, % (incl. nice)")),
        ("cpu", Column("cpu_system_percent", "sy", _pct,
                       meaning="CPU time in the kernel, % (incl. irq and softirq)")),
        ("cpu", Column("cpu_idle_percent", "id", _pct, meaning="idle CPU time, %")),
        ("cpu", Column("cpu_iowait_percent", "wa", _pct, meaning="idle while waiting for I/O, %")),
        ("cpu", Column("cpu_steal_percent", "st", _pct,
                       meaning="time the hypervisor gave to other guests, %")),
        ("cpu", Column("cpu_guest_percent", "gu", _pct, meaning="time running virtual machines, %")),
    )


#: the default columns (KiB, buff and cache)
COLUMNS: tuple[tuple[str, Column], ...] = base_columns(VmstatOptions())

MEM_COLUMNS: tuple[tuple[str, Column], ...] = (
    ("slab", Column("slab_bytes", "slab", _kib,
                    meaning="Slab (KiB): kernel object caches, reclaimable and not")),
    ("slab", Column("slab_change_bytes_per_second", "slab/s",
                    lambda v: _per_s(None if v is None else v / 1024),
                    meaning="change of Slab, KiB/s: a number that stays positive is a cache "
                    "growing")),
    ("dentry", Column("dentries", "dent", _count,
                      meaning="dentries allocated: cached name lookups (dentry-state)")),
    ("dentry", Column("negative_dentries", "neg", _count,
                      meaning="unused negative dentries: cached 'no such file' answers (5.0+; "
                      "'-' when the kernel does not count them)")),
    ("dentry", Column("dentries_per_second", "dent/s", _count, meaning="dentry change per second")),
    ("faults", Column("page_faults_per_second", "flt/s", _count,
                      meaning="page faults per second: first touches of memory, copy-on-write")),
    ("faults", Column("major_faults_per_second", "maj/s", _count,
                      meaning="major faults per second: the page had to be read from disk")),
)


def columns(opts: VmstatOptions) -> tuple[tuple[str, Column], ...]:
    return base_columns(opts) + (MEM_COLUMNS if opts.mem else ())


#: minimum width per column title, so rows line up while streaming
_WIDTH = {"r": 2, "b": 2, "swpd": 6, "free": 9, "buff": 7, "cache": 8, "inact": 8, "active": 8,
          "si": 4, "so": 4, "bi": 5, "bo": 5, "in": 5, "cs": 5, "us": 2, "sy": 2, "id": 3, "wa": 2,
          "st": 2, "gu": 2, "slab": 8, "slab/s": 6, "dent": 11, "neg": 11, "dent/s": 7, "flt/s": 7,
          "maj/s": 5}
#: -w: procps's wide format (``%4s %4s %12s ... %3s``)
_WIDE = {**_WIDTH, "r": 4, "b": 4, "swpd": 12, "free": 12, "buff": 12, "cache": 12, "inact": 12,
         "active": 12, "in": 4, "cs": 4, "us": 3, "sy": 3, "id": 3, "wa": 3, "st": 3, "gu": 3}
#: -t: procps's header over the timestamp column
TIMESTAMP_HEADER = " -----timestamp-----"


def _width(opts: VmstatOptions, title: str) -> int:
    return (_WIDE if opts.wide else _WIDTH).get(title, len(title))


#: procps's own group headers (vmstat.c ``wide_header``), used where a group has their width
_PROCPS_GROUPS = ("--procs--", "-----------------------memory----------------------", "---swap--",
                  "-----io----", "-system--", "----------cpu----------")


def _center(text: str, width: int) -> str:
    for literal in _PROCPS_GROUPS:
        if literal.strip("-") == text and len(literal) == width:
            return literal
    return text.center(width, "-") if width >= len(text) + 2 else text[:width].center(width, "-")


def header_lines(opts: VmstatOptions, tzname: str = "") -> list[str]:
    """The two vmstat header lines: groups, then column titles."""
    groups: list[tuple[str, int]] = []
    titles = []
    for group, col in columns(opts):
        w = _width(opts, col.title)
        titles.append(col.title.rjust(w))
        if groups and groups[-1][0] == group:
            groups[-1] = (group, groups[-1][1] + w + 1)
        else:
            groups.append((group, w))
    top = " ".join(_center(g, w) for g, w in groups)
    bottom = " ".join(titles)
    if opts.timestamp:
        top += TIMESTAMP_HEADER
        bottom += " " + tzname.rjust(len(TIMESTAMP_HEADER) - 1)
    return [top, bottom]


def format_row(row: VmstatRow, opts: VmstatOptions, timestamp: str = "") -> str:
    values = dataclasses.asdict(row)
    line = " ".join(col.fmt(values[col.key]).rjust(_width(opts, col.title))
                    for _, col in columns(opts))
    return line + (" " + timestamp if opts.timestamp else "")


def row_json(row: VmstatRow) -> dict[str, Any]:
    return dataclasses.asdict(row)


# -- vmstat -s -----------------------------------------------------------------------------------

#: (VmstatStats field, procps's label, kind): "mem" values print in the -S unit with its letter
STATS: tuple[tuple[str, str, str], ...] = (
    ("total_memory_bytes", "total memory", "mem"),
    ("used_memory_bytes", "used memory", "mem"),
    ("active_memory_bytes", "active memory", "mem"),
    ("inactive_memory_bytes", "inactive memory", "mem"),
    ("free_memory_bytes", "free memory", "mem"),
    ("buffer_memory_bytes", "buffer memory", "mem"),
    ("swap_cache_bytes", "swap cache", "mem"),
    ("total_swap_bytes", "total swap", "mem"),
    ("used_swap_bytes", "used swap", "mem"),
    ("free_swap_bytes", "free swap", "mem"),
    ("user_ticks", "non-nice user cpu ticks", "count"),
    ("nice_ticks", "nice user cpu ticks", "count"),
    ("system_ticks", "system cpu ticks", "count"),
    ("idle_ticks", "idle cpu ticks", "count"),
    ("iowait_ticks", "IO-wait cpu ticks", "count"),
    ("irq_ticks", "IRQ cpu ticks", "count"),
    ("softirq_ticks", "softirq cpu ticks", "count"),
    ("steal_ticks", "stolen cpu ticks", "count"),
    ("guest_ticks", "non-nice guest cpu ticks", "count"),
    ("guest_nice_ticks", "nice guest cpu ticks", "count"),
    ("paged_in_kib", "K paged in", "count"),
    ("paged_out_kib", "K paged out", "count"),
    ("pages_swapped_in", "pages swapped in", "count"),
    ("pages_swapped_out", "pages swapped out", "count"),
    ("interrupts", "interrupts", "count"),
    ("context_switches", "CPU context switches", "count"),
    ("boot_time_seconds", "boot time", "count"),
    ("forks", "forks", "count"),
)
STATS_SCHEMA = "memsleuth.vmstat.stats/1"


def stats_lines(st: VmstatStats, unit: str) -> list[str]:
    """``vmstat -s`` as procps prints it: ``%13lu K total memory`` ..."""
    lines = []
    for key, label, kind in STATS:
        v = getattr(st, key)
        if kind == "mem":
            text = MISSING if v is None else str(unit_convert(v, unit))
            lines.append(f"{text:>13} {unit} {label}")
        else:
            lines.append(f"{MISSING if v is None else v:>13} {label}")
    return lines


def stats_json(st: VmstatStats) -> dict[str, Any]:
    return {"stats": dataclasses.asdict(st)}


# -- vmstat -m -----------------------------------------------------------------------------------

SLABS_SCHEMA = "memsleuth.vmstat.slabs/1"
#: procps's -m table; its "Pages" column is objects per slab (vmstat.c prints SLAB_OBJ_PER_SLAB)
SLAB_COLUMNS: tuple[Column, ...] = (
    Column("name", "Cache", justify="left", meaning="slab cache (several may be merged into one)"),
    Column("active_objs", "Num", meaning="objects in use"),
    Column("num_objs", "Total", meaning="objects allocated, in use or free"),
    Column("objsize_bytes", "Size", meaning="bytes per object"),
    Column("objperslab", "Pages", meaning="objects per slab (procps titles it Pages)"),
)


def slab_lines(caches: Sequence[SlabCache]) -> list[str]:
    """``vmstat -m``: ``%-24.24s %6u %6u %6u %6u`` per cache, by name."""
    name, *counts = (c.title for c in SLAB_COLUMNS)
    lines = [f"{name:<24} " + " ".join(f"{t:>6}" for t in counts)]
    for c in sorted(caches, key=lambda c: c.name.encode()):
        lines.append(f"{c.name[:24]:<24} {c.active_objs:>6} {c.num_objs:>6} {c.objsize_bytes:>6} "
                     f"{c.objperslab:>6}")
    return lines


def slabs_json(caches: Sequence[SlabCache]) -> dict[str, Any]:
    return {"caches": [{col.key: getattr(c, col.key) for col in SLAB_COLUMNS}
                       for c in sorted(caches, key=lambda c: c.name.encode())]}


# -- --explain -----------------------------------------------------------------------------------

#: the concepts vmstat's columns lean on (memsleuth help TOPIC prints the same text)
TOPICS: tuple[str, ...] = ("page-cache", "reclaimable-slab", "negative-dentries")


def explain_vmstat(opts: VmstatOptions) -> str:
    fields = [Field(name="first row", text="averages since boot; each later row covers one "
                    "interval")]
    fields += column_fields(col for _, col in columns(opts))
    if opts.timestamp:
        fields.append(Field(name="timestamp", text="local time of the reading"))
    return explain_text(fields, TOPICS)
