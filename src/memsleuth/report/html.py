"""A :class:`~memsleuth.knowledge.report.DiagnosisReport` as one self-contained HTML page.

:func:`render_html` renders the verdict, the accounting tree at the last
sample, each finding with its chart (series, growth fit from the onset,
projected crossings of 80% and 90%), the diagnoses (signature, evidence,
attribution chain, fix and stop-gap with their safety notes), the history
charts and the data coverage.  The page needs no network: the charts are
inline SVG drawn here (:mod:`.svg`), the style and the tooltip script are
inlined (:mod:`.assets`).

Every string that comes from the machine (command lines, cgroup paths,
cache names, rule text) is escaped with :func:`html.escape`.  With
``redact`` a process is shown by its command name only.

Extension point: :func:`render_page` takes titled :class:`Section` s and
knows nothing of a diagnosis; a fleet result (``memsleuth.fleet``'s
report, when it lands) becomes a page by building its own sections and
calling it, with the same charts from :mod:`.svg`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from memsleuth.analysis.accounting import Accounting
from memsleuth.analysis.findings import Finding, Projection, describe, process_of
from memsleuth.analysis.series import History
from memsleuth.knowledge.attribute import LibraryUse, ProcessRef, Suspect
from memsleuth.knowledge.match import Diagnosis
from memsleuth.knowledge.report import DiagnosisReport
from memsleuth.report import charts as ch
from memsleuth.report.assets import CSS, JS
from memsleuth.report.coverage import LIST_LIMIT, CoverageDetail, coverage_detail
from memsleuth.report.svg import Chart, Drawn, fmt_utc, render_chart
from memsleuth.units import human_bytes, human_duration, percent

SCHEMA = "memsleuth.report/1"
#: findings drawn with a chart each
FINDINGS_LIMIT = 12
#: the size of one small multiple (four to a row)
SMALL_WIDTH, SMALL_HEIGHT = 280, 150
CLASS_WORDS = {"leak": "leak", "unbounded_cache": "unbounded reclaimable cache", "bounded": "bounded",
                "normal": "not a leak", "symptom": "symptom"}


@dataclass(frozen=True, slots=True, kw_only=True)
class HtmlOptions:
    #: show processes by command name only (no command lines)
    redact: bool = False
    findings_limit: int = FINDINGS_LIMIT
    #: when the page was made (Unix s); ``None``: now
    generated_at: float | None = None
    #: what made it ("memsleuth report --root ..."), shown in the footer
    command: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    id: str
    title: str
    body: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    html: str
    charts: int
    #: polyline points in every chart
    points: int


class _Charts:
    """Numbers the charts as they are drawn (ids, totals)."""

    def __init__(self) -> None:
        self.count = 0
        self.points = 0

    def next_id(self) -> str:
        return f"chart-{self.count + 1}"

    def draw(self, chart: Chart, *, compact: bool = False) -> str:
        drawn: Drawn = (render_chart(chart, width=SMALL_WIDTH, height=SMALL_HEIGHT, compact=True) if compact
                        else render_chart(chart))
        self.count += 1
        self.points += drawn.points
        return drawn.svg

    def multiples(self, m: ch.Multiples) -> str:
        cells = "".join(self.draw(c, compact=True) for c in m.charts)
        return (f'<h3>{_e(m.title)}</h3><p class="chart-note">{_e(m.note)}</p>'
                f'<div class="multiples">{cells}</div>')


# -- formatting -----------------------------------------------------------------------------------
#: ``45 s``, ``12 min``, ``3.5 h``, ``2.1 d`` (the one formatter, in units)
fmt_duration = human_duration


def _rate(v: float, unit: str) -> str:
    sign = "+" if v > 0 else ("-" if v < 0 else "")
    if unit == "bytes":
        return f"{sign}{human_bytes(abs(v))}/h"
    return f"{sign}{abs(v):,.1f}/h" if abs(v) < 100 else f"{sign}{abs(v):,.0f}/h"


def _num(v: float | str | None) -> float | None:
    return float(v) if isinstance(v, float | int) and not isinstance(v, bool) else None


def fmt_evidence(key: str, value: float | str | None, unit: str = "count") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    k = key.lower()
    if k.endswith(("_bytes", "bytes per hour")) or (unit == "bytes" and k in {"first", "last", "min", "max"}):
        if "per hour" in k or k.endswith("_per_hour"):
            return _rate(value, "bytes")
        return human_bytes(value)
    if k.endswith("_per_hour") or k.endswith(" per hour"):
        return _rate(value, unit)
    if "p_value" in k:
        return f"{value:.2g}"
    if k.endswith("_percent"):
        return f"{value:.1f}%"
    if k.endswith("_hours") or k.startswith("hours_"):
        return fmt_duration(value * 3600)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}"


def fmt_projection(p: Projection) -> str:
    label = "OOM" if p.threshold == "oom" else p.threshold
    if label != "OOM":
        label += " " + ch.basis_words(p.basis)
    if p.hours is None:
        return f"{label}: not on this trend"
    if p.hours <= 0:
        return f"{label}: already crossed"
    text = f"{label} in {ch.hours_text_of(p.hours)}"
    lo = ch.hours_text_of(p.hours_low) if p.hours_low is not None else "?"
    hi = ch.hours_text_of(p.hours_high)
    if not lo == hi == ch.hours_text_of(p.hours):
        text += f" ({lo} to {hi})"
    return text


def _when(t: float | None) -> str:
    return "-" if t is None else fmt_utc(t) + " UTC"


def _e(s: object) -> str:
    return escape(str(s))


# -- page -----------------------------------------------------------------------------------------
def render_page(*, title: str, subtitle: str, banner: str, sections: Sequence[Section], footer: str) -> str:
    """The page around already-rendered sections: the one style sheet, the tooltip script, a contents
    line.  ``banner`` and the sections' bodies are HTML (escaped by their builders); the rest is text."""
    nav = "".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>{s.body}</section>' for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
            f"<header><h1>{_e(title)}</h1><p class=\"sub\">{_e(subtitle)}</p><nav>{nav}</nav></header>"
            f"{banner}{body}<footer>{footer}</footer></main><div id=\"tip\"></div>"
            f"<script>{JS}</script></body></html>\n")


