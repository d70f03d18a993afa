"""A diagnosis as an answer to an SRE: what, who, why the numbers disagree, fix, stop-gap.

:func:`render_diagnoses` gives a rich renderable (fits 80 columns);
:func:`diagnoses_json` the ``--json`` form (schema ``memsleuth.diagnoses/1``).
No I/O, no analysis: everything shown is in the :class:`Diagnosis`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from memsleuth.analysis.glance import Glance
from memsleuth.knowledge.attribute import LibraryUse, ProcessRef, Suspect
from memsleuth.knowledge.match import Diagnosis
from memsleuth.knowledge.report import DiagnosisReport, root_cause_json
from memsleuth.units import human_bytes

SCHEMA = "memsleuth.diagnoses/1"
_CLASS_WORDS = {
    "leak": "leak",
    "unbounded_cache": "unbounded reclaimable cache",
    "bounded": "bounded bloat",
    "normal": "not a leak",
    "symptom": "symptom",
}


def _num(v: float | str | None) -> float | None:
    return v if isinstance(v, float | int) and not isinstance(v, bool) else None


def _proc(p: ProcessRef) -> str:
    cmd = p.cmdline or p.comm
    gone = "" if p.alive else " (exited; from the history)"
    return f"pid {p.pid} {cmd}{gone}"


def _lib(lib: LibraryUse) -> str:
    name = lib.path.rsplit("/", 1)[-1]
    if lib.package and lib.version:
        return f"{name} ({lib.package} {lib.version}, from {lib.version_source})"
    if lib.version:
        return f"{name} ({lib.version})"
    return name


def _suspect_lines(s: Suspect) -> list[str]:
    lines = [f"  {_proc(s.process)}", f"    why: {s.reason}"]
    lines += [f"    {t.describe()}" for t in s.traced if t.describe() != s.reason]
    if s.similar_exited:
        lines.append(f"    and {s.similar_exited} earlier run{'s' if s.similar_exited > 1 else ''} of the "
                     "same command, seen in the snapshots, exited too")
    if s.parent is not None:
        lines.append(f"    started by: {_proc(s.parent)}")
    if s.executable is not None and s.executable.version:
        lines.append(f"    program: {_lib(s.executable)}")
    if s.libraries:
        lines.append("    maps: " + "; ".join(_lib(lib) for lib in s.libraries))
    if s.unit or s.cgroup:
        lines.append(f"    cgroup: {s.cgroup or '-'}" + (f" ({s.unit})" if s.unit else ""))
    if s.environ_note:
        lines.append(f"    environment: {s.environ_note}")
    return lines


def diagnosis_lines(d: Diagnosis, *, usage: bool = True) -> list[str]:
    """The plain-text answer (what the terminal view prints, without colour).

    ``usage``: include the host-wide usage lines (legacy vs available used,
    time to 90%, why they differ); the same for every diagnosis of one run,
    so the terminal view prints them once.
    """
    ev = d.evidence
    cls = _CLASS_WORDS.get(d.rule.rule_class, d.rule.rule_class)
    out = [f"{d.rule.title}", f"  rule {d.rule.id}: {cls}, confidence {d.confidence:.0%}"]
    for key in d.growing[:4]:
        rate = _num(ev.get(f"{key} per hour"))
        unit = "/h" if rate is not None else ""
        shown = human_bytes(rate) if rate is not None and key.endswith("bytes") else (
            f"{rate:,.0f}" if rate is not None else "-")
        out.append(f"  grows: {key} by {shown}{unit}")
    named = {k: v for k, v in ev.items() if " per hour" not in k and k not in _FACT_KEYS}
    if named:
        out.append("  evidence: " + ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                                             for k, v in named.items()))
    for slab in d.attribution.slab:
        out.append(f"  slab: {slab.note}")
    for cg in d.attribution.cgroups:
        out.append(f"  charged to: {cg.path}" + (f" ({cg.unit})" if cg.unit else "")
                   + f", +{human_bytes(cg.growth_bytes)} over the window")
    if d.attribution.suspects:
        out.append("  who:")
        for s in d.attribution.suspects:
            out += _suspect_lines(s)
    legacy, avail = _num(ev.get("legacy_used_percent")), _num(ev.get("available_used_percent"))
    if legacy is not None and usage:
        line = f"  used: {legacy:.0f}% by total - free (CentOS 6 free)"
        if avail is not None:
            line += f", {avail:.0f}% by total - MemAvailable"
            if "estimated" in str(ev.get("available_source", "")):
                line += " (estimated)"
        out.append(line)
        hours = _num(ev.get("hours_to_90_legacy"))
        if hours is not None:
            basis = ev.get("hours_to_90_basis")
            at = f" ({basis})" if isinstance(basis, str) and basis.startswith("the growth") else ""
            out.append(f"  time to 90% (total - free): {hours:.1f} h at the current rate{at}"
                       if hours > 0 else "  already above 90% (total - free)")
    if (usage and isinstance(ev.get("usage_explanation"), str)
            and d.rule.evidence.kernel_cache_reclaimable):
        out.append(f"  why they disagree: {ev['usage_explanation']}")
    for r in d.remediation:
        out.append(f"  {r.kind}: {r.text}")
        out += [f"      $ {c}" for c in r.commands]
        if r.frees:
            out.append(f"      frees {r.frees}")
        if r.safety:
            out.append(f"      safety: {r.safety}")
    out.append("  confirm:")
    out += [f"      $ {c}" for c in d.rule.confirm]
    out += [f"  note: {n}" for n in d.notes]
    return out


_FACT_KEYS = frozenset({"reclaimable_slab_bytes", "legacy_used_percent", "legacy_used_bytes_per_hour",
                        "hours_to_90_legacy", "hours_to_90_basis", "available_used_percent",
                        "available_source", "usage_explanation"})


def _wrap(line: str, width: int) -> str:
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.fill(line, width=width, subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=False)


def render_diagnoses(diagnoses: Sequence[Diagnosis], *, limit: int = 5, width: int = 79) -> RenderableType:
    """The terminal answer: the top diagnoses, most specific first."""
    if not diagnoses:
        return Text("No known signature matches the growth seen.")
    parts: list[RenderableType] = []
    usage_shown = False
    for i, d in enumerate(diagnoses[:limit]):
        lines = diagnosis_lines(d, usage=not usage_shown)
        usage_shown = usage_shown or any(line.startswith("  used: ") for line in lines)
        head = Text(f"{i + 1}. {lines[0]}", style="bold")
        body = "\n".join(_wrap(line, width) for line in lines[1:])
        parts += [head, Text(body), Text("")]
    if len(diagnoses) > limit:
        parts.append(Text(f"... and {len(diagnoses) - limit} more (--json lists all)"))
    return Group(*parts)


def summary_line(d: Diagnosis) -> str:
    """One line for the bottom of the screen: the answer, who, and the first fix."""
    parts = [f"Most likely: {d.rule.title} ({d.confidence:.0%})"]
    if d.attribution.suspects:
        s = d.attribution.suspects[0]
        who = f"pid {s.process.pid} {s.process.comm}"
        if s.parent is not None:
            who += f", started by pid {s.parent.pid} {s.parent.comm}"
        parts.append(who)
    fix = next((r for r in d.remediation if r.kind == "fix"), None)
    if fix is not None and fix.commands:
        parts.append(f"fix: {fix.commands[0].split('#')[0].strip()}")
    return "; ".join(parts)


def render_report(report: DiagnosisReport, *, limit: int = 20, width: int = 79) -> RenderableType:
    """``memsleuth diagnose`` on a terminal: the findings, what a trace saw, the root cause and the
    one-line answer."""
    from memsleuth.views.findings import render_findings
    from memsleuth.views.trace import render_trace

    parts: list[RenderableType] = [render_findings(report.findings[:limit], report.coverage, report.history,
                                                   total=len(report.findings),
                                                   below=report.below_confidence,
                                                   min_confidence=report.min_confidence)]
    if report.traces or report.trace_errors:
        parts.append(Text("\nTraces (--trace)", style="bold underline"))
        for t in report.traces:
            parts.append(render_trace(t.document, compact=True, limit=5))
        for e in report.trace_errors:
            parts.append(Text(f"not traced: {e}", style="yellow"))
    if report.diagnoses:
        parts.append(Text("\nRoot cause (signature rules)", style="bold underline"))
        parts.append(render_diagnoses(report.diagnoses, limit=3, width=width))
        parts.append(Text(summary_line(report.diagnoses[0]), style="bold"))
    return Group(*parts)


def render_now(g: Glance, why: str, watch_seconds: float) -> RenderableType:
    """The point-in-time answer diagnose gives at once when there is no history to read."""
    from memsleuth.views.status import render_large, render_observations

    parts: list[RenderableType] = [
        Text(f"{why}: answering from one snapshot now, then watching {watch_seconds / 60:g} min for "
             "the trend ('memsleuth record' keeps a history)", style="dim"),
        Text(""), Text("now (one snapshot)", style="bold"), render_large(g)]
    parts += render_observations(g) if g.observations else [
        Text("nothing suspicious in one snapshot (what grows needs the trend)")]
    return Group(*parts)


def diagnoses_json(diagnoses: Sequence[Diagnosis]) -> dict[str, Any]:
    return {"schema": SCHEMA, "diagnoses": [root_cause_json(d) for d in diagnoses]}


__all__ = ["SCHEMA", "diagnoses_json", "diagnosis_lines", "render_diagnoses", "render_now", "render_report",
           "summary_line"]
