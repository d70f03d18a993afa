"""``memsleuth free``: procps-ng 4 ``free`` numbers and the CentOS 6 legacy view."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.accounting import FreeNumbers
from memsleuth.units import human_bytes
from memsleuth.views.common import BLANK, Column, table
from memsleuth.views.topics import Field, explain_text

SCHEMA = "memsleuth.free/1"

#: unit flag -> procps's exponent (free.c ``args.exponent``): 0 is the default
#: (kibibytes, or kilobytes with --si), 1 bytes, 2 kilo, 3 mega, ... 6 peta
EXPONENTS: dict[str, int] = {
    "default": 0, "bytes": 1, "kibi": 2, "mebi": 3, "gibi": 4, "tebi": 5, "pebi": 6,
    "kilo": 2, "mega": 3, "giga": 4, "tera": 5, "peta": 6,
}
#: the decimal units set --si as well, as in procps
SI_UNITS = frozenset({"kilo", "mega", "giga", "tera", "peta"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FreeOptions:
    unit: str = "default"  # a key of EXPONENTS
    human: bool = False
    si: bool = False
    wide: bool = False
    total: bool = False
    committed: bool = False
    legacy: bool = False

    @property
    def exponent(self) -> int:
        return EXPONENTS[self.unit]

    @property
    def base(self) -> int:
        return 1000 if self.si or self.unit in SI_UNITS else 1024


def _f32(x: float) -> float:
    """``x`` rounded to a C float, as procps casts before printing."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def scale_size(value_bytes: int, opts: FreeOptions) -> str:
    """A value as procps-ng 4 free prints it (``scale_size()`` in free.c, local/units.c since 4.0.4).

    Human (-h): bytes while they fit in 4 characters ("999B"); then, per unit,
    one decimal if it fits in 5 characters with the ``i`` ("9.5Mi", not
    "10.0Mi") or 4 without it under --si, else the whole number *truncated*
    ("23Gi" for 23.9 GiB, "9M" for 9.96 MB), else the next unit.  Fixed units
    truncate too; -b is never decimal.
    """
    base = float(opts.base)
    if not opts.human:
        if opts.exponent == 0:
            q = abs(value_bytes) // int(base)  # C's integer division truncates toward zero
            return str(-q if value_bytes < 0 else q)
        if opts.exponent == 1:
            return str(value_bytes)
        return str(int(value_bytes / base ** (opts.exponent - 1)))
    text = f"{value_bytes}B"
    if len(text) <= 4:
        return text
    width = 4 if opts.si else 5
    suffix = "" if opts.si else "i"
    for i, up in enumerate("KMGTP", start=1):
        scaled = value_bytes / base**i
        text = f"{_f32(scaled):.1f}{up}{suffix}"
        if len(text) <= width:
            return text
        text = f"{int(scaled)}{up}{suffix}"
        if len(text) <= width:
            return text
    return text  # more than an exbibyte: procps overflows its column too


def _columns(opts: FreeOptions, heads: Sequence[str]) -> tuple[Column, ...]:
    def fmt(v: int) -> str:
        return scale_size(v, opts)

    return (Column("label", "", justify="left"),
            *(Column(h, h, fmt) for h in heads))


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """``free -v``: the overcommit limit and what is promised (meminfo CommitLimit, Committed_AS)."""

    limit_bytes: int | None
    committed_as_bytes: int | None

    @property
    def left_bytes(self) -> int | None:
        """CommitLimit - Committed_AS: negative when more is promised than the limit (procps
        prints the unsigned wrap-around there; we print the negative number)."""
        if self.limit_bytes is None or self.committed_as_bytes is None:
            return None
        return self.limit_bytes - self.committed_as_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class LowHigh:
    """``free -l``: low and high memory (32-bit HIGHMEM kernels; elsewhere all memory is low)."""

    low_total_bytes: int
    low_free_bytes: int
    high_total_bytes: int
    high_free_bytes: int

    @classmethod
    def from_meminfo(cls, raw: Mapping[str, int], total: int, free: int) -> LowHigh:
        """As procps's meminfo.c: no LowTotal (64-bit kernels) means low is all of MemTotal."""
        low_total = raw.get("LowTotal", 0)
        return cls(low_total_bytes=low_total or total,
                   low_free_bytes=raw.get("LowFree", 0) if low_total else free,
                   high_total_bytes=raw.get("HighTotal", 0), high_free_bytes=raw.get("HighFree", 0))

    @staticmethod
    def used(total: int, free: int) -> int:
        return total - free if free < total else 0