#: a command line longer than this is cut (with an ellipsis): argv can be megabytes
CMDLINE_MAX = 300


def _cmdline(comm: str, cmdline: str | None, *, redact: bool) -> str:
    """What a process is shown as: its command line on one line, or its name only (``--redact``)."""
    if redact or not cmdline:
        return comm
    one = " ".join(cmdline.split())  # no newlines or tabs from argv
    return one if len(one) <= CMDLINE_MAX else one[:CMDLINE_MAX - 1] + "\u2026"


def _cmd(p: ProcessRef, *, redact: bool) -> str:
    return _cmdline(p.comm, p.cmdline, redact=redact)


def _proc_text(p: ProcessRef, *, redact: bool) -> str:
    gone = "" if p.alive else " (exited; from the history)"
    return f"pid {p.pid} {_cmd(p, redact=redact)}{gone}"


def _lib_text(lib: LibraryUse) -> str:
    name = lib.path.rsplit("/", 1)[-1]
    if lib.package and lib.version:
        return f"{name}: {lib.package} {lib.version} (from {lib.version_source})"
    return f"{name} {lib.version}" if lib.version else name


def _verdict(report: DiagnosisReport, *, redact: bool) -> str:
    if report.healthy:
        return ('<div class="verdict healthy"><b>No sustained growth found.</b>'
                '<div class="line">Page cache churn and GC sawtooth are not reported; the history '
                'charts below show what was there.</div></div>')
    lines = []
    if report.diagnoses:
        d = report.diagnoses[0]
        lines.append(f"<b>Most likely: {_e(d.rule.title)}</b> "
                     f"<span class=\"sub\">(rule {_e(d.rule.id)}, confidence {d.confidence:.0%})</span>")
        if d.attribution.suspects:
            s = d.attribution.suspects[0]
            who = _proc_text(s.process, redact=redact)
            if s.parent is not None:
                who += f", started by {_proc_text(s.parent, redact=redact)}"
            lines.append(f"Who: <span class=\"mono\">{_e(who)}</span>")
        fix = next((r for r in d.remediation if r.kind == "fix"), None)
        if fix is not None:
            lines.append(f"Fix: {_e(fix.text)}")
        stop = next((r for r in d.remediation if r.kind == "stopgap"), None)
        if stop is not None and stop.commands:
            lines.append(f"Stop-gap: <span class=\"mono\">{_e(stop.commands[0])}</span>"
                         + (f" (frees {_e(stop.frees)})" if stop.frees else ""))
    if report.findings:
        f = report.findings[0]
        first = next((p for p in f.projections if p.hours is not None and p.hours > 0), None)
        when = f"; {fmt_projection(first)}" if first is not None else ""
        lines.append(f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}: "
                     f"{_e(describe(f).rstrip('.'))}{_e(when)}")
    return '<div class="verdict">' + "".join(f'<div class="line">{x}</div>' for x in lines) + "</div>"


