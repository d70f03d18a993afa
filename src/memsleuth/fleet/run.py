"""``fleet``: screen every host with whole-range instant queries, diagnose the top ones from raw series.

1. *Discover* the hosts (``/api/v1/series`` of MemTotal in the window: the index, no samples)
   and the scrape interval (samples of the last hour).
2. *Screen*: per batch (:func:`.plan.plan_batches`), one instant query per bucket and kind
   (:func:`.plan.rank_queries`); a host is flagged when a bucket grows faster than the growth
   judgement's effect-size floor (:data:`memsleuth.analysis.growth.REL_RATE_FLOOR_PER_HOUR` of
   MemTotal per hour).  This only picks whom to fetch.
3. *Diagnose* the ``top`` flagged hosts: one range query each (step from :func:`.plan.choose_step`),
   a :class:`~memsleuth.analysis.series.History` per host, and the same
   :func:`~memsleuth.knowledge.report.run_diagnosis` as ``diagnose``.
4. *Summarise*: hosts by urgency, groups of the same signature within each group, the drain list.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from memsleuth.analysis.growth import FAST_RATE_FACTOR, REL_RATE_FLOOR_PER_HOUR
from memsleuth.analysis.series import History, Series, trim
from memsleuth.errors import FleetError, PrometheusTooManySamples
from memsleuth.fleet.client import PromClient
from memsleuth.fleet.model import Coverage, Diagnosed, Drain, FleetReport, Group, Screen
from memsleuth.fleet.plan import (
    BOOT_TIME,
    INSTANCE,
    MEMTOTAL,
    Batch,
    RankQuery,
    choose_step,
    fetch_selector,
    fetch_selectors,
    hosts_per_batch,
    join,
    plan_batches,
    quote,
    rank_queries,
    selector,
)
from memsleuth.knowledge.loader import RuleSet
from memsleuth.knowledge.report import (
    DiagnosisOptions,
    DiagnosisReport,
    DiagnosisSource,
    insufficient_reason,
    run_diagnosis,
)
from memsleuth.metrics import node_series_key, series_key

#: what the caller is told while queries run: (phase, done, total)
Progress = Callable[[str, int, int], None]
#: requests in flight at once (the server evaluates them in parallel; 2 cores here)
PARALLEL = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetRequest:
    inner: str
    match: str
    range_s: float
    end: float
    group_by: str | None = None
    top: int = 20
    max_samples: int = 50_000_000
    #: instances diagnosed whatever the screen says (``--host``)
    hosts: tuple[str, ...] = ()


def run_fleet(client: PromClient, req: FleetRequest, rules: RuleSet, *,
              progress: Progress | None = None) -> FleetReport:
    """The whole fleet run against ``client`` (see the module docstring)."""
    tell = progress or (lambda phase, done, total: None)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    start = req.end - req.range_s
    tell("discovering hosts", 0, 1)
    hosts = discover(client, req.inner, start=start, end=req.end)
    interval = scrape_interval(client, req.inner, req.end, req.range_s)
    timings["discover"] = time.monotonic() - t0
    per_batch = hosts_per_batch(req.range_s, interval, req.max_samples)
    batches = plan_batches(hosts, inner=req.inner, group_by=req.group_by, per_batch=per_batch)
    t1 = time.monotonic()
    screened = screen(client, batches, hosts, req, interval, tell)
    timings["screen"] = time.monotonic() - t1
    # the whole-range rates first; hosts flagged by the last hours' slope alone after them
    flagged = sorted((s for s in screened if s.flagged),
                     key=lambda s: (0, -s.score) if s.score >= 1 else (1, -s.recent_score))
    chosen = flagged[:req.top]
    by_name = {s.instance: s for s in screened}
    unknown = [h for h in req.hosts if h not in by_name]
    if unknown:
        raise FleetError(f"--host {', '.join(unknown)}: no such instance among the {len(by_name)} hosts "
                         "matched")
    chosen += [by_name[h] for h in dict.fromkeys(req.hosts) if by_name[h] not in chosen]
    step = choose_step(req.range_s, interval)
    t2 = time.monotonic()
    done: list[Diagnosed] = []
    for i, (scr, hist, signed, boot) in enumerate(_fetch_all(client, chosen, req, step)):
        tell("diagnosing the top hosts", i, len(chosen))
        done.append(diagnose_host(scr, hist, rules, reference=req.end, step=step, exporter_rules=signed,
                                  rebooted=boot))
    tell("diagnosing the top hosts", len(chosen), len(chosen))
    timings["fetch_and_diagnose"] = time.monotonic() - t2
    found = tuple(sorted((d for d in done if d.findings), key=_urgency))
    cleared = tuple(d for d in done if not d.findings)
    timings["total"] = time.monotonic() - t0
    notes = []
    rest = flagged[req.top:]
    if rest:
        recent_only = sum(1 for s in rest if s.score < 1)
        why = (f", {recent_only} of them only by the last hours' slope (often a daily cycle's upswing)"
               if recent_only else "")
        notes.append(f"{len(rest)} more flagged hosts were not fetched (--top {req.top}){why}")
    return FleetReport(
        prometheus=client.shown, match=req.match, range_s=req.range_s, start=start, end=req.end,
        group_by=req.group_by, top=req.top, interval_s=interval, step_s=step, max_samples=req.max_samples,
        batches=len(batches), queries=client.requests, screened=tuple(screened), diagnosed=found,
        cleared=cleared, groups=groups_of(found), drain=drain_of(found, req.end), timings=timings,
        notes=tuple(notes))


# -- 1. discover ----------------------------------------------------------------------------
def discover(client: PromClient, inner: str, *, start: float, end: float) -> dict[str, dict[str, str]]:
    """instance -> labels of every host with a MemTotal series in the window."""
    found = client.series([selector(MEMTOTAL, inner)], start=start, end=end)
    hosts: dict[str, dict[str, str]] = {}
    for labels in found:
        inst = labels.get(INSTANCE)
        if inst is not None:
            hosts.setdefault(inst, labels)
    if not hosts:
        raise FleetError(f"{client.shown}: no {selector(MEMTOTAL, inner)} series in the range: is "
                         "node_exporter's meminfo collector scraped, and does --match select it?")
    return hosts


def scrape_interval(client: PromClient, inner: str, end: float, range_s: float) -> float:
    """The fleet's scrape interval: an hour over the median host's sample count in its last hour."""
    for at in (end, end - range_s / 2):
        got = client.query(f"count_over_time({selector(MEMTOTAL, inner)}[1h])", time=at)
        counts = sorted(float(r["value"][1]) for r in got)
        if counts:
            return 3600.0 / max(1.0, statistics.median(counts))
    return 60.0


# -- 2. screen --------------------------------------------------------------------------------
def screen(client: PromClient, batches: Sequence[Batch], hosts: Mapping[str, Mapping[str, str]],
           req: FleetRequest, interval: float, tell: Progress) -> list[Screen]:
    queries = rank_queries(req.range_s)
    jobs = [(b, q) for b in batches for q in queries]
    values: dict[tuple[str, str, str], float] = {}

    def one(job: tuple[Batch, RankQuery]) -> tuple[RankQuery, list[dict[str, Any]]]:
        b, q = job
        return q, client.query(q.promql(b.inner, req.range_s), time=req.end)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for i, (q, result) in enumerate(pool.map(one, jobs)):
            tell("screening", i + 1, len(jobs))
            for r in result:
                inst = r.get("metric", {}).get(INSTANCE)
                if inst is not None:
                    values[(inst, q.name, q.kind)] = float(r["value"][1])
    expected = max(1, round(req.range_s / interval))
    out = []
    for inst, labels in sorted(hosts.items()):
        total = values.get((inst, "mem_total", "mem_total"))
        counts = [int(values.get((inst, q.name, "chunk"), 0)) for q in queries if q.kind == "chunk"]
        cov = coverage(counts, expected, start=req.end - req.range_s, end=req.end, interval=interval)
        rates: dict[str, float] = {}
        recent: dict[str, float] = {}
        for q in queries:
            if q.kind not in ("daydiff", "deriv", "recent"):
                continue
            bucket = (node_series_key(q.metric) or q.metric).removeprefix("meminfo.")
            if q.kind == "recent":
                if (inst, q.name, "recent") in values:
                    recent[bucket] = values[(inst, q.name, "recent")]
            elif q.kind == "daydiff" and (inst, q.name, "daydiff") in values:
                rates[bucket] = values[(inst, q.name, "daydiff")]
            elif bucket not in rates and (inst, q.name, "deriv") in values:
                rates[bucket] = values[(inst, q.name, "deriv")]
        floor = REL_RATE_FLOOR_PER_HOUR * total if total else None
        top = max(rates, key=lambda k: rates[k]) if rates else None
        score = rates[top] / floor if top is not None and floor else 0.0
        fresh = max(recent, key=lambda k: recent[k]) if recent else None
        recent_score = recent[fresh] / (FAST_RATE_FACTOR * floor) if fresh is not None and floor else 0.0
        out.append(Screen(instance=inst, group=labels.get(req.group_by, "") if req.group_by else "",
                          mem_total_bytes=total, coverage=cov, rates=rates, top_bucket=top, score=score,
                          recent_rates=recent, recent_score=recent_score))
    return out


def coverage(counts: Sequence[int], expected: int, *, start: float, end: float, interval: float) -> Coverage:
    """A host's coverage of the range from its sample counts in equal parts of it (newest first):
    first and last seen are estimated from the oldest and newest part with samples (as if its
    samples there were contiguous); joined/left when they are more than a few scrape intervals
    (and 10 minutes) inside the range; gaps when its own span holds fewer samples."""
    samples = sum(counts)
    part = (end - start) / max(1, len(counts))
    first = last = None
    with_data = [i for i, c in enumerate(counts) if c > 0]
    if with_data:
        newest, oldest = with_data[0], with_data[-1]
        last = min(end, end - newest * part - part + counts[newest] * interval)
        first = max(start, end - oldest * part - counts[oldest] * interval)
        if newest == 0 and counts[0] >= part / interval - 1:
            last = end
        if oldest == len(counts) - 1 and counts[oldest] >= part / interval - 1:
            first = start
    slack = max(10 * 60.0, 5 * interval)
    joined = first is not None and first > start + slack
    left = last is not None and last < end - slack
    full = part / interval
    # a part between the first and the last seen (or a whole edge part) that lacks samples
    inner = [c for i, c in enumerate(counts) if with_data and with_data[-1] > i > with_data[0]]
    edges = [counts[i] for i in {with_data[0], with_data[-1]}] if with_data else []
    gaps = any(c < full - 3 for c in inner) or (not joined and not left and any(c < full - 3 for c in edges))
    return Coverage(samples=samples, expected=expected, first=first, last=last, joined=joined, left=left,
                    gaps=gaps)


# -- 3. fetch and diagnose -------------------------------------------------------------------
def _fetch_all(client: PromClient, chosen: Sequence[Screen], req: FleetRequest,
               step: float) -> Iterable[tuple[Screen, History, tuple[str, ...], float | None]]:
    def one(scr: Screen) -> tuple[Screen, History, tuple[str, ...], float | None]:
        inner = join(req.inner, f"{req.group_by}={quote(scr.group)}") if req.group_by else req.inner
        start = req.end - req.range_s
        if scr.coverage.first is not None:  # a host that joined: from its first sample
            start = max(start, scr.coverage.first - step)
        try:
            result = client.query_range(fetch_selector(inner, scr.instance), start=start, end=req.end,
                                        step=step)
        except PrometheusTooManySamples:
            # every family of the host at once is over the server's limit: one family at a time
            result = [r for sel in fetch_selectors(inner, scr.instance)
                      for r in client.query_range(sel, start=start, end=req.end, step=step)]
        return (scr, *history_of(scr.instance, result, source=f"prometheus {client.shown}"))

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        yield from pool.map(one, chosen)


def history_of(instance: str, result: Sequence[Mapping[str, Any]], *,
               source: str) -> tuple[History, tuple[str, ...], float | None]:
    """A :class:`History` from a range query's matrix, each series under the key
    :func:`memsleuth.metrics.series_key` gives it (the longest one if two map to a key), and the
    rules the memsleuth exporter reported matched (``memsleuth_signature_match``), and the host's
    last boot inside the window (:func:`last_boot`)."""
    series: dict[str, Series] = {}
    rules: list[str] = []
    boots: list[tuple[float, float]] = []
    for r in result:
        labels = dict(r.get("metric", {}))
        name = labels.pop("__name__", "")
        values = r.get("values") or []
        if name == BOOT_TIME:
            boots += [(float(t), float(v)) for t, v in values]
            continue
        if name == "memsleuth_signature_match":
            if values and float(values[-1][1]) >= 1:
                rules.append(labels.get("rule", ""))
            continue
        key = series_key(name, labels)
        if key is None or not values:
            continue
        s = Series(key=key, times=tuple(float(t) for t, _ in values),
                   values=tuple(float(v) for _, v in values))
        if key not in series or len(s) > len(series[key]):
            series[key] = s
    total = series.get("meminfo.MemTotal")
    history = History(hostname=instance, kernel_release=None, series=series,
                      mem_total_bytes=int(total.values[-1]) if total is not None and len(total) else None,
                      source=f"{source} instance={instance}")
    return history, tuple(sorted(set(rules))), last_boot(boots, history.start)


def last_boot(boots: Sequence[tuple[float, float]], first: float | None) -> float | None:
    """The boot time of the host's last boot inside the fetched window (node_boot_time_seconds
    changed), else ``None``: memory starts over at a boot, so the host is judged since then."""
    if first is None or not boots:
        return None
    boots = sorted(boots)
    latest = boots[-1][1]
    changed = any(abs(v - latest) > 60 for _, v in boots)
    return latest if changed and latest > first else None


def _longest_gap(history: History, step: float) -> tuple[int, float]:
    s = history.get("meminfo.MemTotal") or next(iter(history.series.values()), None)
    if s is None or len(s) < 2:
        return (len(s) if s is not None else 0), 0.0
    gaps = [b - a for a, b in zip(s.times, s.times[1:], strict=False)]
    longest = max(gaps)
    return len(s), longest if longest > 1.5 * step else 0.0


def diagnose_host(scr: Screen, history: History, rules: RuleSet, *, reference: float, step: float,
                  exporter_rules: tuple[str, ...] = (), rebooted: float | None = None) -> Diagnosed:
    """``run_diagnosis`` on one host's fetched history, summarised; a host that ``rebooted`` inside
    the window is judged on what it has held since (its memory started over), when that is enough
    for a trend."""
    points, gap = _longest_gap(history, step)
    if rebooted is not None:
        since = trim(history, start=rebooted)
        if insufficient_reason(since) is None:
            history = since
        else:
            rebooted = None
    report = run_diagnosis(DiagnosisSource(history=history, kind="prometheus", reference=reference),
                           DiagnosisOptions(rules=rules))
    base: dict[str, Any] = {"rebooted_at": rebooted, "screen": scr, "step_s": step, "points": points,
                            "series": len(history.series), "longest_gap_s": gap,
                            "findings": len(report.findings), "exporter_rules": exporter_rules,
                            "insufficient": report.insufficient}
    return Diagnosed(**base, **_top(report))


def _top(report: DiagnosisReport) -> dict[str, Any]:
    from memsleuth.analysis.findings import describe

    if not report.findings:
        return {}
    f = report.findings[0]
    proj = {p.threshold: p for p in f.projections}
    soonest = min(((p.hours, g.subject) for g in report.findings for p in g.projections
                   if p.threshold == "90%" and p.hours is not None), default=None)
    out: dict[str, Any] = {
        "subject": f.subject, "subject_kind": f.subject_kind, "series_key": f.series_key,
        "growth_class": f.growth_class.value, "rate_bytes_per_hour": f.rate_bytes_per_hour,
        "rate_per_hour": f.rate_per_hour, "unit": f.unit, "onset": f.onset, "confidence": f.confidence,
        "hours_to_80": proj["80%"].hours if "80%" in proj else None,
        "hours_to_90": proj["90%"].hours if "90%" in proj else None,
        "basis": proj["90%"].basis if "90%" in proj else None,
        "soonest_90_hours": soonest[0] if soonest else None,
        "soonest_90_subject": soonest[1] if soonest else None, "summary": describe(f),
    }
    if report.diagnoses:
        d = report.diagnoses[0]
        out.update(rule=d.rule.id, rule_title=d.rule.title, rule_confidence=d.confidence,
                   slab_caches=tuple(s.cache for s in d.attribution.slab))
    if f.subject_kind == "slab" and not out.get("slab_caches"):
        out["slab_caches"] = (f.subject.removeprefix("slab cache "),)
    return out


# -- 4. summarise --------------------------------------------------------------------------------
def _urgency(d: Diagnosed) -> tuple[float, float]:
    total = d.screen.mem_total_bytes or 1.0
    hours = d.soonest_90_hours if d.soonest_90_hours is not None else float("inf")
    return hours, -((d.rate_bytes_per_hour or 0.0) / total)


def signature(d: Diagnosed) -> tuple[str, str]:
    """(key, words) of a host's signature: its top rule, else its growing bucket and class."""
    cache = f" (slab cache {', '.join(d.slab_caches)})" if d.slab_caches else ""
    if d.rule is not None:
        return f"rule:{d.rule}", (d.rule_title or d.rule) + cache
    what = d.subject or "?"
    return f"bucket:{d.series_key}:{d.growth_class}", f"{what} ({(d.growth_class or '').replace('_', ' ')})"


