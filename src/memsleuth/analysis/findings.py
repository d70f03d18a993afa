"""The detector's output model: per-series assessments and findings.

:func:`memsleuth.analysis.detect.assess` turns one :class:`~.series.Series`
into an :class:`Assessment`; :func:`memsleuth.analysis.detect.detect`
turns a :class:`~.series.History` into :class:`Finding` objects, which the
knowledge layer (signatures) and every renderer (terminal, JSON, HTML,
exporter) consume, with :class:`Coverage` (what the findings were judged
on) and their JSON form (part of ``memsleuth.diagnose/1``, docs/json.md).
No judgement lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from memsleuth.analysis.series import History, ProcessInfo
from memsleuth.keys import process_identity
from memsleuth.units import human_bytes


class GrowthClass(str, Enum):
    """How a growing series behaves (DESIGN.md section 5)."""

    #: grows without bound and is not given back under pressure
    LEAK = "leak"
    #: grows without bound but the kernel could reclaim it (the founding case)
    UNBOUNDED_CACHE = "unbounded_cache"
    #: grew, then levelled off: a high-water mark or a configured size
    BOUNDED = "bounded"
    #: no sustained growth (noise, churn, sawtooth with a flat floor)
    NORMAL = "normal"


@dataclass(frozen=True, slots=True, kw_only=True)
class Projection:
    """Hours until a threshold is crossed at the current slope, with a range."""

    threshold: str  # "80%", "90%", "oom"
    hours: float | None  # None: not on the current trend (flat or shrinking)
    hours_low: float | None = None  # at the upper slope bound (sooner)
    hours_high: float | None = None  # at the lower slope bound (later); None = never
    #: what is projected: "used" = MemTotal - MemAvailable (what procps-ng 4 and
    #: node-mixin see), "legacy_used" = MemTotal - MemFree (what CentOS 6 `free` sees)
    basis: str = "used"


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    """What the trend tests say about one series."""

    key: str
    growth_class: GrowthClass
    #: robust slope in the series' unit per hour (Theil-Sen), with its range
    slope_per_hour: float
    slope_low_per_hour: float
    slope_high_per_hour: float
    #: trend test p-value, corrected for autocorrelation; small = real trend
    trend_p_value: float
    #: Unix time the growth began (change point), or None if it spans the window
    onset: float | None
    #: whether the running minimum rises too (rules out sawtooth / churn)
    floor_rising: bool
    confidence: float  # 0..1
    first_value: float
    last_value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing that grows, named, explained and projected."""

    #: "meminfo" | "slab" | "dentry" | "process" | "cgroup" | "gap" | "sockstat" ...
    subject_kind: str
    #: human name: "SReclaimable", "slab cache dentry", "nginx (pid 1234)", "/system.slice/x"
    subject: str
    series_key: str
    growth_class: GrowthClass
    rate_bytes_per_hour: float | None  # None for counts (see rate_per_hour)
    rate_per_hour: float
    unit: str  # "bytes" | "count"
    onset: float | None
    confidence: float
    #: the numbers behind it: {"first": .., "last": .., "p_value": .., "samples": ..}
    evidence: Mapping[str, float | str | None] = field(default_factory=dict)
    projections: tuple[Projection, ...] = ()
    #: other series that move with it (e.g. SReclaimable for slab.dentry)
    related: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    """What a diagnosis read: the window, how many samples and series, and from where."""

    source: str
    #: "store", "roots", "watch" or "prometheus"
    kind: str
    start: float | None
    end: float | None
    samples: int
    series: int
    #: the time "ago" is measured from: now (store, watch) or the last sample (roots)
    reference: float
    reference_is_now: bool

    @property
    def seconds(self) -> float | None:
        return self.end - self.start if self.start is not None and self.end is not None else None


_VERB = {
    GrowthClass.LEAK: "grows without levelling off and is not given back",
    GrowthClass.UNBOUNDED_CACHE: "grows without bound; the kernel could reclaim it, "
                                 "so MemAvailable hides it but legacy 'used' does not",
    GrowthClass.BOUNDED: "grew, then levelled off",
    GrowthClass.NORMAL: "does not grow",
}


def describe(f: Finding) -> str:
    """One sentence for the SRE: what grows, how, how fast (the terminal view and the JSON
    ``summary`` both print it)."""
    rate = (human_bytes(f.rate_per_hour) + "/h" if f.unit == "bytes" else f"{f.rate_per_hour:.3g}/h")
    p = f.evidence.get("p_value")
    test = f", p={p:.1g}" if isinstance(p, float | int) else ""
    return f"{f.subject} {_VERB[f.growth_class]} ({rate}{test})."


def process_of(f: Finding, processes: Mapping[str, ProcessInfo]) -> ProcessInfo | None:
    """The process a ``proc.<pid>:<starttime>.*`` finding is about, if known."""
    identity = process_identity(f.series_key)
    return processes.get(identity) if identity is not None else None


# -- JSON (memsleuth.diagnose/1) ------------------------------------------------------
def process_json(p: ProcessInfo) -> dict[str, Any]:
    return {"pid": p.pid, "starttime_ticks": p.starttime_ticks, "comm": p.comm,
            "cmdline": p.cmdline, "ppid": p.ppid, "uid": p.uid, "cgroup": p.cgroup}


def projection_json(p: Projection) -> dict[str, Any]:
    return {"threshold": p.threshold, "basis": p.basis, "hours": p.hours, "hours_low": p.hours_low,
            "hours_high": p.hours_high}


def finding_json(f: Finding, coverage: Coverage, processes: Mapping[str, ProcessInfo]) -> dict[str, Any]:
    proc = process_of(f, processes)
    return {
        "subject_kind": f.subject_kind,
        "subject": f.subject,
        "series_key": f.series_key,
        "class": f.growth_class.value,
        "unit": f.unit,
        "rate_per_hour": f.rate_per_hour,
        "rate_bytes_per_hour": f.rate_bytes_per_hour,
        "onset": f.onset,
        "onset_seconds_before_reference": None if f.onset is None else coverage.reference - f.onset,
        "confidence": f.confidence,
        "evidence": dict(f.evidence),
        "projections": [projection_json(p) for p in f.projections],
        "summary": describe(f),
        "related": list(f.related),
        "process": process_json(proc) if proc is not None else None,
    }


def coverage_json(coverage: Coverage, history: History) -> dict[str, Any]:
    """The ``host`` and ``window`` objects of a diagnosis document."""
    return {
        "host": {"hostname": history.hostname, "kernel_release": history.kernel_release,
                 "mem_total_bytes": history.mem_total_bytes, "source": coverage.source},
        "window": {"start": coverage.start, "end": coverage.end, "seconds": coverage.seconds,
                   "samples": coverage.samples, "series": coverage.series,
                   "reference": coverage.reference, "reference_is_now": coverage.reference_is_now},
    }


def findings_json(findings: Sequence[Finding], coverage: Coverage,
                  processes: Mapping[str, ProcessInfo]) -> list[dict[str, Any]]:
    return [finding_json(f, coverage, processes) for f in findings]
