"""``memsleuth free``: procps-ng 4 ``free`` numbers and the CentOS 6 legacy view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.accounting import FreeNumbers
from memsleuth.units import human_bytes
from memsleuth.views.common import BLANK, Column, table

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


def _columns(unit: str, heads: Sequence[str]) -> tuple[Column, ...]:
    def fmt(v: int) -> str:
        return _fmt(v, unit)

    return (Column("label", "", justify="left"),
            *(Column(h, h, fmt) for h in heads))


def render_free(n: FreeNumbers, opts: FreeOptions) -> RenderableType:
    heads = ["total", "used", "free", "shared"]
    heads += ["buffers", "cache"] if opts.wide else ["buff/cache"]
    heads.append("available")
    mem = [n.total_bytes, n.used_bytes, n.free_bytes, n.shared_bytes]
    mem += [n.buffers_bytes, n.cache_bytes] if opts.wide else [n.buff_cache_bytes]
    mem.append(n.available_bytes)
    swap = [n.swap_total_bytes, n.swap_used_bytes, n.swap_free_bytes]
    rows = [_row("Mem:", heads, mem), _row("Swap:", heads, swap)]
    if opts.total:
        st = n.swap_total_bytes or 0
        su = n.swap_used_bytes or 0
        sf = n.swap_free_bytes or 0
        rows.append(_row("Total:", heads, [n.total_bytes + st, n.used_bytes + su, n.free_bytes + sf]))
    parts: list[RenderableType] = [table(_columns(opts.unit, heads), rows, overflow="ellipsis", pipe="full")]
    if n.available_method != "kernel":
        parts.append(Text(
            f"available is estimated ({n.available_method}): this kernel has no MemAvailable",
            style="yellow"))
    if opts.legacy:
        parts.append(render_legacy(n, opts.unit))
    return Group(*parts)


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


def render_legacy(n: FreeNumbers, unit: str) -> RenderableType:
    """procps 3.2 (CentOS 6) layout next to today's definition, and why they differ."""
    cached = None if n.cache_bytes is None else n.cache_bytes - (n.reclaimable_slab_bytes or 0)
    legacy = table(_columns(unit, LEGACY_HEADS), [
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
