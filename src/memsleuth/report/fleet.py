"""A fleet result as the same self-contained page: ranked hosts, groups, the drain list.

It renders the ``memsleuth fleet --json`` document (schema
``memsleuth.fleet/1``, docs/fleet.md): a dict, so the report never imports the
fleet package (the front ends stay apart), and a fleet run saved by one person
can be turned into a page by another.  Every string from the document is
escaped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from memsleuth.report.html import CLASS_WORDS, Rendered, Section, render_page
from memsleuth.units import human_bytes, human_duration

FLEET_SCHEMA = "memsleuth.fleet/1"
#: hosts listed in the ranked table and the drain list
ROWS = 50


def _e(s: object) -> str:
    from html import escape

    return escape("-" if s is None else str(s))


def _hours(h: object) -> str:
    if not isinstance(h, int | float):
        return "-"
    return "already past" if h <= 0 else human_duration(h * 3600)


def _rate(host: Mapping[str, Any]) -> str:
    if host.get("unit") == "bytes" and isinstance(host.get("rate_bytes_per_hour"), int | float):
        return f"+{human_bytes(host['rate_bytes_per_hour'])}/h"
    rate = host.get("rate_per_hour")
    return f"+{rate:,.0f}/h" if isinstance(rate, int | float) else "-"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: Sequence[int] = ()) -> str:
    num = ' class="num"'

    def cls(i: int) -> str:
        return num if i in numeric else ""

    th = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _ranked(hosts: Sequence[Mapping[str, Any]]) -> str:
    def row(h: Mapping[str, Any]) -> list[str]:
        confidence = h.get("confidence")
        return [_e(h.get("instance")), _e(h.get("group") or "-"), _e(h.get("bucket")),
                _e(CLASS_WORDS.get(str(h.get("class")), h.get("class"))), _e(_rate(h)),
                _e(_hours(h.get("hours_to_80"))), _e(_hours(h.get("hours_to_90"))),
                _e(f"{confidence:.2f}" if isinstance(confidence, int | float) else "-"),
                _e(h.get("rule_title") or "")]

    rows = [row(h) for h in hosts[:ROWS]]
    more = (f'<p class="sub">{len(hosts) - ROWS} more hosts grow (memsleuth fleet --json lists all)</p>'
            if len(hosts) > ROWS else "")
    return _table(("host", "group", "bucket", "class", "rate", "80%", "90%", "confidence", "signature"),
                  rows, numeric=(4, 5, 6, 7)) + more


def _groups(groups: Sequence[Mapping[str, Any]]) -> str:
    if not groups:
        return "<p>No two hosts share a growth.</p>"
    items = []
    for g in groups:
        rate = g.get("median_rate_bytes_per_hour")
        per = f" growing {human_bytes(rate)}/h (median)" if isinstance(rate, int | float) else ""
        hosts = ", ".join(str(h) for h in g.get("hosts", [])[:12])
        extra = f" and {len(g['hosts']) - 12} more" if len(g.get("hosts", [])) > 12 else ""
        where = f" of {g['group']}" if g.get("group") else ""
        items.append(f"<li><b>{_e(g.get('count'))} host{'s' if g.get('count') != 1 else ''}{_e(where)}: "
                     f"{_e(g.get('what'))}</b>{_e(per)}<br><span class='sub mono'>{_e(hosts + extra)}"
                     "</span></li>")
    return "<ul>" + "".join(items) + "</ul>"


def _drain(drain: Sequence[Mapping[str, Any]]) -> str:
    if not drain:
        return "<p>No host is on a course to 90% used.</p>"
    rows = [[_e(i), _e(d.get("instance")), _e(d.get("group") or "-"), _e(_hours(d.get("hours_to_90"))),
             _e(d.get("at_iso") or "-"), _e(d.get("subject"))] for i, d in enumerate(drain[:ROWS], 1)]
    return _table(("#", "host", "group", "crosses 90% in", "at", "what"), rows, numeric=(0, 3))


def _coverage(doc: Mapping[str, Any]) -> str:
    partial = doc.get("partial_coverage") or []
    q = doc.get("queries") or {}
    lines = [f"{_e(doc.get('hosts_total'))} hosts screened with {_e(q.get('count'))} queries "
             f"({_e(q.get('batches'))} batches, scrape interval {_e(q.get('scrape_interval_s'))} s); "
             f"{_e(doc.get('hosts_flagged'))} flagged, {_e(doc.get('hosts_fetched'))} fetched and diagnosed "
             f"at a {_e(q.get('step_s'))} s step."]
    if partial:
        rows = [[_e(p.get("instance")), _e(p.get("group") or "-"), _e(p.get("note") or "")] for p in partial]
        lines.append("<p>Hosts judged on part of the range (joined, left or with gaps):</p>"
                     + _table(("host", "group", "coverage"), rows))
    lines += [f"<p class='sub'>{_e(n)}</p>" for n in doc.get("notes") or []]
    return "<p>" + lines[0] + "</p>" + "".join(lines[1:])


def render_fleet_html(doc: Mapping[str, Any], *, generated_at: float | None = None, command: str = "",
                      version: str = "") -> Rendered:
    """The page for one ``memsleuth fleet --json`` document."""
    if doc.get("schema") != FLEET_SCHEMA:
        raise ValueError(f"not a {FLEET_SCHEMA} document (schema {doc.get('schema')!r})")
    hosts = list(doc.get("hosts") or [])
    drain = list(doc.get("drain") or [])
    window = doc.get("window") or {}
    first = drain[0] if drain else None
    banner = ('<div class="verdict"><p><b>'
              + (f"{_e(len(hosts))} of {_e(doc.get('hosts_total'))} hosts grow"
                 if hosts else "No host grows")
              + "</b>"
              + (f"; drain first: <span class='mono'>{_e(first.get('instance'))}</span>, 90% in "
                 f"{_e(_hours(first.get('hours_to_90')))} ({_e(first.get('subject'))})" if first else "")
              + "</p></div>")
    sections = [Section(id="hosts", title=f"Hosts that grow ({len(hosts)})",
                        body=_ranked(hosts) if hosts else "<p>Nothing grows on any screened host.</p>"),
                Section(id="groups", title="Same growth, several hosts",
                        body=_groups(doc.get("groups") or [])),
                Section(id="drain", title="Drain list", body=_drain(drain)),
                Section(id="coverage", title="Data coverage", body=_coverage(doc))]
    made = generated_at if generated_at is not None else time.time()
    footer = (f"<p>From {_e(doc.get('prometheus'))} {_e(doc.get('match') or '')}: every host screened with "
              "whole-range queries, the top ones fetched and diagnosed by the same detector as "
              "memsleuth diagnose.</p>"
              f"<p>Generated {_e(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(made)))} by memsleuth "
              f"{_e(version)}" + (f': <span class="mono">{_e(command)}</span>' if command else "") + "</p>")
    subtitle = (f"{window.get('start_iso', '-')} to {window.get('end_iso', '-')}"
                + (f", grouped by {doc['group_by']}" if doc.get("group_by") else ""))
    page = render_page(title="memsleuth fleet report", subtitle=subtitle, banner=banner, sections=sections,
                       footer=footer)
    return Rendered(html=page, charts=0, points=0)


__all__ = ["FLEET_SCHEMA", "render_fleet_html"]
