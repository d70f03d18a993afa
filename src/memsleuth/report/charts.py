"""What the report draws, as data: the accounting tree now, bucket history, top caches, processes,
cgroups, and each finding's series with its growth fit and projected crossings.

Every series is reduced by :func:`memsleuth.analysis.trend.thin` (time-bucket
medians, and minima) to at most :data:`MAX_POINTS` points, so 30 days of
10 s samples cost the same page size as an hour.  Nothing here judges
growth: the fit line is the finding's own slope (Sen's, from the detector),
drawn from its onset; the crossings are the finding's own projections.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from memsleuth.analysis.accounting import Accounting, accounting
from memsleuth.analysis.derived import GAP_KEY, LEGACY_USED_KEY, derived
from memsleuth.analysis.findings import Finding, Projection
from memsleuth.analysis.growth import HOUR
from memsleuth.analysis.projection import mem_total, used_now
from memsleuth.analysis.series import History, ProcessInfo, Series
from memsleuth.analysis.trend import FloatArray, thin
from memsleuth.keys import CgroupKey, MeminfoKey, ProcessKey, SlabKey, parse_key
from memsleuth.report.svg import PALETTE, Band, Chart, Level, Line, Marker
from memsleuth.sources.meminfo import FIELDS, MemInfo
from memsleuth.units import human_bytes

#: the most points one series is drawn with
MAX_POINTS = 600
#: how many slab caches, processes and cgroups get a line of their own
TOP_N = 8
#: a projected crossing further out than this many window spans is named, not drawn
PROJECT_SPANS = 1.5

#: colours of the accounting buckets, by group (kernel reds, user blues, cache greens)
BUCKET_COLORS: Mapping[str, str] = {
    "free": "#d9d9d9", "page_cache": "#9fd4a3", "buffers": "#6fbf73", "swap_cache": "#3e9e4a",
    "shmem": "#9ecae1", "anon": "#3182bd", "slab_reclaimable": "#fdae6b", "slab_unreclaimable": "#e6550d",
    "kernel_misc_reclaimable": "#fdd0a2", "kernel_stack": "#a63603", "page_tables": "#fd8d3c",
    "sec_page_tables": "#f16913", "percpu": "#d94801", "vmalloc": "#8c2d04", "hugetlb": "#756bb1",
    "zswap": "#bcbddc", "balloon": "#54278f", "unaccounted": "#636363",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Thin:
    times: FloatArray
    medians: FloatArray
    minima: FloatArray
    #: seconds of history one point stands for (0: each point is one sample)
    bucket_seconds: float


def thinned(s: Series, *, max_points: int = MAX_POINTS) -> Thin:
    t = np.asarray(s.times, dtype=np.float64)
    v = np.asarray(s.values, dtype=np.float64)
    th = thin(t, v, max_points=max_points)
    bucket = s.span_seconds / max_points if len(s) > max_points else 0.0
    return Thin(times=th.times, medians=th.medians, minima=th.minima, bucket_seconds=bucket)


def downsample_note(bucket_seconds: float) -> str:
    """How a chart's points were made, for the page."""
    if bucket_seconds <= 0:
        return "each point is one sample"
    if bucket_seconds < 120:
        return f"each point is the median of {bucket_seconds:.0f} seconds"
    if bucket_seconds < 2 * HOUR:
        return f"each point is the median of {bucket_seconds / 60:.0f} minutes"
    return f"each point is the median of {bucket_seconds / HOUR:.1f} hours"


# -- the accounting tree ---------------------------------------------------------------------------
def _meminfo_from(values: Mapping[str, float]) -> MemInfo | None:
    if "MemTotal" not in values or "MemFree" not in values:
        return None
    kwargs = {FIELDS[k]: int(v) for k, v in values.items() if k in FIELDS}
    return MemInfo(raw={k: int(v) for k, v in values.items()}, **kwargs)


def meminfo_series(history: History) -> dict[str, Series]:
    return {k.field: s for key, s in history.series.items()
            if isinstance(k := parse_key(key), MeminfoKey) and len(s)}


def accounting_now(history: History) -> tuple[Accounting, float] | None:
    """The bucket tree at the last meminfo sample, and that sample's time."""
    fields = meminfo_series(history)
    total = fields.get("MemTotal")
    if total is None:
        return None
    when = total.times[-1]
    values = {name: s.values[-1] for name, s in fields.items() if s.times[-1] == when}
    info = _meminfo_from(values)
    return (accounting(info), when) if info is not None else None


