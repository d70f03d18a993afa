"""The leak detector: classify each bucket's growth and turn it into findings.

:func:`assess` answers, for one series, "is this growing, and how": LEAK,
UNBOUNDED_CACHE, BOUNDED or NORMAL, with a robust slope and its range, a
corrected trend p-value, an onset and a confidence.  :func:`diagnose` runs it
over every bucket of a :class:`~.series.History` (meminfo, slab caches,
dentry/inode/sockstat counts, cgroup memory.stat, processes, and the derived
unaccounted gap), groups series that move together, and projects the time to
80%, 90% and OOM against real headroom.

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

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from memsleuth.analysis.findings import Assessment, Finding, GrowthClass, Projection
from memsleuth.analysis.series import History, Series
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


def _array(values: tuple[float, ...]) -> FloatArray:
    return np.fromiter(values, dtype=np.float64, count=len(values))


def assess(series: Series, *, context: AssessContext | None = None) -> Assessment:
    """Classify one series' growth (see the module docstring for the rules)."""
    return assess_arrays(series.key, _array(series.times), _array(series.values), context=context)


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


# --- which series, what they are called, what they belong to -----------------------------------

#: meminfo keys that are headroom or configuration, not consumption
_MEMINFO_SKIP = frozenset({
    "MemTotal", "MemFree", "MemAvailable", "SwapTotal", "SwapFree", "CommitLimit", "VmallocTotal",
    "VmallocChunk", "Hugepagesize", "HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
    "HugePages_Surp", "CmaTotal", "CmaFree", "DirectMap4k", "DirectMap2M", "DirectMap1G", "DirectMap4M",
})
#: page-cache family and virtual totals: assessed so they can be *related*, never a finding of their own
_MEMINFO_CONTEXT = frozenset({
    "Cached", "Buffers", "Active(file)", "Inactive(file)", "Mapped", "Active", "Inactive", "Dirty",
    "Writeback", "WritebackTmp", "NFS_Unstable", "Bounce", "FileHugePages", "FilePmdMapped",
    "SwapCached", "Committed_AS", "Zswapped",
})
#: sums of more specific buckets: a finding only if nothing more specific explains them
_MEMINFO_AGGREGATE = frozenset({
    "AnonPages", "Active(anon)", "Inactive(anon)", "Slab", "KReclaimable", "AnonHugePages",
})
_MEMINFO_RECLAIMABLE = frozenset({"SReclaimable", "KReclaimable"})
#: cgroup memory.stat keys in bytes (v2 and v1); the rest are event counters
_CGROUP_BYTE_KEYS = frozenset({
    "anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables", "percpu", "sock",
    "vmalloc", "shmem", "zswap", "zswapped", "file_mapped", "file_dirty", "file_writeback",
    "swapcached", "anon_thp", "file_thp", "shmem_thp", "inactive_anon", "active_anon", "inactive_file",
    "active_file", "unevictable", "slab_reclaimable", "slab_unreclaimable", "slab",
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "swap",
})
_CGROUP_CONTEXT = frozenset({
    "file", "file_mapped", "file_dirty", "file_writeback", "inactive_file", "active_file", "file_thp",
    "cache", "mapped_file", "dirty", "writeback", "swapcached", "zswapped",
})
_CGROUP_RECLAIMABLE = frozenset({"slab_reclaimable"})
#: slab caches flagged SLAB_RECLAIM_ACCOUNT (``reclaim_account=1``) on common kernels
_RECLAIMABLE_CACHES = frozenset({
    "dentry", "buffer_head", "radix_tree_node", "xfs_inode", "ext4_extent_status", "mbcache",
    "nfs_inode_cache", "fuse_inode", "btrfs_inode", "ovl_inode", "isofs_inode_cache", "xfs_dquot",
})
_SOCK_CACHES = frozenset({"sock_inode_cache", "TCP", "TCPv6", "UDP", "UDPv6", "RAW", "RAWv6",
                          "skbuff_head_cache", "skbuff_small_head", "request_sock_TCP", "tw_sock_TCP"})