def _accounting_section(history: History) -> str:
    got = ch.accounting_now(history)
    if got is None:
        return '<p class="empty">no /proc/meminfo in the history: no accounting tree</p>'
    acc, when = got
    return _accounting_table(acc, when)


def _accounting_table(acc: Accounting, when: float) -> str:
    total = acc.total_bytes
    rows = []
    shown = [b for b in acc.buckets if b.size_bytes is not None]
    zero = [b.label for b in shown if b.size_bytes == 0]
    stack = []
    for b in sorted((b for b in shown if b.size_bytes), key=lambda b: b.size_bytes or 0, reverse=True):
        size = b.size_bytes or 0
        pct = percent(size, total) or 0.0
        color = ch.BUCKET_COLORS.get(b.key, "#999")
        rows.append(f"<tr><td class=\"label\">{_e(b.label)}</td>"
                    f"<td class=\"num\">{_e(human_bytes(size))}</td>"
                    f"<td class=\"num\">{pct:.1f}%</td><td><div class=\"bar\"><span style=\"width:"
                    f"{max(min(pct, 100.0), 0.0):.2f}%;background:{color}\"></span></div></td>"
                    f"<td>{'yes' if b.reclaimable else 'no'}</td><td class=\"sub\">{_e(b.meaning)}</td></tr>")
    for b in shown:
        pct = max(percent(b.size_bytes or 0, total) or 0.0, 0.0)
        if pct > 0:
            stack.append(f'<span title="{_e(b.label)} {pct:.1f}%" style="width:{pct:.3f}%;'
                         f'background:{ch.BUCKET_COLORS.get(b.key, "#999")}"></span>')
    if zero:
        rows.append(f"<tr><td colspan=\"6\" class=\"sub\">0 B: {_e(', '.join(zero))}</td></tr>")
    gap = acc.unaccounted_bytes
    gpct = percent(gap, total) or 0.0
    if gpct > 0:
        stack.append(f'<span title="unaccounted {gpct:.1f}%" style="width:{gpct:.3f}%;'
                     f'background:{ch.BUCKET_COLORS["unaccounted"]}"></span>')
    rows.append(f"<tr class=\"gap\"><td>Unaccounted gap</td><td class=\"num\">{_e(human_bytes(gap))}</td>"
                f"<td class=\"num\">{gpct:.1f}%</td><td><div class=\"bar\"><span style=\"width:"
                f"{max(min(gpct, 100.0), 0.0):.2f}%;background:{ch.BUCKET_COLORS['unaccounted']}\"></span>"
                "</div></td><td>-</td><td class=\"sub\">MemTotal less every bucket: memory the kernel does "
                "not itemise (drivers' alloc_pages, GPU/RDMA buffers); a growing gap is a driver leak"
                "</td></tr>")
    added = sum(b.size_bytes or 0 for b in shown) + gap
    rows.append(f"<tr class=\"total\"><td>MemTotal</td><td class=\"num\">{_e(human_bytes(total))}</td>"
                f"<td class=\"num\">100%</td><td></td><td></td><td class=\"sub\">the buckets and the gap add "
                f"up to {_e(human_bytes(added))}</td></tr>")
    reclaim = acc.reclaimable_bytes
    notes = "".join(f"<p class=\"sub\">{_e(n)}</p>" for n in acc.notes)
    return (f"<p>At the last sample, {_e(_when(when))}. Reclaimable (the kernel can give it back): "
            f"<b>{_e(human_bytes(reclaim))}</b> ({(percent(reclaim, total) or 0):.0f}% of MemTotal), free "
            "not counted.</p>"
            f"<div class=\"stackbar\" role=\"img\" aria-label=\"buckets of MemTotal\">{''.join(stack)}</div>"
            "<table><thead><tr><th>bucket</th><th class=\"num\">size</th><th class=\"num\">of MemTotal</th>"
            "<th></th><th>reclaimable</th><th>what it is</th></tr></thead><tbody>"
            + "".join(rows) + f"</tbody></table>{notes}")