def bucket_chart(history: History, *, css_id: str) -> tuple[Chart, float] | None:
    """The buckets over time as a stacked area adding up to MemTotal (the gap on top)."""
    fields = meminfo_series(history)
    total = fields.get("MemTotal")
    if total is None or "MemFree" not in fields:
        return None
    grid = thinned(total)
    at: dict[str, FloatArray] = {}
    for name, s in fields.items():
        th = thinned(s)
        if len(th.times) == len(grid.times) and np.array_equal(th.times, grid.times):
            at[name] = th.medians
        elif len(th.times):
            # a field on other times (a root that lacked it): its medians at the grid's times
            at[name] = np.interp(grid.times, th.times, th.medians)
    per_point = []
    for i in range(len(grid.times)):
        info = _meminfo_from({k: float(v[i]) for k, v in at.items()})
        if info is None:
            return None
        per_point.append(accounting(info))
    first = per_point[0]
    bands = []
    for j, b in enumerate(first.buckets):
        vals = [max(float(a.buckets[j].size_bytes or 0), 0.0) for a in per_point]
        if any(vals):
            bands.append(Band(label=b.label, values=vals, color=BUCKET_COLORS.get(b.key, "#999999")))
    gap = [max(float(a.unaccounted_bytes), 0.0) for a in per_point]
    bands.append(Band(label="Unaccounted (MemTotal less every bucket)", values=gap,
                      color=BUCKET_COLORS["unaccounted"]))
    total_line = Line(label="MemTotal", times=grid.times.tolist(), values=grid.medians.tolist(),
                      color="#000000", width=1.2, dashed=True)
    chart = Chart(title="Where the memory is: every bucket over time (stacked to MemTotal)", unit="bytes",
                  band_times=grid.times.tolist(), bands=tuple(reversed(bands)),
                  lines=(total_line,), from_zero=True, css_id=css_id,
                  note=f"{downsample_note(grid.bucket_seconds)}; the negative part of a bucket is drawn as 0")
    return chart, grid.bucket_seconds


# -- top subjects --------------------------------------------------------------------------------
def _top(history: History, keys: Sequence[str], n: int, must: Sequence[str] = ()) -> list[str]:
    def last(k: str) -> float:
        s = history.series[k]
        return s.values[-1] if len(s) else 0.0

    ranked = sorted(keys, key=last, reverse=True)[:n]
    for k in must:
        if k in history.series and k not in ranked:
            ranked.append(k)
    return ranked


@dataclass(frozen=True, slots=True, kw_only=True)
class Multiples:
    """Small charts side by side, one subject each on its own scale (a 36 GiB cache would flatten a
    100 MiB one on a shared axis)."""

    title: str
    note: str
    charts: tuple[Chart, ...]


def _multiples(history: History, keys: Sequence[str], label: Mapping[str, str], *, title: str, note: str,
               css_id: str, growing: Sequence[str]) -> Multiples:
    out = []
    bucket = 0.0
    for i, k in enumerate(keys):
        s = history.series[k]
        th = thinned(s)
        bucket = max(bucket, th.bucket_seconds)
        color = PALETTE[1] if k in growing else PALETTE[0]
        mark = "  (a finding)" if k in growing else ""
        out.append(Chart(title=f"{label.get(k, k)}: {human_bytes(s.values[-1])}{mark}", unit="bytes",
                         lines=(Line(label=label.get(k, k), times=th.times.tolist(),
                                     values=th.medians.tolist(), color=color, width=1.6,
                                     dots=len(th.times) <= 40),),
                         from_zero=True, css_id=f"{css_id}-{i + 1}", t_min=history.start, t_max=history.end))
    return Multiples(title=title, note=f"{note}; {downsample_note(bucket)}", charts=tuple(out))


def slab_chart(history: History, findings: Sequence[Finding], *, css_id: str) -> Multiples | None:
    keys = [k for k in history.series if isinstance(p := parse_key(k), SlabKey) and p.field == "size_bytes"]
    if not keys:
        return None
    must = [f.series_key for f in findings if f.series_key in keys]
    top = _top(history, keys, TOP_N, must)
    labels = {k: p.cache for k in top if isinstance(p := parse_key(k), SlabKey)}
    return _multiples(history, top, labels, css_id=css_id, growing=must,
                      title=f"Slab caches: the {len(top)} largest at the last sample (of {len(keys)})",
                      note="num_slabs x pages per slab x page size (slabinfo), each on its own scale")


