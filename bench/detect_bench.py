"""Detection benchmark: memsleuth's detector vs two stock alert rules, on a labelled corpus.

Run:  python bench/detect_bench.py [--hosts 50] [--days 4] [--seed 7] [--jobs 2]

Corpus (semi-synthetic, see bench/DETECT.md): each host has 16 GiB, one
sample a minute, ``LEAD_DAYS`` (3) leak-free days of history and then
``--days`` evaluated days.  The background: a JVM-like process with a daily
working-set cycle and a 5-minute GC sawtooth, a worker that restarts every
1-3 days and warms its cache back up (step down, bounded regrowth), 0-3
deploys that step other processes' memory up or down for good, page cache
that fills free memory and churns, a dentry cache that swells in a nightly
backup window and is reclaimed, SUnreclaim and page tables with a small
daily cycle, and noise on every bucket.  Daily cycles differ from day to
day (amplitude +-25%, the dentry swell +-40%, timing +-40 minutes).  Hosts
differ in how full they are (30-75% used).  A leak is injected into one
bucket (a process's RssAnon, Shmem, SUnreclaim via kmalloc-256, the dentry
cache as an unbounded reclaimable cache, or the unaccounted gap), linear or
stepwise, at 0.5%/day, 1%/day or 1%/hour of RAM, starting 15-60% (fast:
40-70%) of the way into the evaluated days.  60% of hosts leak; the leaky
hosts take the 30 (bucket, rate, shape) combinations in a shuffled order.

Detectors, each evaluated causally (only data up to the evaluation time):

* memsleuth: ``diagnose`` over the trailing 72 h, run every hour; the hour
  before its first alarm naming the leak is replayed every 5 minutes to
  date it.  An alarm is a LEAK or UNBOUNDED_CACHE finding.
* stock: ``MemAvailable / MemTotal < 0.10`` for 15 minutes (node-mixin).
* predict_linear: ``predict_linear(MemAvailable[6h], 4h) < 0`` for 30 minutes.

Metrics: a leak is detected when, at or after its onset, a finding names
the leaking bucket (``EXPECTED_KEYS``: its subject or a related series);
the stock rules name no bucket and are credited with any alarm after the
onset.  Every other alarm is false: any finding before the onset or on a
leak-free host, and any finding after the onset that does not name the
leak.  False alarms are counted as incidents (a run of consecutive alarming
evaluations is one incident, as an alert that fires and resolves), per 100
evaluated host-days.  Precision = detected leaks / (detected leaks + false
incidents); recall = detected leaks / leaks.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

from memsleuth.analysis.detect import detect
from memsleuth.analysis.findings import GrowthClass
from memsleuth.analysis.series import History, ProcessInfo, Series

GIB = float(1 << 30)
TOTAL = 16 * GIB
STEP = 60.0
HOUR = 3600.0
DAY = 86400.0
WINDOW = 72 * HOUR
#: leak-free history before the evaluated days: the detector runs in steady state (see DETECT.md)
LEAD_DAYS = 3.0
BUCKETS = ("process", "shmem", "sunreclaim", "dentry", "gap")
RATES = {"slow 0.5%/day": 0.005 / DAY, "1%/day": 0.01 / DAY, "fast 1%/h": 0.01 / HOUR}
#: a finding names the leak when its subject or a related series is one of these: the bucket, or the
#: meminfo field / count that is that bucket (not a sum of it and others: AnonPages, Slab)
EXPECTED_KEYS = {
    "process": ("proc.300:3.rss_anon_bytes",), "shmem": ("meminfo.Shmem",),
    "sunreclaim": ("slab.kmalloc-256.size_bytes", "meminfo.SUnreclaim"),
    "dentry": ("slab.dentry.size_bytes", "dentry.nr_dentry"),
    "gap": ("derived.unaccounted_bytes",),
}


@dataclass(frozen=True)
class Host:
    name: str
    t: np.ndarray
    series: dict[str, np.ndarray]
    leak: str | None  # bucket
    rate_name: str | None
    shape: str | None
    onset: float | None  # seconds from start


def _per_day(rng: np.random.Generator, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """A factor drawn per day in [lo, hi], interpolated linearly between day centres."""
    nd = int(t[-1] // DAY) + 2
    knots = rng.uniform(lo, hi, nd)
    return np.interp(t, (np.arange(nd) + 0.5) * DAY, knots)


def make_host(i: int, seed: int, days: float, leak: tuple[str, str, str] | None) -> Host:
    """``LEAD_DAYS`` of leak-free history, then ``days`` evaluated; times count from the lead's start."""
    rng = np.random.default_rng(seed * 1000 + i)
    t = np.arange(0, (LEAD_DAYS + days) * DAY, STEP)
    n = t.size
    phase = rng.uniform(0, 2 * np.pi)
    base_used = rng.uniform(0.30, 0.75) * TOTAL
    # daily cycles differ from day to day: amplitude +-25%, phase +-40 minutes
    jitter = _per_day(rng, t, -40 * 60.0, 40 * 60.0)
    daily = np.sin(2 * np.pi * (t + jitter) / DAY + phase) * _per_day(rng, t, 0.75, 1.25)
    # JVM-like process: daily working set (+-6% of RAM) and a 5-min GC sawtooth (3% of RAM)
    jvm = 0.5 * base_used + 0.06 * TOTAL * daily + 0.03 * TOTAL * ((t + rng.uniform(0, 300)) % 300.0) / 300.0
    jvm += rng.normal(0, 0.002 * TOTAL, n)
    # worker: restarts every 1-3 days, warms back up to its plateau in ~2 h
    worker = np.zeros(n)
    start = 0.0
    level = 0.12 * base_used
    while start < t[-1]:
        end = start + rng.uniform(1, 3) * DAY
        m = (t >= start) & (t < end)
        worker[m] = level * (0.3 + 0.7 * (1 - np.exp(-(t[m] - start) / (2 * HOUR))))
        start = end
    worker += rng.normal(0, 0.001 * TOTAL, n)
    small = 0.02 * TOTAL + rng.normal(0, 0.0005 * TOTAL, n)  # the process leaks go here
    misc_anon = 0.25 * base_used + rng.normal(0, 0.002 * TOTAL, n)
    # deploys and config changes: 0-3 permanent steps of -3%..+3% of RAM in other processes' memory
    for when in rng.uniform(0, t[-1], rng.integers(0, 4)):
        misc_anon = misc_anon + np.where(t >= when, rng.uniform(-0.03, 0.03) * TOTAL, 0.0)
    shmem = 0.02 * TOTAL + rng.normal(0, 0.0003 * TOTAL, n)
    sunreclaim = 0.015 * TOTAL + 0.001 * TOTAL * daily + rng.normal(0, 0.0003 * TOTAL, n)
    kmalloc = 0.002 * TOTAL + rng.normal(0, 0.00005 * TOTAL, n)
    # dentry cache: nightly backup walks fill it, reclaim trims it back over the day
    night = ((t / DAY + rng.uniform(0, 1)) % 1.0)
    swell = np.clip(np.where(night < 0.1, night / 0.1, 1 - (night - 0.1) / 0.4), 0, 1)
    dentry = 0.01 * TOTAL + 0.03 * TOTAL * swell * _per_day(rng, t, 0.6, 1.4)
    dentry += rng.normal(0, 0.0005 * TOTAL, n)
    other_srec = 0.01 * TOTAL + rng.normal(0, 0.0002 * TOTAL, n)
    kstack = 0.002 * TOTAL + rng.normal(0, 0.00002 * TOTAL, n)
    ptables = 0.004 * TOTAL + 0.0005 * TOTAL * daily
    percpu = 0.0005 * TOTAL + np.zeros(n)
    vmalloc = 0.003 * TOTAL + np.zeros(n)
    gap_extra = 0.005 * TOTAL + rng.normal(0, 0.0003 * TOTAL, n)
    leak_b = leak_r = leak_s = None
    onset = None
    if leak is not None:
        leak_b, leak_r, leak_s = leak
        rate = RATES[leak_r] * TOTAL
        late = leak_r == "fast 1%/h"
        onset = LEAD_DAYS * DAY + (rng.uniform(0.4, 0.7) if late else rng.uniform(0.15, 0.6)) * days * DAY
        grow = np.maximum(t - onset, 0.0) * rate
        if leak_s == "stepwise":
            period = 2 * HOUR if leak_r != "fast 1%/h" else 600.0
            grow = np.floor(np.maximum(t - onset, 0.0) / period) * period * rate
        if leak_b == "process":
            small = small + grow
        elif leak_b == "shmem":
            shmem = shmem + grow
        elif leak_b == "sunreclaim":
            sunreclaim, kmalloc = sunreclaim + grow, kmalloc + grow
        elif leak_b == "dentry":
            dentry = dentry + grow
        else:
            gap_extra = gap_extra + grow
    anon = jvm + worker + small + misc_anon
    srec = dentry + other_srec
    slab = srec + sunreclaim
    kernel = kstack + ptables + percpu + vmalloc
    used = anon + shmem + slab + kernel + gap_extra
    # page cache churns between 20% and 60% of what is left, never below 1% free
    left = TOTAL - used
    want = left * (0.4 + 0.2 * np.sin(2 * np.pi * t / (0.37 * DAY) + phase)) + rng.normal(0, 0.002 * TOTAL, n)
    pagecache = np.clip(np.minimum(want, left - 0.01 * TOTAL), 0.0, None)
    free = np.clip(TOTAL - used - pagecache, 0.0, None)
    low_wmark = 0.004 * TOTAL
    available = np.clip(free + pagecache + srec - np.minimum(pagecache / 2, low_wmark)
                        - np.minimum(srec / 2, low_wmark) - low_wmark, 0.0, None)
    s = {
        "meminfo.MemTotal": np.full(n, TOTAL), "meminfo.MemFree": free, "meminfo.MemAvailable": available,
        "meminfo.Buffers": 0.01 * pagecache, "meminfo.Cached": 0.99 * pagecache + shmem,
        "meminfo.SwapCached": np.zeros(n), "meminfo.AnonPages": anon, "meminfo.Shmem": shmem,
        "meminfo.Slab": slab, "meminfo.SReclaimable": srec, "meminfo.SUnreclaim": sunreclaim,
        "meminfo.KReclaimable": srec, "meminfo.KernelStack": kstack, "meminfo.PageTables": ptables,
        "meminfo.Percpu": percpu, "meminfo.VmallocUsed": vmalloc,
        "slab.dentry.size_bytes": dentry, "slab.kmalloc-256.size_bytes": kmalloc,
        "dentry.nr_dentry": dentry / 192.0,
        "proc.100:1.rss_anon_bytes": jvm, "proc.200:2.rss_anon_bytes": worker,
        "proc.300:3.rss_anon_bytes": small,
    }
    s = {k: np.round(v) for k, v in s.items()}
    return Host(f"h{i:03d}", t, s, leak_b, leak_r, leak_s, onset)


