"""One diagnosis as a value: :func:`run_diagnosis` -> :class:`DiagnosisReport`.

The one data path every front end shares (``diagnose``, and later the
exporter, ``report`` and ``fleet``)::

    DiagnosisSource (a History + what can look at the machine, injected)
      -> detection (analysis.detect)        -> findings
      -> tracing   (source.tracer, optional) -> what a trace saw, as data
      -> matching  (knowledge.match)        -> root causes with attribution and remedies
      -> DiagnosisReport (immutable)        -> views (terminal), to_json (--json), ...

Nothing here reads the machine: the History is loaded by
:mod:`memsleuth.collect`, attribution looks through ``source.machine``, and
a trace runs through ``source.tracer``; each is injected by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from memsleuth.analysis.derived import with_derived
from memsleuth.analysis.detect import detect
from memsleuth.analysis.findings import Coverage, Finding, coverage_json, findings_json
from memsleuth.analysis.glance import Glance, glance_json
from memsleuth.analysis.growth import MIN_SAMPLES, MIN_SPAN_SECONDS
from memsleuth.analysis.series import History, sample_count
from memsleuth.analysis.usage import UsageViews
from memsleuth.knowledge.attribute import LibraryUse, Machine, ProcessRef, TracedCommand
from memsleuth.knowledge.loader import RuleSet
from memsleuth.knowledge.match import Diagnosis, MatchContext, TracePlan, match, trace_plan

SCHEMA = "memsleuth.diagnose/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceRecord:
    """One trace that ``--trace`` ran, as data (knowledge never imports the tracer)."""

    #: "failed path lookups", "slab cache dentry"
    what: str
    #: the trace's JSON form (``trace.run.result_json``), which the views render too
    document: Mapping[str, Any]
    #: its per-command counts, for attribution
    commands: tuple[TracedCommand, ...]


#: runs the traces a plan asks for: (traces that ran, "what: why" for each that could not)
Tracer = Callable[[TracePlan], tuple[Sequence[TraceRecord], Sequence[str]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisSource:
    """What a diagnosis reads, loaded and injected by the caller."""

    history: History
    #: "store", "roots", "watch" or "prometheus"
    kind: str
    #: the time findings are dated and projected from: now for a store or a watch, ``None`` for the
    #: last sample (bundles and roots, which may be old)
    reference: float | None
    #: what attribution looks at (processes, maps, packages, environ): the live host or the newest
    #: root (``memsleuth.collect.inspect.HostInspector``); ``None``: the history alone
    machine: Machine | None = None
    #: the usage views now of the host ``machine`` looks at (available-based used and why it
    #: differs from legacy used); ``None``: the history's numbers only
    usage: UsageViews | None = None
    #: runs traces on the live host (``--trace``); ``None``: no tracing
    tracer: Tracer | None = None
    #: the watch was stopped early (Ctrl-C): the samples taken so far are what there is
    interrupted: bool = False
    #: with no history to read: what one snapshot showed before the watch, and why there was none
    now: Glance | None = None
    no_store: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisOptions:
    rules: RuleSet
    #: report only findings at or above this confidence
    min_confidence: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosisReport:
    """Everything one diagnosis found, immutable; every renderer reads this."""

    coverage: Coverage
    history: History
    #: every finding at or above the confidence asked for, most specific first
    findings: tuple[Finding, ...]
    #: matched rules worth showing, most specific first
    diagnoses: tuple[Diagnosis, ...]
    traces: tuple[TraceRecord, ...] = ()
    trace_errors: tuple[str, ...] = ()
    rule_errors: tuple[str, ...] = ()
    #: why no trend could be judged (too few samples or too short a window); ``None`` when judged
    insufficient: str | None = None
    #: findings left out because their confidence is below ``min_confidence``
    below_confidence: int = 0
    min_confidence: float = 0.0
    interrupted: bool = False
    now: Glance | None = None
    no_store: str | None = None

    @property
    def found(self) -> bool:
        """Something to act on: a finding, a diagnosis, or (no history) a suspicious snapshot."""
        return not self.healthy or bool(self.now is not None and self.now.suspicious)

    @property
    def healthy(self) -> bool:
        return not self.findings and not self.diagnoses

    def to_json(self, *, limit: int | None = None) -> dict[str, Any]:
        """The ``--json`` document (schema ``memsleuth.diagnose/1``, docs/json.md); ``limit`` caps
        the findings listed (``findings_total`` counts them all)."""
        shown = self.findings if limit is None else self.findings[:limit]
        return {
            "schema": SCHEMA,
            **coverage_json(self.coverage, self.history),
            "healthy": self.healthy,
            "findings_total": len(self.findings),
            "findings_below_confidence": self.below_confidence,
            "findings": findings_json(shown, self.coverage, self.history.processes),
            "diagnoses": [root_cause_json(d) for d in self.diagnoses],
            "traces": [dict(t.document) for t in self.traces],
            "trace_errors": list(self.trace_errors),
            "rule_errors": list(self.rule_errors),
            **({"no_store": self.no_store, "now": glance_json(self.now)} if self.now is not None else {}),
            "interrupted": self.interrupted,
        }


def coverage_of(history: History, kind: str, reference: float) -> Coverage:
    return Coverage(source=history.source, kind=kind, start=history.start, end=history.end,
                    samples=sample_count(history), series=len(history.series), reference=reference,
                    reference_is_now=kind != "roots")


def insufficient_reason(history: History) -> str | None:
    """Why ``history`` is too little for a trend, or ``None``: "healthy" on too little data would
    be a guess."""
    samples = sample_count(history)
    start, end = history.start, history.end
    span = (end - start) if start is not None and end is not None else 0.0
    if samples >= MIN_SAMPLES and span >= MIN_SPAN_SECONDS:
        return None
    return (f"{history.source}: {samples} sample{'s' if samples != 1 else ''} over {span:.0f} s "
            f"in the window; a trend needs at least {MIN_SAMPLES} samples over "
            f"{MIN_SPAN_SECONDS:.0f} s")


def run_diagnosis(source: DiagnosisSource, options: DiagnosisOptions) -> DiagnosisReport:
    """Detect, trace (if the source can), match and attribute: the whole diagnosis."""
    history = source.history
    reference = source.reference if source.reference is not None else (history.end or 0.0)
    coverage = coverage_of(history, source.kind, reference)
    rule_errors = tuple(str(e) for e in options.rules.errors)
    why = insufficient_reason(history)
    if why is not None:
        return DiagnosisReport(coverage=coverage, history=history, findings=(), diagnoses=(),
                               rule_errors=rule_errors, insufficient=why, interrupted=source.interrupted,
                               now=source.now, no_store=source.no_store)
    # the derived series (gap, legacy used) are computed once, here: detection and matching read them
    judged = with_derived(history)
    found = detect(judged, now=reference)
    findings = tuple(f for f in found if f.confidence >= options.min_confidence)
    traces: Sequence[TraceRecord] = ()
    trace_errors: Sequence[str] = ()
    plan = trace_plan(findings)
    if source.tracer is not None and plan:
        traces, trace_errors = source.tracer(plan)
    traced = tuple(c for t in traces for c in t.commands)
    context = MatchContext(machine=source.machine, usage=source.usage, rules=options.rules, traced=traced)
    matched = match(findings, judged, context)
    # a rule that explains healthy growth (class normal) is shown only when it explains a finding
    diagnoses = tuple(d for d in matched if d.rule.rule_class != "normal" or d.findings)
    return DiagnosisReport(coverage=coverage, history=history, findings=findings, diagnoses=diagnoses,
                           traces=tuple(traces), trace_errors=tuple(trace_errors), rule_errors=rule_errors,
                           below_confidence=len(found) - len(findings), min_confidence=options.min_confidence,
                           interrupted=source.interrupted, now=source.now, no_store=source.no_store)


# -- JSON of a matched rule -----------------------------------------------------------
def _ref_json(p: ProcessRef | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"pid": p.pid, "comm": p.comm, "cmdline": p.cmdline, "ppid": p.ppid, "alive": p.alive}


def _lib_json(lib: LibraryUse | None) -> dict[str, Any] | None:
    if lib is None:
        return None
    return {"path": lib.path, "package": lib.package, "version": lib.version,
            "version_source": lib.version_source}


def root_cause_json(d: Diagnosis) -> dict[str, Any]:
    """One matched rule in ``diagnoses`` of memsleuth.diagnose/1 (docs/json.md)."""
    a = d.attribution
    return {
        "rule": d.rule.id,
        "title": d.rule.title,
        "class": d.rule.rule_class,
        "confidence": d.confidence,
        "weight": d.weight,
        "growing": list(d.growing),
        "findings": [f.series_key for f in d.findings],
        "evidence": dict(d.evidence),
        "slab": [{"cache": s.cache, "merged_with": list(s.merged_with), "sysfs_known": s.sysfs_known,
                  "note": s.note} for s in a.slab],
        "cgroups": [{"path": c.path, "unit": c.unit, "series": c.series_key, "growth_bytes": c.growth_bytes,
                     "last_bytes": c.last_bytes} for c in a.cgroups],
        "suspects": [{
            "process": _ref_json(s.process), "parent": _ref_json(s.parent), "reason": s.reason,
            "executable": _lib_json(s.executable), "libraries": [_lib_json(x) for x in s.libraries],
            "cgroup": s.cgroup, "unit": s.unit,
            # only the one key the rule names, and only its value
            "environ": {"key": s.environ_key, "value": s.environ_value, "checked": s.environ_checked,
                        "pid": s.environ_pid, "of": s.environ_of,
                        "note": s.environ_note} if s.environ_key else None,
            "similar_exited": s.similar_exited,
            "traced": [{"kind": t.kind, "caches": list(t.caches), "comm": t.comm, "pid": t.pid,
                        "ppid": t.ppid, "parent_comm": t.parent_comm, "processes": t.processes,
                        "events": t.events, "events_per_second": t.events_per_second,
                        "share": t.share, "seconds": t.seconds} for t in s.traced],
        } for s in a.suspects],
        "remediation": [{"kind": r.kind, "text": r.text, "commands": list(r.commands), "safety": r.safety,
                         "frees": r.frees or None} for r in d.remediation],
        "confirm": list(d.rule.confirm),
        "references": list(d.rule.references),
        "fallback_series": list(d.fallback_keys),
        "notes": list(d.notes),
    }


__all__ = ["SCHEMA", "DiagnosisOptions", "DiagnosisReport", "DiagnosisSource", "TraceRecord", "Tracer",
           "coverage_of", "insufficient_reason", "root_cause_json", "run_diagnosis"]
