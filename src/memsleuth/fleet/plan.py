"""PromQL as data: the selectors, the whole-range ranking queries, the batches and the step.

Pure functions: nothing here talks to the server (:mod:`.client` does), so the sample budget,
the batching and the step choice are tested without one.

Ranking reads each bucket with two whole-range instant queries per batch of hosts:

* ``avg_over_time(M[1d]) - avg_over_time(M[1d] offset (range - 1d))``, divided by the hours
  between the two days: the mean of the last day against the first, which cancels a daily cycle
  (a batch sawtooth, an updatedb walk), where ``deriv`` over the range depends on where in its
  cycle the range ends;
* ``deriv(M[range])`` for hosts that lack a first or a last day (joined or left mid-range);
* ``deriv(M[6h])``: a leak that began hours ago, which the whole-range rates barely see yet.  A
  daily cycle's upswing is as steep, so this one flags a host only at the detector's fast-path
  rate (:data:`memsleuth.analysis.growth.FAST_RATE_FACTOR` times the floor), and such hosts are
  fetched after every host the whole-range rates flag.

A query over one metric loads hosts x (range / scrape interval) samples; batches keep that under
the sample budget (half of ``--query.max-samples`` by default).  That is an upper bound: Prometheus
2.42 counts the samples held at once, and a ``*_over_time`` or ``deriv`` drops each series' points
once it has its value, so only raw answers (a range query's matrix) reach the whole count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from memsleuth.errors import UsageError
from memsleuth.fleet.client import MAX_POINTS_PER_SERIES

DAY = 86400.0
HOUR = 3600.0
#: Prometheus' default --query.max-samples
DEFAULT_MAX_SAMPLES = 50_000_000
#: the share of the server's limit one query may use (the server counts more than the raw samples)
BUDGET_FRACTION = 0.5
#: the smallest step of a raw fetch: finer than a minute says nothing more about growth over days
MIN_STEP_S = 60.0
#: points a fetched series needs: the detector judges a window on 400 bucket medians, and its fast
#: path the last 3 h at 2-minute resolution; more points only cost transfer and JSON (7 days: 151 s)
FETCH_POINTS = 4000
#: what names a host
INSTANCE = "instance"
#: the series that says a host exists, and its RAM
MEMTOTAL = "node_memory_MemTotal_bytes"
#: node_exporter's boot time (stat collector): a host judged since its last boot
BOOT_TIME = "node_boot_time_seconds"
#: buckets ranked over the whole range (node_exporter meminfo): what can leak
RANK_METRICS: tuple[str, ...] = (
    "node_memory_SReclaimable_bytes", "node_memory_SUnreclaim_bytes", "node_memory_AnonPages_bytes",
    "node_memory_Shmem_bytes", "node_memory_PageTables_bytes", "node_memory_KernelStack_bytes",
)
#: node_exporter meminfo fields fetched for a diagnosis
FETCH_NODE_FIELDS: tuple[str, ...] = (
    "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Shmem", "AnonPages", "Slab",
    "SReclaimable", "SUnreclaim", "KReclaimable", "PageTables", "KernelStack", "Percpu", "VmallocUsed",
    "Mapped", "Active_anon", "Inactive_anon", "Active_file", "Inactive_file", "Unevictable", "Mlocked",
    "AnonHugePages", "HugePages_Total", "Hugetlb", "SwapTotal", "SwapFree", "Committed_AS",
)
#: memsleuth exporter families fetched for a diagnosis where present (they name the cache, the rule)
FETCH_MEMSLEUTH: tuple[str, ...] = ("memsleuth_slab_cache_bytes", "memsleuth_dentries",
                                    "memsleuth_signature_match", "memsleuth_memory_total_bytes")

_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def match_inner(match: str | None) -> str:
    """``'{job="node",cluster="lb-bj"}'`` -> ``'job="node",cluster="lb-bj"'`` (what goes inside the
    braces of every selector); ``None`` or ``{}`` -> ``''``."""
    if match is None:
        return ""
    m = match.strip()
    if not (m.startswith("{") and m.endswith("}")):
        raise UsageError(f"--match {match!r}: label matchers in braces, e.g. "
                         "'{job=\"node\",cluster=\"lb-bj\"}'")
    inner = m[1:-1].strip().rstrip(",")
    if "__name__" in inner:
        raise UsageError("--match: the metric names are memsleuth's; match on labels only")
    return inner


def check_label(name: str, option: str) -> str:
    if not _LABEL.match(name):
        raise UsageError(f"{option} {name!r}: not a Prometheus label name")
    return name


def quote(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def join(*parts: str) -> str:
    """Matchers joined with commas, empty ones left out."""
    return ",".join(p for p in parts if p)


def selector(metric: str, inner: str) -> str:
    return f"{metric}{{{inner}}}"


def regex_escape(value: str) -> str:
    """``value`` as a literal inside a PromQL (RE2) regex (dots in instance names)."""
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", value)


def duration(seconds: float) -> str:
    """A PromQL duration: whole seconds (``604800s``)."""
    return f"{max(1, round(seconds))}s"


# -- the ranking queries -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RankQuery:
    """One whole-range instant query per metric and batch; its value is in the metric's unit per
    hour (``daydiff``, ``deriv``), bytes (``mem_total``) or samples (``chunk``: the samples in the
    ``index``-th of ``chunks`` equal parts of the range, newest first)."""

    name: str
    metric: str
    #: "daydiff", "deriv", "recent", "mem_total", "chunk"
    kind: str
    index: int = 0
    chunks: int = 1

    def promql(self, inner: str, range_s: float) -> str:
        s = selector(self.metric, inner)
        r = duration(range_s)
        if self.kind == "daydiff":
            hours = (range_s - DAY) / HOUR
            return (f"(avg_over_time({s}[1d]) - avg_over_time({s}[1d] offset {duration(range_s - DAY)}))"
                    f" / {hours:g}")
        if self.kind == "deriv":
            return f"deriv({s}[{r}]) * 3600"
        if self.kind == "recent":
            return f"deriv({s}[{duration(recent_seconds(range_s))}]) * 3600"
        if self.kind == "mem_total":
            return f"max_over_time({s}[{r}])"
        if self.kind == "chunk":
            # no subquery (timestamp() over a range is slow: 23 s for 200 hosts x 7 d at 5 min): the
            # sample count of each part of the range says when a host joined or left, and its gaps
            part = range_s / self.chunks
            off = f" offset {duration(part * self.index)}" if self.index else ""
            return f"count_over_time({s}[{duration(part)}]{off})"
        raise ValueError(self.kind)


def rank_queries(range_s: float) -> tuple[RankQuery, ...]:
    """The queries one batch runs: host facts from MemTotal, then each bucket's rate (the day-over-
    day one only when the range holds two whole days)."""
    chunks = coverage_chunks(range_s)
    out = [RankQuery("mem_total", MEMTOTAL, "mem_total")]
    out += [RankQuery(f"chunk{i}", MEMTOTAL, "chunk", i, chunks) for i in range(chunks)]
    for m in RANK_METRICS:
        out.append(RankQuery(m, m, "deriv"))
        if range_s >= 2 * DAY:
            out.append(RankQuery(m, m, "daydiff"))
        out.append(RankQuery(m, m, "recent"))
    return tuple(out)


def recent_seconds(range_s: float) -> float:
    """The trailing stretch whose slope catches a leak that began hours ago (the whole-range rates
    barely move yet): 6 h, or a quarter of a shorter range."""
    return min(6 * HOUR, range_s / 4)


def coverage_chunks(range_s: float) -> int:
    """The parts the coverage count splits the range into: days, between 4 and 14."""
    return max(4, min(14, math.ceil(range_s / DAY)))


# -- batches ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Batch:
    """Hosts queried together: their --group-by value and the matchers that select them."""

    group: str
    inner: str
    hosts: int


def hosts_per_batch(range_s: float, interval_s: float, max_samples: int) -> int:
    """How many hosts one single-metric query over ``range_s`` may cover within the budget."""
    points = range_s / max(interval_s, 1.0) + 1
    return max(1, int(max_samples * BUDGET_FRACTION // points))


def plan_batches(hosts: Mapping[str, Mapping[str, str]], *, inner: str, group_by: str | None,
                 per_batch: int) -> list[Batch]:
    """Batches of at most ``per_batch`` hosts: one per ``group_by`` value (split by instance regex
    when a group is too big), or instance regex batches of the whole match."""
    groups: dict[str, list[str]] = {}
    for instance, labels in sorted(hosts.items()):
        groups.setdefault(labels.get(group_by, "") if group_by else "", []).append(instance)
    out = []
    for value, members in sorted(groups.items()):
        base = join(inner, f"{group_by}={quote(value)}") if group_by else inner
        if len(members) <= per_batch:
            out.append(Batch(value, base, len(members)))
            continue
        for i in range(0, len(members), per_batch):
            chunk = members[i:i + per_batch]
            rx = "|".join(regex_escape(m) for m in chunk)
            out.append(Batch(value, join(base, f"{INSTANCE}=~{quote(rx)}"), len(chunk)))
    return out


def choose_step(range_s: float, interval_s: float | None = None) -> float:
    """The step of a raw fetch over ``range_s``: at least :data:`MIN_STEP_S` and the scrape interval
    (a finer step repeats samples), about :data:`FETCH_POINTS` points (what the detector uses), and
    never more than 11,000 points per series (Prometheus refuses more)."""
    need = max(range_s / (MAX_POINTS_PER_SERIES - 1), range_s / FETCH_POINTS)
    step = max(MIN_STEP_S, interval_s or 0.0, need)
    return float(math.ceil(step))


def fetch_selector(inner: str, instance: str) -> str:
    """Every series a diagnosis reads for one host, in one range query (a bare selector keeps
    ``__name__``)."""
    node = "|".join(FETCH_NODE_FIELDS)
    names = f"node_memory_({node})_bytes|{BOOT_TIME}|" + "|".join(FETCH_MEMSLEUTH)
    return "{" + join(f"__name__=~{quote(names)}", inner, f"{INSTANCE}={quote(instance)}") + "}"


def fetch_selectors(inner: str, instance: str) -> list[str]:
    """:func:`fetch_selector` one family at a time, for a server whose --query.max-samples is
    below a host's whole fetch."""
    names = [f"node_memory_{f}_bytes" for f in FETCH_NODE_FIELDS] + [BOOT_TIME, *FETCH_MEMSLEUTH]
    return [f"{n}{{{join(inner, f'{INSTANCE}={quote(instance)}')}}}" for n in names]


def sample_estimate(hosts: int, range_s: float, interval_s: float) -> int:
    """Samples one single-metric whole-range query loads for ``hosts``."""
    return int(hosts * (range_s / max(interval_s, 1.0) + 1))


__all__ = ["BOOT_TIME", "BUDGET_FRACTION", "DEFAULT_MAX_SAMPLES", "FETCH_MEMSLEUTH", "FETCH_NODE_FIELDS",
           "INSTANCE", "MEMTOTAL", "MIN_STEP_S", "RANK_METRICS", "Batch", "RankQuery", "check_label",
           "choose_step", "coverage_chunks", "duration", "fetch_selector", "fetch_selectors",
           "hosts_per_batch", "join", "match_inner", "plan_batches", "quote", "rank_queries",
           "recent_seconds", "regex_escape", "sample_estimate", "selector"]