_PROC_FIELDS = {"pss_bytes": "bytes", "rss_anon_bytes": "bytes", "vm_pte_bytes": "bytes", "threads": "count"}
_COUNT_KEYS = frozenset({
    "dentry.nr_dentry", "dentry.nr_unused", "dentry.nr_negative", "inode.nr_inodes",
    "sockstat.sockets_used", "sockstat.tcp_inuse", "sockstat.tcp_orphan", "sockstat.tcp_tw",
    "sockstat.tcp_alloc", "sockstat.tcp_mem_pages", "sockstat.udp_inuse", "sockstat.udp_mem_pages",
    "sockstat.frag_inuse", "sockstat.raw_inuse",
})
GAP_KEY = "derived.unaccounted_bytes"
#: about what one object of a counted kind costs, in bytes (dentry 192; an fs inode 600-1,100;
#: a socket 1-2 KiB; *_mem_pages count pages): the counts get the byte series' effect-size floor
_OBJECT_BYTES = (("dentry.", 192.0), ("inode.", 600.0), ("sockstat.tcp_mem_pages", 4096.0),
                 ("sockstat.udp_mem_pages", 4096.0), ("sockstat.", 1024.0))
_ANON_SUMS = frozenset({
    "meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.AnonHugePages",
    "meminfo.Committed_AS", "meminfo.Active", "meminfo.Inactive",
})
_PROC_RE = re.compile(r"^proc\.(\d+):(\d+)\.(\w+)$")
_CG_RE = re.compile(r"^cgroup\.(.*)\.memory\.stat\.(\w+)$")
_SLAB_RE = re.compile(r"^slab\.(.+)\.size_bytes$")


def is_reclaimable_cache(name: str) -> bool:
    """Slab caches the shrinkers free: the known list and every ``*inode_cache``."""
    return name in _RECLAIMABLE_CACHES or (name.endswith("inode_cache") and name != "sock_inode_cache")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Subject:
    key: str
    kind: str
    name: str
    unit: str
    #: 0 = most specific; 9 = context only (never a primary finding)
    rank: int
    reclaimable: bool = False


def _subject(key: str, history: History) -> _Subject | None:
    if key.startswith("meminfo."):
        f = key[8:]
        if f in _MEMINFO_SKIP:
            return None
        rank = 9 if f in _MEMINFO_CONTEXT else 5 if f in _MEMINFO_AGGREGATE else 3
        unit = "count" if f.startswith("HugePages_") else "bytes"
        return _Subject(key=key, kind="meminfo", name=f, unit=unit, rank=rank,
                        reclaimable=f in _MEMINFO_RECLAIMABLE)
    if (m := _SLAB_RE.match(key)) is not None:
        name = m.group(1)
        return _Subject(key=key, kind="slab", name=f"slab cache {name}", unit="bytes", rank=1,
                        reclaimable=is_reclaimable_cache(name))
    if key in _COUNT_KEYS:
        kind = key.split(".", 1)[0]
        return _Subject(key=key, kind=kind, name=key, unit="count", rank=4,
                        reclaimable=kind in ("dentry", "inode"))
    if key == "sockstat.frag_memory_bytes":
        return _Subject(key=key, kind="sockstat", name=key, unit="bytes", rank=4)
    if (m := _CG_RE.match(key)) is not None:
        path, stat = m.group(1), m.group(2)
        if stat not in _CGROUP_BYTE_KEYS:
            return None
        depth = 0 if path == "/" else path.count("/")
        rank = 9 if stat in _CGROUP_CONTEXT else (5 if depth == 0 else 2)
        return _Subject(key=key, kind="cgroup", name=f"{path} {stat}", unit="bytes", rank=rank,
                        reclaimable=stat in _CGROUP_RECLAIMABLE)
    if (m := _PROC_RE.match(key)) is not None:
        punit = _PROC_FIELDS.get(m.group(3))
        if punit is None:
            return None
        ident = f"{m.group(1)}:{m.group(2)}"
        info = history.processes.get(ident)
        comm = info.comm if info is not None else "?"
        return _Subject(key=key, kind="process", name=f"{comm} (pid {m.group(1)})", unit=punit, rank=0)
    if key == GAP_KEY:
        return _Subject(key=key, kind="gap", name="unaccounted (gap)", unit="bytes", rank=3)
    return None


