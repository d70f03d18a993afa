"""``memsleuth fleet``: the ranked hosts, the signature groups, the drain list, partial coverage.

Views may not import the fleet layer (tests/test_layers.py), so this renders the JSON-ready dict
of ``FleetReport.to_json()`` (schema ``memsleuth.fleet/1``, docs/fleet.md): one model for the
terminal, piped text and ``--json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.units import human_bytes
from memsleuth.views.common import MISSING, Column, fmt_bytes, table


def fmt_hours(h: float | None) -> str:
    """``0`` -> ``now``; under two days in hours, else days; ``None`` (not on this trend) -> ``-``."""
    if h is None:
        return MISSING
    if h <= 0:
        return "now"
    return f"{h:.0f}h" if h < 48 else f"{h / 24:.1f}d"


def fmt_rate(v: float | None) -> str:
    return MISSING if v is None else human_bytes(v) + "/h"


def fmt_conf(v: float | None) -> str:
    return MISSING if v is None else f"{v:.2f}"


def pct(fraction: float) -> str:
    """``1.0`` -> ``100%``; anything less keeps a decimal (a 30-minute gap in 7 days is 99.7%)."""
    return "100%" if fraction >= 0.9995 else f"{min(99.9, 100 * fraction):.1f}%"


def fmt_time(t: float | None) -> str:
    if t is None:
        return MISSING
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%MZ")


HOST_COLUMNS: tuple[Column, ...] = (
    Column("rank", "#", str, min_width=2,
           meaning="most urgent first: soonest 90%, then fastest relative growth"),
    Column("instance", "HOST", str, justify="left", no_wrap=True, max_width=26, meaning="the instance label"),
    Column("group", "GROUP", str, justify="left", no_wrap=True, max_width=12, meaning="the --group-by value"),
    Column("bucket", "BUCKET", str, justify="left", no_wrap=True, max_width=18,
           meaning="the top finding's subject (a slab cache where the memsleuth exporter names it)"),
    Column("rate_bytes_per_hour", "RATE", fmt_rate, no_wrap=True, min_width=9,
           meaning="the finding's growth, bytes per hour"),
    Column("class", "CLASS", lambda c: str(c).replace("unbounded_cache", "reclaimable"), justify="left",
           no_wrap=True, min_width=11, meaning="leak, or unbounded_cache (reclaimable: legacy used grows)"),
    Column("hours_to_80", "80%", fmt_hours, no_wrap=True, min_width=5,
           meaning="time to 80% (legacy used for reclaimable, used else)"),
    Column("hours_to_90", "90%", fmt_hours, no_wrap=True, min_width=5, meaning="time to 90%"),
    Column("confidence", "CONF", fmt_conf, no_wrap=True, min_width=4,
           meaning="the finding's confidence (0..1)"),
    Column("rule", "SIGNATURE", str, justify="left", no_wrap=True, max_width=26,
           meaning="the top matched signature rule"),
    Column("coverage_note", "COVERAGE", str, justify="left", no_wrap=True, max_width=24,
           meaning="samples held over the range; joined, left, gaps, rebooted (when: in the partial "
                   "coverage list)"),
)

DRAIN_COLUMNS: tuple[Column, ...] = (
    Column("order", "#", str),
    Column("instance", "HOST", str, justify="left", no_wrap=True, max_width=28),
    Column("group", "GROUP", str, justify="left", no_wrap=True, max_width=12),
    Column("hours_to_90", "IN", fmt_hours),
    Column("at", "AT (UTC)", fmt_time, justify="left"),
    Column("subject", "BY", str, justify="left", no_wrap=True, max_width=22),
)


def _coverage(h: Mapping[str, Any]) -> str:
    """``100%``, ``96.4% gaps``, ``60.0% joined``, ``100% rebooted 12-30`` (a table cell)."""
    cov = h["coverage"]
    tags = [t for t in ("joined", "left", "gaps") if cov[t]]
    if h.get("rebooted_at"):
        when = datetime.fromtimestamp(h["rebooted_at"], tz=timezone.utc)
        tags.append("rebooted " + when.strftime("%m-%d"))
    return " ".join([pct(cov["fraction"]), *tags])


def host_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{**h, "rank": str(i), "coverage_note": _coverage(h)} for i, h in enumerate(doc["hosts"], 1)]


def group_line(g: Mapping[str, Any], group_by: str | None) -> str:
    """``9 hosts of lb-bj: Negative dentries ... growing 38.0Mi/h (median)``."""
    n = g["count"]
    where = f" of {g['group']}" if group_by and g["group"] else ""
    rate = g["median_rate_bytes_per_hour"]
    growing = f" growing {human_bytes(rate)}/h" + (" (median)" if n > 1 else "") if rate is not None else ""
    return f"{n} host{'s' if n != 1 else ''}{where}: {g['what']}{growing}"


def _title(doc: Mapping[str, Any]) -> str:
    w = doc["window"]
    days = w["seconds"] / 86400
    span = f"{days:g}d" if days >= 1 else f"{w['seconds'] / 3600:g}h"
    return (f"{doc['prometheus']} {doc['match']}: {doc['hosts_total']} hosts over {span} to "
            f"{fmt_time(w['end'])}; {doc['hosts_flagged']} flagged, {doc['hosts_fetched']} diagnosed, "
            f"{len(doc['hosts'])} grow")


def render_fleet(doc: Mapping[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [Text(_title(doc), style="bold")]
    if doc["hosts"]:
        parts.append(table(HOST_COLUMNS, host_rows(doc), pipe="full"))
    else:
        parts.append(Text("no host grows: nothing to drain."))
    if doc["groups"]:
        parts.append(Text(""))
        parts.append(Text("same signature", style="bold"))
        parts += [Text("  " + group_line(g, doc["group_by"])) for g in doc["groups"]]
    if doc["drain"]:
        parts.append(Text(""))
        parts.append(Text("drain first (they cross 90% soonest)", style="bold"))
        rows = [{**d, "order": str(i)} for i, d in enumerate(doc["drain"], 1)]
        parts.append(table(DRAIN_COLUMNS, rows, pipe="full"))
    parts += _partial(doc["partial_coverage"])
    clear = [h["instance"] for h in doc["cleared"] if not h["insufficient"]]
    if clear:
        parts.append(Text(f"flagged by the screen, but nothing grows on a closer look: {', '.join(clear)}"))
    parts += [Text(f"{h['instance']}: not judged: {h['insufficient']}") for h in doc["cleared"]
              if h["insufficient"]]
    parts += [Text(f"note: {n}") for n in doc["notes"]]
    q = doc["queries"]
    parts.append(Text(f"{q['count']} queries in {q['batches']} batch{'es' if q['batches'] != 1 else ''}, "
                      f"scrape interval {q['scrape_interval_s']:.0f}s, fetch step {q['step_s']:.0f}s, "
                      f"{doc['timings'].get('total', 0):.1f}s", style="dim"))
    return Group(*parts)


def _partial(partial: Sequence[Mapping[str, Any]]) -> list[RenderableType]:
    if not partial:
        return []
    out: list[RenderableType] = [Text(""), Text(f"partial coverage ({len(partial)} hosts, judged on what "
                                                f"exists)", style="bold")]
    for p in partial:
        out.append(Text(f"  {p['instance']}: {pct(p['fraction'])} of the range"
                        + (f", {p['note']}" if p["note"] else "")))
    return out


__all__ = ["DRAIN_COLUMNS", "HOST_COLUMNS", "fmt_bytes", "fmt_hours", "group_line", "host_rows",
           "render_fleet"]