PROCS = {
    "100:1": ProcessInfo(pid=100, starttime_ticks=1, comm="java"),
    "200:2": ProcessInfo(pid=200, starttime_ticks=2, comm="worker"),
    "300:3": ProcessInfo(pid=300, starttime_ticks=3, comm="agent"),
}


def memsleuth_alarms(host: Host, at: float) -> list[tuple[str, ...]]:
    """LEAK/UNBOUNDED_CACHE findings from data in (at - WINDOW, at], each as (primary, *related) keys."""
    lo = int(np.searchsorted(host.t, at - WINDOW, side="right"))
    hi = int(np.searchsorted(host.t, at, side="right"))
    times = tuple(host.t[lo:hi].tolist())
    series = {k: Series(key=k, times=times, values=tuple(v[lo:hi].tolist())) for k, v in host.series.items()}
    hist = History(hostname=host.name, kernel_release="6.18", series=series, processes=PROCS,
                   mem_total_bytes=int(TOTAL))
    return [(f.series_key, *f.related) for f in detect(hist)
            if f.growth_class in (GrowthClass.LEAK, GrowthClass.UNBOUNDED_CACHE)]


@dataclass
class Result:
    detector: str
    host: str
    leak: str | None
    rate: str | None
    shape: str | None
    onset: float | None
    #: false-alarm incidents: start times of maximal runs of evaluations with a false alarm
    false_alarms: list[float]
    detect_time: float | None  # first alarm at/after onset (memsleuth: naming the leaking bucket)
    #: keys of the false findings, for the report
    false_keys: tuple[str, ...] = ()