def _covers(primary: _Subject, other: _Subject, history: History) -> bool:
    """Whether ``other`` is a sum that includes ``primary``, or counts the same objects."""
    p, o = primary.key, other.key
    if p == o:
        return False
    if primary.kind == "process":
        pm, om = _PROC_RE.match(p), _PROC_RE.match(o)
        assert pm is not None
        if om is not None:
            return om.group(1, 2) == pm.group(1, 2)
        field = pm.group(3)
        if field == "threads":
            return o == "meminfo.KernelStack" or o.startswith("slab.task_struct") or (
                o.endswith(".kernel_stack"))
        if field == "vm_pte_bytes":
            return o == "meminfo.PageTables" or o.endswith(".pagetables")
        if o in _ANON_SUMS:
            return True
        if other.kind == "cgroup":
            cm = _CG_RE.match(o)
            assert cm is not None
            if cm.group(2) not in ("anon", "active_anon", "inactive_anon", "rss", "anon_thp", "rss_huge"):
                return False
            info = history.processes.get(f"{pm.group(1)}:{pm.group(2)}")
            if info is None or info.cgroup is None:
                return True
            cg = cm.group(1)
            return cg == "/" or info.cgroup == cg or info.cgroup.startswith(cg.rstrip("/") + "/")
        return False
    if primary.kind == "slab":
        sm = _SLAB_RE.match(p)
        assert sm is not None
        name = sm.group(1)
        common = {"meminfo.Slab"}
        if primary.reclaimable:
            common |= {"meminfo.SReclaimable", "meminfo.KReclaimable"}
        else:
            common |= {"meminfo.SUnreclaim"}
        if o in common:
            return True
        if other.kind == "cgroup":
            own = ".slab_reclaimable" if primary.reclaimable else ".slab_unreclaimable"
            return o.endswith((".slab", ".kernel", own))
        if name == "dentry":
            return other.kind in ("dentry",)
        if "inode" in name and name != "sock_inode_cache":
            return other.kind == "inode"
        if name in _SOCK_CACHES:
            return other.kind == "sockstat"
        if name.startswith("task_struct"):
            return o == "meminfo.KernelStack" or o.endswith(".kernel_stack")
        return False
    if primary.kind == "cgroup":
        pm2, om2 = _CG_RE.match(p), _CG_RE.match(o)
        assert pm2 is not None
        path, stat = pm2.group(1), pm2.group(2)
        if om2 is not None:
            opath, ostat = om2.group(1), om2.group(2)
            ancestor = opath == "/" or path.startswith(opath.rstrip("/") + "/")
            if ostat == stat:
                return ancestor
            if opath == path or ancestor:
                return ((ostat in ("kernel", "slab") and stat in ("slab_reclaimable", "slab_unreclaimable",
                                                                  "kernel_stack", "pagetables", "percpu",
                                                                  "vmalloc", "sec_pagetables"))
                        or (ostat in ("file", "cache") and stat == "shmem"))
            return False
        equiv = _CGROUP_TO_MEMINFO.get(stat, ())
        return o in equiv
    if primary.kind == "meminfo":
        f = primary.name
        return o in _MEMINFO_COVERS.get(f, ()) or (other.kind == "cgroup" and o.rsplit(".", 1)[1] in
                                                   _MEMINFO_TO_CGROUP.get(f, ()))
    if primary.kind in ("dentry", "inode"):
        return o in ("meminfo.SReclaimable", "meminfo.KReclaimable", "meminfo.Slab") or (
            other.kind == primary.kind)
    if primary.kind == "sockstat":
        return other.kind == "sockstat"
    return False