def process_label(p: ProcessInfo | None, pid: int) -> str:
    return f"pid {pid}" if p is None else f"{p.comm} (pid {p.pid})"


def process_chart(history: History, findings: Sequence[Finding], *, css_id: str) -> Multiples | None:
    keys = [k for k in history.series if isinstance(p := parse_key(k), ProcessKey) and p.field == "pss_bytes"]
    field = "PSS"
    if not keys:
        keys = [k for k in history.series
                if isinstance(p := parse_key(k), ProcessKey) and p.field == "rss_anon_bytes"]
        field = "RssAnon"
    if not keys:
        return None
    must = [f.series_key for f in findings if f.series_key in keys]
    top = _top(history, keys, TOP_N, must)
    labels = {}
    for k in top:
        p = parse_key(k)
        assert isinstance(p, ProcessKey)
        labels[k] = process_label(history.processes.get(p.identity), p.pid)
    return _multiples(history, top, labels, css_id=css_id, growing=must,
                      title=f"Processes: the {len(top)} largest by {field} at the last sample "
                      f"(of {len(keys)})",
                      note="a process is its pid and start time (a reused pid is another chart)")


#: the one-value file that says how much a cgroup uses: v2, then v1
_CGROUP_USAGE = ("memory.current", "memory.usage_in_bytes")


def cgroup_chart(history: History, findings: Sequence[Finding], *, css_id: str) -> Multiples | None:
    by_file: dict[str, list[str]] = {}
    for k in history.series:
        p = parse_key(k)
        if isinstance(p, CgroupKey) and p.stat is None and p.file in _CGROUP_USAGE and p.path != "/":
            by_file.setdefault(p.file, []).append(k)
    file = next((f for f in _CGROUP_USAGE if by_file.get(f)), None)
    if file is None:
        return None
    keys = by_file[file]
    must = [f.series_key for f in findings if f.series_key in keys]
    top = _top(history, keys, TOP_N, must)
    labels = {k: p.path for k in top if isinstance(p := parse_key(k), CgroupKey)}
    return _multiples(history, top, labels, css_id=css_id, growing=must,
                      title=f"Memory cgroups: the {len(top)} largest by {file} at the last sample "
                      f"(of {len(keys)})",
                      note="the root cgroup is left out")


# -- a finding -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Crossing:
    projection: Projection
    #: the series' value at which the host crosses the threshold (same basis as the projection)
    level: float
    #: when, Unix seconds; None: not on this trend
    time: float | None
    drawn: bool


_THRESHOLDS = {"80%": 0.8, "90%": 0.9, "oom": 1.0}
_CROSS_COLORS = {"80%": "#b8860b", "90%": "#c0392b", "oom": "#7b241c"}


def crossings(history: History, f: Finding, reference: float, last_value: float) -> list[Crossing]:
    """Where on the finding's own chart the host crosses 80% and 90% (and OOM) of MemTotal: the series'
    value then (its growth is what raises used) and when (the finding's projection)."""
    total = mem_total(history)
    out: list[Crossing] = []
    if total is None or f.unit != "bytes":
        return out
    for p in f.projections:
        frac = _THRESHOLDS.get(p.threshold)
        cur = used_now(history, p.basis)
        if frac is None or cur is None or (p.threshold == "oom" and p.hours is None):
            continue
        level = last_value + (frac * total - cur[1])
        when = None if p.hours is None else reference + p.hours * HOUR
        out.append(Crossing(projection=p, level=level, time=when, drawn=False))
    return out


def basis_words(basis: str) -> str:
    return "total - free (legacy used)" if basis == "legacy_used" else "total - MemAvailable"


