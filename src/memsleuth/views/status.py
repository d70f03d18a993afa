"""``memsleuth status``: the one-screen summary."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.accounting import Accounting
from memsleuth.analysis.usage import UsageViews
from memsleuth.units import human_bytes
from memsleuth.views.common import Column, table

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

#: the two definitions of "used"
VIEW_COLUMNS: tuple[Column, ...] = (
    Column("view", "view", justify="left"),
    Column("used_bytes", "used", human_bytes),
    Column("used_percent", "%", lambda v: f"{v:.1f}"),
    Column("definition", "definition", justify="left"),
)
#: the legend of the bucket bar
LEGEND_COLUMNS: tuple[Column, ...] = (
    Column("label", "", justify="left"),
    Column("size_bytes", "", human_bytes),
    Column("percent", "", lambda v: f"{v:.1f}%"),
)


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
    label = "MemAvailable" + ("*" if u.available_estimated else "")
    views = table(VIEW_COLUMNS, [
        {"view": "legacy (CentOS 6 free)", "used_bytes": u.legacy_used_bytes,
         "used_percent": u.legacy_used_percent, "definition": "MemTotal - MemFree"},
        {"view": f"available ({label})", "used_bytes": u.available_used_bytes,
         "used_percent": u.available_used_percent, "definition": "MemTotal - MemAvailable (procps-ng 4)"},
    ], overflow="ellipsis", pipe="full")
    legend = table(LEGEND_COLUMNS, [
        {"label": Text("█ " + lbl, style=style), "size_bytes": u.groups.get(key, 0),
         "percent": 100.0 * u.groups.get(key, 0) / u.total_bytes}
        for key, (lbl, style) in GROUP_STYLE.items()], show_header=False, overflow="ellipsis", pipe="full")
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