_CGROUP_TO_MEMINFO: dict[str, tuple[str, ...]] = {
    "anon": ("meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Committed_AS"),
    "rss": ("meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Committed_AS"),
    "shmem": ("meminfo.Shmem", "meminfo.Cached", "meminfo.Active(anon)", "meminfo.Inactive(anon)"),
    "slab_reclaimable": ("meminfo.SReclaimable", "meminfo.KReclaimable", "meminfo.Slab"),
    "slab_unreclaimable": ("meminfo.SUnreclaim", "meminfo.Slab"),
    "slab": ("meminfo.Slab",),
    "kernel_stack": ("meminfo.KernelStack",),
    "pagetables": ("meminfo.PageTables",),
    "percpu": ("meminfo.Percpu",),
    "vmalloc": ("meminfo.VmallocUsed",),
    "sock": (),
}
_MEMINFO_COVERS: dict[str, tuple[str, ...]] = {
    "Shmem": ("meminfo.Cached", "meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Active",
              "meminfo.Inactive", "meminfo.Committed_AS", "meminfo.Mapped"),
    "SReclaimable": ("meminfo.Slab", "meminfo.KReclaimable", "dentry.nr_dentry", "dentry.nr_unused",
                     "dentry.nr_negative", "inode.nr_inodes"),
    "SUnreclaim": ("meminfo.Slab",),
    "AnonPages": ("meminfo.Active(anon)", "meminfo.Inactive(anon)", "meminfo.Committed_AS", "meminfo.Active",
                  "meminfo.Inactive", "meminfo.AnonHugePages"),
    "Active(anon)": ("meminfo.Active", "meminfo.AnonPages", "meminfo.Committed_AS"),
    "Inactive(anon)": ("meminfo.Inactive", "meminfo.AnonPages", "meminfo.Committed_AS"),
    "AnonHugePages": ("meminfo.AnonPages", "meminfo.Active(anon)", "meminfo.Inactive(anon)"),
    "KReclaimable": ("meminfo.Slab", "meminfo.SReclaimable"),
    "Slab": ("meminfo.SReclaimable", "meminfo.SUnreclaim", "meminfo.KReclaimable"),
    "Unevictable": ("meminfo.Mlocked",),
    "Mlocked": ("meminfo.Unevictable",),
}
_MEMINFO_TO_CGROUP: dict[str, tuple[str, ...]] = {
    "AnonPages": ("anon", "rss"), "Shmem": ("shmem",), "SReclaimable": ("slab_reclaimable", "slab"),
    "SUnreclaim": ("slab_unreclaimable", "slab"), "KernelStack": ("kernel_stack", "kernel"),
    "PageTables": ("pagetables", "kernel"), "Percpu": ("percpu", "kernel"),
    "VmallocUsed": ("vmalloc", "kernel"),
}

# --- derived series ---------------------------------------------------------------------------

#: subtracted from MemTotal - MemFree to get the unaccounted gap (detection.md B.2)
GAP_TERMS = ("Buffers", "Cached", "SwapCached", "AnonPages", "Slab", "KernelStack", "PageTables",
             "SecPageTables", "Percpu", "Hugetlb", "Balloon", "Zswap", "VmallocUsed")


def gap_series(history: History) -> Series | None:
    """The unaccounted gap over time, from the meminfo series (detection.md B.2).

    ``gap = MemTotal - MemFree - Buffers - Cached - SwapCached - AnonPages -
    Slab - (KReclaimable - SReclaimable) - KernelStack - PageTables -
    SecPageTables - Percpu - Hugetlb - Balloon - Zswap - VmallocUsed``.
    Terms absent on this kernel count as absent (not subtracted); MemTotal,
    MemFree, Cached, AnonPages and Slab are required.  Only times present in
    every used series are kept.  ``VmallocUsed`` is taken whole: the
    series set has no /proc/vmallocinfo, so on ``CONFIG_VMAP_STACK`` kernels
    kernel stacks are subtracted twice -- a constant offset per thread, and a
    thread leak makes the gap *fall*, so it never fakes a gap leak.
    """
    need = ("MemTotal", "MemFree", "Cached", "AnonPages", "Slab")
    if any(history.get(f"meminfo.{k}") is None for k in need):
        return None
    used = [k for k in ("MemTotal", "MemFree", *GAP_TERMS, "KReclaimable", "SReclaimable")
            if history.get(f"meminfo.{k}") is not None]
    first = history.series[f"meminfo.{used[0]}"].times
    shared = all(history.series[f"meminfo.{k}"].times == first for k in used[1:])
    if shared:
        # one snapshot stream: every field has the same times (a tuple compare, not a set per field)
        if not first:
            return None
        times = np.asarray(first, dtype=np.float64)
    else:
        common: set[float] | None = None
        for k in used:
            s = history.series[f"meminfo.{k}"]
            common = set(s.times) if common is None else common & set(s.times)
        if not common:
            return None
        times = np.array(sorted(common))

    def at(k: str) -> FloatArray:
        s = history.series[f"meminfo.{k}"]
        v = np.fromiter(s.values, dtype=np.float64, count=len(s.values))
        if shared:
            return v
        return v[np.searchsorted(np.asarray(s.times, dtype=np.float64), times)]

    gap = at("MemTotal") - at("MemFree")
    for k in GAP_TERMS:
        if k in used:
            gap = gap - at(k)
    if "KReclaimable" in used and "SReclaimable" in used:
        gap = gap - (at("KReclaimable") - at("SReclaimable"))
    return Series(key=GAP_KEY, times=tuple(times.tolist()), values=tuple(gap.tolist()))


