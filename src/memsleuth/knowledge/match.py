"""Match findings and history against the signature rules.

:func:`match` takes the detector's findings (``analysis.detect.detect``),
the :class:`~memsleuth.analysis.series.History` they came from and a
:class:`MatchContext` (the machine to attribute on, the rules), and returns one
:class:`Diagnosis` per rule whose evidence holds, most specific first.

"Grows" means: the detector reported the series with a growth class other
than NORMAL (or the class the rule asks for).  When the detector said
nothing about a series (not a subject of its own, such as legacy used, or
too short for it), the same growth judgement is asked about that one series
(:func:`memsleuth.analysis.detect.judge`), and the diagnosis says so.  Conditions are data (see
:mod:`memsleuth.knowledge.schema`); nothing is evaluated as code.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from memsleuth.analysis.derived import LEGACY_USED_KEY, with_derived
from memsleuth.analysis.detect import judge, judged_keys
from memsleuth.analysis.findings import Finding, GrowthClass
from memsleuth.analysis.growth import rising
from memsleuth.analysis.series import History, Series
from memsleuth.analysis.slab import known_reclaimable
from memsleuth.analysis.usage import UsageViews
from memsleuth.keys import PROC, SLAB, ProcessKey, SlabKey, parse_key, slab_cache
from memsleuth.knowledge.attribute import (
    Attribution,
    Machine,
    Suspect,
    TracedCommand,
    cgroup_charges,
    find_suspects,
    slab_aliases,
)
from memsleuth.knowledge.loader import RuleSet
from memsleuth.knowledge.schema import Check, Evidence, Grow, ProcessCond, Rule
from memsleuth.units import human_bytes

#: a traced command is named as a suspect of a rule with no process condition from this share of
#: the trace's events
TRACED_MIN_SHARE = 0.05
#: generic kmalloc caches: not traceable by name through kmem:kmem_cache_alloc
KMALLOC_PREFIXES = ("kmalloc-", "kmalloc-rcl-", "kmalloc-cg-", "dma-kmalloc-", "kmalloc-rnd-")
_RECLAIMABLE_KEYS = ("meminfo.SReclaimable", "meminfo.KReclaimable", "dentry.", "inode.")
_DROP = re.compile(r"echo\s+([123])\s*>\s*/proc/sys/vm/drop_caches")


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchContext:
    #: the rules to match (``memsleuth.collect.rules.load_rules``)
    rules: RuleSet
    #: what attribution looks at (processes, maps, packages, environment): the live host or the newest
    #: root/bundle of a series (``memsleuth.collect.inspect.HostInspector``); None = history only
    machine: Machine | None = None
    #: the usage views now (available-based used, and why it differs from legacy used) of the host
    #: ``machine`` looks at, read by the caller (``memsleuth.collect.diagnosis.usage_now``); None =
    #: the history's numbers only
    usage: UsageViews | None = None
    #: what a trace saw (``diagnose --trace``): names short-lived processes behind a growing cache
    traced: tuple[TracedCommand, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RemedyText:
    kind: str
    text: str
    commands: tuple[str, ...]
    safety: str
    #: what it would free, where we can say ("up to 36.7Gi of reclaimable slab")
    frees: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnosis:
    rule: Rule
    #: the detector's findings this rule explains
    findings: tuple[Finding, ...]
    #: named numbers behind the match (ratios, values, facts)
    evidence: Mapping[str, float | str | None]
    confidence: float
    #: specificity of the rule's conditions; ranks diagnoses before confidence
    weight: int
    attribution: Attribution
    remediation: tuple[RemedyText, ...]
    #: series that grew by the fallback test, not by a detector finding
    fallback_keys: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: the growing series it rests on
    growing: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rule_id(self) -> str:
        return self.rule.id


# -- growth: the detector's judgement, asked about one series at a time ---------------------------


def _judged_growth(history: History, key: str, *, healthy: bool) -> tuple[bool, str, float, float]:
    """(grows, class, confidence, slope per hour) of a series the detector reported nothing about,
    by the detector's own judgement (:func:`memsleuth.analysis.detect.judge`).  ``healthy``: a rule
    that explains healthy growth asks only whether the series rises significantly."""
    a = judge(history, key)
    if healthy:
        grows = rising(a)
        return grows, a.growth_class.value, (a.confidence or 0.5) if grows else 0.0, a.slope_per_hour
    return a.growth_class is not GrowthClass.NORMAL, a.growth_class.value, a.confidence, a.slope_per_hour


class _Eval:
    def __init__(self, history: History, findings: Sequence[Finding], usage: UsageViews | None,
                 traced: Sequence[TracedCommand] = (), *, machine: Machine | None = None) -> None:
        self.history = history
        self.usage = usage
        self.machine = machine
        self.traced = tuple(traced)
        self.history = history = with_derived(history)
        self.series: Mapping[str, Series] = history.series
        # a finding speaks for its related series too (SReclaimable, nr_dentry beside slab dentry)
        self.findings = {k: f for f in reversed(findings) for k in (*f.related, f.series_key)}
        self.findings_list = list(findings)
        # series the detector judged and found normal: no second opinion on those
        self.judged = judged_keys(history)
        self._growth: dict[str, tuple[bool, str, float, bool]] = {}
        self._judged: dict[tuple[str, bool], tuple[bool, str, float, float]] = {}

    def keys(self, pattern: str) -> list[str]:
        if any(c in pattern for c in "*?["):
            return sorted(k for k in self.series if fnmatch.fnmatchcase(k, pattern))
        return [pattern] if pattern in self.series else []

    def growth(self, key: str, *, healthy: bool = False) -> tuple[bool, str, float, bool]:
        """(grows, class, confidence, judged here): the detector's finding, or its judgement of the
        series when it reported nothing (not a subject, or too short for the detector).

        ``healthy``: for a rule that explains healthy growth (class normal), a
        series the detector judged normal may still rise: the judgement's trend test decides.
        """
        if healthy and key not in self.findings and key in self.judged:
            g, cls, conf, _ = self._judge(key, healthy=True)
            return (g, cls, conf, True)
        got = self._growth.get(key)
        if got is None:
            f = self.findings.get(key)
            if f is not None:
                cls = f.growth_class.value
                got = (cls != GrowthClass.NORMAL.value, cls, f.confidence, False)
            elif key in self.judged or (self.judged and key.startswith(PROC)):
                # judged normal; or a process the detector saw too briefly to judge (it started
                # during the window: start-up growth is not a leak)
                got = (False, GrowthClass.NORMAL.value, 0.0, False)
            else:
                g, cls, conf, _ = self._judge(key, healthy=False)
                got = (g, cls, conf, True)
            self._growth[key] = got
        return got

    def _judge(self, key: str, *, healthy: bool) -> tuple[bool, str, float, float]:
        got = self._judged.get((key, healthy))
        if got is None:
            got = self._judged[(key, healthy)] = _judged_growth(self.history, key, healthy=healthy)
        return got

    def rate_per_hour(self, key: str) -> float:
        """The growth rate the evidence quotes: the finding's, else the judgement's slope."""
        f = self.findings.get(key)
        if f is not None and f.series_key == key:
            return f.rate_per_hour
        return self._judge(key, healthy=True)[3]

    def number(self, patterns: Sequence[str], use: str) -> float | None:
        keys = list(dict.fromkeys(k for p in patterns for k in self.keys(p)))
        if not keys:
            return None
        total = 0.0
        for k in keys:
            v = self.series[k].values
            if not v:
                return None
            total += {"last": v[-1], "first": v[0], "delta": v[-1] - v[0], "max": max(v)}[use]
        return total


@dataclass(slots=True)
class _Outcome:
    evidence: dict[str, float | str | None] = field(default_factory=dict)
    growing: list[str] = field(default_factory=list)
    fallback: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    suspects: tuple[Suspect, ...] = ()
    #: suspects cleared by the rule's environ_ok: the setting that fixes it is already made
    cleared: tuple[Suspect, ...] = ()


def _check_value(ev: _Eval, c: Check, out: _Outcome) -> bool:
    num = ev.number(c.num, c.use)
    if num is None:
        return False
    if c.den is None:
        x = num
    else:
        den = ev.number(c.den, c.use)
        if den is None or den == 0:
            return False
        x = num / den
    out.evidence[c.name] = round(x, 4) if abs(x) < 1e6 else x
    return c.holds(x)


def _grows(ev: _Eval, g: Grow, out: _Outcome, *, healthy: bool = False) -> bool:
    hit = False
    for key in ev.keys(g.pattern):
        grows, cls, conf, fb = ev.growth(key, healthy=healthy)
        if not grows or (g.classes and cls not in g.classes):
            continue
        hit = True
        out.growing.append(key)
        out.confidences.append(conf)
        if fb:
            out.fallback.append(key)
        out.evidence[f"{key} per hour"] = round(ev.rate_per_hour(key), 3)
    return hit


def _reclaimable(ev: _Eval, growing: Sequence[str]) -> bool:
    slabs = [c for c in map(slab_cache, growing) if c is not None]
    if not slabs:
        return any(k.startswith(_RECLAIMABLE_KEYS) for k in growing)
    return all(known_reclaimable(name) for name in slabs)


def _evaluate(ev: _Eval, e: Evidence, rule: Rule, out: _Outcome) -> bool:
    for g in e.grows:
        if not _grows(ev, g, out, healthy=rule.rule_class == "normal"):
            return False
    for p in e.flat:
        keys = ev.keys(p)
        if not keys or any(ev.growth(k)[0] for k in keys):
            return False
    if any(not ev.keys(p) for p in e.present) or any(ev.keys(p) for p in e.absent):
        return False
    for c in (*e.ratios, *e.values):
        if not _check_value(ev, c, out):
            return False
    if e.kernel_cache_reclaimable is not None and _reclaimable(ev, out.growing) != e.kernel_cache_reclaimable:
        return False
    if e.any_of:
        for alt in e.any_of:
            trial = _Outcome(evidence=dict(out.evidence), growing=list(out.growing),
                             fallback=list(out.fallback), confidences=list(out.confidences))
            if _evaluate(ev, alt, rule, trial):
                out.evidence, out.growing = trial.evidence, trial.growing
                out.fallback, out.confidences = trial.fallback, trial.confidences
                break
        else:
            return False
    if e.process is not None:
        return _process(ev, e.process, rule, out)
    return True


def _process(ev: _Eval, p: ProcessCond, rule: Rule, out: _Outcome) -> bool:
    only = None
    if p.growing:
        only = {k.pid for k in map(parse_key, out.growing) if isinstance(k, ProcessKey)}
        known = [i for i in ev.history.processes.values() if i.pid in only]
        if not any(fnmatch.fnmatchcase(i.comm, c) for i in known for c in p.comm_any):
            return False
    suspects = find_suspects(ev.machine, ev.history, maps_any=p.maps_any, comm_any=p.comm_any,
                             cmdline_any=p.cmdline_any, libraries=rule.attribution.libraries,
                             environ_key=rule.attribution.environ_key,
                             environ_advice=rule.attribution.environ_advice, only=only,
                             traced=() if only is not None else _relevant(ev.traced, out.growing))
    suspects, out.cleared = _clear_fixed(suspects, rule.attribution.environ_ok)
    if not suspects:
        return False
    out.suspects = suspects
    return True


def _clear_fixed(suspects: Sequence[Suspect], ok: Sequence[str]) -> tuple[tuple[Suspect, ...],
                                                                           tuple[Suspect, ...]]:
    """(blamed, cleared): a suspect whose environment was read and holds one of the rule's
    ``environ_ok`` values already has the fix (NSS_SDB_USE_CACHE=yes): it is not the cause, even
    when the cache grows for another reason."""
    values = {v.lower() for v in ok}
    cleared = tuple(s for s in suspects if values and s.environ_checked
                    and (s.environ_value or "").lower() in values)
    return tuple(s for s in suspects if s not in cleared), cleared


# -- facts ------------------------------------------------------------------


def usage_facts(ev: _Eval) -> dict[str, float | str | None]:
    """Reclaimable slab, legacy vs available-based used, hours until 90% legacy used."""
    facts: dict[str, float | str | None] = {}
    s = ev.series
    total = s.get("meminfo.MemTotal")
    if total is None or not total.values:
        return facts
    mt = total.values[-1]
    if "meminfo.SReclaimable" in s:
        facts["reclaimable_slab_bytes"] = s["meminfo.SReclaimable"].values[-1]
    legacy = s.get(LEGACY_USED_KEY)
    if legacy is not None and legacy.values:
        used = legacy.values[-1]
        facts["legacy_used_percent"] = round(100.0 * used / mt, 1)
        rate = ev.rate_per_hour(LEGACY_USED_KEY)
        facts["legacy_used_bytes_per_hour"] = round(rate, 1)
        target = 0.9 * mt
        facts["hours_to_90_legacy"] = (0.0 if used >= target else
                                       round((target - used) / rate, 1) if rate > 0 else None)
    if "meminfo.MemAvailable" in s:
        avail = s["meminfo.MemAvailable"].values[-1]
        facts["available_used_percent"] = round(100.0 * (mt - avail) / mt, 1)
        facts["available_source"] = "MemAvailable"
    views = ev.usage
    if views is not None:
        facts["available_used_percent"] = round(views.available_used_percent, 1)
        facts["available_source"] = ("estimated (no MemAvailable on this kernel)"
                                     if views.available_estimated else "MemAvailable")
        facts["usage_explanation"] = views.explanation()
    return facts


def _remedies(rule: Rule, facts: Mapping[str, float | str | None]) -> tuple[RemedyText, ...]:
    out = []
    slab = facts.get("reclaimable_slab_bytes")
    for r in rule.remediation:
        frees = ""
        levels = {m.group(1) for c in r.commands for m in _DROP.finditer(c)}
        if levels & {"2", "3"} and isinstance(slab, float):
            frees = f"up to {human_bytes(slab)} (the reclaimable slab, SReclaimable)"
        out.append(RemedyText(kind=r.kind, text=r.text, commands=r.commands, safety=r.safety, frees=frees))
    return tuple(out)


def _explained(ev: _Eval, rule: Rule, growing: Sequence[str]) -> tuple[Finding, ...]:
    patterns = list(rule.evidence.patterns())
    if rule.evidence.kernel_cache_reclaimable:
        patterns += ["meminfo.SReclaimable", "meminfo.Slab", "meminfo.KReclaimable", "dentry.*"]
    out = []
    for f in ev.findings_list:
        if f.series_key in growing or any(fnmatch.fnmatchcase(f.series_key, p) for p in patterns):
            out.append(f)
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class TracePlan:
    """What ``diagnose --trace`` should trace to confirm the findings."""

    #: slab caches to trace (kmem_cache_alloc), in the findings' order
    caches: tuple[str, ...]
    #: trace failed path lookups too (the dentry cache grows: negative dentries)
    lookups: bool

    def __bool__(self) -> bool:
        return bool(self.caches or self.lookups)


def trace_plan(findings: Sequence[Finding], *, max_caches: int = 2) -> TracePlan:
    """The slab caches behind LEAK / UNBOUNDED_CACHE findings (at most ``max_caches``), and whether
    the dentry cache grows (then failed lookups are traced as well: each may leave a negative dentry).
    Generic kmalloc caches are left out: their allocations fire ``kmem:kmalloc``, with no cache name
    (a growing kmalloc-192 beside a growing memcg-charged slab is often that slab's per-object cgroup
    vectors)."""
    caches: list[str] = []
    dentry = False
    for f in findings:
        if f.growth_class not in (GrowthClass.LEAK, GrowthClass.UNBOUNDED_CACHE):
            continue
        for key in (f.series_key, *f.related):
            k = parse_key(key) if key.startswith(SLAB) else None
            if isinstance(k, SlabKey) and k.field == "size_bytes":
                name = k.cache
                # kmalloc() allocations fire kmem:kmalloc, which carries no cache name
                if name not in caches and not name.startswith(KMALLOC_PREFIXES):
                    caches.append(name)
            dentry = dentry or key.startswith("dentry.") or key == "slab.dentry.size_bytes"
    if dentry and "dentry" not in caches:
        caches.insert(0, "dentry")
    return TracePlan(caches=tuple(caches[:max_caches]), lookups=dentry)


def _sooner_from_findings(evidence: dict[str, float | str | None], findings: Sequence[Finding]) -> None:
    """Time to 90% legacy used: the host's legacy-used slope, or the growth of a bucket this rule
    explains if that gets there sooner (MemFree can lag a growing cache for a while: free page
    reporting, reclaim of other memory), and which of the two it is."""
    hours = evidence.get("hours_to_90_legacy")
    best = hours if isinstance(hours, float | int) else None
    basis = "the host's legacy used" if best is not None else None
    for f in findings:
        p = next((p for p in f.projections if p.threshold == "90%" and p.basis == "legacy_used"), None)
        if p is not None and p.hours is not None and (best is None or p.hours < best):
            best, basis = round(p.hours, 1), f"the growth of {f.series_key}"
    if best is not None:
        evidence["hours_to_90_legacy"] = best
        evidence["hours_to_90_basis"] = basis


def _relevant(traced: Sequence[TracedCommand], growing: Sequence[str]) -> list[TracedCommand]:
    """The traced commands that fill a growing slab cache (``slab.NAME.*`` or dentry counts)."""
    caches = {c for c in map(slab_cache, growing) if c is not None}
    if any(k.startswith("dentry.") for k in growing):
        caches.add("dentry")
    return [t for t in traced if caches.intersection(t.caches)]


def match(findings: Sequence[Finding], history: History, context: MatchContext) -> list[Diagnosis]:
    """Every rule whose evidence holds, most specific (then most confident) first."""
    ctx = context
    rules = ctx.rules
    ev = _Eval(history, findings, ctx.usage, ctx.traced, machine=ctx.machine)
    facts = usage_facts(ev)
    out: list[Diagnosis] = []
    for rule in rules.rules:
        o = _Outcome()
        if not _evaluate(ev, rule.evidence, rule, o):
            continue
        growing = tuple(dict.fromkeys(o.growing))
        caches = rule.attribution.slab_caches or tuple(
            dict.fromkeys(c for c in map(slab_cache, growing) if c is not None))
        suspects = o.suspects
        traced = _relevant(ctx.traced, growing)
        if not suspects and (rule.attribution.libraries or traced):
            # a rule without a process condition: whoever maps its libraries, and whoever a trace
            # saw filling the growing cache (the main actors only)
            suspects = find_suspects(ctx.machine, history, maps_any=rule.attribution.libraries,
                                     environ_key=rule.attribution.environ_key,
                                     environ_advice=rule.attribution.environ_advice,
                                     traced=[t for t in traced if t.share >= TRACED_MIN_SHARE][:3],
                                     any_traced=True)
        charges = cgroup_charges(history) if caches else ()
        notes = [f"pid {s.process.pid} {s.process.comm} is not blamed: {s.environ_note}" for s in o.cleared]
        if o.fallback:
            notes.append("growth of " + ", ".join(o.fallback) + " judged on its own series (the "
                         "detector reports no finding for it: not a subject of its own, or judged normal)")
        attribution = Attribution(slab=slab_aliases(ctx.machine, caches), cgroups=charges,
                                  suspects=suspects)
        conf = float(np.mean(o.confidences)) if o.confidences else 0.7
        if suspects:
            conf = min(0.99, conf + 0.1)
        evidence: dict[str, float | str | None] = {**facts, **o.evidence}
        explained = _explained(ev, rule, growing)
        _sooner_from_findings(evidence, explained)
        out.append(Diagnosis(rule=rule, findings=explained, evidence=evidence,
                             confidence=round(conf, 3), weight=rule.evidence.weight(),
                             attribution=attribution, remediation=_remedies(rule, facts),
                             fallback_keys=tuple(dict.fromkeys(o.fallback)), notes=tuple(notes),
                             growing=growing))
    out.sort(key=lambda d: (-d.weight, -d.confidence, d.rule.id))
    return out


__all__ = ["Diagnosis", "MatchContext", "RemedyText", "TracePlan", "match", "trace_plan",
           "usage_facts"]