def render_free(n: FreeNumbers, opts: FreeOptions, commit: Commit | None = None,
                lohi: LowHigh | None = None) -> RenderableType:
    heads = ["total", "used", "free", "shared"]
    heads += ["buffers", "cache"] if opts.wide else ["buff/cache"]
    heads.append("available")
    mem = [n.total_bytes, n.used_bytes, n.free_bytes, n.shared_bytes]
    mem += [n.buffers_bytes, n.cache_bytes] if opts.wide else [n.buff_cache_bytes]
    mem.append(n.available_bytes)
    swap = [n.swap_total_bytes, n.swap_used_bytes, n.swap_free_bytes]
    rows = [_row("Mem:", heads, mem)]
    if lohi is not None:
        lt, lf, ht, hf = (lohi.low_total_bytes, lohi.low_free_bytes, lohi.high_total_bytes,
                          lohi.high_free_bytes)
        rows += [_row("Low:", heads, [lt, LowHigh.used(lt, lf), lf]),
                 _row("High:", heads, [ht, LowHigh.used(ht, hf), hf])]
    rows.append(_row("Swap:", heads, swap))
    if opts.total:
        st = n.swap_total_bytes or 0
        su = n.swap_used_bytes or 0
        sf = n.swap_free_bytes or 0
        rows.append(_row("Total:", heads, [n.total_bytes + st, n.used_bytes + su, n.free_bytes + sf]))
    if opts.committed and commit is not None:
        rows.append(_row("Comm:", heads, [commit.limit_bytes, commit.committed_as_bytes,
                                          commit.left_bytes]))
    parts: list[RenderableType] = [table(_columns(opts, heads), rows, overflow="ellipsis", pipe="full")]
    if n.available_method != "kernel":
        parts.append(Text(
            f"available is estimated ({n.available_method}): this kernel has no MemAvailable",
            style="yellow"))
    if opts.legacy:
        parts.append(render_legacy(n, opts))
    return Group(*parts)


#: ``free -L``: procps's one line, its labels and order (free.c, procps-ng 4.0.4+)
LINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("SwapUse", "swap_used_bytes"), ("CachUse", "buff_cache_bytes"), (" MemUse", "used_bytes"),
    ("MemFree", "free_bytes"),
)


def free_line(n: FreeNumbers, opts: FreeOptions) -> str:
    """``free -L``: ``SwapUse %11s CachUse %11s  MemUse %11s MemFree %11s`` as procps prints it
    (without its trailing space)."""
    def value(attr: str) -> str:
        v = getattr(n, attr)
        return "-" if v is None else scale_size(v, opts)

    return " ".join(f"{label} {value(attr):>11}" for label, attr in LINE_FIELDS)


def _row(label: str, heads: Sequence[str], values: Sequence[int | None]) -> dict[str, Any]:
    """A row with ``values`` under the first heads and nothing under the rest."""
    row: dict[str, Any] = {"label": label}
    for i, h in enumerate(heads):
        row[h] = values[i] if i < len(values) else BLANK
    return row


LEGACY_HEADS = ("total", "used", "free", "shared", "buffers", "cached")
#: the "used, by definition" comparison
DEFINITION_COLUMNS: tuple[Column, ...] = (
    Column("definition", "definition", justify="left"),
    Column("used_bytes", "used", human_bytes),
    Column("used_percent", "%", lambda v: f"{v:.1f}%"),
)