# --- reclaim evidence --------------------------------------------------------------------------

def _delta(history: History, key: str) -> float | None:
    s = history.get(key)
    if s is None or len(s) < 2:
        return None
    d = s.values[-1] - s.values[0]
    return d if d >= 0 else None  # a counter that went backwards (reboot): unknown


def _increments(history: History, key: str) -> tuple[float, ...]:
    s = history.get(key)
    if s is None or len(s) < 2:
        return ()
    v = np.asarray(s.values, dtype=np.float64)
    up = np.flatnonzero(np.diff(v) > 0) + 1
    return tuple(float(s.times[i]) for i in up)


def reclaim_evidence(history: History) -> dict[str, float | None]:
    """Counter deltas over the window: was there reclaim pressure, did anyone drop caches?"""
    ev: dict[str, float | None] = {}
    for name, keys in (
        ("pgscan", ("vmstat.pgscan_kswapd", "vmstat.pgscan_direct", "vmstat.pgscan_khugepaged")),
        ("pgsteal", ("vmstat.pgsteal_kswapd", "vmstat.pgsteal_direct")),
        ("slabs_scanned", ("vmstat.slabs_scanned",)),
        ("allocstall", tuple(k for k in history.keys("vmstat.allocstall"))),
        ("drop_slab", ("vmstat.drop_slab",)),
        ("drop_pagecache", ("vmstat.drop_pagecache",)),
    ):
        ds = [d for d in (_delta(history, k) for k in keys) if d is not None]
        ev[name] = float(sum(ds)) if ds else None
    psi = history.get("psi.memory.some.avg60_percent")
    ev["psi_some_avg60_max"] = max(psi.values) if psi is not None and len(psi) else None
    return ev


# --- projections -------------------------------------------------------------------------------

def _last(history: History, key: str) -> tuple[float, float] | None:
    s = history.get(key)
    if s is None or not len(s):
        return None
    return s.times[-1], s.values[-1]


def used_now(history: History, basis: str) -> tuple[float, float] | None:
    """(time, bytes used) at the last sample: ``used`` = MemTotal - MemAvailable
    (estimated as MemFree + Buffers + Cached - Shmem + SReclaimable where the
    kernel has no MemAvailable); ``legacy_used`` = MemTotal - MemFree."""
    total = _mem_total(history)
    free = _last(history, "meminfo.MemFree")
    if total is None or free is None:
        return None
    if basis == "legacy_used":
        return free[0], total - free[1]
    avail = _last(history, "meminfo.MemAvailable")
    if avail is not None:
        return avail[0], total - avail[1]
    est = free[1]
    for k, sign in (("Buffers", 1), ("Cached", 1), ("Shmem", -1), ("SReclaimable", 1)):
        v = _last(history, f"meminfo.{k}")
        if v is not None:
            est += sign * v[1]
    return free[0], total - min(est, total)


def _mem_total(history: History) -> float | None:
    if history.mem_total_bytes:
        return float(history.mem_total_bytes)
    last = _last(history, "meminfo.MemTotal")
    return last[1] if last is not None else None