def _finding_card(i: int, f: Finding, report: DiagnosisReport, charts: _Charts, *, redact: bool) -> str:
    cov = report.coverage
    cls = f.growth_class.value
    head = (f"<h3>{i}. <span class=\"badge {_e(cls)}\">{_e(CLASS_WORDS.get(cls, cls).upper())}</span> "
            f"{_e(f.subject)} <span class=\"sub\">confidence {f.confidence:.2f}</span></h3>")
    kv: list[tuple[str, str]] = [("series", f"<code>{_e(f.series_key)}</code>")]
    proc = process_of(f, report.history.processes)
    if proc is not None:
        who = _cmdline(proc.comm, proc.cmdline, redact=redact)
        extra = "".join(f", {x}" for x in (f"ppid {proc.ppid}" if proc.ppid is not None else "",
                                           f"cgroup {proc.cgroup}" if proc.cgroup else "") if x)
        kv.append(("process", f"<span class=\"mono\">pid {proc.pid}: {_e(who)}</span>{_e(extra)}"))
    kv.append(("rate", _e(_rate(f.rate_per_hour, f.unit))))
    if f.onset is None:
        kv.append(("onset", "before the window (grew throughout)"))
    else:
        suffix = "ago" if cov.reference_is_now else "before the last sample"
        kv.append(("onset", _e(f"{_when(f.onset)} ({fmt_duration(cov.reference - f.onset)} {suffix})")))
    if f.projections:
        kv.append(("time to", _e("; ".join(fmt_projection(p) for p in f.projections))))
    known = {k: v for k, v in f.evidence.items() if v is not None}
    if known:
        kv.append(("evidence", _e(", ".join(f"{k} {fmt_evidence(k, v, f.unit)}" for k, v in known.items()))))
    if f.related:
        more = f" and {len(f.related) - 6} more" if len(f.related) > 6 else ""
        kv.append(("moves with", _e(", ".join(f.related[:6]) + more)))
    grid = "".join(f"<div>{k}</div><div>{v}</div>" for k, v in kv)
    hours = "; ".join(fmt_projection(p) for p in f.projections) or "no projection (a count, or bounded)"
    got = ch.finding_chart(report.history, f, reference=cov.reference, css_id=charts.next_id(),
                           hours_text=hours)
    chart = ""
    if got is not None:
        chart_obj, crossings = got
        chart = charts.draw(chart_obj)
        far = [c for c in crossings if not c.drawn and c.time is not None and (c.projection.hours or 0) > 0]
        if far:
            chart += ("<p class=\"chart-note\">Beyond the chart: "
                      + _e("; ".join(fmt_projection(c.projection) for c in far)) + "</p>")
    return (f"<div class=\"card\">{head}<p>{_e(describe(f))}</p><div class=\"kv\">{grid}</div>"
            f"{chart}</div>")