def finding_chart(history: History, f: Finding, *, reference: float, css_id: str,
                  hours_text: str) -> tuple[Chart, list[Crossing]] | None:
    """The finding's series (medians, and minima faintly), its slope from the onset, and the crossings."""
    s = history.get(f.series_key)
    if s is None or not len(s):
        return None
    th = thinned(s)
    t, med = th.times, th.medians
    series_line = Line(label=f"{f.subject}" + (" (bucket medians)" if th.bucket_seconds > 0 else ""),
                       times=t.tolist(), values=med.tolist(), color=PALETTE[0], width=2.0,
                       dots=len(t) <= 60)
    lines: list[Line] = []
    if th.bucket_seconds > 0:
        lines.append(Line(label="bucket minima", times=t.tolist(), values=th.minima.tolist(),
                          color=PALETTE[5], faint=True, width=1.0))
    start = f.onset if f.onset is not None else float(t[0])
    slope = f.rate_per_hour / HOUR
    since = t >= start
    if not since.any():
        since = np.ones_like(t, dtype=bool)
    # the fit's level: Sen's intercept (median of y - slope t) over the points since the onset
    intercept = float(np.median(med[since] - slope * t[since]))
    end = float(t[-1])
    span = max(end - float(t[0]), 60.0)

    def fit(x: float) -> float:
        return intercept + slope * x

    markers: list[Marker] = []
    levels: list[Level] = []
    found = crossings(history, f, reference, fit(end))
    horizon = end
    limit = end + PROJECT_SPANS * span
    drawn: list[Crossing] = []
    lo, hi = float(min(th.minima.min(), med.min())), float(med.max())
    for c in found:
        name = c.projection.threshold.upper() if c.projection.threshold == "oom" else c.projection.threshold
        color = _CROSS_COLORS.get(c.projection.threshold, "#c0392b")
        ok = c.time is not None and c.time <= limit and (c.projection.hours or 0) > 0
        # a level off the data's range is drawn only with its crossing (it would flatten the series)
        if ok or lo <= c.level <= hi:
            levels.append(Level(label=f"{name} of MemTotal by {basis_words(c.projection.basis)}",
                                value=c.level, color=color))
        if ok and c.time is not None:
            horizon = max(horizon, c.time)
            markers.append(Marker(label=f"{name} in {hours_text_of(c.projection.hours)}", time=c.time,
                                  value=c.level, color=color))
        drawn.append(dataclasses.replace(c, drawn=ok))
    label = f"growth fit {_rate_words(f)} from the onset" if f.onset is not None else (
        f"growth fit {_rate_words(f)} over the window")
    fit_line = Line(label=label, times=[start, end], values=[fit(start), fit(end)], color=PALETTE[1],
                    width=2.4)
    if horizon > end:
        lines.append(Line(label="projection at this rate", times=[end, horizon],
                          values=[fit(end), fit(horizon)], color=PALETTE[1], dashed=True, width=2.0))
    lines += [series_line, fit_line]
    if f.onset is not None:
        markers.append(Marker(label="onset", time=f.onset, value=fit(f.onset), color=PALETTE[1]))
    chart = Chart(title=f"{f.subject}: {f.series_key}", unit=f.unit, lines=tuple(lines), levels=tuple(levels),
                  markers=tuple(markers), css_id=css_id,
                  # a margin after the last crossing, so its label is not on the edge
                  t_max=horizon + 0.05 * (horizon - float(t[0])) if horizon > end else None,
                  note=f"{downsample_note(th.bucket_seconds)}; {hours_text}")
    return chart, drawn


def hours_text_of(hours: float | None) -> str:
    if hours is None:
        return "never"
    s = hours * HOUR
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 48 * HOUR:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def _rate_words(f: Finding) -> str:
    if f.unit == "bytes":
        return f"{'+' if f.rate_per_hour >= 0 else '-'}{human_bytes(abs(f.rate_per_hour))}/h"
    return f"{f.rate_per_hour:+,.0f}/h"


def derived_chart(history: History, *, css_id: str) -> Chart | None:
    """Legacy used and the unaccounted gap over time (the two numbers the buckets do not show)."""
    lines = []
    bucket = 0.0
    for i, (key, label) in enumerate(((LEGACY_USED_KEY, "legacy used (MemTotal - MemFree)"),
                                      (GAP_KEY, "unaccounted gap"))):
        s = derived(history, key)
        if s is None or not len(s):
            continue
        th = thinned(s)
        bucket = max(bucket, th.bucket_seconds)
        lines.append(Line(label=label, times=th.times.tolist(), values=th.medians.tolist(),
                          color=PALETTE[i + 1]))
    if not lines:
        return None
    total = mem_total(history)
    levels = () if total is None else (Level(label="90% of MemTotal", value=0.9 * total, color="#c0392b"),)
    return Chart(title="Legacy used and the unaccounted gap", unit="bytes", lines=tuple(lines), levels=levels,
                 css_id=css_id, from_zero=True, note=downsample_note(bucket))


__all__ = [
    "MAX_POINTS",
    "TOP_N",
    "Crossing",
    "Multiples",
    "Thin",
    "accounting_now",
    "bucket_chart",
    "cgroup_chart",
    "crossings",
    "derived_chart",
    "downsample_note",
    "finding_chart",
    "meminfo_series",
    "process_chart",
    "slab_chart",
    "thinned",
]