def render_legacy(n: FreeNumbers, opts: FreeOptions) -> RenderableType:
    """procps 3.2 (CentOS 6) layout next to today's definition, and why they differ."""
    cached = None if n.cache_bytes is None else n.cache_bytes - (n.reclaimable_slab_bytes or 0)
    legacy = table(_columns(opts, LEGACY_HEADS), [
        _row("Mem:", LEGACY_HEADS, [n.total_bytes, n.legacy_used_bytes, n.free_bytes,
                                    0 if n.shared_bytes is None else n.shared_bytes,
                                    n.buffers_bytes, cached]),
        {**_row("-/+ buffers/cache:", LEGACY_HEADS, []), "used": n.legacy_used_minus_cache_bytes,
         "free": n.total_bytes - n.legacy_used_minus_cache_bytes},
    ], title="CentOS 6 (procps 3.2) view", title_justify="left", overflow="ellipsis", pipe="full")
    cmp = table(DEFINITION_COLUMNS, [
        {"definition": "procps 3.2 (CentOS 6): total - free", "used_bytes": n.legacy_used_bytes,
         "used_percent": n.legacy_used_percent},
        {"definition": "procps 3.2 -/+ buffers/cache", "used_bytes": n.legacy_used_minus_cache_bytes,
         "used_percent": n.legacy_used_minus_cache_percent},
        {"definition": "procps-ng 4 (today): total - available", "used_bytes": n.used_bytes,
         "used_percent": n.used_percent},
    ], title="used, by definition", title_justify="left", overflow="ellipsis", pipe="full")
    why = Text(
        f"They differ mainly by reclaimable slab ({human_bytes(n.reclaimable_slab_bytes)}): "
        "CentOS 6 free counts it as used, even on its -/+ buffers/cache line; "
        "MemAvailable counts almost all of it as available. Neither says what is growing: "
        "run 'memsleuth meminfo' for the buckets and 'memsleuth slab' for the caches."
    )
    return Group(Text(""), legacy, Text(""), cmp, why)


def free_json(n: FreeNumbers, commit: Commit | None = None) -> dict[str, Any]:
    return {
        "mem": {
            "total_bytes": n.total_bytes,
            "used_bytes": n.used_bytes,
            "free_bytes": n.free_bytes,
            "shared_bytes": n.shared_bytes,
            "buffers_bytes": n.buffers_bytes,
            "cache_bytes": n.cache_bytes,
            "buff_cache_bytes": n.buff_cache_bytes,
            "available_bytes": n.available_bytes,
            "available_method": n.available_method,
        },
        "swap": {
            "total_bytes": n.swap_total_bytes,
            "used_bytes": n.swap_used_bytes,
            "free_bytes": n.swap_free_bytes,
        },
        "legacy": {
            "used_bytes": n.legacy_used_bytes,
            "used_percent": n.legacy_used_percent,
            "used_minus_buffers_cache_bytes": n.legacy_used_minus_cache_bytes,
            "reclaimable_slab_bytes": n.reclaimable_slab_bytes,
        },
        "commit": {
            "limit_bytes": None if commit is None else commit.limit_bytes,
            "committed_as_bytes": None if commit is None else commit.committed_as_bytes,
            "left_bytes": None if commit is None else commit.left_bytes,
        },
        "used_percent": n.used_percent,
    }


#: ``free --explain``: each column and line, in plain words
FIELDS: tuple[Field, ...] = (
    Field(name="total", text="MemTotal: the RAM the kernel manages (physical memory less what "
          "firmware and the kernel's own code reserve). On the Swap line, the swap space."),
    Field(name="used", text="total - available (procps-ng 4). Not what CentOS 6's free called "
          "used (total - free): see --legacy."),
    Field(name="free", text="MemFree: pages nobody uses at all. Low free memory is normal; the "
          "kernel fills idle RAM with cache."),
    Field(name="shared", text="Shmem: tmpfs, /dev/shm and shared anonymous memory. It is "
          "counted inside cache yet cannot be dropped."),
    Field(name="buffers", text="Buffers: cache of block-device metadata."),
    Field(name="cache", text="Cached + SReclaimable: file pages in RAM plus kernel slab the "
          "kernel may free (dentries, inodes). buff/cache is buffers + cache."),
    Field(name="available", text="MemAvailable: what a new program could get without swapping, "
          "the kernel's estimate."),
    Field(name="Low:/High:", text="(-l) low and high memory: only 32-bit kernels split RAM "
          "this way; elsewhere Low is all of it and High is 0. Used here is total - free."),
    Field(name="Total:", text="(-t) RAM and swap added: total, used and free of both."),
    Field(name="Comm:", text="(-v) CommitLimit, Committed_AS and the difference: memory "
          "promised against the limit enforced under vm.overcommit_memory=2."),
    Field(name="-L", text="one line: SwapUse (swap used), CachUse (buff/cache), MemUse (used), "
          "MemFree (free)."),
)
#: the concepts free's numbers lean on (memsleuth help TOPIC prints the same text)
TOPICS: tuple[str, ...] = ("memavailable", "page-cache", "reclaimable-slab", "overcommit")


def explain_free() -> Text:
    return Text(explain_text(FIELDS, TOPICS))