def _node(what: str, text: str | None, *, mono: bool = False) -> str:
    if not text:
        return f'<div class="node unknown"><span class="what">{_e(what)}</span>not known</div>'
    inner = f'<span class="mono">{_e(text)}</span>' if mono else _e(text)
    return f'<div class="node"><span class="what">{_e(what)}</span>{inner}</div>'


def _chain(d: Diagnosis, s: Suspect | None, *, redact: bool) -> str:
    a = d.attribution
    cache = None
    if a.slab:
        sl = a.slab[0]
        cache = f"slab cache {sl.cache}" + (f" (merged with {', '.join(sl.merged_with)})" if sl.merged_with
                                            else "")
    elif d.growing:
        cache = d.growing[0]
    cgroup = None
    if a.cgroups:
        cg = a.cgroups[0]
        cgroup = cg.path + (f" ({cg.unit})" if cg.unit else "") + f", +{human_bytes(cg.growth_bytes)}"
    elif s is not None and (s.cgroup or s.unit):
        cgroup = (s.cgroup or "") + (f" ({s.unit})" if s.unit else "")
    proc = None
    lib = None
    env = None
    if s is not None:
        proc = _proc_text(s.process, redact=redact)
        if s.parent is not None:
            proc += f"; started by {_proc_text(s.parent, redact=redact)}"
        libs = [_lib_text(x) for x in s.libraries[:3]]
        if s.executable is not None and s.executable.version:
            libs.append("program " + _lib_text(s.executable))
        lib = "; ".join(libs) or None
        if s.environ_key:
            if s.environ_checked:
                val = "unset" if s.environ_value is None else f"= {s.environ_value}"
                env = f"{s.environ_key} {val}" + (f": {s.environ_note}" if s.environ_note else "")
            else:
                env = f"{s.environ_key}: {s.environ_note or 'not checked'}"
    arrow = '<div class="arrow">&#8594;</div>'
    nodes = [_node("cache / series", cache), _node("cgroup", cgroup), _node("process", proc, mono=True),
             _node("library", lib), _node("environment key", env)]
    return f'<div class="chain">{arrow.join(nodes)}</div>'


_FACT_KEYS = ("legacy_used_percent", "available_used_percent", "available_source", "hours_to_90_legacy",
              "hours_to_90_basis", "reclaimable_slab_bytes", "usage_explanation")


