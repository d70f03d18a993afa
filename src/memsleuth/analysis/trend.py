"""Robust trend primitives for the leak detector: pure functions over arrays.

Each answers one question about a memory series, and each tolerates the
things real memory series do (GC sawtooth, page-cache churn, daily cycles,
reclaim events, outliers):

* :func:`thin` -- time-bucketed medians (and minima) so that 30 days of
  10 s samples (259,200 points) cost the same as a few hundred.  Medians,
  not means, so a single reclaim dip or spike does not move a bucket.
* :func:`theil_sen` -- the median of pairwise slopes (Theil 1950; Sen 1968,
  "Estimates of the regression coefficient based on Kendall's tau", JASA
  63:1379) with Sen's order-statistic confidence interval.
* :func:`mann_kendall` -- the Mann-Kendall trend test (Mann 1945; Kendall
  1975) with the variance correction for autocorrelated data of Hamed & Rao
  (1998, "A modified Mann-Kendall trend test for autocorrelated data",
  J. Hydrology 204:182).  Memory series are strongly autocorrelated; the
  uncorrected test calls almost any wander a trend (Machida et al. 2013).
* :func:`change_point` -- when growth began: the best single change of slope
  in a continuous piecewise-linear model (a "broken stick", the
  ``CostCLinear`` cost of ``ruptures``, searched exhaustively, which is what
  PELT or binary segmentation return for one change), kept only if it
  explains the data better by a BIC margin.
* :func:`floor_trend` -- the trend of window minima: a GC sawtooth or a
  cache that fills and is reclaimed keeps a flat floor; a leak lifts it.

Times are seconds; slopes are per second.  Nothing here knows what a
series measures: the verdicts live in :mod:`memsleuth.analysis.detect`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_NORMAL = NormalDist()

#: above this many points the pairwise statistics sample pairs instead of
#: enumerating all n(n-1)/2 of them
EXACT_PAIRS_MAX_POINTS = 2000
#: pairs sampled when above :data:`EXACT_PAIRS_MAX_POINTS`
SAMPLED_PAIRS = 400_000
#: :attr:`Seasonal.spread` is this quantile of the absolute deviations (1.96 sigma for normal noise)
SPREAD_QUANTILE = 0.95


def _z(alpha: float) -> float:
    """Two-sided normal quantile: ``_z(0.05) == 1.96``."""
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0)


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True, slots=True)
class Thinned:
    """A series reduced to time buckets: centre time, median, minimum and count."""

    times: FloatArray
    medians: FloatArray
    minima: FloatArray
    counts: IntArray

    def __len__(self) -> int:
        return int(self.times.shape[0])


def thin(times: npt.ArrayLike, values: npt.ArrayLike, *, max_points: int = 400) -> Thinned:
    """Time-bucketed medians and minima, at most ``max_points`` buckets.

    Buckets are equal slices of the time span (not of the sample count), so
    gaps in recording stay gaps and a burst of samples does not get more
    weight.  Each bucket keeps the median of its values (robust to spikes and
    reclaim dips), its minimum (for :func:`floor_trend`), and the median of
    its times.  Series with at most ``max_points`` points are returned as
    they are (each point its own bucket).  Cost: one row-wise partition, ~3 ms
    at 259,200 points.
    """
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    n = t.shape[0]
    if n <= max_points:
        return Thinned(t, v, v, np.ones(n, dtype=np.intp))
    span = t[-1] - t[0]
    if span <= 0:
        return Thinned(t[:1], np.median(v, keepdims=True), v.min(keepdims=True), np.array([n]))
    # bucket k holds the times with (t - t0) / span * max_points in [k, k + 1); times are
    # ascending, so each bucket is a contiguous run found by binary search (no pass over t)
    edges = t[0] + span * (np.arange(1, max_points) / max_points)
    bounds = np.r_[0, np.searchsorted(t, edges, side="left"), n]
    starts = bounds[:-1][np.diff(bounds) > 0]
    counts = np.diff(np.r_[starts, n]).astype(np.intp)
    minima = np.minimum.reduceat(v, starts)
    # median per run: the runs as the rows of a matrix (a reshape when sampling is regular, else
    # +inf-padded), partitioned at the middle positions (O(n), 2x faster than sorting the rows)
    rows = starts.shape[0]
    width = int(counts.max())
    if int(counts.min()) == width:
        grid = v.reshape(rows, width).copy()
    else:
        run = np.repeat(np.arange(rows), counts)
        pos = np.arange(n) - starts[run]
        grid = np.full((rows, width), np.inf)
        grid[run, pos] = v
    grid.partition(np.unique(np.r_[(counts - 1) // 2, counts // 2]), axis=1)
    r = np.arange(rows)
    medians = 0.5 * (grid[r, (counts - 1) // 2] + grid[r, counts // 2])
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    tm = 0.5 * (t[lo] + t[hi])  # t is sorted within a run already
    return Thinned(tm, medians, minima, counts)


@lru_cache(maxsize=32)
def _pairs(n: int) -> tuple[IntArray, IntArray]:
    if n <= EXACT_PAIRS_MAX_POINTS:
        i, j = np.triu_indices(n, 1)
        return i.astype(np.intp), j.astype(np.intp)
    rng = np.random.default_rng(n)  # deterministic per length
    a = rng.integers(0, n, SAMPLED_PAIRS)
    b = rng.integers(0, n - 1, SAMPLED_PAIRS)
    b = np.where(b >= a, b + 1, b)  # b != a
    return np.minimum(a, b).astype(np.intp), np.maximum(a, b).astype(np.intp)


def _tie_term(values: FloatArray) -> float:
    _, counts = np.unique(values, return_counts=True)
    c = counts[counts > 1].astype(np.float64)
    return float(np.sum(c * (c - 1) * (2 * c + 5)))


def mk_variance(values: FloatArray) -> float:
    """Var(S) of the Mann-Kendall statistic under no trend, with the tie correction."""
    n = float(values.shape[0])
    return (n * (n - 1) * (2 * n + 5) - _tie_term(values)) / 18.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SenSlope:
    """Theil-Sen slope (per second) with its two-sided confidence interval."""

    slope: float
    low: float
    high: float
    intercept: float  # value at t = 0 of the (centred) fit: median(y - slope * t)
    pairs: int


def theil_sen(
    times: npt.ArrayLike, values: npt.ArrayLike, *, alpha: float = 0.05, var_s: float | None = None
) -> SenSlope:
    """The median of pairwise slopes, with Sen's (1968) order-statistic interval.

    With ``N`` pairwise slopes sorted, the interval is slopes ``M1`` to
    ``M2 + 1`` where ``M1 = (N - C) / 2``, ``M2 = (N + C) / 2`` and
    ``C = z(1 - alpha/2) * sqrt(Var(S))``.  ``Var(S)`` is the Mann-Kendall
    variance; pass the autocorrelation-corrected one from
    :func:`mann_kendall` (``var_s``) so the interval is honest for memory
    series, otherwise the independent-data variance (with ties) is used.

    Above :data:`EXACT_PAIRS_MAX_POINTS` points a fixed pseudo-random sample
    of :data:`SAMPLED_PAIRS` pairs stands in for all pairs and the ranks
    ``M1``, ``M2`` are scaled by the sampled fraction.  Thin first
    (:func:`thin`): 400 buckets are 79,800 pairs, well under a millisecond's
    sort.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    return _sen_from_slopes(t, y, _pair_slopes(t, y), alpha=alpha, var_s=var_s)


