"""Time-series charts as inline SVG, drawn on the server: no chart library, no network.

A :class:`Chart` is data (lines, stacked bands, horizontal levels, markers);
:func:`render_chart` turns it into one ``<svg>`` element.  Every label is
escaped here (a cgroup path or a command line is data, not markup).  The
plot box and the axis ranges are written as ``data-*`` attributes so the
page's few lines of script can turn a pointer position back into a time and
a value for the tooltip, without a second copy of the data.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from memsleuth.units import human_bytes

#: a palette that reads on white and for the common colour-vision deficiencies (Okabe-Ito, darkened)
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f7f00", "#000000",
           "#8c564b", "#9467bd")

WIDTH = 1120
HEIGHT = 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 16, 14, 40
#: about how wide one character of a 12 px tick label is
_CHAR_PX = 7.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    label: str
    times: Sequence[float]
    values: Sequence[float]
    color: str
    dashed: bool = False
    width: float = 1.8
    #: drawn faintly (the bucket minima under the medians)
    faint: bool = False
    #: a dot at each point too (a series of few samples)
    dots: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """One layer of a stacked area: ``values`` on top of the layers before it."""

    label: str
    values: Sequence[float]
    color: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """A horizontal line across the plot (a threshold, MemTotal)."""

    label: str
    value: float
    color: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker:
    """A point with a label (the onset, a projected crossing)."""

    label: str
    time: float
    value: float
    color: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    title: str
    #: "bytes" or "count": how the value axis reads
    unit: str
    lines: tuple[Line, ...] = ()
    #: a stacked area over ``band_times`` (drawn under the lines)
    band_times: Sequence[float] = ()
    bands: tuple[Band, ...] = ()
    levels: tuple[Level, ...] = ()
    markers: tuple[Marker, ...] = ()
    #: the time axis; ``None``: the data's
    t_min: float | None = None
    t_max: float | None = None
    #: a line under the title
    note: str = ""
    css_id: str = ""
    #: the value axis starts at 0 (stacked areas, sizes of things)
    from_zero: bool = False
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Drawn:
    svg: str
    #: polyline points drawn (what the page's size is made of)
    points: int


# -- scales and ticks ----------------------------------------------------------------------------
def _nice_step(span: float, ticks: int) -> float:
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def value_ticks(lo: float, hi: float, unit: str, *, ticks: int = 5) -> tuple[list[float], float]:
    """Round tick values covering [lo, hi], and the scale of a byte axis (1024**k)."""
    scale = 1.0
    if unit == "bytes":
        top = max(abs(lo), abs(hi), 1.0)
        while top / scale >= 1024 and scale < 1024.0 ** 5:
            scale *= 1024
    step = _nice_step((hi - lo) / scale, ticks) * scale
    first = math.floor(lo / step) * step
    out: list[float] = []
    v = first
    while v <= hi + step * 1e-9 and len(out) < 20:
        out.append(v)
        v += step
    if out and out[-1] < hi - step * 1e-9:
        out.append(out[-1] + step)
    return out, scale


_UNIT_NAMES = {1.0: "B", 1024.0: "KiB", 1024.0 ** 2: "MiB", 1024.0 ** 3: "GiB", 1024.0 ** 4: "TiB",
               1024.0 ** 5: "PiB"}


def fmt_value(v: float, unit: str, scale: float = 0.0) -> str:
    if unit == "bytes":
        if scale:
            return f"{v / scale:,.{0 if float(v / scale).is_integer() else 1}f} {_UNIT_NAMES[scale]}"
        return human_bytes(v)
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.{0 if (v / 1e6).is_integer() else 1}f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:,.0f}k"
    return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.2g}"


_TIME_STEPS = (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400,
               14 * 86400, 30 * 86400)


def time_ticks(lo: float, hi: float, *, ticks: int = 8) -> tuple[list[float], str]:
    """Tick times (UTC, on round boundaries) and their strftime format."""
    span = max(hi - lo, 1.0)
    step: float = next((s for s in _TIME_STEPS if span / s <= ticks), _TIME_STEPS[-1])
    if span < 60 * ticks:
        step = _nice_step(span, ticks)
    first = math.ceil(lo / step) * step
    out: list[float] = []
    t = first
    while t <= hi and len(out) < 40:
        out.append(t)
        t += step
    fmt = "%H:%M:%S" if step < 60 else ("%H:%M" if step < 86400 and span < 86400 else "%m-%d %H:%M")
    if step >= 86400:
        fmt = "%Y-%m-%d"
    return out, fmt


def fmt_utc(t: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.gmtime(t))


# -- drawing -------------------------------------------------------------------------------------
def _bounds(chart: Chart) -> tuple[float, float, float, float] | None:
    ts: list[float] = []
    vs: list[float] = []
    for line in chart.lines:
        ts += [line.times[0], line.times[-1]] if len(line.times) else []
        vs += [min(line.values), max(line.values)] if len(line.values) else []
    if chart.bands and len(chart.band_times):
        ts += [chart.band_times[0], chart.band_times[-1]]
        n = len(chart.band_times)
        tops = [sum(b.values[i] for b in chart.bands) for i in range(n)]
        vs += [0.0, max(tops)]
    for m in chart.markers:
        ts.append(m.time)
        vs.append(m.value)
    vs += [lv.value for lv in chart.levels]
    if not ts or not vs:
        return None
    t0 = chart.t_min if chart.t_min is not None else min(ts)
    t1 = chart.t_max if chart.t_max is not None else max(ts)
    v0, v1 = min(vs), max(vs)
    if chart.from_zero:
        v0 = min(v0, 0.0)
    if v1 <= v0:
        pad = abs(v1) * 0.05 or 1.0
        v0, v1 = v0 - pad, v1 + pad
    else:
        pad = (v1 - v0) * 0.06
        # room above for the labels of crossings and levels
        v1 += pad * (2.5 if chart.markers or chart.levels else 1.0)
        if not chart.from_zero or v0 < 0:
            v0 -= pad
    if t1 <= t0:
        t0, t1 = t0 - 30.0, t1 + 30.0
    return t0, t1, v0, v1


def render_chart(chart: Chart, *, width: int = WIDTH, height: int = HEIGHT, compact: bool = False) -> Drawn:
    """One chart as an ``<svg>`` element, with its legend as HTML under it; ``compact``: a small
    multiple (fewer ticks, no legend)."""
    box = _bounds(chart)
    left, right, top_m, bottom = (_LEFT, _RIGHT, _TOP, _BOTTOM) if not compact else (58, 10, 8, 22)
    title = f'<h4 class="chart-title">{escape(chart.title)}</h4>'
    note = f'<p class="chart-note">{escape(chart.note)}</p>' if chart.note else ""
    if box is None:
        return Drawn(f'<figure class="chart">{title}{note}<p class="empty">no data</p></figure>', 0)
    if compact:
        chart = dataclasses.replace(chart, note="")
        note = ""
    t0, t1, v0, v1 = box
    pw, ph = width - left - right, height - top_m - bottom

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return top_m + (1.0 - (v - v0) / (v1 - v0)) * ph

    vticks, scale = value_ticks(v0, v1, chart.unit, ticks=3 if compact else 5)
    vticks = [v for v in vticks if v0 - 1e-9 * abs(v1 - v0) <= v <= v1]
    tticks, tfmt = time_ticks(t0, t1, ticks=3 if compact else 8)
    parts: list[str] = []
    clip = f"clip-{chart.css_id or 'chart'}"
    parts.append(f'<defs><clipPath id="{escape(clip)}"><rect x="{left}" y="{top_m}" width="{pw}" '
                 f'height="{ph}"/></clipPath></defs>')
    parts.append(f'<rect class="plot" x="{left}" y="{top_m}" width="{pw}" height="{ph}"/>')
    for v in vticks:
        yy = y(v)
        parts.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">'
                     f'{escape(fmt_value(v, chart.unit, scale))}</text>')
    if compact and tfmt == "%Y-%m-%d":
        tfmt = "%m-%d"
    for t in tticks:
        xx = x(t)
        parts.append(f'<line class="grid" x1="{xx:.1f}" x2="{xx:.1f}" y1="{top_m}" y2="{top_m + ph}"/>')
        text = fmt_utc(t, tfmt)
        half = len(text) * _CHAR_PX / 2
        if xx - half < 0 or xx + half > width:
            continue  # a label that would be cut at the edge is left out (its grid line stays)
        parts.append(f'<text class="tick" x="{xx:.1f}" y="{top_m + ph + 16}" text-anchor="middle">'
                     f'{escape(text)}</text>')
    points = 0
    body: list[str] = []
    legend: list[str] = []
    if chart.bands:
        n = len(chart.band_times)
        base = [0.0] * n
        for band in chart.bands:
            top = [base[i] + band.values[i] for i in range(n)]
            upper = " ".join(f"{x(chart.band_times[i]):.1f},{y(top[i]):.1f}" for i in range(n))
            lower = " ".join(f"{x(chart.band_times[i]):.1f},{y(base[i]):.1f}" for i in reversed(range(n)))
            body.append(f'<polygon class="band" fill="{band.color}" points="{upper} {lower}">'
                        f'<title>{escape(band.label)}</title></polygon>')
            body.append(f'<polyline class="band-edge" data-label="{escape(band.label)}" '
                        f'stroke="{band.color}" points="{upper}"/>')
            points += n
            base = top
            legend.append(_legend_item(band.label, band.color, swatch="area"))
    for line in chart.lines:
        pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(line.times, line.values, strict=True))
        cls = "series" + (" faint" if line.faint else "") + (" dashed" if line.dashed else "")
        body.append(f'<polyline class="{cls}" data-label="{escape(line.label)}" stroke="{line.color}" '
                    f'stroke-width="{line.width:g}" points="{pts}"/>')
        points += len(line.times)
        if line.dots:
            body += [f'<circle class="dot" cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{line.color}"/>'
                     for t, v in zip(line.times, line.values, strict=True)]
        legend.append(_legend_item(line.label, line.color, swatch="dash" if line.dashed else "line",
                                   faint=line.faint))
    for i, lv in enumerate(chart.levels):
        yy = y(lv.value)
        body.append(f'<line class="level" x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
                    f'stroke="{lv.color}"/>')
        ly = yy - 5 if yy - top_m > 16 else yy + 14
        lx = left + 8 + (i % 3) * (pw // 3)  # side by side: two levels close together stay readable
        body.append(f'<text class="level-label" x="{lx}" y="{ly:.1f}" fill="{lv.color}">'
                    f'{escape(lv.label)}</text>')
    for m in chart.markers:
        xx, yy = x(m.time), y(m.value)
        anchor = "end" if xx > left + pw * 0.75 else "start"
        dx = -8 if anchor == "end" else 8
        body.append(f'<circle class="marker" cx="{xx:.1f}" cy="{yy:.1f}" r="4.5" fill="{m.color}">'
                    f'<title>{escape(m.label)}</title></circle>')
        ly = yy - 9 if yy - 9 > top_m + 12 else yy + 18
        body.append(f'<text class="marker-label" x="{xx + dx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" '
                    f'fill="{m.color}">{escape(m.label)}</text>')
    parts.append(f'<g clip-path="url(#{escape(clip)})">{"".join(body)}</g>')
    parts.append(f'<line class="cursor" x1="0" x2="0" y1="{top_m}" y2="{top_m + ph}" visibility="hidden"/>')
    attrs = {"data-t0": f"{t0:.3f}", "data-t1": f"{t1:.3f}", "data-v0": f"{v0:.6g}",
             "data-v1": f"{v1:.6g}", "data-left": str(left), "data-top": str(top_m), "data-pw": str(pw),
             "data-ph": str(ph), "data-unit": chart.unit, **chart.extra}
    attr = " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items())
    label = escape(chart.title)
    svg = (f'<svg class="plot-svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{label}" {attr}>{"".join(parts)}</svg>')
    legend_html = f'<ul class="legend">{"".join(legend)}</ul>' if legend and not compact else ""
    id_attr = f' id="{escape(chart.css_id)}"' if chart.css_id else ""
    cls = "chart small" if compact else "chart"
    figure = f'<figure class="{cls}"{id_attr}>{title}{note}{svg}{legend_html}</figure>'
    return Drawn(figure, points)


def _legend_item(label: str, color: str, *, swatch: str, faint: bool = False) -> str:
    style = f"background:{color}" if swatch == "area" else f"border-color:{color}"
    cls = f"sw sw-{swatch}" + (" sw-faint" if faint else "")
    return f'<li><span class="{cls}" style="{style}"></span>{escape(label)}</li>'


__all__ = ["HEIGHT", "PALETTE", "WIDTH", "Band", "Chart", "Drawn", "Level", "Line", "Marker", "fmt_utc",
           "fmt_value", "render_chart", "time_ticks", "value_ticks"]
