"""The fleet result as a value: screened hosts, diagnosed hosts, signature groups, the drain list.

:class:`FleetReport` is what ``memsleuth fleet`` renders; :meth:`FleetReport.to_json` is the
``--json`` document (schema ``memsleuth.fleet/1``, docs/fleet.md) and the dict the terminal view
(``views/fleet.py``, which may not import this layer) renders too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA = "memsleuth.fleet/1"
#: a host with fewer samples than this share of what the range holds has partial coverage
COVERAGE_FULL = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """What Prometheus holds of one host over the range (from MemTotal's samples)."""

    samples: int
    #: samples the range would hold at the fleet's scrape interval
    expected: int
    first: float | None
    last: float | None
    #: seen first well after the range began / last well before it ended
    joined: bool
    left: bool
    #: fewer samples than its own first..last span holds: scrape gaps
    gaps: bool

    @property
    def fraction(self) -> float:
        return min(1.0, self.samples / self.expected) if self.expected else 0.0

    @property
    def partial(self) -> bool:
        return self.joined or self.left or self.gaps or self.fraction < COVERAGE_FULL

    @property
    def note(self) -> str:
        parts = []
        if self.joined and self.first is not None:
            parts.append(f"joined {iso(self.first)}")
        if self.left and self.last is not None:
            parts.append(f"left {iso(self.last)}")
        if self.gaps:
            parts.append("scrape gaps")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "expected": self.expected, "fraction": round(self.fraction, 4),
                "first": self.first, "last": self.last, "joined": self.joined, "left": self.left,
                "gaps": self.gaps, "partial": self.partial, "note": self.note}