def _diagnosis_card(i: int, d: Diagnosis, *, redact: bool) -> str:
    cls = d.rule.rule_class
    out = [f"<h3>{i}. <span class=\"badge {_e(cls)}\">{_e(CLASS_WORDS.get(cls, cls).upper())}</span> "
           f"{_e(d.rule.title)}</h3>",
           f"<p class=\"sub\">signature <code>{_e(d.rule.id)}</code>, confidence {d.confidence:.0%}"
           + (f"; grows: {_e(', '.join(d.growing))}" if d.growing else "") + "</p>"]
    if d.findings:
        out.append("<p>Explains: " + _e(", ".join(f.subject for f in d.findings)) + "</p>")
    ev = d.evidence
    rows = [(k, fmt_evidence(k, v, "bytes" if "bytes" in k else "count")) for k, v in ev.items()
            if k != "usage_explanation" and v is not None]
    if rows:
        out.append("<table class=\"narrow\"><thead><tr><th>evidence</th><th>value</th></tr></thead><tbody>"
                   + "".join(f"<tr><td><code>{_e(k)}</code></td><td>{_e(v)}</td></tr>" for k, v in rows)
                   + "</tbody></table>")
    if isinstance(ev.get("usage_explanation"), str):
        out.append(f"<p><b>Why the numbers disagree:</b> {_e(ev['usage_explanation'])}</p>")
    out.append("<p><b>Attribution</b> <span class=\"sub\">(cache &#8594; cgroup &#8594; process &#8594; "
               "library &#8594; environment key)</span></p>")
    suspects: Sequence[Suspect | None] = d.attribution.suspects or (None,)
    for s in suspects[:3]:
        out.append(_chain(d, s, redact=redact))
        if s is not None:
            out.append(f"<p class=\"sub\">why this process: {_e(s.reason)}"
                       + (f"; {s.similar_exited} earlier run(s) of the same command exited too"
                          if s.similar_exited else "") + "</p>")
            out += [f"<p class=\"sub\">{_e(t.describe())}</p>" for t in s.traced]
    if len(d.attribution.suspects) > 3:
        out.append(f"<p class=\"sub\">and {len(d.attribution.suspects) - 3} more suspects</p>")
    out += [f"<p class=\"sub\">slab: {_e(sl.note)}</p>" for sl in d.attribution.slab]
    out += [f"<p class=\"sub\">{_e(n)}</p>" for n in d.attribution.notes]
    for r in d.remediation:
        kind = {"fix": "fix", "stopgap": "stop-gap"}.get(r.kind, r.kind)
        cmds = "".join(f"<pre>$ {_e(c)}</pre>" for c in r.commands)
        frees = f"<p>Frees {_e(r.frees)}</p>" if r.frees else ""
        safety = f"<p class=\"safety\"><b>Safety:</b> {_e(r.safety)}</p>" if r.safety else ""
        out.append(f"<div class=\"remedy {_e(r.kind)}\"><span class=\"kind\">{_e(kind)}</span> "
                   f"{_e(r.text)}{cmds}{frees}{safety}</div>")
    if d.rule.confirm:
        out.append("<p><b>Confirm</b></p>" + "".join(f"<pre>$ {_e(c)}</pre>" for c in d.rule.confirm))
    out += [f"<p class=\"sub\">note: {_e(n)}</p>" for n in d.notes]
    if d.rule.references:
        out.append("<p><b>References</b></p><ul>" + "".join(f"<li>{_reference(x)}</li>"
                                                            for x in d.rule.references) + "</ul>")
    return '<div class="card">' + "".join(out) + "</div>"


def _reference(text: str) -> str:
    """A rule's reference; a bare URL becomes a link (an anchor: nothing is fetched)."""
    if text.startswith(("https://", "http://")) and " " not in text:
        return f'<a href="{_e(text)}" rel="noreferrer">{_e(text)}</a>'
    return _e(text)


