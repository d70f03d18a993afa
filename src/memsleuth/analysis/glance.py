"""A judgement at a glance: what one snapshot says before any trend can be known.

``diagnose`` on a host with no history answers at once with this (then
watches for the trend), and ``status`` shows it.  One snapshot cannot say
what *grows*; it can say what is large and what is suspicious:

* reclaimable slab over 30% of RAM (the founding case: dentries pinned by
  a probe's failed lookups);
* a dentry cache that is mostly negative dentries (failed lookups; the
  kernel counts them since 5.0);
* an unaccounted gap over 10% of RAM (memory the kernel does not itemise:
  drivers, GPU/RDMA buffers, a balloon);
* one process or one cgroup holding most of the anonymous memory;
* legacy used (total - free) and MemAvailable-based used disagreeing by
  more than 20 points (the alarm may be about reclaimable memory);
* little memory available.

Also :func:`top_growers`, the series that grew most over a history (the
change from first to last sample, not a trend test: that is
:mod:`memsleuth.analysis.detect`'s).

Pure: the caller reads the machine and hands in the snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memsleuth.analysis.accounting import Accounting
from memsleuth.analysis.processes import ProcessRow, process_rows
from memsleuth.analysis.series import History
from memsleuth.analysis.subjects import subject
from memsleuth.analysis.system import system_memory
from memsleuth.analysis.usage import UsageViews, usage_views
from memsleuth.errors import ParseError
from memsleuth.snapshot.model import Snapshot
from memsleuth.sources.cgroup import MemoryStatV2, parse_memory_stat
from memsleuth.sources.dentry_state import DentryState, kernel_has_nr_negative, parse_dentry_state
from memsleuth.units import human_bytes

#: the thresholds, as fractions of RAM (or of the whole named)
RECLAIMABLE_SLAB_SHARE = 0.30
NEGATIVE_DENTRY_SHARE = 0.50
#: a dentry cache this small is not worth a line, however negative (about 20 MiB at 192 B each)
NEGATIVE_DENTRY_MIN = 100_000
GAP_SHARE = 0.10
ANON_HOLDER_SHARE = 0.50
#: anon memory this small is nobody's problem (a share of nothing)
ANON_MIN_SHARE_OF_RAM = 0.10
DISAGREEMENT_POINTS = 20.0
LOW_AVAILABLE_SHARE = 0.10
#: a bucket at least this share of RAM is "large"
LARGE_SHARE = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One thing a snapshot shows."""

    #: stable id: reclaimable_slab, negative_dentries, unaccounted_gap, anon_process,
    #: anon_cgroup, views_disagree, low_available, dentry_negative_unknown
    key: str
    #: "suspicious" (counts as a finding) or "note"
    severity: str
    text: str
    #: the measured value and the threshold it was held against (a share 0..1 or points)
    value: float | None = None
    threshold: float | None = None
    #: what to run next
    next_step: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Large:
    key: str
    label: str
    size_bytes: int
    share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Glance:
    total_bytes: int
    #: buckets over LARGE_SHARE of RAM, largest first (free left out)
    large: tuple[Large, ...]
    observations: tuple[Observation, ...]

    @property
    def suspicious(self) -> tuple[Observation, ...]:
        return tuple(o for o in self.observations if o.severity == "suspicious")


def glance_json(g: Glance) -> dict[str, Any]:
    """The point-in-time judgement as JSON (``glance`` in status/1, ``now`` in diagnose/1)."""
    return {
        "large": [{"key": x.key, "label": x.label, "size_bytes": x.size_bytes, "share": x.share}
                  for x in g.large],
        "observations": [{"key": o.key, "severity": o.severity, "text": o.text, "value": o.value,
                          "threshold": o.threshold, "next_step": o.next_step} for o in g.observations],
        "suspicious": len(g.suspicious),
    }


def _pct(share: float) -> str:
    return f"{100.0 * share:.0f}%"