def _pair_slopes(t: FloatArray, y: FloatArray) -> FloatArray:
    n = t.shape[0]
    if n < 2:
        return np.empty(0)
    i, j = _pairs(n)
    dt = t[j] - t[i]
    keep = dt > 0
    out: FloatArray = (y[j][keep] - y[i][keep]) / dt[keep]
    return out


def _sen_from_slopes(t: FloatArray, y: FloatArray, slopes: FloatArray, *, alpha: float,
                     var_s: float | None) -> SenSlope:
    n = t.shape[0]
    if n < 2:
        return SenSlope(slope=0.0, low=0.0, high=0.0, intercept=float(y[0]) if n else 0.0, pairs=0)
    m = slopes.shape[0]
    if m == 0:
        return SenSlope(slope=0.0, low=0.0, high=0.0, intercept=float(np.median(y)), pairs=0)
    total_pairs = n * (n - 1) / 2.0
    if var_s is None:
        var_s = mk_variance(y)
    c = _z(alpha) * math.sqrt(max(var_s, 0.0))
    frac = m / total_pairs
    # 1-based ranks M1 and M2 + 1 -> 0-based M1 - 1 and M2, rounded outwards
    k1 = int(np.clip(math.floor((total_pairs - c) / 2.0 * frac) - 1, 0, m - 1))
    k2 = int(np.clip(math.ceil((total_pairs + c) / 2.0 * frac), 0, m - 1))
    mid_lo, mid_hi = (m - 1) // 2, m // 2
    part = np.partition(slopes, sorted({k1, k2, mid_lo, mid_hi}))
    slope = 0.5 * float(part[mid_lo] + part[mid_hi])
    intercept = float(np.median(y - slope * t))
    return SenSlope(slope=slope, low=float(part[k1]), high=float(part[k2]), intercept=intercept, pairs=m)


