"""The detector's output model: per-series assessments and findings.

:func:`memsleuth.analysis.detect.assess` turns one :class:`~.series.Series`
into an :class:`Assessment`; :func:`memsleuth.analysis.detect.diagnose`
turns a :class:`~.series.History` into :class:`Finding` objects, which the
knowledge layer (signatures) and every renderer (terminal, JSON, HTML,
exporter) consume.  No logic lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


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
    #: one or two sentences for the SRE
    summary: str = ""
    #: other series that move with it (e.g. SReclaimable for slab.dentry)
    related: tuple[str, ...] = ()