@dataclass(frozen=True, slots=True, kw_only=True)
class Screen:
    """One host as the whole-range instant queries see it."""

    instance: str
    group: str
    mem_total_bytes: float | None
    coverage: Coverage
    #: bucket (meminfo field) -> bytes per hour, over the whole range
    rates: Mapping[str, float]
    #: the fastest bucket and its rate as a multiple of the growth judgement's effect-size floor
    top_bucket: str | None
    score: float
    #: bucket -> bytes per hour over the last hours (plan.recent_seconds), and the fastest as a
    #: multiple of the detector's fast-path rate
    recent_rates: Mapping[str, float] = field(default_factory=dict)
    recent_score: float = 0.0

    @property
    def flagged(self) -> bool:
        return self.score >= 1.0 or self.recent_score >= 1.0

    def to_json(self) -> dict[str, Any]:
        return {"instance": self.instance, "group": self.group, "mem_total_bytes": self.mem_total_bytes,
                "top_bucket": self.top_bucket, "score": round(self.score, 3), "flagged": self.flagged,
                "rates_bytes_per_hour": {k: round(v, 1) for k, v in self.rates.items()},
                "recent_score": round(self.recent_score, 3),
                "recent_rates_bytes_per_hour": {k: round(v, 1) for k, v in self.recent_rates.items()},
                "coverage": self.coverage.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosed:
    """One fetched host after ``run_diagnosis``: its top finding, rule, projections."""

    screen: Screen
    #: the raw fetch: step, points, and what the diagnosis judged
    step_s: float
    points: int
    series: int
    #: the longest stretch without a sample in the fetched data (seconds)
    longest_gap_s: float
    findings: int
    #: the top finding (most specific first): subject, series key, class, rates, onset, confidence
    subject: str | None = None
    subject_kind: str | None = None
    series_key: str | None = None
    growth_class: str | None = None
    rate_bytes_per_hour: float | None = None
    rate_per_hour: float | None = None
    unit: str | None = None
    onset: float | None = None
    confidence: float | None = None
    hours_to_80: float | None = None
    hours_to_90: float | None = None
    basis: str | None = None
    #: the soonest 90% of any finding of the host (the drain order)
    soonest_90_hours: float | None = None
    soonest_90_subject: str | None = None
    #: the top matched rule
    rule: str | None = None
    rule_title: str | None = None
    rule_confidence: float | None = None
    slab_caches: tuple[str, ...] = ()
    #: rules the memsleuth exporter itself reported matched (memsleuth_signature_match), if scraped
    exporter_rules: tuple[str, ...] = ()
    insufficient: str | None = None
    summary: str | None = None
    #: the host booted inside the window at this time: judged on what it held since
    rebooted_at: float | None = None

    @property
    def instance(self) -> str:
        return self.screen.instance

    def to_json(self) -> dict[str, Any]:
        s = self.screen
        return {
            "instance": s.instance, "group": s.group, "mem_total_bytes": s.mem_total_bytes,
            "bucket": self.subject, "subject_kind": self.subject_kind, "series_key": self.series_key,
            "class": self.growth_class, "unit": self.unit, "rate_bytes_per_hour": self.rate_bytes_per_hour,
            "rate_per_hour": self.rate_per_hour, "onset": self.onset, "confidence": self.confidence,
            "hours_to_80": self.hours_to_80, "hours_to_90": self.hours_to_90, "basis": self.basis,
            "soonest_90_hours": self.soonest_90_hours, "soonest_90_subject": self.soonest_90_subject,
            "rule": self.rule, "rule_title": self.rule_title, "rule_confidence": self.rule_confidence,
            "slab_caches": list(self.slab_caches), "exporter_rules": list(self.exporter_rules),
            "findings": self.findings, "summary": self.summary, "insufficient": self.insufficient,
            "rebooted_at": self.rebooted_at,
            "screen_score": round(s.score, 3), "screen_bucket": s.top_bucket,
            "fetch": {"step_s": self.step_s, "points": self.points, "series": self.series,
                      "longest_gap_s": self.longest_gap_s},
            "coverage": s.coverage.to_json(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Hosts of one --group-by value with the same signature: rule, else bucket and class."""

    group: str
    key: str
    what: str
    growth_class: str | None
    hosts: tuple[str, ...]
    median_rate_bytes_per_hour: float | None

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "key": self.key, "what": self.what, "class": self.growth_class,
                "count": len(self.hosts), "hosts": list(self.hosts),
                "median_rate_bytes_per_hour": self.median_rate_bytes_per_hour}


@dataclass(frozen=True, slots=True, kw_only=True)
class Drain:
    instance: str
    group: str
    hours: float
    at: float
    subject: str | None

    def to_json(self) -> dict[str, Any]:
        return {"instance": self.instance, "group": self.group, "hours_to_90": self.hours, "at": self.at,
                "at_iso": iso(self.at), "subject": self.subject}


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetReport:
    prometheus: str
    match: str
    range_s: float
    start: float
    end: float
    group_by: str | None
    top: int
    interval_s: float
    step_s: float
    max_samples: int
    batches: int
    queries: int
    screened: tuple[Screen, ...]
    #: the fetched hosts with a finding, most urgent first
    diagnosed: tuple[Diagnosed, ...]
    #: fetched hosts the diagnosis found nothing in (the screen's false alarms)
    cleared: tuple[Diagnosed, ...]
    groups: tuple[Group, ...]
    drain: tuple[Drain, ...]
    timings: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def flagged(self) -> tuple[Screen, ...]:
        return tuple(s for s in self.screened if s.flagged)

    @property
    def partial(self) -> tuple[Screen, ...]:
        return tuple(s for s in self.screened if s.coverage.partial)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "prometheus": self.prometheus,
            "match": self.match,
            "window": {"start": self.start, "end": self.end, "seconds": self.range_s,
                       "start_iso": iso(self.start), "end_iso": iso(self.end)},
            "group_by": self.group_by,
            "top": self.top,
            "queries": {"scrape_interval_s": self.interval_s, "step_s": self.step_s,
                        "max_samples": self.max_samples, "batches": self.batches, "count": self.queries},
            "hosts_total": len(self.screened),
            "hosts_flagged": len(self.flagged),
            "hosts_fetched": len(self.diagnosed) + len(self.cleared),
            "hosts": [d.to_json() for d in self.diagnosed],
            "cleared": [d.to_json() for d in self.cleared],
            "groups": [g.to_json() for g in self.groups],
            "drain": [d.to_json() for d in self.drain],
            "partial_coverage": [{"instance": s.instance, "group": s.group, **s.coverage.to_json()}
                                 for s in self.partial],
            "screened": [s.to_json() for s in sorted(self.screened, key=lambda s: -s.score)],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": list(self.notes),
        }


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["COVERAGE_FULL", "SCHEMA", "Coverage", "Diagnosed", "Drain", "FleetReport", "Group", "Screen",
           "iso"]
