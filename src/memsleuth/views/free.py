"""``memsleuth free``: procps-ng 4 ``free`` numbers and the CentOS 6 legacy view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memsleuth.analysis.accounting import FreeNumbers
from memsleuth.units import human_bytes

SCHEMA = "memsleuth.free/1"

#: flag -> (divisor, label); procps prints kibibytes by default
UNITS: dict[str, tuple[int, str]] = {
    "bytes": (1, "B"),
    "kibi": (1024, "KiB"),
    "mebi": (1024**2, "MiB"),
    "gibi": (1024**3, "GiB"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FreeOptions:
    unit: str = "kibi"  # a key of UNITS, or "human"
    wide: bool = False
    total: bool = False
    legacy: bool = False


def _fmt(value: int | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "human":
        return _human_procps(value)
    return str(value // UNITS[unit][0])


def _human_procps(value: int) -> str:
    # procps prints "23Gi", "238Mi", "8.7Mi": one decimal below 10 units
    if value < 1024:
        return f"{value}B"
    v = float(value)
    for suffix in ("Ki", "Mi", "Gi", "Ti", "Pi"):
        v /= 1024
        if v < 1024 or suffix == "Pi":
            return f"{v:.1f}{suffix}" if v < 10 else f"{round(v)}{suffix}"
    raise AssertionError("unreachable")


def render_free(n: FreeNumbers, opts: FreeOptions) -> RenderableType:
    u = opts.unit
    t = Table(box=None, header_style="bold", pad_edge=False)
    t.add_column("")
    heads = ["total", "used", "free", "shared"]
    heads += ["buffers", "cache"] if opts.wide else ["buff/cache"]
    heads.append("available")
    for h in heads:
        t.add_column(h, justify="right")
    mem = [n.total_bytes, n.used_bytes, n.free_bytes, n.shared_bytes]
    mem += [n.buffers_bytes, n.cache_bytes] if opts.wide else [n.buff_cache_bytes]
    mem.append(n.available_bytes)
    t.add_row("Mem:", *(_fmt(v, u) for v in mem))
    t.add_row("Swap:", *(_fmt(v, u) for v in (n.swap_total_bytes, n.swap_used_bytes,
                                               n.swap_free_bytes)))
    if opts.total:
        st = n.swap_total_bytes or 0
        su = n.swap_used_bytes or 0
        sf = n.swap_free_bytes or 0
        t.add_row("Total:", _fmt(n.total_bytes + st, u), _fmt(n.used_bytes + su, u),
                  _fmt(n.free_bytes + sf, u))
    parts: list[RenderableType] = [t]
    if n.available_method != "kernel":
        parts.append(Text(
            f"available is estimated ({n.available_method}): this kernel has no MemAvailable",
            style="yellow"))
    if opts.legacy:
        parts.append(render_legacy(n, u))
    return Group(*parts)


def render_legacy(n: FreeNumbers, unit: str) -> RenderableType:
    """procps 3.2 (CentOS 6) layout next to today's definition, and why they differ."""
    t = Table(box=None, header_style="bold", pad_edge=False,
              title="CentOS 6 (procps 3.2) view", title_justify="left")
    t.add_column("")
    for h in ("total", "used", "free", "shared", "buffers", "cached"):
        t.add_column(h, justify="right")
    cached = None if n.cache_bytes is None else n.cache_bytes - (n.reclaimable_slab_bytes or 0)
    t.add_row("Mem:", *(_fmt(v, unit) for v in (n.total_bytes, n.legacy_used_bytes,
              n.free_bytes, 0 if n.shared_bytes is None else n.shared_bytes,
              n.buffers_bytes, cached)))
    t.add_row("-/+ buffers/cache:", "", _fmt(n.legacy_used_minus_cache_bytes, unit),
              _fmt(n.total_bytes - n.legacy_used_minus_cache_bytes, unit))
    cmp = Table(box=None, header_style="bold", pad_edge=False,
                title="used, by definition", title_justify="left")
    cmp.add_column("definition")
    cmp.add_column("used", justify="right")
    cmp.add_column("%", justify="right")
    rows = [
        ("procps 3.2 (CentOS 6): total - free", n.legacy_used_bytes, n.legacy_used_percent),
        ("procps 3.2 -/+ buffers/cache", n.legacy_used_minus_cache_bytes,
         n.legacy_used_minus_cache_percent),
        ("procps-ng 4 (today): total - available", n.used_bytes, n.used_percent),
    ]
    for label, value, pct in rows:
        cmp.add_row(label, human_bytes(value), "-" if pct is None else f"{pct:.1f}%")
    why = Text(
        f"They differ mainly by reclaimable slab ({human_bytes(n.reclaimable_slab_bytes)}): "
        "CentOS 6 free counts it as used, even on its -/+ buffers/cache line; "
        "MemAvailable counts almost all of it as available. Neither says what is growing: "
        "run 'memsleuth meminfo' for the buckets and 'memsleuth slab' for the caches."
    )
    return Group(Text(""), t, Text(""), cmp, why)


def free_json(n: FreeNumbers) -> dict[str, Any]:
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
        "used_percent": n.used_percent,
    }