def judge(acct: Accounting, usage: UsageViews, *, dentry: DentryState | None = None,
          processes: Sequence[ProcessRow] = (), cgroups_anon: Mapping[str, int] | None = None) -> Glance:
    """The glance from the accounting tree, the usage views, dentry-state, the process table and
    each memory cgroup's anonymous bytes (path -> bytes; hierarchical, as memory.stat counts)."""
    total = acct.total_bytes or 1
    large = tuple(sorted(
        (Large(key=b.key, label=b.label, size_bytes=b.size_bytes, share=b.size_bytes / total)
         for b in acct.buckets
         if b.size_bytes is not None and b.key != "free" and b.size_bytes >= LARGE_SHARE * total),
        key=lambda x: -x.size_bytes))
    out: list[Observation] = []
    slab = acct.bucket("slab_reclaimable")
    if slab is not None and slab.size_bytes is not None and slab.size_bytes > RECLAIMABLE_SLAB_SHARE * total:
        share = slab.size_bytes / total
        out.append(Observation(
            key="reclaimable_slab", severity="suspicious", value=share, threshold=RECLAIMABLE_SLAB_SHARE,
            text=f"reclaimable slab is {human_bytes(slab.size_bytes)}, {_pct(share)} of RAM (over "
                 f"{_pct(RECLAIMABLE_SLAB_SHARE)}): a kernel cache is holding memory the legacy "
                 "'used' counts",
            next_step="memsleuth slab -s c"))
    if dentry is not None and dentry.nr_dentry >= NEGATIVE_DENTRY_MIN:
        if dentry.nr_negative is None:
            out.append(Observation(
                key="dentry_negative_unknown", severity="note",
                text=f"{dentry.nr_dentry:,} dentries; this kernel does not count negative ones "
                     "(before 5.0): 'memsleuth trace lookups' shows failed lookups"))
        elif dentry.nr_negative > NEGATIVE_DENTRY_SHARE * dentry.nr_dentry:
            share = dentry.nr_negative / dentry.nr_dentry
            out.append(Observation(
                key="negative_dentries", severity="suspicious", value=share,
                threshold=NEGATIVE_DENTRY_SHARE,
                text=f"{_pct(share)} of the {dentry.nr_dentry:,} dentries are negative (names that "
                     "were looked up and do not exist): something keeps failing lookups",
                next_step="memsleuth trace lookups --seconds 10"))
    gap = acct.unaccounted_bytes
    if gap > GAP_SHARE * total:
        share = gap / total
        out.append(Observation(
            key="unaccounted_gap", severity="suspicious", value=share, threshold=GAP_SHARE,
            text=f"{human_bytes(gap)} ({_pct(share)} of RAM) is in no bucket the kernel itemises: "
                 "driver pages, GPU/RDMA buffers or a balloon",
            next_step="memsleuth meminfo --explain"))
    anon = acct.bucket("anon")
    anon_bytes = anon.size_bytes if anon is not None else None
    if anon_bytes and anon_bytes >= ANON_MIN_SHARE_OF_RAM * total:
        holder = max((p for p in processes if p.rss_anon_bytes), key=lambda p: p.rss_anon_bytes or 0,
                     default=None)
        if holder is not None and (holder.rss_anon_bytes or 0) > ANON_HOLDER_SHARE * anon_bytes:
            share = (holder.rss_anon_bytes or 0) / anon_bytes
            out.append(Observation(
                key="anon_process", severity="suspicious", value=share, threshold=ANON_HOLDER_SHARE,
                text=f"{holder.comm} (pid {holder.pid}) holds {human_bytes(holder.rss_anon_bytes)}, "
                     f"{_pct(share)} of all anonymous memory",
                next_step=f"memsleuth smaps {holder.pid}"))
        cg = _anon_cgroup(cgroups_anon or {}, anon_bytes)
        if cg is not None:
            path, size = cg
            share = size / anon_bytes
            out.append(Observation(
                key="anon_cgroup", severity="suspicious", value=share, threshold=ANON_HOLDER_SHARE,
                text=f"cgroup {path} holds {human_bytes(size)}, {_pct(share)} of all anonymous memory",
                next_step="memsleuth top --group-by cgroup"))
    points = usage.disagreement_percent
    if points > DISAGREEMENT_POINTS:
        out.append(Observation(
            key="views_disagree", severity="suspicious", value=points, threshold=DISAGREEMENT_POINTS,
            text=f"legacy used ({usage.legacy_used_percent:.0f}%) and MemAvailable-based used "
                 f"({usage.available_used_percent:.0f}%) disagree by {points:.0f} points: an alarm on "
                 "the legacy number is mostly about memory the kernel can reclaim"))
    if usage.available_bytes is not None and usage.available_bytes < LOW_AVAILABLE_SHARE * total:
        share = usage.available_bytes / total
        out.append(Observation(
            key="low_available", severity="suspicious", value=share, threshold=LOW_AVAILABLE_SHARE,
            text=f"only {human_bytes(usage.available_bytes)} ({_pct(share)} of RAM) is available",
            next_step="memsleuth top -o RES"))
    return Glance(total_bytes=acct.total_bytes, large=large, observations=tuple(out))