def groups_of(found: Sequence[Diagnosed]) -> tuple[Group, ...]:
    buckets: dict[tuple[str, str], list[Diagnosed]] = {}
    words: dict[tuple[str, str], str] = {}
    for d in found:
        key, what = signature(d)
        buckets.setdefault((d.screen.group, key), []).append(d)
        words[(d.screen.group, key)] = what
    out = []
    for (group, key), members in buckets.items():
        rates = [d.rate_bytes_per_hour for d in members if d.rate_bytes_per_hour is not None]
        out.append(Group(group=group, key=key, what=words[(group, key)], growth_class=members[0].growth_class,
                         hosts=tuple(d.instance for d in members),
                         median_rate_bytes_per_hour=statistics.median(rates) if rates else None))
    out.sort(key=lambda g: (-len(g.hosts), g.group, g.key))
    return tuple(out)


def drain_of(found: Sequence[Diagnosed], end: float) -> tuple[Drain, ...]:
    """Hosts that cross 90% (legacy used for a reclaimable cache, used otherwise), soonest first."""
    out = [Drain(instance=d.instance, group=d.screen.group, hours=d.soonest_90_hours,
                 at=end + d.soonest_90_hours * 3600.0, subject=d.soonest_90_subject)
           for d in found if d.soonest_90_hours is not None]
    out.sort(key=lambda x: (x.hours, x.instance))
    return tuple(out)


__all__ = ["PARALLEL", "FleetRequest", "Progress", "coverage", "diagnose_host", "discover", "drain_of",
           "groups_of", "history_of", "run_fleet", "scrape_interval", "screen", "signature"]
