"""``memsleuth diagnose``: findings as a terminal report and as JSON.

Takes the detector's :class:`~memsleuth.analysis.findings.Finding` objects
and the :class:`~memsleuth.analysis.series.History` they came from (for the
window and to name processes); decides nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from memsleuth.analysis.findings import Coverage, Finding, Projection, describe, process_of
from memsleuth.analysis.series import History, ProcessInfo
from memsleuth.units import human_bytes, human_duration
from memsleuth.views.common import MISSING

#: evidence keys whose value is in the series' unit (bytes for a byte series)
_IN_UNIT = frozenset({"first", "last", "min", "max", "floor_first", "floor_last", "mean", "median",
                      "headroom", "floor_start", "floor_end", "start", "end", "delta"})


#: how a projection's basis reads in a sentence ("used" is MemTotal - MemAvailable)
_BASIS = {"legacy_used": "legacy used", "used": "used"}


# -- formatting ---------------------------------------------------------------------
def fmt_rate(f: Finding) -> str:
    """``+12.0Mi/h`` for bytes, ``+1,200/h`` for counts."""
    return _rate(f.rate_per_hour, f.unit)


def _rate(v: float | None, unit: str) -> str:
    if v is None:
        return MISSING
    sign = "+" if v > 0 else ("-" if v < 0 else "")
    if unit == "bytes":
        return f"{sign}{human_bytes(abs(v))}/h"
    return f"{sign}{abs(v):,.1f}/h" if abs(v) < 100 else f"{sign}{abs(v):,.0f}/h"


#: ``45 s``, ``12 min``, ``3.5 h``, ``2.1 d`` (the one formatter, in units)
fmt_duration = human_duration


def _hours(h: float | None) -> str:
    if h is None:
        return "never"
    return fmt_duration(h * 3600)


def fmt_projection(p: Projection) -> str:
    """``80% in 3.0 h (2.0 h-5.0 h)``; ``not on this trend`` when flat.

    A threshold of legacy used (MemTotal - MemFree, what CentOS 6 ``free``
    alarms on) says so: ``80% legacy used in ...``.
    """
    label = "OOM" if p.threshold.lower() == "oom" else p.threshold
    if p.basis != "used" and label != "OOM":
        label += " " + _BASIS.get(p.basis, p.basis)
    if p.hours is None:
        return f"{label}: not on this trend"
    if p.hours <= 0:
        return f"{label}: already crossed"
    mid = _hours(p.hours)
    text = f"{label} in {mid}"
    low = _hours(p.hours_low) if p.hours_low is not None else "?"
    high = _hours(p.hours_high)
    if not low == mid == high:  # a range only when the slope bounds differ at this precision
        text += f" ({low}-{high})"
    return text


def fmt_time(t: float | None) -> str:
    if t is None:
        return MISSING
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def fmt_onset(onset: float | None, window: Coverage) -> str:
    if onset is None:
        return "before the window (grew throughout)"
    ago = window.reference - onset
    suffix = "ago" if window.reference_is_now else "before the last sample"
    return f"{fmt_time(onset)} ({fmt_duration(ago)} {suffix})"


def fmt_evidence_value(key: str, value: float | str | None, unit: str) -> str:
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_bytes") or (unit == "bytes" and key in _IN_UNIT):
        return human_bytes(value)
    if key.endswith("_per_hour"):
        return _rate(value, "bytes" if unit == "bytes" else "count")
    if "p_value" in key or key == "p":
        return f"{value:.2g}"
    if key.endswith(("_seconds", "_s")):
        return fmt_duration(value)
    if key.endswith("_hours"):
        return fmt_duration(value * 3600)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


# -- terminal --------------------------------------------------------------------------
def render_header(window: Coverage, hostname: str | None) -> Text:
    span = (window.end - window.start) if window.start is not None and window.end is not None else None
    text = Text()
    text.append("diagnose ", style="bold")
    text.append(f"{window.source}" + (f" on {hostname}" if hostname else ""))
    text.append(
        f"\n{window.samples} samples over {fmt_duration(span) if span is not None else MISSING}, "
        f"{fmt_time(window.start)} to {fmt_time(window.end)}; {window.series:,} series"
    )
    return text


def render_finding(i: int, f: Finding, window: Coverage,
                   processes: Mapping[str, ProcessInfo]) -> RenderableType:
    head = Text()
    head.append(f"{i}. ", style="bold")
    head.append(f.growth_class.value.upper().replace("_", " "), style="bold red")
    head.append(f"  {f.subject}", style="bold")
    head.append(f"  confidence {f.confidence:.2f}")
    t = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    t.add_column("what", style="dim", no_wrap=True)
    t.add_column("value", overflow="fold")
    t.add_row("series", f.series_key)
    proc = process_of(f, processes)
    if proc is not None:
        who = " ".join((proc.cmdline or proc.comm).split())  # no newlines or tabs from argv
        if len(who) > 160:
            who = who[:159] + "…"
        extra = [f"ppid {proc.ppid}" if proc.ppid is not None else "",
                 f"uid {proc.uid}" if proc.uid is not None else "",
                 f"cgroup {proc.cgroup}" if proc.cgroup else ""]
        t.add_row("process", f"pid {proc.pid}: {who}" + "".join(f", {e}" for e in extra if e))
    t.add_row("rate", fmt_rate(f))
    t.add_row("onset", fmt_onset(f.onset, window))
    known = {k: v for k, v in f.evidence.items() if v is not None}  # JSON keeps the unknowns
    if known:
        t.add_row("evidence", ", ".join(f"{k} {fmt_evidence_value(k, v, f.unit)}" for k, v in known.items()))
    if f.projections:
        t.add_row("time to", "; ".join(fmt_projection(p) for p in f.projections))
    if f.related:
        t.add_row("related", ", ".join(f.related))
    body: list[RenderableType] = [t]
    body.append(Text(describe(f)))
    return Group(head, Padding(Group(*body), (0, 0, 0, 3)))


def render_findings(findings: Sequence[Finding], window: Coverage, history: History, *,
                    total: int, below: int = 0, min_confidence: float = 0.0) -> RenderableType:
    parts: list[RenderableType] = [render_header(window, history.hostname), Text("")]
    if not findings and below:
        parts.append(Text(f"{below} finding{'s' if below != 1 else ''} below --min-confidence "
                          f"{min_confidence:g} (not shown); lower it to see {'them' if below != 1 else 'it'}",
                          style="bold yellow"))
        return Group(*parts)
    if not findings:
        parts.append(Text("no sustained growth found", style="bold green"))
        return Group(*parts)
    shown = f"{len(findings)} of {total}" if total > len(findings) else f"{total}"
    parts.append(Text(f"{shown} finding{'s' if total != 1 else ''}", style="bold"))
    for i, f in enumerate(findings, 1):
        parts.append(Text(""))
        parts.append(render_finding(i, f, window, history.processes))
    return Group(*parts)


__all__ = [
    "fmt_duration",
    "fmt_projection",
    "fmt_rate",
    "render_findings",
]
