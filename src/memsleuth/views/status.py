"""``memsleuth status``: the one-screen summary."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memsleuth.analysis.accounting import Accounting
from memsleuth.analysis.usage import UsageViews
from memsleuth.units import human_bytes

SCHEMA = "memsleuth.status/1"

#: bucket group -> (label, colour) for the breakdown bar
GROUP_STYLE: dict[str, tuple[str, str]] = {
    "user": ("user (anon + shmem)", "red"),
    "kernel": ("kernel (slab, stacks, page tables ...)", "magenta"),
    "cache": ("page cache + buffers", "blue"),
    "reserved": ("hugetlb / balloon", "yellow"),
    "unaccounted": ("unaccounted", "white"),
    "free": ("free", "green"),
}

BAR_WIDTH = 60


def render_bar(total: int, groups: dict[str, int], width: int = BAR_WIDTH) -> Text:
    bar = Text()
    used = 0
    for key, (_, style) in GROUP_STYLE.items():
        size = max(groups.get(key, 0), 0)
        cells = round(width * size / total) if total else 0
        cells = min(cells, width - used)
        used += cells
        bar.append("█" * cells, style=style)
    if used < width:
        bar.append("█" * (width - used), style="green")
    return bar


def render_status(hostname: str | None, u: UsageViews, acct: Accounting) -> RenderableType:
    head = Text(f"{hostname or 'host'}: {human_bytes(u.total_bytes)} RAM", style="bold")
    views = Table(box=None, header_style="bold", pad_edge=False)
    views.add_column("view")
    views.add_column("used", justify="right")
    views.add_column("%", justify="right")
    views.add_column("definition")
    views.add_row("legacy (CentOS 6 free)", human_bytes(u.legacy_used_bytes),
                  f"{u.legacy_used_percent:.1f}", "MemTotal - MemFree")
    label = "MemAvailable" + ("*" if u.available_estimated else "")
    views.add_row(f"available ({label})", human_bytes(u.available_used_bytes),
                  f"{u.available_used_percent:.1f}", "MemTotal - MemAvailable (procps-ng 4)")
    legend = Table(box=None, pad_edge=False, show_header=False)
    legend.add_column("")
    legend.add_column("", justify="right")
    legend.add_column("", justify="right")
    for key, (lbl, style) in GROUP_STYLE.items():
        size = u.groups.get(key, 0)
        legend.add_row(Text("█ " + lbl, style=style), human_bytes(size),
                       f"{100.0 * size / u.total_bytes:.1f}%")
    parts: list[RenderableType] = [head, views]
    if u.available_estimated:
        parts.append(Text(f"* this kernel has no MemAvailable; estimated from "
                          f"{u.available_method} as the kernel would", style="yellow"))
    big = [b for b in acct.buckets if (b.size_bytes or 0) > 0.05 * acct.total_bytes
           and b.key != "free"]
    top = ", ".join(f"{b.label} {human_bytes(b.size_bytes)}" for b in
                    sorted(big, key=lambda b: -(b.size_bytes or 0)))
    parts += [Text(""), Text("buckets", style="bold"), render_bar(u.total_bytes, u.groups),
              legend]
    if top:
        parts.append(Text(f"largest: {top}"))
    parts += [Text(""), Text("why the views differ: ", style="bold") + Text(u.explanation())]
    return Group(*parts)


def status_json(u: UsageViews) -> dict[str, Any]:
    return {
        "total_bytes": u.total_bytes,
        "legacy": {"used_bytes": u.legacy_used_bytes, "used_percent": u.legacy_used_percent},
        "available": {
            "available_bytes": u.available_bytes,
            "estimated": u.available_estimated,
            "method": u.available_method,
            "used_bytes": u.available_used_bytes,
            "used_percent": u.available_used_percent,
        },
        "reclaimable_slab_bytes": u.reclaimable_slab_bytes,
        "groups_bytes": u.groups,
        "reasons": [{"key": r.key, "label": r.label, "size_bytes": r.size_bytes}
                    for r in u.reasons],
        "explanation": u.explanation(),
    }
