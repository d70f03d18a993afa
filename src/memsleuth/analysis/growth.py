"""The one growth judgement: is this series growing, and how.

:func:`assess` answers, for one series: LEAK, UNBOUNDED_CACHE, BOUNDED or
NORMAL, with a robust slope and its range, a corrected trend p-value, an
onset and a confidence.  Detection (:mod:`.detect`), the rule matcher
(:mod:`memsleuth.knowledge.match`) and ``fleet`` all judge growth here, and
only here.

Decision rules (each threshold is a named constant below):

1. *Enough evidence*: at least :data:`MIN_SAMPLES` samples spanning
   :data:`MIN_SPAN_SECONDS` (8 samples and 2 minutes: a ``--watch 2m`` at
   10 s gives 12).  Less is NORMAL with confidence 0.
2. *Significant growth*: the series is thinned to time-bucket medians
   (:func:`~.trend.thin`); windows of two days or more then have their
   daily profile removed (:func:`~.trend.seasonal_profile`: a daily cycle
   of any shape cancels, a leak stays).  The one-sided Mann-Kendall p-value
   with the Hamed-Rao correction is below :data:`ALPHA`, and the lower bound
   of Sen's slope interval is above zero.  If a change of slope is found
   (:func:`~.trend.change_point`) and growth after it is steeper, the tests
   run on the part after the onset, which is what makes a leak that started
   an hour ago visible in a week of history.
3. *Material*: the slope exceeds an effect-size floor: for byte series
   :data:`REL_RATE_FLOOR_PER_HOUR` of MemTotal per hour (0.01%/h: 2.4 MB/h
   on 24 GiB -- low enough for a leak of 0.5% of RAM per day, which is
   0.021%/h); for counts :data:`COUNT_RATE_FLOOR_PER_HOUR` of their level,
   and for counts of kernel objects (dentries, inodes, sockets) also the
   byte floor over the object's size (:data:`_OBJECT_BYTES`).
4. *Not bounded*: if the last :data:`PLATEAU_FRACTION` of the analysed
   window is flat (its slope is under a quarter of the overall slope and
   the upper end of its interval under 60%), the growth levelled off:
   BOUNDED.
5. *Still growing*: the second half of the analysed part (since the
   onset) grows too, one-sided Mann-Kendall below :data:`PLATEAU_ALPHA`:
   a step (a deploy, a cache filled in one go) rose once and stopped; it
   is not called growth before the plateau is long enough for rule 4.
   *Floor rising*: the minima of windows spanning several cycles must rise
   too (:func:`~.trend.floor_trend`), at least a quarter as fast; a GC
   sawtooth or churning cache with a flat floor is NORMAL.
6. *Reclaimable?* Kernel caches the shrinkers can free (reclaimable slab,
   dentry/inode counts, SReclaimable, KReclaimable) are UNBOUNDED_CACHE --
   unless a ``drop_caches`` (vmstat ``drop_slab``) inside the window left
   them where they were, which means the objects are pinned: LEAK.
   Everything else is LEAK.
7. *Outside its own normal range* (not for BOUNDED, which needs only the
   first gate): (a) the rise over the analysed part (median of its last
   eighth minus median of its first eighth; over two days or more, mean of
   its last day minus mean of its first day, which cancels the cycle) exceeds
   :data:`SEASONAL_SPREAD_Z` times the day-to-day spread left after the
   daily profile (:attr:`~.trend.Seasonal.spread`; 0 under two days) plus
   (under two days) :data:`CYCLE_VARIATION` of the profile's own range over the same stretch,
   so a day whose cycle is larger, smaller or later than the others' is not
   growth; (b) the
   current level (the median of the last eighth) is above every level of
   the same timescale before the onset (or, without an onset, in the first
   half), so a worker warming back up after a restart, a cycle's upswing
   and a sawtooth's peaks are not growth; (c) with an onset, the rise since
   it is larger than any rise of the same length before it (Precog's
   "largest normal trend", detection.md A2).
8. *Fast path*: a window of :data:`FAST_PATH_MIN_SPAN_SECONDS` or more is
   thinned to buckets of ~10 minutes (72 h / 400), too coarse to see a leak
   that began half an hour ago.  When rules 2-7 find nothing, they are run
   again on the last :data:`FAST_PATH_SECONDS` at 2-minute resolution
   (daily profile removed), with the effect-size floor raised
   :data:`FAST_RATE_FACTOR` times and the whole earlier window as the
   normal range of rule 7.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from memsleuth.analysis.findings import Assessment, GrowthClass
from memsleuth.analysis.series import Series
from memsleuth.analysis.trend import (
    FloatArray,
    Seasonal,
    change_point,
    floor_trend,
    max_rise,
    rolling_median,
    seasonal_profile,
    sen_and_mann_kendall,
    thin,
)

HOUR = 3600.0

MIN_SAMPLES = 8
MIN_SPAN_SECONDS = 120.0
#: one-sided significance of the growth (Mann-Kendall, Hamed-Rao corrected)
ALPHA = 0.01
#: a looser level for "it rose, then stopped": a step is significant growth, but
#: the Hamed-Rao correction sees the step as autocorrelation and widens the variance
PLATEAU_ALPHA = 0.05
#: effect-size floor for byte series, as a fraction of MemTotal per hour
REL_RATE_FLOOR_PER_HOUR = 1e-4
#: without MemTotal: a fraction of the series' own level per hour, at least 1 MiB/h
LEVEL_RATE_FLOOR_PER_HOUR = 1e-3
ABS_RATE_FLOOR_BYTES_PER_HOUR = float(1 << 20)
#: counts (threads, dentries, sockets): a fraction of their level per hour, at least 1/h
COUNT_RATE_FLOOR_PER_HOUR = 5e-3
#: the tail examined for a plateau
PLATEAU_FRACTION = 0.25
#: the floor must rise at least this fraction as fast as the medians
FLOOR_FRACTION = 0.25
#: buckets the series is thinned to before the pairwise statistics
THIN_POINTS = 400
#: BOUNDED findings are reported only when they grew by this fraction of MemTotal
BOUNDED_REPORT_FRACTION = 0.01
#: windows at least this long are tested with their daily profile removed (two days to see one)
SEASONAL_MIN_SPAN_SECONDS = 2 * 86400.0
#: growth since the onset must exceed this many times the day-to-day spread of a daily cycle
#: (the spread is a 95% quantile: 2 of them are ~4 sigma of plain noise)
SEASONAL_SPREAD_Z = 2.0
#: ... plus this fraction of the daily profile's own range over the same stretch: a day's cycle may
#: be this much larger or smaller than the typical day's
CYCLE_VARIATION = 1.0
#: the fast path (rule 8) looks at this trailing stretch at finer resolution ...
FAST_PATH_SECONDS = 3 * HOUR
#: ... in this many buckets (2 minutes over 3 hours) ...
FAST_PATH_POINTS = 90
#: ... of windows at least this long (shorter ones are already seen at that resolution) ...
FAST_PATH_MIN_SPAN_SECONDS = 12 * HOUR
#: ... and only for growth this many times the effect-size floor (0.1% of MemTotal per hour)
FAST_RATE_FACTOR = 10.0
#: fast path: a rise whose last third climbs at under this fraction of its first third's slope is
#: slowing down (a warm-up after a restart approaching its plateau), not a leak
SLOWING_RATIO = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessContext:
    """What :func:`assess` needs to know beyond the numbers."""

    #: MemTotal in bytes: sets the effect-size floor of byte series
    mem_total_bytes: int | None = None
    unit: str = "bytes"  # "bytes" | "count"
    #: the kernel can reclaim this bucket (reclaimable slab, dentries ...)
    reclaimable: bool = False
    #: times (Unix s) at which someone ran drop_caches with slab (vmstat drop_slab went up)
    drop_slab_times: tuple[float, ...] = ()
    #: override of the effect-size floor, in the series' unit per hour
    min_rate_per_hour: float | None = None
    #: for a count of kernel objects, the bytes one object costs (about): the count then needs
    #: the byte series' floor too (10,000 more dentries an hour is 2 MB/h, not growth that matters)
    object_bytes: float | None = None


def _min_rate(ctx: AssessContext, level: float) -> float:
    if ctx.min_rate_per_hour is not None:
        return ctx.min_rate_per_hour
    if ctx.unit != "bytes":
        floor = max(1.0, COUNT_RATE_FLOOR_PER_HOUR * abs(level))
        if ctx.object_bytes and ctx.mem_total_bytes:
            floor = max(floor, REL_RATE_FLOOR_PER_HOUR * ctx.mem_total_bytes / ctx.object_bytes)
        return floor
    if ctx.mem_total_bytes:
        return REL_RATE_FLOOR_PER_HOUR * ctx.mem_total_bytes
    return max(ABS_RATE_FLOOR_BYTES_PER_HOUR, LEVEL_RATE_FLOOR_PER_HOUR * abs(level))


def _normal(key: str, y: FloatArray, *, slope: float = 0.0, low: float = 0.0, high: float = 0.0,
            p: float = 1.0, floor: bool = False, confidence: float = 0.0) -> Assessment:
    return Assessment(
        key=key, growth_class=GrowthClass.NORMAL, slope_per_hour=slope, slope_low_per_hour=low,
        slope_high_per_hour=high, trend_p_value=p, onset=None, floor_rising=floor, confidence=confidence,
        first_value=float(y[0]) if y.size else 0.0, last_value=float(y[-1]) if y.size else 0.0,
    )


def _pinned_by_drop(t: FloatArray, y: FloatArray, drops: Iterable[float]) -> bool:
    """A drop_caches inside the window that left the series at >= 90% of its level."""
    for d in drops:
        k = int(np.searchsorted(t, d))
        if 0 < k < t.size:
            before = y[max(0, k - 3):k].min()
            after = y[k:k + 3].min()
            if before > 0 and after >= 0.9 * before:
                return True
    return False


def as_array(values: tuple[float, ...]) -> FloatArray:
    return np.fromiter(values, dtype=np.float64, count=len(values))


def rising(a: Assessment) -> bool:
    """A significant upward trend, whatever the class: what a rule that explains *healthy* growth
    (page cache filling, a cgroup's cache) asks of a series judged NORMAL (rule 2 alone)."""
    return a.trend_p_value < ALPHA and a.slope_low_per_hour > 0


def assess(series: Series, *, context: AssessContext | None = None) -> Assessment:
    """Classify one series' growth (see the module docstring for the rules)."""
    return assess_arrays(series.key, as_array(series.times), as_array(series.values), context=context)


def assess_arrays(
    key: str, t: FloatArray, y: FloatArray, *, context: AssessContext | None = None
) -> Assessment:
    """:func:`assess` on arrays (derived series, the benchmark).

    Windows of :data:`SEASONAL_MIN_SPAN_SECONDS` or more are tested with
    their daily profile removed (:func:`~.trend.seasonal_profile`); windows
    longer than :data:`FAST_PATH_MIN_SPAN_SECONDS` also get the fast path,
    rule 8 of the module docstring.
    """
    ctx = context or AssessContext()
    n = t.size
    if n < MIN_SAMPLES or (t[-1] - t[0]) < MIN_SPAN_SECONDS:
        return _normal(key, y)
    th = thin(t, y, max_points=THIN_POINTS)
    tt, ym, ymin = th.times, th.medians, th.minima
    floor_rate = _min_rate(ctx, float(np.median(ym)))
    season = seasonal_profile(tt, ym) if tt[-1] - tt[0] >= SEASONAL_MIN_SPAN_SECONDS else None
    if season is not None:
        adj = season.at(tt)
        ym, ymin = ym - adj, ymin - adj
    a = _assess_thinned(key, tt, ym, ymin, ctx, t, y, floor_rate=floor_rate, season=season)
    if a.growth_class is GrowthClass.NORMAL and t[-1] - t[0] >= FAST_PATH_MIN_SPAN_SECONDS:
        k = int(np.searchsorted(t, t[-1] - FAST_PATH_SECONDS))
        if t.size - k >= MIN_SAMPLES:
            rth = thin(t[k:], y[k:], max_points=FAST_PATH_POINTS)
            rt, rm, rmin = rth.times, rth.medians, rth.minima
            if season is not None:
                radj = season.at(rt)
                rm, rmin = rm - radj, rmin - radj
            j = int(np.searchsorted(tt, t[k]))
            fast = _assess_thinned(key, rt, rm, rmin, ctx, t, y, floor_rate=FAST_RATE_FACTOR * floor_rate,
                                   season=season, history=(tt[:j], ym[:j]))
            if fast.growth_class in (GrowthClass.LEAK, GrowthClass.UNBOUNDED_CACHE):
                return fast
    return a


def _assess_thinned(
    key: str, tt: FloatArray, ym: FloatArray, ymin: FloatArray, ctx: AssessContext, t: FloatArray,
    y: FloatArray, *, floor_rate: float, season: Seasonal | None = None,
    history: tuple[FloatArray, FloatArray] | None = None,
) -> Assessment:
    """Rules 2-7 on bucket medians ``ym`` and minima ``ymin`` (deseasonalised if need be).

    ``history``: thinned (times, medians) before ``tt`` starts, the normal
    range the growth must leave (rule 7); ``season``: the daily profile
    removed from ``ym`` and its day-to-day spread (rule 7); ``t``, ``y`` are
    the raw series (first/last values, drop_caches evidence).
    """
    sen, mk = sen_and_mann_kendall(tt, ym)
    start = 0
    onset: float | None = None
    cp = change_point(tt, ym)
    if (cp is not None and cp.slope_after > 0 and cp.slope_after > 2.0 * max(cp.slope_before, 0.0)
            and tt.size - cp.index >= MIN_SAMPLES and tt[-1] - cp.time >= MIN_SPAN_SECONDS):
        sen2, mk2 = sen_and_mann_kendall(tt[cp.index:], ym[cp.index:])
        if sen2.slope > sen.slope and mk2.p_increasing < ALPHA:
            mk, sen, start, onset = mk2, sen2, cp.index, cp.time
    slope_h, low_h, high_h = sen.slope * HOUR, sen.low * HOUR, sen.high * HOUR
    p = mk.p_increasing
    if p >= PLATEAU_ALPHA or slope_h < floor_rate:
        return _normal(key, y, slope=slope_h, low=low_h, high=high_h, p=p)
    wt, wy, wmin = tt[start:], ym[start:], ymin[start:]
    # plateau: the last quarter of the analysed window is flat
    m = wt.size
    tail = max(MIN_SAMPLES, int(m * PLATEAU_FRACTION))
    bounded = False
    if m - tail >= MIN_SAMPLES // 2:
        sen_t, _ = sen_and_mann_kendall(wt[-tail:], wy[-tail:])
        bounded = sen_t.slope < 0.25 * sen.slope and sen_t.high < 0.6 * sen.slope
    if not bounded and (p >= ALPHA or low_h <= 0):
        return _normal(key, y, slope=slope_h, low=low_h, high=high_h, p=p)
    w = max(3, m // 8)
    rise = float(np.median(wy[-w:]) - np.median(wy[:w]))
    allowed = SEASONAL_SPREAD_Z * season.spread if season is not None else 0.0
    if season is not None and wt[-1] - wt[0] >= 2 * season.period:
        # two days or more: compare whole days, over which a cycle of any size averages out
        first, last = wt < wt[0] + season.period, wt > wt[-1] - season.period
        rise = float(np.mean(wy[last]) - np.mean(wy[first]))
    elif season is not None:
        # a day's cycle may be CYCLE_VARIATION larger (or smaller, or later) than the typical day's:
        # where the cycle moves, up or down, that much of its movement is not evidence
        prof = season.at(wt)
        allowed += CYCLE_VARIATION * float(prof.max() - prof.min())
    if rise <= allowed:
        # no larger than one day differs from another at the same hour: the cycle, not growth
        return _normal(key, y, slope=slope_h, low=low_h, high=high_h, p=p)
    if not bounded and not _leaves_normal_range(tt, ym, start, sen.slope, history):
        return _normal(key, y, slope=slope_h, low=low_h, high=high_h, p=p)
    if not bounded and m >= 8 and not _still_growing(wt, wy):
        # it jumped, then stayed: a deploy, a config change, a cache that was just filled
        return _normal(key, y, slope=slope_h, low=low_h, high=high_h, p=p)
    if history is not None and not bounded and _slowing(wt, wy):
        # fast path only: a rise that is already slowing down is a warm-up or a fill ending
        return _normal(key, y, slope=slope_h, low=low_h, high=high_h, p=p)
    floor = floor_trend(wt, wmin)
    floor_rising = floor.p_increasing < 0.05 and floor.slope >= FLOOR_FRACTION * sen.slope
    if floor_rising and season is not None and wt[-1] - wt[0] >= 2 * season.period:
        # two days or more: the floor is the lowest point of a whole day (raw values, cycle and all);
        # a cycle whose peaks vary from day to day leaves it flat, a leak lifts it
        floor_rising = _daily_floor_rise(wt, wmin + season.at(wt), season.period) >= (
            FLOOR_FRACTION * sen.slope * (wt[-1] - wt[0] - season.period))
    # confidence: significance, effect size over the floor, amount of data, floor
    sig = min(1.0, -math.log10(max(p, 1e-12)) / 6.0)
    effect = min(1.0, slope_h / (5.0 * floor_rate)) if floor_rate > 0 else 1.0
    amount = min(1.0, m / 30.0)
    conf = round((0.4 * sig + 0.3 * effect + 0.3 * amount) * (1.0 if floor_rising else 0.5), 3)
    if bounded:
        cls = GrowthClass.BOUNDED
    elif not floor_rising:
        cls = GrowthClass.NORMAL
    elif ctx.reclaimable and not _pinned_by_drop(t, y, ctx.drop_slab_times):
        cls = GrowthClass.UNBOUNDED_CACHE
    else:
        cls = GrowthClass.LEAK
    return Assessment(
        key=key, growth_class=cls, slope_per_hour=slope_h, slope_low_per_hour=low_h,
        slope_high_per_hour=high_h, trend_p_value=p, onset=onset, floor_rising=floor_rising,
        confidence=conf, first_value=float(y[0]), last_value=float(y[-1]),
    )


def _daily_floor_rise(t: FloatArray, ymin: FloatArray, period: float) -> float:
    """The lowest value of the last ``period`` minus that of the first."""
    return float(ymin[t > t[-1] - period].min() - ymin[t < t[0] + period].min())


def _slowing(wt: FloatArray, wy: FloatArray) -> bool:
    """Rule 8b: the last third's slope is under :data:`SLOWING_RATIO` of the first third's."""
    k = wt.size // 3
    if k < 6:
        return False
    first, _ = sen_and_mann_kendall(wt[:k], wy[:k])
    last, _ = sen_and_mann_kendall(wt[-k:], wy[-k:])
    return first.slope > 0 and last.slope < SLOWING_RATIO * first.slope


def _still_growing(wt: FloatArray, wy: FloatArray) -> bool:
    """Rule 5b: the second half of the analysed part grows too (one-sided MK at :data:`PLATEAU_ALPHA`)."""
    h = wt.size // 2
    _, mk = sen_and_mann_kendall(wt[h:], wy[h:])
    return mk.p_increasing < PLATEAU_ALPHA


def _leaves_normal_range(tt: FloatArray, ym: FloatArray, start: int, slope: float,
                         history: tuple[FloatArray, FloatArray] | None) -> bool:
    """Rule 7: the growth takes the series above anything it did before (see the module docstring)."""
    m = tt.size - start
    w = max(3, m // 8)
    level_now = float(np.median(ym[-w:]))
    width = max(float(tt[-1] - tt[-w]), 1e-9)
    if history is not None and history[0].size:
        pre_t, pre_y = np.r_[history[0], tt[:start]], np.r_[history[1], ym[:start]]
    elif start > 0:
        pre_t, pre_y = tt[:start], ym[:start]
    else:
        half = max(1, tt.size // 2)
        pre_t, pre_y = tt[:half], ym[:half]
    if pre_y.size < 3:
        return True
    # the same statistic at the same timescale: medians over `width` seconds
    if level_now <= float(rolling_median(pre_t, pre_y, width=width).max()):
        return False  # back to (or inside) where it has been: recovery, cycle, sawtooth
    if start == 0 and history is None:
        return True
    span = float(tt[-1] - tt[start])
    rise = slope * span
    return rise > max_rise(pre_t, pre_y, within=span)


__all__ = ["ALPHA", "HOUR", "MIN_SAMPLES", "MIN_SPAN_SECONDS", "AssessContext", "as_array", "assess",
           "assess_arrays", "rising"]
