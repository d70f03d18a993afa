"""The Prometheus metric vocabulary: one table that the exporter publishes and ``fleet`` reads back.

Each :class:`MetricSpec` says a family's name, type, unit, help text and
labels, and, where the family carries a series the detector judges, which
series key a sample stands for (:func:`series_key`), so that ``fleet`` runs
the same detector on Prometheus data as ``diagnose`` runs on the store.
The names follow the Prometheus conventions (base units, ``_bytes``,
``_seconds``, ``_total``), never the kernel key pasted in; node_exporter's
own ``node_memory_*_bytes`` families are mapped by :func:`node_series_key`.

docs/metrics.md is this table in prose; ``tests/exporter`` checks that the
two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from memsleuth.keys import process_prefix, slab_key

PREFIX = "memsleuth_"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec:
    name: str
    #: "gauge", "counter" or "info"
    type: str
    #: "bytes", "seconds", "hours", "ratio", "" (a count)
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    #: published only when asked for (high cardinality): "slab", "processes"
    opt_in: str | None = None
    #: the series key one sample stands for, from its labels (``{label}`` fields); None: not a series
    series: str | None = None


# -- the families, one constant each: the exporter refers to these, never to a name string --
MEMORY_TOTAL = MetricSpec(
    name="memsleuth_memory_total_bytes", type="gauge", unit="bytes",
    help="MemTotal: RAM the kernel manages.",
    series="meminfo.MemTotal")
MEMORY_BUCKET = MetricSpec(
    name="memsleuth_memory_bucket_bytes", type="gauge", unit="bytes",
    help="RAM by bucket; the buckets and 'unaccounted' add up to MemTotal.",
    labels=("bucket", "reclaimable"))
MEMORY_USED = MetricSpec(
    name="memsleuth_memory_used_bytes", type="gauge", unit="bytes",
    help=("Used RAM by definition: legacy = MemTotal - MemFree (CentOS 6 free), available = MemTotal - "
          "MemAvailable (procps-ng 4, node-mixin)."),
    labels=("definition",))
MEMORY_AVAILABLE = MetricSpec(
    name="memsleuth_memory_available_bytes", type="gauge", unit="bytes",
    help="MemAvailable, or the kernel's estimate from zoneinfo where the kernel has none.",
    labels=("estimated",), series="meminfo.MemAvailable")
DENTRIES = MetricSpec(
    name="memsleuth_dentries", type="gauge", unit="",
    help=("dentry-state: dentries in the cache by state (total, unused, negative); negative is inferred "
          "(dentries per inode) on kernels without nr_negative."),
    labels=("state", "inferred"), series="dentry.nr_{state}")
SLAB_CACHE = MetricSpec(
    name="memsleuth_slab_cache_bytes", type="gauge", unit="bytes",
    help="Bytes in the slabs of one slab cache (opt-in: --slab).",
    labels=("cache", "reclaimable"), opt_in="slab", series="slab.{cache}.size_bytes")
PROCESS_PSS = MetricSpec(
    name="memsleuth_process_pss_bytes", type="gauge", unit="bytes",
    help="Proportional set size of one of the top processes by PSS (opt-in: --top N).",
    labels=("pid", "starttime", "comm"), opt_in="processes", series="proc.{pid}:{starttime}.pss_bytes")
FINDING_RATE = MetricSpec(
    name="memsleuth_finding_rate_bytes_per_hour", type="gauge", unit="bytes",
    help=("Growth rate of each finding of the latest diagnosis (bytes per hour; counts per hour for count "
          "series)."),
    labels=("series", "subject", "class"))
FINDING_SECONDS_TO_90 = MetricSpec(
    name="memsleuth_finding_seconds_to_90_percent", type="gauge", unit="seconds",
    help="Seconds until 90% used at the finding's rate (legacy used for reclaimable caches).",
    labels=("series", "subject", "class", "basis"))
FINDING_CONFIDENCE = MetricSpec(
    name="memsleuth_finding_confidence", type="gauge", unit="ratio",
    help="Confidence (0..1) of each finding of the latest diagnosis.",
    labels=("series", "subject", "class"))
SIGNATURE_MATCH = MetricSpec(
    name="memsleuth_signature_match", type="gauge", unit="",
    help=("1 for each signature rule the latest diagnosis matched, with its confidence in "
          "memsleuth_signature_confidence."),
    labels=("rule", "class"))
SIGNATURE_CONFIDENCE = MetricSpec(
    name="memsleuth_signature_confidence", type="gauge", unit="ratio",
    help="Confidence (0..1) of each matched signature rule.",
    labels=("rule", "class"))
DIAGNOSIS_FINDINGS = MetricSpec(
    name="memsleuth_diagnosis_findings", type="gauge", unit="",
    help=("Findings of the latest diagnosis (0: healthy); absent when no diagnosis ran or the window held "
          "too little data for a trend."))
DIAGNOSIS_SAMPLES = MetricSpec(
    name="memsleuth_diagnosis_samples", type="gauge", unit="",
    help="Samples in the window the latest diagnosis read (a trend needs a few over minutes).")
SCRAPE_SUCCESS = MetricSpec(
    name="memsleuth_scrape_success", type="gauge", unit="",
    help="1 if the source was read in this scrape, 0 if it failed.",
    labels=("source",))
SCRAPE_DURATION = MetricSpec(
    name="memsleuth_scrape_duration_seconds", type="gauge", unit="seconds",
    help="Time spent reading the source in this scrape.",
    labels=("source",))

#: every family the exporter may publish, in exposition order
METRICS: tuple[MetricSpec, ...] = (
    MEMORY_TOTAL,
    MEMORY_BUCKET,
    MEMORY_USED,
    MEMORY_AVAILABLE,
    DENTRIES,
    SLAB_CACHE,
    PROCESS_PSS,
    FINDING_RATE,
    FINDING_SECONDS_TO_90,
    FINDING_CONFIDENCE,
    SIGNATURE_MATCH,
    SIGNATURE_CONFIDENCE,
    DIAGNOSIS_FINDINGS,
    DIAGNOSIS_SAMPLES,
    SCRAPE_SUCCESS,
    SCRAPE_DURATION,
)

BY_NAME: Mapping[str, MetricSpec] = {m.name: m for m in METRICS}


def series_key(metric: str, labels: Mapping[str, str]) -> str | None:
    """The series key a sample of ``metric`` with ``labels`` stands for, or ``None``.

    ``memsleuth_slab_cache_bytes{cache="dentry"}`` -> ``slab.dentry.size_bytes``;
    ``memsleuth_memory_bucket_bytes`` is an accounting view, not a series the detector judges.
    node_exporter's families go through :func:`node_series_key`.
    """
    spec = BY_NAME.get(metric)
    if spec is None:
        return node_series_key(metric)
    if spec.series is None:
        return None
    if spec.name == "memsleuth_dentries":
        return f"dentry.nr_{'dentry' if labels.get('state') == 'total' else labels.get('state', '')}"
    if spec.name == "memsleuth_slab_cache_bytes":
        return slab_key(labels.get("cache", ""), "size_bytes")
    if spec.name == "memsleuth_process_pss_bytes":
        pid, start = labels.get("pid", ""), labels.get("starttime", "")
        if not (pid.isdigit() and start.isdigit()):
            return None
        return process_prefix(int(pid), int(start)) + "pss_bytes"
    return spec.series


#: node_exporter's meminfo collector names a field ``node_memory_<Field>_bytes`` with ``(`` and
#: ``)`` turned into ``_`` and the trailing one dropped: Active(anon) -> Active_anon
_NODE_MEMINFO = "node_memory_"


def node_series_key(metric: str) -> str | None:
    """``node_memory_SReclaimable_bytes`` -> ``meminfo.SReclaimable``; ``node_memory_Active_anon_bytes``
    -> ``meminfo.Active(anon)``; other families -> ``None``."""
    if not metric.startswith(_NODE_MEMINFO):
        return None
    field = metric[len(_NODE_MEMINFO):]
    if not field.endswith("_bytes"):
        return None  # HugePages_Total and friends: counts, not meminfo sizes
    field = field[: -len("_bytes")]
    for paren in ("anon", "file"):
        for kind in ("Active", "Inactive"):
            if field == f"{kind}_{paren}":
                field = f"{kind}({paren})"
    return f"meminfo.{field}"


__all__ = [
    "BY_NAME",
    "DENTRIES",
    "DIAGNOSIS_FINDINGS",
    "DIAGNOSIS_SAMPLES",
    "FINDING_CONFIDENCE",
    "FINDING_RATE",
    "FINDING_SECONDS_TO_90",
    "MEMORY_AVAILABLE",
    "MEMORY_BUCKET",
    "MEMORY_TOTAL",
    "MEMORY_USED",
    "METRICS",
    "PREFIX",
    "PROCESS_PSS",
    "SCRAPE_DURATION",
    "SCRAPE_SUCCESS",
    "SIGNATURE_CONFIDENCE",
    "SIGNATURE_MATCH",
    "SLAB_CACHE",
    "MetricSpec",
    "node_series_key",
    "series_key"
]