def _anon_cgroup(anon: Mapping[str, int], anon_total: int) -> tuple[str, int] | None:
    """The deepest cgroup below a top-level slice holding most anon memory (its parents hold it
    too: naming the slice, or the root, says nothing)."""
    holders = [(p, b) for p, b in anon.items()
               if p.strip("/").count("/") >= 1 and b > ANON_HOLDER_SHARE * anon_total]
    if not holders:
        return None
    return max(holders, key=lambda pb: (pb[0].count("/"), pb[1]))


def cgroups_anon_of(snap: Snapshot) -> dict[str, int]:
    """Anonymous bytes of each memory cgroup in ``snap`` (v2 ``anon``, v1 ``total_rss``)."""
    out: dict[str, int] = {}
    for path, data in snap.files.items():
        if not (path.startswith("sys/fs/cgroup") and path.endswith("/memory.stat")):
            continue
        try:
            stat = parse_memory_stat(data.decode("ascii", "replace"))
        except ParseError:
            continue
        value = stat.anon_bytes if isinstance(stat, MemoryStatV2) else (
            stat.raw.get("total_rss", stat.rss_bytes))
        if value is None:
            continue
        name = _cgroup_name(path[: -len("/memory.stat")])
        if name is not None:
            out[name] = value
    return out


def _cgroup_name(directory: str) -> str | None:
    rest = directory[len("sys/fs/cgroup"):]
    for hierarchy in ("/memory", "/unified"):
        if rest == hierarchy or rest.startswith(hierarchy + "/"):
            rest = rest[len(hierarchy):]
            break
    return rest or "/"


def glance(snap: Snapshot) -> Glance:
    """:func:`judge` on what one snapshot holds (processes and cgroups when it walked them)."""
    mem = system_memory(snap)
    release = snap.meta.kernel_release
    text = snap.text("proc/sys/fs/dentry-state")
    dentry = None
    if text is not None:
        try:
            dentry = parse_dentry_state(
                text, has_nr_negative=kernel_has_nr_negative(release) if release else None)
        except ParseError:
            dentry = None
    return judge(mem.accounting, usage_views(mem), dentry=dentry,
                 processes=[p for p in process_rows(snap) if not p.kernel_thread],
                 cgroups_anon=cgroups_anon_of(snap))


# -- what grew over a history ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Grower:
    key: str
    #: "slab cache dentry", "SReclaimable", "/system.slice/x.service anon", "nginx (pid 12)"
    name: str
    kind: str
    first_bytes: float
    last_bytes: float
    change_bytes: float
    seconds: float

    @property
    def per_hour_bytes(self) -> float | None:
        return self.change_bytes * 3600.0 / self.seconds if self.seconds > 0 else None


#: subjects at most this rank are specific enough to list (aggregates such as Slab, MemFree are not)
_GROWER_RANK = 3


def top_growers(history: History, limit: int = 5) -> tuple[Grower, ...]:
    """The byte series that grew most from their first to their last sample, largest first (only
    subjects specific enough to act on: caches, cgroups, processes, meminfo fields that are not
    sums of others)."""
    out = []
    for key, s in history.series.items():
        if len(s.values) < 2:
            continue
        sub = subject(key, history)
        if sub is None or sub.unit != "bytes" or sub.rank > _GROWER_RANK:
            continue
        change = s.values[-1] - s.values[0]
        if change <= 0:
            continue
        out.append(Grower(key=key, name=sub.name, kind=sub.kind, first_bytes=s.values[0],
                          last_bytes=s.values[-1], change_bytes=change, seconds=s.times[-1] - s.times[0]))
    out.sort(key=lambda g: -g.change_bytes)
    return tuple(out[:limit])


__all__ = ["Glance", "Grower", "Large", "Observation", "cgroups_anon_of", "glance", "judge", "top_growers"]