def _coverage_section(report: DiagnosisReport, detail: CoverageDetail) -> str:
    cov = report.coverage
    h = report.history
    kv = [("source", _e(cov.source)), ("host", _e(h.hostname or "-")),
          ("kernel", _e(h.kernel_release or "-")),
          ("MemTotal", _e(human_bytes(h.mem_total_bytes))),
          ("window", _e(f"{_when(cov.start)} to {_when(cov.end)}"
                        + (f" ({fmt_duration(cov.seconds)})" if cov.seconds is not None else ""))),
          ("samples", _e(f"{cov.samples:,}" + (f", every {fmt_duration(detail.interval)} (median)"
                                               if detail.interval else ""))),
          ("series", _e(f"{cov.series:,}")),
          ("judged as of", _e(_when(cov.reference) + (" (now)" if cov.reference_is_now else
                                                      " (the last sample)")))]
    out = ['<div class="kv">' + "".join(f"<div>{k}</div><div>{v}</div>" for k, v in kv) + "</div>"]
    if detail.gaps:
        out.append(f"<h3>Gaps: {len(detail.gaps)}, about {detail.missing_samples:,} missing samples</h3>"
                   "<table><thead><tr><th>from</th><th>to</th><th class=\"num\">length</th>"
                   "<th class=\"num\">missing samples</th></tr></thead><tbody>"
                   + "".join(f"<tr><td>{_e(_when(g.start))}</td><td>{_e(_when(g.end))}</td>"
                             f"<td class=\"num\">{_e(fmt_duration(g.end - g.start))}</td>"
                             f"<td class=\"num\">{g.missing:,}</td></tr>" for g in detail.gaps[:LIST_LIMIT])
                   + "</tbody></table>")
        if len(detail.gaps) > LIST_LIMIT:
            out.append(f"<p class=\"sub\">and {len(detail.gaps) - LIST_LIMIT} shorter gaps</p>")
    else:
        out.append("<p>No gaps: every sample is within three intervals of the one before.</p>")
    for title, groups, attr in (("Series that start inside the window", detail.started, "first"),
                                ("Series that stop inside the window", detail.stopped, "last")):
        if not groups:
            continue
        rows = []
        for fam, spans in groups.items():
            names = ", ".join(f"{s.key} ({fmt_utc(getattr(s, attr), '%m-%d %H:%M')})"
                              for s in spans[:LIST_LIMIT])
            more = f" and {len(spans) - LIST_LIMIT} more" if len(spans) > LIST_LIMIT else ""
            rows.append(f"<tr><td>{_e(fam)}</td><td class=\"num\">{len(spans):,}</td>"
                        f"<td class=\"mono\">{_e(names + more)}</td></tr>")
        out.append(f"<h3>{_e(title)}</h3><table><thead><tr><th>family</th><th class=\"num\">subjects</th>"
                   f"<th>which (time, UTC)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    if report.rule_errors:
        out.append("<h3>Rule files skipped</h3>" + "".join(f"<pre>{_e(x)}</pre>" for x in report.rule_errors))
    if report.trace_errors:
        out.append("<h3>Traces that did not run</h3>"
                   + "".join(f"<pre>{_e(x)}</pre>" for x in report.trace_errors))
    return "".join(out)


def _history_section(report: DiagnosisReport, charts: _Charts) -> str:
    h = report.history
    out = []
    got = ch.bucket_chart(h, css_id=charts.next_id())
    if got is not None:
        out.append(charts.draw(got[0]))
    else:
        out.append('<p class="empty">no meminfo series: no bucket chart</p>')
    for build in (ch.derived_chart,):
        c = build(h, css_id=charts.next_id())
        if c is not None:
            out.append(charts.draw(c))
    for name, fn in (("slab caches", ch.slab_chart), ("processes", ch.process_chart),
                     ("memory cgroups", ch.cgroup_chart)):
        m = fn(h, report.findings, css_id=charts.next_id())
        out.append(charts.multiples(m) if m is not None
                   else f'<p class="empty">no {name} series in this history</p>')
    return "".join(out)


def _traces_section(report: DiagnosisReport, *, redact: bool) -> str:
    out = []
    for t in report.traces:
        rows = "".join(f"<tr><td class=\"mono\">{_e(c.comm)}</td><td class=\"num\">{c.pid}</td>"
                       f"<td class=\"mono\">{_e(c.parent_comm or '-')}</td>"
                       f"<td class=\"num\">{c.events:,}</td>"
                       f"<td class=\"num\">{c.share:.0%}</td></tr>" for c in t.commands[:10])
        out.append(f"<h3>{_e(t.what)}</h3><table><thead><tr><th>command</th><th class=\"num\">pid</th>"
                   "<th>parent</th><th class=\"num\">events</th><th class=\"num\">share</th></tr></thead>"
                   f"<tbody>{rows}</tbody></table>")
    return "".join(out)


def render_html(report: DiagnosisReport, options: HtmlOptions | None = None) -> Rendered:
    """The whole page for one diagnosis."""
    opts = options or HtmlOptions()
    charts = _Charts()
    h = report.history
    redact = opts.redact
    sections = []
    shown = report.findings[:opts.findings_limit]
    if report.findings:
        more = (f'<p class="sub">{len(report.findings) - len(shown)} more findings are not drawn '
                f'(memsleuth diagnose --json lists all)</p>' if len(report.findings) > len(shown) else "")
        below = (f'<p class="sub">{report.below_confidence} findings below --min-confidence '
                 f'{report.min_confidence:g} are left out</p>' if report.below_confidence else "")
        body = "".join(_finding_card(i, f, report, charts, redact=redact) for i, f in enumerate(shown, 1))
        sections.append(Section(id="findings", title=f"What grows ({len(report.findings)})",
                                body=body + more + below))
    if report.diagnoses:
        first, *rest = report.diagnoses
        body = _diagnosis_card(1, first, redact=redact)
        if rest:
            body += (f"<p class=\"sub\">{len(rest)} more signature{'s' if len(rest) != 1 else ''} "
                     "matched, ranked below (less specific); open each for its evidence and remedies:</p>")
            body += "".join(f"<details><summary>{_e(d.rule.title)} <span class=\"sub\">({_e(d.rule.id)}, "
                            f"confidence {d.confidence:.0%})</span></summary>"
                            f"{_diagnosis_card(i, d, redact=redact)}"
                            "</details>" for i, d in enumerate(rest, 2))
        sections.append(Section(id="diagnosis", title="Root cause", body=body))
    sections.insert(0, Section(id="accounting", title="Where the memory is now", body=_accounting_section(h)))
    sections.append(Section(id="history", title="History", body=_history_section(report, charts)))
    if report.traces:
        sections.append(Section(id="traces", title="Traces", body=_traces_section(report, redact=redact)))
    detail = coverage_detail(h)
    sections.append(Section(id="coverage", title="Data coverage", body=_coverage_section(report, detail)))
    made = opts.generated_at if opts.generated_at is not None else time.time()
    cmdlines = ("Command lines are redacted: processes are shown by command name only (--redact)."
                if redact else "Command lines are shown in full as the host recorded them; "
                "use --redact to show command names only.")
    footer = (f"<p>{_e(cmdlines)}</p>"
              "<p>Times are UTC. Charts are downsampled to at most "
              f"{ch.MAX_POINTS} points a series by time-bucket medians (and minima, drawn faintly on a "
              "finding's chart); each chart says how long one point is. The growth fit is the finding's "
              "own slope (Theil-Sen) drawn from its onset; the crossings are its projections.</p>"
              f"<p>Generated {_e(_when(made))} by memsleuth {_e(opts.version)}"
              + (f": <span class=\"mono\">{_e(opts.command)}</span>" if opts.command else "") + "</p>")
    title = f"memsleuth report: {h.hostname or 'unknown host'}"
    span = f" over {fmt_duration(report.coverage.seconds)}" if report.coverage.seconds else ""
    subtitle = (f"{report.coverage.source}; {report.coverage.samples:,} samples{span}, "
                f"{_when(report.coverage.start)} to {_when(report.coverage.end)}; kernel "
                f"{h.kernel_release or '-'}")
    page = render_page(title=title, subtitle=subtitle, banner=_verdict(report, redact=redact),
                       sections=sections, footer=footer)
    return Rendered(html=page, charts=charts.count, points=charts.points)


def report_json(rendered: Rendered, output: str) -> Mapping[str, object]:
    """``--json`` of ``memsleuth report`` (schema ``memsleuth.report/1``)."""
    return {"schema": SCHEMA, "output": output, "bytes": len(rendered.html.encode()),
            "charts": rendered.charts, "points": rendered.points}


__all__ = ["FINDINGS_LIMIT", "SCHEMA", "HtmlOptions", "Rendered", "Section", "render_html", "render_page",
           "report_json"]