def project(*, used_bytes: float, total_bytes: float, rate: float, low: float, high: float,
            elapsed_hours: float = 0.0, basis: str = "used",
            thresholds: tuple[tuple[str, float], ...] = (("80%", 0.8), ("90%", 0.9), ("oom", 1.0)),
            ) -> tuple[Projection, ...]:
    """Hours until ``used_bytes`` growing at ``rate`` bytes/h reaches each fraction of the total.

    ``low``/``high`` are the slope interval: ``hours_low`` is at the upper
    slope (sooner), ``hours_high`` at the lower slope (``None``: never, the
    interval includes no growth).  ``elapsed_hours`` since the last sample
    are taken off.  Already past a threshold: 0.  "oom" is used = MemTotal.
    """
    out = []
    for name, frac in thresholds:
        room = frac * total_bytes - used_bytes

        def h(r: float, room: float = room) -> float | None:
            if room <= 0:
                return 0.0
            if r <= 0:
                return None
            return max(0.0, room / r - elapsed_hours)

        out.append(Projection(threshold=name, hours=h(rate), hours_low=h(high), hours_high=h(low),
                              basis=basis))
    return tuple(out)


# --- diagnose ----------------------------------------------------------------------------------

_CLASS_ORDER = {
    GrowthClass.LEAK: 0, GrowthClass.UNBOUNDED_CACHE: 0, GrowthClass.BOUNDED: 1, GrowthClass.NORMAL: 2,
}


def _candidate_keys(history: History) -> list[str]:
    return [k for k in history.series if not k.startswith(("vmstat.", "psi.", "file."))]


def judged_keys(history: History) -> frozenset[str]:
    """The series :func:`diagnose` judges: a key here with no finding was judged normal.

    A series needs a subject and :data:`MIN_SAMPLES` samples over
    :data:`MIN_SPAN_SECONDS`; others (too short, or not a subject) are not
    judged, and a caller may test them its own way.
    """
    out = set()
    for key in _candidate_keys(history):
        s = history.series[key]
        if (len(s.times) >= MIN_SAMPLES and s.times[-1] - s.times[0] >= MIN_SPAN_SECONDS
                and _subject(key, history) is not None):
            out.add(key)
    gap = gap_series(history)
    if gap is not None and len(gap.times) >= MIN_SAMPLES and gap.times[-1] - gap.times[0] >= MIN_SPAN_SECONDS:
        out.add(GAP_KEY)
    return frozenset(out)


def diagnose(history: History, *, now: float | None = None) -> list[Finding]:
    """Findings for every bucket that grows, most specific subject first, by rate.

    ``now`` (Unix s): samples after it are ignored, and projections count
    from it; default the last sample.  LEAK and UNBOUNDED_CACHE are always
    reported; BOUNDED only when it grew by :data:`BOUNDED_REPORT_FRACTION` of
    MemTotal (a high-water mark worth knowing).  Page-cache fields and event
    counters are never subjects of their own.
    """
    if now is not None:
        history = _until(history, now)
    total = _mem_total(history)
    mem_total_int = int(total) if total else None
    drops = _increments(history, "vmstat.drop_slab")
    series: dict[str, Series] = {}
    subjects: dict[str, _Subject] = {}
    for key in _candidate_keys(history):
        sub = _subject(key, history)
        if sub is not None:
            series[key], subjects[key] = history.series[key], sub
    gap = gap_series(history)
    if gap is not None:
        series[GAP_KEY], subjects[GAP_KEY] = gap, _Subject(key=GAP_KEY, kind="gap", name="unaccounted (gap)",
                                                           unit="bytes", rank=3)
    assessed: dict[str, Assessment] = {}
    times_cache: dict[int, FloatArray] = {}  # series from one snapshot stream often share their times
    for key, s in series.items():
        sub = subjects[key]
        ctx = AssessContext(mem_total_bytes=mem_total_int, unit=sub.unit, reclaimable=sub.reclaimable,
                            drop_slab_times=drops if sub.reclaimable else (),
                            object_bytes=next((b for p, b in _OBJECT_BYTES if key.startswith(p)), None))
        tarr = times_cache.get(id(s.times))
        if tarr is None:
            tarr = times_cache[id(s.times)] = _array(s.times)
        a = assess_arrays(key, tarr, _array(s.values), context=ctx)
        if a.growth_class is not GrowthClass.NORMAL:
            assessed[key] = a
    _drop_explained_anon(history, assessed, mem_total_int)
    _reclassify_by_comovement(assessed, subjects)
    evidence = reclaim_evidence(history)
    order = sorted(assessed, key=lambda k: (subjects[k].rank, subjects[k].unit != "bytes",
                                            -abs(assessed[k].slope_per_hour)))
    taken: set[str] = set()
    findings: list[Finding] = []
    for key in order:
        if key in taken or subjects[key].rank >= 9:
            continue
        a, sub = assessed[key], subjects[key]
        related = []
        for other in order:
            if other == key or other in taken:
                continue
            osub, oa = subjects[other], assessed[other]
            if not _covers(sub, osub, history):
                continue
            if (sub.unit == "bytes" and osub.unit == "bytes" and osub.kind != "process"
                    and a.slope_per_hour < 0.25 * oa.slope_per_hour):
                continue  # the sum grows for other reasons too: leave it its own finding
            related.append(other)
        taken.add(key)
        taken.update(related)
        if a.growth_class is GrowthClass.BOUNDED:
            grew = a.last_value - a.first_value
            if sub.unit != "bytes" or total is None or grew < BOUNDED_REPORT_FRACTION * total:
                continue
        findings.append(_finding(history, sub, a, series[key], related, evidence, total, now))
    findings.sort(key=lambda f: (_CLASS_ORDER[f.growth_class], -(f.rate_bytes_per_hour or 0.0),
                                 -f.rate_per_hour))
    return findings