def _names_leak(host: Host, finding: tuple[str, ...]) -> bool:
    return host.leak is not None and any(k in finding for k in EXPECTED_KEYS[host.leak])


def run_memsleuth(host: Host) -> Result:
    """Diagnose every hour of the evaluated days; the hour before the first true alarm is replayed every
    5 minutes to date it.  A finding is true when it names the leaking bucket (as its subject or a
    related series) at or after the onset; every other LEAK/UNBOUNDED_CACHE finding is a false alarm."""
    incidents: list[float] = []
    false_keys: set[str] = set()
    detect = None
    prev_false = False
    at = LEAD_DAYS * DAY + HOUR
    while at <= host.t[-1]:
        found = memsleuth_alarms(host, at)
        after = host.onset is not None and at >= host.onset
        true = [f for f in found if after and _names_leak(host, f)]
        false = [f for f in found if f not in true]
        if true and detect is None:
            first = at
            for back in range(55, 0, -5):
                t2 = at - back * 60.0
                if (host.onset is not None and t2 >= host.onset
                        and any(_names_leak(host, f) for f in memsleuth_alarms(host, t2))):
                    first = t2
                    break
            detect = first
        if false and not prev_false:
            incidents.append(at)
        false_keys.update(f[0] for f in false)
        prev_false = bool(false)
        at += HOUR
    return Result("memsleuth", host.name, host.leak, host.rate_name, host.shape, host.onset, incidents,
                  detect, tuple(sorted(false_keys)))