def sen_and_mann_kendall(times: npt.ArrayLike, values: npt.ArrayLike, *,
                         alpha: float = 0.05) -> tuple[SenSlope, MannKendall]:
    """:func:`theil_sen` with the Hamed-Rao variance of :func:`mann_kendall`, pairwise slopes computed once.

    The same numbers as ``mk = mann_kendall(y, times=t)`` then
    ``theil_sen(t, y, var_s=mk.var_s)``, at about half the cost.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    slopes = _pair_slopes(t, y)
    mid = 0.0
    if slopes.shape[0]:
        m = slopes.shape[0]
        part = np.partition(slopes, sorted({(m - 1) // 2, m // 2}))
        mid = 0.5 * float(part[(m - 1) // 2] + part[m // 2])
    mk = mann_kendall(y, times=t, slope=mid)
    return _sen_from_slopes(t, y, slopes, alpha=alpha, var_s=mk.var_s), mk


@dataclass(frozen=True, slots=True, kw_only=True)
class MannKendall:
    """The Mann-Kendall statistic and its autocorrelation-corrected significance."""

    s: float
    var_s: float  # corrected variance (Hamed & Rao), or the plain one
    z: float
    p_value: float  # two-sided
    p_increasing: float  # one-sided, for "is it growing"
    #: n / n* of Hamed & Rao: how much autocorrelation inflates Var(S); 1 = independent
    variance_factor: float


def mann_kendall(
    values: npt.ArrayLike,
    *,
    times: npt.ArrayLike | None = None,
    hamed_rao: bool = True,
    acf_alpha: float = 0.05,
    slope: float | None = None,
) -> MannKendall:
    """Mann-Kendall trend test with the Hamed & Rao (1998) correction.

    ``S = sum_{i<j} sign(y_j - y_i)``; under no trend ``S`` is normal with
    the variance of :func:`mk_variance`.  Hamed & Rao: remove the Sen slope
    (``slope``, per second of ``times``; computed if not given), rank the
    residuals, estimate their autocorrelation ``r_k`` at every lag, keep the
    lags significant at ``acf_alpha`` (``|r_k| > z / sqrt(n)``), and inflate
    the variance by

        n / n* = 1 + 2 / (n (n-1) (n-2)) * sum_k (n-k)(n-k-1)(n-k-2) r_k.

    We chose Hamed-Rao over pre-whitening (Yue & Wang 2002) because memory
    series carry long-memory structure (daily cycles, GC periods) that an
    AR(1) pre-whitening removes only partly, and over block bootstrap
    because it is closed-form and costs one FFT.  The factor is floored at 1:
    negative autocorrelation (a fast sawtooth sampled at its period) must
    not make a trend look more certain than for independent data.
    """
    y = np.asarray(values, dtype=np.float64)
    n = y.shape[0]
    if n < 3:
        return MannKendall(s=0.0, var_s=0.0, z=0.0, p_value=1.0, p_increasing=1.0, variance_factor=1.0)
    i, j = _pairs(n)
    s = float(np.sum(np.sign(y[j] - y[i])))
    if n > EXACT_PAIRS_MAX_POINTS:
        s *= (n * (n - 1) / 2.0) / i.shape[0]
    var0 = mk_variance(y)
    factor = 1.0
    if hamed_rao and n >= 8:
        t = np.arange(n, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
        b = theil_sen(t, y).slope if slope is None else slope
        resid = y - b * t
        ranks = np.argsort(np.argsort(resid, kind="stable"), kind="stable").astype(np.float64)
        r = ranks - ranks.mean()
        denom = float(np.dot(r, r))
        if denom > 0:
            size = 1 << int(2 * n - 1).bit_length()
            f = np.fft.rfft(r, size)
            acf = np.fft.irfft(f * np.conj(f), size)[1:n] / denom  # lags 1..n-1
            k = np.arange(1, n, dtype=np.float64)
            sig = np.abs(acf) > _z(acf_alpha) / math.sqrt(n)
            w = (n - k) * (n - k - 1) * (n - k - 2)
            factor = 1.0 + 2.0 / (n * (n - 1) * (n - 2)) * float(np.sum(w[sig] * acf[sig]))
            factor = max(factor, 1.0)
    var_s = var0 * factor
    if var_s <= 0:
        return MannKendall(s=s, var_s=0.0, z=0.0, p_value=1.0, p_increasing=1.0, variance_factor=factor)
    # continuity correction
    z = (s - math.copysign(1.0, s)) / math.sqrt(var_s) if s != 0 else 0.0
    return MannKendall(
        s=s, var_s=var_s, z=z, p_value=min(1.0, 2.0 * normal_sf(abs(z))), p_increasing=normal_sf(z),
        variance_factor=factor,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePoint:
    """A change of slope: before it the series grew at ``slope_before``, after at ``slope_after``."""

    time: float
    index: int
    slope_before: float  # per second
    slope_after: float
    #: BIC improvement of the broken stick over a single line (> 0 = better)
    bic_gain: float


def change_point(times: npt.ArrayLike, values: npt.ArrayLike, *, min_segment: int = 4) -> ChangePoint | None:
    """The single change of slope that best explains the series, or ``None``.

    Model: ``y = a + b t + c (t - tau)+`` (continuous, piecewise linear),
    against ``y = a + b t``.  For every candidate ``tau`` (each point with at
    least ``min_segment`` points on either side) the extra regressor is
    residualised on ``[1, t]`` (Frisch-Waugh), so all candidates cost one
    matrix product: O(n^2) for n points, ~1 ms at 400.  The best ``tau`` is
    kept when it lowers the BIC (two extra parameters, ``c`` and ``tau``):
    ``n ln(SSE_line / SSE_stick) > 2 ln n``.  Least squares is fine here
    because the input is bucket medians (:func:`thin`), not raw samples.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    n = t.shape[0]
    if n < 2 * min_segment + 1:
        return None
    scale = (t[-1] - t[0]) or 1.0
    u = (t - t[0]) / scale
    uc = u - u.mean()
    yc = y - y.mean()
    suu = float(np.dot(uc, uc))
    if suu <= 0:
        return None
    b_line = float(np.dot(uc, yc)) / suu
    ry = yc - b_line * uc
    sse_line = float(np.dot(ry, ry))
    cand = np.arange(min_segment, n - min_segment)
    h = np.maximum(u[None, :] - u[cand][:, None], 0.0)  # (k, n)
    h -= h.mean(axis=1, keepdims=True)
    h -= np.outer(h @ uc / suu, uc)
    hh = np.einsum("ij,ij->i", h, h)
    hy = h @ ry
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(hh > 0, hy * hy / hh, 0.0)
    best = int(np.argmax(gain))
    sse_stick = max(sse_line - float(gain[best]), 1e-300)
    if sse_line <= 0:
        return None
    bic_gain = n * math.log(sse_line / sse_stick) - 2.0 * math.log(n)
    if bic_gain <= 0:
        return None
    k = int(cand[best])
    # refit on the chosen hinge for the two slopes
    x = np.column_stack([np.ones(n), u, np.maximum(u - u[k], 0.0)])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return ChangePoint(
        time=float(t[k]), index=k, slope_before=float(coef[1]) / scale,
        slope_after=float(coef[1] + coef[2]) / scale, bic_gain=bic_gain,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FloorTrend:
    """Trend of window minima: is the lowest point each window reaches going up?"""

    slope: float  # per second, Theil-Sen over the window minima
    low: float
    high: float
    p_increasing: float  # one-sided Mann-Kendall (plain: the windows are few and coarse)
    windows: int


def floor_trend(
    times: npt.ArrayLike, values: npt.ArrayLike, *, windows: int | None = None, alpha: float = 0.05
) -> FloorTrend:
    """Trend of the minima of consecutive equal-time windows.

    A window must span a few cycles of whatever churns the series (GC,
    cache fill and reclaim, daily load) for its minimum to be the floor.
    We cannot know the period, so the number of windows scales with the
    data: ``clamp(n / 8, 6, 24)`` windows -- with 30 days that is 24 windows
    of 30 h (each holds a full day), with a 2-minute watch of 12 samples it
    is 6 windows of 2 samples.  Minima of empty windows are skipped.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    n = t.shape[0]
    w = windows if windows is not None else int(np.clip(n // 8, 6, 24))
    if n < 2 or w < 3:
        return FloorTrend(slope=0.0, low=0.0, high=0.0, p_increasing=1.0, windows=0)
    span = t[-1] - t[0]
    if span <= 0:
        return FloorTrend(slope=0.0, low=0.0, high=0.0, p_increasing=1.0, windows=0)
    bucket = np.minimum(((t - t[0]) / span * w).astype(np.intp), w - 1)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    mins = np.minimum.reduceat(y, starts)
    ends = np.r_[starts[1:], n] - 1
    centres = 0.5 * (t[starts] + t[ends])
    if mins.shape[0] < 3:
        return FloorTrend(slope=0.0, low=0.0, high=0.0, p_increasing=1.0, windows=int(mins.shape[0]))
    mk = mann_kendall(mins, hamed_rao=False)
    sen = theil_sen(centres, mins, alpha=alpha)
    return FloorTrend(
        slope=sen.slope, low=sen.low, high=sen.high, p_increasing=mk.p_increasing, windows=int(mins.shape[0])
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Seasonal:
    """A daily profile: ``profile[k]`` is the typical offset of phase bin ``k`` from the level."""

    period: float  # seconds
    profile: FloatArray  # per phase bin, centred (mean 0)
    #: robust amplitude: (max - min) of the profile, in the series' unit
    amplitude: float
    #: the :data:`SPREAD_QUANTILE` quantile of what is left after the level and the profile, |x -
    #: median|: how far one day strays from another at the same hour (a cycle whose size or timing
    #: varies), plus noise
    spread: float

    def at(self, times: npt.ArrayLike) -> FloatArray:
        """The profile's value at each time (by phase within the period, linear between bins)."""
        t = np.asarray(times, dtype=np.float64)
        k = self.profile.shape[0]
        # linear between bin centres, wrapping around the period
        x = (t % self.period) / self.period * k - 0.5
        xp = np.arange(-1, k + 1, dtype=np.float64)
        fp = np.r_[self.profile[-1], self.profile, self.profile[0]]
        out: FloatArray = np.interp(x, xp, fp)
        return out


def seasonal_profile(times: npt.ArrayLike, values: npt.ArrayLike, *, period: float = 86400.0,
                     bins: int = 48) -> Seasonal | None:
    """The daily (``period``) profile of a series that spans at least two periods, or ``None``.

    STL-like, one robust pass: the level is a centred moving average over
    one period (shifted inwards at the ends), the profile of each of ``bins``
    phase bins is the median over days of ``value - level`` in that bin --
    kept only where every value in the bin has the same sign, so an event
    that happened at the same hour on some days but not all (a restart, a
    batch job) is not taken for the cycle -- and the profile is centred
    (interpolated linearly between bins on use).
    Medians across days mean that one day's leak or spike does not enter
    the profile when there are three days or more; with two, half of it can.
    Subtracting the profile removes a daily cycle of any shape (sinusoid,
    nightly backup swell, business hours) while a leak stays in the
    remainder, because the moving average follows it.  Meant for thinned medians (a few hundred points).
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    n = t.shape[0]
    if n < 2 * bins or t[-1] - t[0] < 2.0 * period:
        return None
    # the level: the mean over one whole period around each point (shifted inwards at the ends, so
    # it always averages a full cycle away; a mean, not a median, so a linear trend stays linear)
    begin = np.clip(t - period / 2.0, t[0], t[-1] - period)
    lo = np.searchsorted(t, begin, side="left")
    hi = np.searchsorted(t, begin + period, side="right")
    csum = np.r_[0.0, np.cumsum(y)]
    level = (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)
    resid = y - level
    idx = np.minimum(((t % period) / period * bins).astype(np.intp), bins - 1)
    order = np.lexsort((resid, idx))  # by bin, then by value
    sidx = idx[order]
    starts = np.searchsorted(sidx, np.arange(bins))
    count = np.searchsorted(sidx, np.arange(bins), side="right") - starts
    if np.any(count < 2):
        return None  # a phase seen on fewer than two days: no profile
    sres = resid[order]
    prof = 0.5 * (sres[starts + (count - 1) // 2] + sres[starts + count // 2])
    # only what every day shares: where the days disagree in sign (a restart that dipped two
    # mornings of three, a spike), the phase is not part of the cycle
    day = ((t - t[0]) // period).astype(np.intp)[order]
    lowest = np.minimum.reduceat(sres, starts)  # sorted by value within a bin: first is lowest
    highest = sres[starts + count - 1]
    days_seen = np.array([np.unique(day[a:a + c]).size for a, c in zip(starts, count, strict=True)])
    prof = np.where((days_seen >= 2) & ((lowest > 0) | (highest < 0)), prof, 0.0)
    prof -= prof.mean()
    season = Seasonal(period=period, profile=prof, amplitude=float(prof.max() - prof.min()), spread=0.0)
    # the spread: where the level is centred (half a period in from either end; nearer the ends the
    # level is off-centre, and a recent leak would show up as spread)
    centre = (t >= t[0] + period / 2.0) & (t <= t[-1] - period / 2.0)
    e = (resid - season.at(t))[centre]
    spread = float(np.quantile(np.abs(e - np.median(e)), SPREAD_QUANTILE)) if e.size else 0.0
    return dataclasses.replace(season, spread=spread)


def _row_medians(pad: FloatArray, lo: IntArray, count: IntArray, width: int) -> FloatArray:
    """Median of ``pad[lo[i] : lo[i] + count[i]]`` for each i (``pad`` long enough)."""
    rows = pad[lo[:, None] + np.arange(width)[None, :]]
    rows = np.where(np.arange(width)[None, :] < count[:, None], rows, np.inf)
    rows.sort(axis=1)
    r = np.arange(rows.shape[0])
    out: FloatArray = 0.5 * (rows[r, (count - 1) // 2] + rows[r, count // 2])
    return out


def rolling_median(times: npt.ArrayLike, values: npt.ArrayLike, *, width: float) -> FloatArray:
    """Trailing median over ``(t - width, t]`` at each point (fewer points near the start)."""
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    n = t.shape[0]
    if n == 0:
        empty: FloatArray = y.copy()
        return empty
    lo = np.searchsorted(t, t - width, side="right")
    cnt = np.arange(1, n + 1) - lo
    w = int(cnt.max())
    pad = np.full(n + w, np.nan)
    pad[:n] = y
    return _row_medians(pad, lo, cnt, w)


def max_rise(times: npt.ArrayLike, values: npt.ArrayLike, *, within: float) -> float:
    """The largest rise ``values[j] - values[i]`` over ``i < j`` with ``times[j] - times[i] <= within``.

    Precog's "largest normal trend" (Jindal et al. 2021, detection.md A2) in
    its simplest form: how far did this series ever climb in a stretch of
    this length?  A rise now that is no larger is not evidence of a leak.
    O(n^2) over thinned points (n <= a few hundred); 0 with fewer than 2.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    n = t.shape[0]
    if n < 2:
        return 0.0
    i, j = np.triu_indices(n, 1)
    ok = (t[j] - t[i]) <= within
    if not np.any(ok):
        return 0.0
    return float(max(0.0, np.max(y[j][ok] - y[i][ok])))


__all__ = [
    "ChangePoint", "FloorTrend", "MannKendall", "Seasonal", "SenSlope", "Thinned", "change_point",
    "floor_trend", "mann_kendall", "max_rise", "mk_variance", "normal_sf", "rolling_median",
    "seasonal_profile",
    "sen_and_mann_kendall", "theil_sen", "thin",
]