#: anon sums whose growth the tracked processes' RssAnon may explain
_ANON_EXPLAINED_BY_PROCESSES = ("meminfo.AnonPages",)


def anon_residual(history: History, key: str = "meminfo.AnonPages") -> Series | None:
    """``key`` minus the sum of every process's RssAnon at each of its times: the anonymous memory
    the per-process series do not explain (processes not sampled, shared COW pages counted twice).
    None without process series."""
    base = history.get(key)
    procs = [s for k, s in history.series.items() if k.startswith("proc.") and k.endswith(".rss_anon_bytes")]
    if base is None or not procs or len(base) < 2:
        return None
    t = np.asarray(base.times, dtype=np.float64)
    total = np.zeros(t.shape[0])
    for s in procs:
        pt = np.asarray(s.times, dtype=np.float64)
        idx = np.searchsorted(t, pt)
        ok = (idx < t.shape[0]) & (t[np.minimum(idx, t.shape[0] - 1)] == pt)
        np.add.at(total, idx[ok], np.asarray(s.values, dtype=np.float64)[ok])
    return Series(key=f"{key}-processes", times=base.times,
                  values=tuple((np.asarray(base.values, dtype=np.float64) - total).tolist()))


def _drop_explained_anon(history: History, assessed: dict[str, Assessment], mem_total: int | None) -> None:
    """AnonPages grows, but what the processes do not explain is flat: each process was judged on
    its own series (a daily working set, a worker warming up, a deploy), so the sum is not a finding."""
    if any(k.startswith("proc.") and k.endswith(".rss_anon_bytes") for k in assessed):
        return  # a process grows: it explains the sum, which stays as its related series
    for key in _ANON_EXPLAINED_BY_PROCESSES:
        a = assessed.get(key)
        if a is None or a.growth_class is GrowthClass.NORMAL:
            continue
        rest = anon_residual(history, key)
        if rest is None:
            continue
        r = assess_arrays(rest.key, _array(rest.times), _array(rest.values),
                          context=AssessContext(mem_total_bytes=mem_total))
        if r.growth_class is GrowthClass.NORMAL:
            del assessed[key]


def _reclassify_by_comovement(assessed: dict[str, Assessment], subjects: dict[str, _Subject]) -> None:
    """A slab cache not on the known list is reclaimable if SReclaimable carries its growth."""
    srec = assessed.get("meminfo.SReclaimable")
    sunr = assessed.get("meminfo.SUnreclaim")
    if srec is None or srec.growth_class is not GrowthClass.UNBOUNDED_CACHE:
        return
    for key, a in list(assessed.items()):
        sub = subjects[key]
        if sub.kind != "slab" or sub.reclaimable or a.growth_class is not GrowthClass.LEAK:
            continue
        unr = sunr.slope_per_hour if sunr is not None else 0.0
        if srec.slope_per_hour >= 0.5 * a.slope_per_hour and unr < 0.5 * a.slope_per_hour:
            assessed[key] = _replace_class(a, GrowthClass.UNBOUNDED_CACHE)
            subjects[key] = _Subject(key=key, kind=sub.kind, name=sub.name, unit=sub.unit, rank=sub.rank,
                                         reclaimable=True)