def _run_rule(host: Host, name: str, cond: np.ndarray, hold_minutes: int) -> Result:
    # alarm when cond holds for hold_minutes consecutive samples (Prometheus "for:"); an incident is
    # a run of firing samples; only the evaluated days count
    k = hold_minutes
    c = np.r_[0, np.cumsum(cond.astype(np.int64))]
    held = np.zeros(cond.size, dtype=bool)
    held[k - 1:] = (c[k:] - c[:-k]) == k
    held &= host.t >= LEAD_DAYS * DAY
    rise = np.flatnonzero(held & ~np.r_[False, held[:-1]])
    times = host.t[rise]
    onset = host.onset
    pre = [float(x) for x in times if onset is None or x < onset]
    post = [float(x) for x in host.t[held] if onset is not None and x >= onset]
    return Result(name, host.name, host.leak, host.rate_name, host.shape, onset, pre,
                  post[0] if post else None)


def run_stock(host: Host) -> list[Result]:
    avail = host.series["meminfo.MemAvailable"]
    stock = _run_rule(host, "stock <10% 15m", avail / TOTAL < 0.10, 15)
    # predict_linear(MemAvailable[6h], 4h) < 0: rolling OLS over 360 one-minute samples
    w = int(6 * HOUR / STEP)
    t, y = host.t, avail
    ct, cy = np.r_[0, np.cumsum(t)], np.r_[0, np.cumsum(y)]
    ctt, cty = np.r_[0, np.cumsum(t * t)], np.r_[0, np.cumsum(t * y)]
    pred = np.full(t.size, np.inf)
    i = np.arange(w - 1, t.size)
    st, sy = ct[i + 1] - ct[i + 1 - w], cy[i + 1] - cy[i + 1 - w]
    stt, sty = ctt[i + 1] - ctt[i + 1 - w], cty[i + 1] - cty[i + 1 - w]
    slope = (w * sty - st * sy) / (w * stt - st * st)
    icpt = (sy - slope * st) / w
    pred[i] = icpt + slope * (t[i] + 4 * HOUR)
    pl = _run_rule(host, "predict_linear 6h/4h", pred < 0, 30)
    return [stock, pl]


def evaluate(args: tuple[int, int, float, tuple[str, str, str] | None]) -> list[Result]:
    i, seed, days, leak = args
    host = make_host(i, seed, days, leak)
    return [run_memsleuth(host), *run_stock(host)]


