"""Trend primitives on synthetic series with known answers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from memsleuth.analysis.trend import (
    change_point,
    floor_trend,
    mann_kendall,
    max_rise,
    rolling_median,
    seasonal_profile,
    sen_and_mann_kendall,
    theil_sen,
    thin,
)

HOUR = 3600.0


def test_theil_sen_recovers_slope_despite_outliers() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(500) * 10.0
    y = 1000.0 + 2.5 * t + rng.normal(0, 50, t.size)
    y[::10] += 5000.0  # 10% wild outliers
    sen = theil_sen(t, y)
    assert sen.slope == pytest.approx(2.5, rel=0.02)
    assert sen.low < 2.5 < sen.high
    assert sen.high - sen.low < 0.2


def test_theil_sen_exact_on_a_line_and_ci_matches_hand_computation() -> None:
    # 5 points on y = 3t + 1: all 10 pairwise slopes are 3
    sen = theil_sen([0, 1, 2, 3, 4], [1, 4, 7, 10, 13])
    assert (sen.slope, sen.low, sen.high, sen.intercept) == (3.0, 3.0, 3.0, 1.0)
    # 8 points: N=28 slopes, Var(S)=8*7*21/18=65.33, C=1.645*8.08=13.3 (alpha 0.1),
    # M1=(28-13.3)/2=7.35 -> 7th smallest, M2+1=(28+13.3)/2+1=21.65 -> 22nd smallest
    t = np.arange(8.0)
    y = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0, 28.0])  # slope(i,j) = (i+j+1)/2
    slopes = sorted((y[j] - y[i]) / (j - i) for i in range(8) for j in range(i + 1, 8))
    sen = theil_sen(t, y, alpha=0.1)
    assert sen.slope == pytest.approx(4.0)
    assert sen.low == slopes[6] == 3.0
    assert sen.high == slopes[21] == 5.0


def test_sampled_pairs_above_2000_points() -> None:
    t = np.arange(5000) * 10.0
    y = 7.0 * t + np.random.default_rng(2).normal(0, 100, t.size)
    sen = theil_sen(t, y)
    assert sen.slope == pytest.approx(7.0, rel=0.01)
    assert sen.pairs > 300_000


def test_thin_keeps_bucket_medians_and_minima() -> None:
    t = np.arange(1000, dtype=float)
    y = np.tile([5.0, 1.0, 9.0, 5.0], 250)
    th = thin(t, y, max_points=100)
    assert len(th) == 100
    assert set(th.counts.tolist()) == {10}
    # each bucket of 10 holds 5,1,9,5,... -> median 5, minimum 1
    assert np.all(th.medians == 5.0)
    assert np.all(th.minima == 1.0)
    assert th.times[0] == pytest.approx(4.5)


def test_thin_30_days_of_10s_samples_is_fast() -> None:
    t = np.arange(259_200) * 10.0
    y = np.random.default_rng(3).normal(0, 1, t.size) + 1e-6 * t
    start = time.perf_counter()
    th = thin(t, y)
    theil_sen(th.times, th.medians)
    mann_kendall(th.medians, times=th.times)
    assert time.perf_counter() - start < 0.5
    assert len(th) == 400


def test_mann_kendall_trend_and_no_trend() -> None:
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 1, 300)
    assert mann_kendall(noise).p_value > 0.05
    mk = mann_kendall(noise + np.arange(300) * 0.05)
    assert mk.p_value < 1e-6
    assert mk.p_increasing < 1e-6
    # S by hand: (1,3)+ (1,2)+ (1,4)+ (3,2)- (3,4)+ (2,4)+ = 4
    assert mann_kendall([1.0, 3.0, 2.0, 4.0], hamed_rao=False).s == 4.0


def test_hamed_rao_widens_variance_for_autocorrelated_noise() -> None:
    rng = np.random.default_rng(5)
    e = rng.normal(0, 1, 400)
    ar = np.empty(400)
    ar[0] = e[0]
    for k in range(1, 400):
        ar[k] = 0.95 * ar[k - 1] + e[k]  # a random walk-ish wander, no trend
    plain = mann_kendall(ar, hamed_rao=False)
    corrected = mann_kendall(ar)
    assert corrected.variance_factor > 5
    assert corrected.p_value > plain.p_value


def test_change_point_dates_the_onset() -> None:
    rng = np.random.default_rng(6)
    t = np.arange(0, 48 * HOUR, 300.0)
    t0 = 30 * HOUR
    y = 1e9 + rng.normal(0, 2e6, t.size) + np.maximum(t - t0, 0) * 50.0
    cp = change_point(t, y)
    assert cp is not None
    assert abs(cp.time - t0) < 1.5 * HOUR
    assert cp.slope_after == pytest.approx(50.0, rel=0.1)
    assert abs(cp.slope_before) < 5.0


def test_no_change_point_on_a_straight_line_with_noise() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(0, 48 * HOUR, 300.0)
    y = 1e9 + 20.0 * t + rng.normal(0, 2e6, t.size)
    assert change_point(t, y) is None


def test_floor_flat_under_sawtooth_rising_under_leak() -> None:
    t = np.arange(0, 6 * HOUR, 10.0)
    saw = 1e9 + (t % 600.0) * 1e5  # GC: climbs 60 MB, collected every 10 min
    flat = floor_trend(t, saw)
    assert flat.slope == 0.0
    assert flat.p_increasing > 0.05
    leak = saw + 2e3 * t  # floor rises 7.2 MB/h
    rising = floor_trend(t, leak)
    assert rising.p_increasing < 0.01
    assert rising.slope == pytest.approx(2e3, rel=0.1)


def test_sen_and_mann_kendall_equal_the_separate_calls() -> None:
    rng = np.random.default_rng(8)
    t = np.arange(300) * 60.0
    y = 5.0 * t + rng.normal(0, 2000, t.size)
    sen, mk = sen_and_mann_kendall(t, y)
    mk2 = mann_kendall(y, times=t)
    sen2 = theil_sen(t, y, var_s=mk2.var_s)
    assert (sen, mk) == (sen2, mk2)


def test_seasonal_profile_recovers_a_daily_cycle_under_a_trend() -> None:
    day = 86400.0
    t = np.arange(0, 4 * day, 600.0)
    cycle = 1e8 * np.sin(2 * np.pi * t / day)
    y = 5e9 + 200.0 * t + cycle  # 17 MB a day of trend under a +-100 MB cycle
    season = seasonal_profile(t, y)
    assert season is not None
    assert season.amplitude == pytest.approx(2e8, rel=0.05)
    # what is left is the trend, within 4% of the cycle's range (bins are 30 minutes wide)
    rest = y - season.at(t)
    assert np.max(np.abs(rest - (5e9 + 200.0 * t) - np.median(rest - (5e9 + 200.0 * t)))) < 0.04 * 2e8
    # under two days: no profile
    assert seasonal_profile(t[t < 1.5 * day], y[t < 1.5 * day]) is None


def test_max_rise_and_rolling_median_by_hand() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([5.0, 1.0, 4.0, 2.0, 9.0, 0.0])
    # rises within 1 s: 1->4 = 3, 2->9 = 7; within 2 s also 1->2 (1); whole: 1->9 = 8
    assert max_rise(t, y, within=1.0) == 7.0
    assert max_rise(t, y, within=3.0) == 8.0
    assert max_rise(t, -np.arange(6.0), within=10.0) == 0.0
    # trailing medians over (t - 2, t]: [5], [5,1], [1,4], [4,2], [2,9], [9,0]
    assert rolling_median(t, y, width=2.0).tolist() == [5.0, 3.0, 2.5, 3.0, 5.5, 4.5]