def _replace_class(a: Assessment, cls: GrowthClass) -> Assessment:
    return dataclasses.replace(a, growth_class=cls)


def _until(history: History, now: float) -> History:
    if history.end is None or history.end <= now:
        return history
    cut: dict[str, Series] = {}
    for k, s in history.series.items():
        i = int(np.searchsorted(np.asarray(s.times), now, side="right"))
        if i:
            cut[k] = Series(key=k, times=s.times[:i], values=s.values[:i])
    return dataclasses.replace(history, series=cut)


def _fmt_bytes(b: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(b) >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


def _finding(history: History, sub: _Subject, a: Assessment, s: Series, related: list[str],
             reclaim: Mapping[str, float | None], total: float | None, now: float | None) -> Finding:
    is_bytes = sub.unit == "bytes"
    projections: tuple[Projection, ...] = ()
    if is_bytes and total is not None and a.growth_class is not GrowthClass.BOUNDED:
        basis = "legacy_used" if a.growth_class is GrowthClass.UNBOUNDED_CACHE else "used"
        cur = used_now(history, basis)
        if cur is not None:
            elapsed = max(0.0, ((now if now is not None else cur[0]) - cur[0]) / HOUR)
            thresholds: tuple[tuple[str, float], ...] = (("80%", 0.8), ("90%", 0.9), ("oom", 1.0))
            if basis == "legacy_used":
                thresholds = (("80%", 0.8), ("90%", 0.9))
            projections = project(used_bytes=cur[1], total_bytes=total, rate=a.slope_per_hour,
                                  low=a.slope_low_per_hour, high=a.slope_high_per_hour,
                                  elapsed_hours=elapsed, basis=basis, thresholds=thresholds)
            if basis == "legacy_used":
                # reclaimable memory does not run the host out of memory; the risk is reclaim stalls
                projections += (Projection(threshold="oom", hours=None, basis="used"),)
    evidence: dict[str, float | str | None] = {
        "first": a.first_value, "last": a.last_value, "p_value": a.trend_p_value, "samples": float(len(s)),
        "span_hours": s.span_seconds / HOUR, "slope_low_per_hour": a.slope_low_per_hour,
        "slope_high_per_hour": a.slope_high_per_hour, "floor_rising": "yes" if a.floor_rising else "no",
    }
    if sub.reclaimable or a.growth_class is GrowthClass.UNBOUNDED_CACHE:
        evidence.update(reclaim)
    rate_txt = _fmt_bytes(a.slope_per_hour) + "/h" if is_bytes else f"{a.slope_per_hour:.3g}/h"
    verb = {
        GrowthClass.LEAK: "grows without levelling off and is not given back",
        GrowthClass.UNBOUNDED_CACHE: "grows without bound; the kernel could reclaim it, "
                                     "so MemAvailable hides it but legacy 'used' does not",
        GrowthClass.BOUNDED: "grew, then levelled off",
        GrowthClass.NORMAL: "does not grow",
    }[a.growth_class]
    summary = f"{sub.name} {verb} ({rate_txt}, p={a.trend_p_value:.1g})."
    return Finding(
        subject_kind=sub.kind, subject=sub.name, series_key=sub.key, growth_class=a.growth_class,
        rate_bytes_per_hour=a.slope_per_hour if is_bytes else None, rate_per_hour=a.slope_per_hour,
        unit=sub.unit, onset=a.onset, confidence=a.confidence, evidence=evidence, projections=projections,
        summary=summary, related=tuple(related),
    )


__all__ = [
    "ALPHA", "GAP_KEY", "AssessContext", "anon_residual", "assess", "assess_arrays", "diagnose", "gap_series",
    "is_reclaimable_cache", "judged_keys", "project", "reclaim_evidence", "used_now",
]
