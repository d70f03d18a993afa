"""``memsleuth status``: the one screen to look at first.

The usage views and buckets, the accounting tree with its unaccounted gap,
what one snapshot shows (:mod:`memsleuth.analysis.glance`), what grew and
what the detector found in the record store, PSI memory pressure, and the
OOM kills (vmstat's counter and the kernel log's lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.accounting import Accounting
from memsleuth.analysis.findings import Finding, describe
from memsleuth.analysis.glance import Glance, Grower
from memsleuth.analysis.usage import UsageViews
from memsleuth.sources.pressure import Pressure, PressureLine
from memsleuth.units import human_bytes
from memsleuth.views.common import Column, fmt_bytes, table
from memsleuth.views.meminfo import render_accounting

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


def render_status(hostname: str | None, u: UsageViews, acct: Accounting,
                  more: StatusMore | None = None, *, compact: bool = False) -> RenderableType:
    """The screen; ``compact`` (a screen refreshing in place, which must fit the terminal) leaves
    out the explanation and the full accounting tree (the bar and its legend stay)."""
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
    if not compact:
        parts += [Text(""), Text("why the views differ: ", style="bold") + Text(u.explanation())]
    if more is not None:
        if not compact:
            parts += [Text(""), render_accounting(acct)]
        parts += _render_more(more)
    return Group(*parts)


# -- the rest of the one screen ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleMatch:
    rule: str
    title: str
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSummary:
    """What the record store says: the window read, the top growers and the detector's findings."""

    path: str | None
    #: "read", "missing" (no store), "empty", "error", "not read" (a root or bundle)
    state: str
    message: str | None = None
    #: the window asked for (``--last``), seconds; ``None``: since the store began
    last_seconds: float | None = None
    start: float | None = None
    end: float | None = None
    samples: int = 0
    growers: tuple[Grower, ...] = ()
    findings: tuple[Finding, ...] = ()
    diagnoses: tuple[RuleMatch, ...] = ()
    #: why the detector could not judge a trend (too few samples), if so
    insufficient: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine:
    seconds_since_boot: float
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OomSummary:
    #: vmstat oom_kill (4.13+): kills since boot; ``None`` when the kernel does not count
    kills_since_boot: int | None
    log_readable: bool
    #: why there is no count (no /proc/vmstat, or a kernel before 4.13)
    kills_missing: str | None = None
    log_reason: str | None = None
    log_source: str | None = None
    lines: tuple[LogLine, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusMore:
    glance: Glance
    store: StoreSummary
    pressure: Pressure | None
    #: why there is no PSI reading
    pressure_missing: str | None
    oom: OomSummary
    #: findings listed at most
    limit: int = 5


GROWER_COLUMNS: tuple[Column, ...] = (
    Column("name", "subject", justify="left", no_wrap=True, cut=40),
    Column("change_bytes", "grew", lambda v: "+" + human_bytes(v)),
    Column("per_hour_bytes", "per hour", lambda v: "+" + human_bytes(v) + "/h"),
    Column("last_bytes", "now", fmt_bytes),
)


def _since(store: StoreSummary) -> str:
    if store.last_seconds is not None:
        return f"over the last {_duration(store.last_seconds)}"
    return "since the store began"


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400 and s % 3600 == 0:
        return f"{s // 86400}d" + (f"{s % 86400 // 3600}h" if s % 86400 else "")
    if s >= 3600:
        return f"{s // 3600}h" + (f"{s % 3600 // 60:02d}m" if s % 3600 else "")
    if s >= 60:
        return f"{s // 60}m" + (f"{s % 60:02d}s" if s % 60 else "")
    return f"{s}s"


def _pressure_text(line: PressureLine | None) -> str:
    if line is None:
        return "-"
    return (f"avg10 {line.avg10_percent:.2f}%  avg60 {line.avg60_percent:.2f}%  "
            f"avg300 {line.avg300_percent:.2f}%  total {line.total_seconds:,.1f} s")


def _render_more(m: StatusMore) -> list[RenderableType]:
    parts: list[RenderableType] = [Text(""), Text("now (one snapshot)", style="bold")]
    if m.glance.observations:
        parts += render_observations(m.glance)
    else:
        parts.append(Text("nothing suspicious in one snapshot"))
    st = m.store
    parts += [Text(""), Text("growth (record store)", style="bold")]
    if st.state != "read":
        parts.append(Text(st.message or st.state))
    else:
        span = (st.end - st.start) if st.start is not None and st.end is not None else 0.0
        parts.append(Text(f"{st.path}: {st.samples} samples over {_duration(span)}, {_since(st)}",
                          style="dim"))
        if st.growers:
            rows = [{"name": g.name, "change_bytes": g.change_bytes, "per_hour_bytes": g.per_hour_bytes,
                     "last_bytes": int(g.last_bytes)} for g in st.growers]
            parts.append(table(GROWER_COLUMNS, rows, title="top growers", title_justify="left",
                               overflow="ellipsis", pipe="full"))
        else:
            parts.append(Text("nothing grew"))
        if st.insufficient is not None:
            parts.append(Text(f"findings: not judged: {st.insufficient}", style="yellow"))
        elif st.findings or st.diagnoses:
            parts.append(Text(f"open findings ({len(st.findings)}):", style="bold"))
            for f in st.findings[: m.limit]:
                parts.append(Text(f"  ! {describe(f)}"))
            if len(st.findings) > m.limit:
                parts.append(Text(f"  ({len(st.findings) - m.limit} more: memsleuth diagnose)", style="dim"))
            for d in st.diagnoses:
                parts.append(Text(f"  cause: {d.title} ({d.rule}, confidence {d.confidence:.2f}): "
                                  "memsleuth diagnose", style="bold"))
        else:
            parts.append(Text("open findings: none (no sustained growth)"))
    parts += [Text(""), Text("memory pressure (PSI)", style="bold")]
    if m.pressure is None:
        parts.append(Text(f"not available: {m.pressure_missing or 'no /proc/pressure/memory'}"))
    else:
        parts.append(Text(f"some  {_pressure_text(m.pressure.some)}"))
        parts.append(Text(f"full  {_pressure_text(m.pressure.full)}"))
    o = m.oom
    parts += [Text(""), Text("OOM kills", style="bold")]
    parts.append(Text("since boot (vmstat oom_kill): "
                      + (o.kills_missing or "not counted" if o.kills_since_boot is None
                         else f"{o.kills_since_boot:,}")))
    if not o.log_readable:
        parts.append(Text(f"kernel log: not read: {o.log_reason}", style="dim"))
    elif not o.lines:
        parts.append(Text(f"kernel log ({o.log_source}): no OOM-killer lines"))
    else:
        parts.append(Text(f"kernel log ({o.log_source}), newest last:"))
        for line in o.lines:
            parts.append(Text(f"  [{line.seconds_since_boot:>12.6f}] {line.message}"))
    return parts


def render_observations(g: Glance) -> list[RenderableType]:
    """One line per observation: ``!`` suspicious, ``-`` a note, with what to run next."""
    out: list[RenderableType] = []
    for ob in g.observations:
        mark = "! " if ob.severity == "suspicious" else "- "
        line = Text(mark, style="red" if ob.severity == "suspicious" else "dim") + Text(ob.text)
        if ob.next_step:
            line += Text(f"  ({ob.next_step})", style="dim")
        out.append(line)
    return out


def render_large(g: Glance) -> Text:
    return Text("large: " + (", ".join(f"{x.label} {human_bytes(x.size_bytes)} ({100 * x.share:.0f}%)"
                                       for x in g.large) or "no bucket over 5% of RAM but free"))


def more_json(m: StatusMore) -> dict[str, Any]:
    """The keys ``status --json`` adds to memsleuth.status/1 (the earlier keys are unchanged)."""
    from memsleuth.analysis.findings import Coverage, finding_json
    from memsleuth.analysis.glance import glance_json

    st = m.store
    coverage = Coverage(source=st.path or "", kind="store", start=st.start, end=st.end, samples=st.samples,
                        series=0, reference=st.end or 0.0, reference_is_now=True)
    return {
        "glance": glance_json(m.glance),
        "store": {
            "path": st.path, "state": st.state, "message": st.message, "last_seconds": st.last_seconds,
            "start": st.start, "end": st.end, "samples": st.samples, "insufficient": st.insufficient,
        },
        "growers": [{"series_key": g.key, "subject": g.name, "kind": g.kind, "first_bytes": g.first_bytes,
                     "last_bytes": g.last_bytes, "change_bytes": g.change_bytes, "seconds": g.seconds,
                     "per_hour_bytes": g.per_hour_bytes} for g in st.growers],
        "findings": [finding_json(f, coverage, {}) for f in st.findings],
        "diagnoses": [{"rule": d.rule, "title": d.title, "confidence": d.confidence} for d in st.diagnoses],
        "pressure": None if m.pressure is None else {
            kind: None if line is None else {
                "avg10_percent": line.avg10_percent, "avg60_percent": line.avg60_percent,
                "avg300_percent": line.avg300_percent, "total_us": line.total_us}
            for kind, line in (("some", m.pressure.some), ("full", m.pressure.full))},
        "pressure_missing": m.pressure_missing,
        "oom": {
            "kills_since_boot": m.oom.kills_since_boot,
            "kills_missing": m.oom.kills_missing,
            "kernel_log": {"readable": m.oom.log_readable, "reason": m.oom.log_reason,
                           "source": m.oom.log_source,
                           "lines": [{"seconds_since_boot": ln.seconds_since_boot, "message": ln.message}
                                     for ln in m.oom.lines]},
        },
    }


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
