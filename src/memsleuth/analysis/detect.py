"""The detector: judge every bucket of a History and turn what grows into findings.

:func:`detect` judges each subject's series (:mod:`.subjects`: meminfo,
slab caches, dentry/inode/sockstat counts, cgroup memory.stat, processes, and
the derived unaccounted gap) with the one growth judgement
(:func:`.growth.assess`), groups series that move together under the most
specific one (:func:`.subjects.covers`), and projects the time to 80%, 90% and
OOM (:mod:`.projection`).  How a finding reads is the views' job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from memsleuth.analysis.derived import GAP_KEY, derived
from memsleuth.analysis.findings import Assessment, Finding, GrowthClass
from memsleuth.analysis.growth import (
    HOUR,
    MIN_SAMPLES,
    MIN_SPAN_SECONDS,
    AssessContext,
    as_array,
    assess_arrays,
)
from memsleuth.analysis.projection import mem_total, projections_for
from memsleuth.analysis.series import History, Series
from memsleuth.analysis.subjects import Subject, candidate_keys, covers, object_bytes, subject, traits
from memsleuth.analysis.trend import FloatArray
from memsleuth.keys import PROC, ProcessKey, parse_key

#: BOUNDED findings are reported only when they grew by this fraction of MemTotal
BOUNDED_REPORT_FRACTION = 0.01

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


_CLASS_ORDER = {
    GrowthClass.LEAK: 0, GrowthClass.UNBOUNDED_CACHE: 0, GrowthClass.BOUNDED: 1, GrowthClass.NORMAL: 2,
}


def judged_keys(history: History) -> frozenset[str]:
    """The series :func:`detect` judges: a key here with no finding was judged normal.

    A series needs a subject and :data:`MIN_SAMPLES` samples over
    :data:`MIN_SPAN_SECONDS`; others (too short, or not a subject) are not
    judged, and a caller may test them its own way.
    """
    out = set()
    for key in candidate_keys(history):
        s = history.series[key]
        if (len(s.times) >= MIN_SAMPLES and s.times[-1] - s.times[0] >= MIN_SPAN_SECONDS
                and subject(key, history) is not None):
            out.add(key)
    gap = derived(history, GAP_KEY)
    if gap is not None and len(gap.times) >= MIN_SAMPLES and gap.times[-1] - gap.times[0] >= MIN_SPAN_SECONDS:
        out.add(GAP_KEY)
    return frozenset(out)


def detect(history: History, *, now: float | None = None) -> list[Finding]:
    """Findings for every bucket that grows, most specific subject first, by rate.

    ``now`` (Unix s): samples after it are ignored, and projections count
    from it; default the last sample.  LEAK and UNBOUNDED_CACHE are always
    reported; BOUNDED only when it grew by :data:`BOUNDED_REPORT_FRACTION` of
    MemTotal (a high-water mark worth knowing).  Page-cache fields and event
    counters are never subjects of their own.
    """
    if now is not None:
        history = _until(history, now)
    total = mem_total(history)
    mem_total_int = int(total) if total else None
    drops = _increments(history, "vmstat.drop_slab")
    series: dict[str, Series] = {}
    subjects: dict[str, Subject] = {}
    for key in candidate_keys(history):
        sub = subject(key, history)
        if sub is not None:
            series[key], subjects[key] = history.series[key], sub
    gap = derived(history, GAP_KEY)
    if gap is not None:
        gap_subject = subject(GAP_KEY, history)
        assert gap_subject is not None
        series[GAP_KEY], subjects[GAP_KEY] = gap, gap_subject
    assessed: dict[str, Assessment] = {}
    times_cache: dict[int, FloatArray] = {}  # series from one snapshot stream often share their times
    for key, s in series.items():
        ctx = context_for(key, subjects[key], mem_total_bytes=mem_total_int, drop_slab_times=drops)
        tarr = times_cache.get(id(s.times))
        if tarr is None:
            tarr = times_cache[id(s.times)] = as_array(s.times)
        a = assess_arrays(key, tarr, as_array(s.values), context=ctx)
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
            if not covers(sub, osub, history):
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


def _is_rss_anon(key: str) -> bool:
    k = parse_key(key) if key.startswith(PROC) else None
    return isinstance(k, ProcessKey) and k.field == "rss_anon_bytes"


#: anon sums whose growth the tracked processes' RssAnon may explain
_ANON_EXPLAINED_BY_PROCESSES = ("meminfo.AnonPages",)


def anon_residual(history: History, key: str = "meminfo.AnonPages") -> Series | None:
    """``key`` minus the sum of every process's RssAnon at each of its times: the anonymous memory
    the per-process series do not explain (processes not sampled, shared COW pages counted twice).
    None without process series."""
    base = history.get(key)
    procs = [s for k, s in history.series.items() if _is_rss_anon(k)]
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
    if any(_is_rss_anon(k) for k in assessed):
        return  # a process grows: it explains the sum, which stays as its related series
    for key in _ANON_EXPLAINED_BY_PROCESSES:
        a = assessed.get(key)
        if a is None or a.growth_class is GrowthClass.NORMAL:
            continue
        rest = anon_residual(history, key)
        if rest is None:
            continue
        r = assess_arrays(rest.key, as_array(rest.times), as_array(rest.values),
                          context=AssessContext(mem_total_bytes=mem_total))
        if r.growth_class is GrowthClass.NORMAL:
            del assessed[key]


def _reclassify_by_comovement(assessed: dict[str, Assessment], subjects: dict[str, Subject]) -> None:
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
            subjects[key] = Subject(key=key, kind=sub.kind, name=sub.name, unit=sub.unit, rank=sub.rank,
                                         reclaimable=True)


def _replace_class(a: Assessment, cls: GrowthClass) -> Assessment:
    return dataclasses.replace(a, growth_class=cls)


def context_for(key: str, sub: Subject | None, *, mem_total_bytes: int | None,
                drop_slab_times: tuple[float, ...] = ()) -> AssessContext:
    """What the growth judgement is told about a series: its unit, whether the kernel can reclaim
    it (and when someone dropped caches), the effect-size floor's reference.  ``key`` names a
    series that is not a subject (a derived sum, slab object counts): its unit and reclaim come from
    the key (:func:`.subjects.traits`)."""
    unit, reclaimable = (sub.unit, sub.reclaimable) if sub is not None else traits(key)
    return AssessContext(mem_total_bytes=mem_total_bytes, unit=unit, reclaimable=reclaimable,
                         drop_slab_times=drop_slab_times if reclaimable else (),
                         object_bytes=object_bytes(key))


def judge(history: History, key: str) -> Assessment:
    """The growth judgement of one series of ``history`` (derived ones included), in the context
    :func:`detect` gives it: for a caller that asks about one series (the rule matcher, fleet)."""
    s = history.get(key) or derived(history, key)
    if s is None:
        raise KeyError(key)
    total = mem_total(history)
    ctx = context_for(key, subject(key, history), mem_total_bytes=int(total) if total else None,
                      drop_slab_times=_increments(history, "vmstat.drop_slab"))
    return assess_arrays(key, as_array(s.times), as_array(s.values), context=ctx)


def _until(history: History, now: float) -> History:
    if history.end is None or history.end <= now:
        return history
    cut: dict[str, Series] = {}
    for k, s in history.series.items():
        i = int(np.searchsorted(np.asarray(s.times), now, side="right"))
        if i:
            cut[k] = Series(key=k, times=s.times[:i], values=s.values[:i])
    return dataclasses.replace(history, series=cut)


def _finding(history: History, sub: Subject, a: Assessment, s: Series, related: list[str],
             reclaim: Mapping[str, float | None], total: float | None, now: float | None) -> Finding:
    evidence: dict[str, float | str | None] = {
        "first": a.first_value, "last": a.last_value, "p_value": a.trend_p_value, "samples": float(len(s)),
        "span_hours": s.span_seconds / HOUR, "slope_low_per_hour": a.slope_low_per_hour,
        "slope_high_per_hour": a.slope_high_per_hour, "floor_rising": "yes" if a.floor_rising else "no",
    }
    if sub.reclaimable or a.growth_class is GrowthClass.UNBOUNDED_CACHE:
        evidence.update(reclaim)
    is_bytes = sub.unit == "bytes"
    return Finding(
        subject_kind=sub.kind, subject=sub.name, series_key=sub.key, growth_class=a.growth_class,
        rate_bytes_per_hour=a.slope_per_hour if is_bytes else None, rate_per_hour=a.slope_per_hour,
        unit=sub.unit, onset=a.onset, confidence=a.confidence, evidence=evidence,
        projections=projections_for(history, a, unit=sub.unit, total=total, now=now), related=tuple(related),
    )


__all__ = ["BOUNDED_REPORT_FRACTION", "anon_residual", "context_for", "detect", "judge", "judged_keys",
           "reclaim_evidence"]