def plan(hosts: int, seed: int) -> list[tuple[str, str, str] | None]:
    rng = np.random.default_rng(seed)
    leaky = []
    combos = [(b, r, s) for r in RATES for b in BUCKETS for s in ("linear", "stepwise")]
    rng.shuffle(combos)  # type: ignore[arg-type]
    n_leaky = round(hosts * 0.6)
    for k in range(n_leaky):
        leaky.append(combos[k % len(combos)])
    return [*leaky, *([None] * (hosts - n_leaky))]


def _ttd(rs: list[Result], rate: str) -> str:
    d = [(r.detect_time - r.onset) / HOUR for r in rs
         if r.rate == rate and r.detect_time is not None and r.onset is not None]
    tot = sum(1 for r in rs if r.rate == rate)
    if not tot:
        return "-"
    if not d:
        return f"- (0/{tot})"
    med = statistics.median(d)
    return f"{med * 60:.0f} min ({len(d)}/{tot})" if med < 1 else f"{med:.1f} h ({len(d)}/{tot})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--days", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    start = time.perf_counter()
    jobs = [(i, a.seed, a.days, leak) for i, leak in enumerate(plan(a.hosts, a.seed))]
    with multiprocessing.Pool(a.jobs) as pool:
        results = [r for rs in pool.map(evaluate, jobs, chunksize=1) for r in rs]
    elapsed = time.perf_counter() - start
    leaky = [j for j in jobs if j[3] is not None]
    print(f"corpus: {a.hosts} hosts x {a.days:g} evaluated days (after {LEAD_DAYS:g} leak-free days of "
          f"history), seed {a.seed}, {len(leaky)} with a leak; one sample a minute; {elapsed:.0f} s on "
          f"{a.jobs} processes")
    print()
    print("| detector | precision | recall | F1 | median TTD 0.5%/day | median TTD 1%/day | median TTD 1%/h "
          "| false alarms / 100 host-days |")
    print("|---|---|---|---|---|---|---|---|")
    dets = ("memsleuth", "stock <10% 15m", "predict_linear 6h/4h")
    host_days = a.hosts * a.days
    for det in dets:
        rs = [r for r in results if r.detector == det]
        tp = sum(1 for r in rs if r.leak is not None and r.detect_time is not None)
        fn = sum(1 for r in rs if r.leak is not None and r.detect_time is None)
        fa = sum(len(r.false_alarms) for r in rs)
        prec = tp / (tp + fa) if tp + fa else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        print(f"| {det} | {prec:.2f} | {rec:.2f} | {f1:.2f} | {_ttd(rs, 'slow 0.5%/day')} "
              f"| {_ttd(rs, '1%/day')} | {_ttd(rs, 'fast 1%/h')} "
              f"| {100 * fa / host_days:.2f} ({fa} in {host_days:g}) |")
    print()
    print("median time to detect by shape and rate (detected/leaks):")
    print()
    print("| shape | rate | " + " | ".join(dets) + " |")
    print("|---|---|" + "---|" * len(dets))
    for shape in ("linear", "stepwise"):
        for rate in RATES:
            cells = [_ttd([r for r in results if r.detector == d and r.shape == shape], rate) for d in dets]
            print(f"| {shape} | {rate} | " + " | ".join(cells) + " |")
    print()
    print("misses and false alarms (memsleuth):")
    for r in results:
        if r.detector != "memsleuth":
            continue
        if r.leak is not None and r.detect_time is None:
            print(f"  miss  {r.host} {r.leak} {r.rate} {r.shape}")
        if r.false_alarms:
            when = ", ".join(f"{(x - LEAD_DAYS * DAY) / HOUR:.0f} h" for x in r.false_alarms)
            print(f"  false {r.host} leak={r.leak} at {when}: {' '.join(r.false_keys)}")
    # the 30-day performance target
    t = np.arange(0, 30 * DAY, 10.0)
    tt = tuple(t.tolist())
    rng = np.random.default_rng(a.seed)
    big = {f"slab.c{i}.size_bytes": Series(key=f"slab.c{i}.size_bytes", times=tt,
                                           values=tuple((1e8 + rng.normal(0, 1e6, t.size)).tolist()))
           for i in range(200)}
    hist = History(hostname=None, kernel_release=None, series=big, mem_total_bytes=int(TOTAL))
    t0 = time.perf_counter()
    detect(hist)
    print(f"\ndiagnose, 200 series x 30 days of 10 s samples: {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
