"""``memsleuth report``: what the page holds, from the founding series roots, a 30-day history and
hostile strings; the options and errors.  The page in a real browser: test_browser.py."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from memsleuth.analysis.series import History, ProcessInfo, Series
from memsleuth.collect.rules import load_rules
from memsleuth.knowledge.report import DiagnosisOptions, DiagnosisReport, DiagnosisSource, run_diagnosis
from memsleuth.report import HtmlOptions, render_html
from memsleuth.report.charts import MAX_POINTS
from memsleuth.report.svg import time_ticks, value_ticks
from tests.conftest import CliResult
from tests.report.browser import polyline_points
from tests.report.synthetic import synthetic_history

#: what would make the page fetch something: src/href to http(s) outside an anchor, CSS imports and urls
_FETCHING = (re.compile(r"<(?!a\b)[a-z]+\b[^>]*\b(?:src|href|xlink:href)\s*=\s*[\"']?(?:https?:)?//", re.I),
             re.compile(r"@import|url\(\s*['\"]?(?:https?:)?//", re.I),
             re.compile(r"<link\b", re.I))


def fetching(html: str) -> list[str]:
    return [m.group(0) for rx in _FETCHING for m in rx.finditer(html)]


def diagnosed(history: History, kind: str = "store") -> DiagnosisReport:
    return run_diagnosis(DiagnosisSource(history=history, kind=kind, reference=history.end),
                         DiagnosisOptions(rules=load_rules([])))


def test_founding_series_report_has_every_part(founding: tuple[list[str], Path]) -> None:
    _, out = founding
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert not fetching(html), fetching(html)
    # the verdict and the root cause: signature, who, fix and stop-gap with its safety note
    assert "Most likely: Negative dentries from the NSS soft token" in html
    assert "nss-negative-dentries" in html
    assert "pid 28714 curl -s -o /dev/null https://vip.example/health" in html
    assert "/bin/bash /opt/probe/check.sh" in html
    assert "nss-softokn 3.14.3" in html and "NSS_SDB_USE_CACHE" in html
    assert "sync; echo 2 &gt; /proc/sys/vm/drop_caches" in html
    assert html.count("<b>Safety:</b>") >= 3
    # the chain, in order
    chain = re.search(r'<div class="chain">(.*?)</div></div>(?!<div class="arrow">)', html, re.S)
    assert chain is not None
    whats = re.findall(r'<span class="what">([^<]+)</span>', chain.group(0))
    assert whats == ["cache / series", "cgroup", "process", "library", "environment key"]
    # the accounting tree adds up to MemTotal, the gap named
    assert "Unaccounted gap" in html and "the buckets and the gap add up to 62.9Gi" in html
    # the finding's chart: the fit, the crossing of 90% (11.8 h), the 80% already crossed
    assert "growth fit +199.9Mi/h over the window" in html
    assert "90% in 11.8 h" in html
    assert "80% total - free (legacy used): already crossed" in html
    # history and coverage
    for title in ("Where the memory is: every bucket over time", "Slab caches: the 8 largest",
                  "Legacy used and the unaccounted gap", "Data coverage"):
        assert title in html
    assert "12, every 12.0 h (median)" in html
    assert "each point is one sample" in html
    assert "Command lines are shown in full" in html


def test_json_summary_and_redact(run_cli: Callable[..., CliResult], founding: tuple[list[str], Path],
                                 tmp_path: Path) -> None:
    roots, _ = founding
    out = tmp_path / "r.html"
    r = run_cli("report", "--root", *roots, "-o", str(out), "--redact", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    html = out.read_text()
    assert doc == {"schema": "memsleuth.report/1", "output": str(out), "bytes": len(html.encode()),
                   "charts": doc["charts"], "points": doc["points"]}
    assert doc["charts"] == html.count("<svg ")
    assert doc["points"] == sum(polyline_points(html))
    # command names only, and the footer says so
    assert "pid 28714 curl" in html and "vip.example/health" not in html and "/opt/probe/check.sh" not in html
    assert "Command lines are redacted" in html


def test_too_little_data_is_the_diagnose_error(run_cli: Callable[..., CliResult],
                                               founding: tuple[list[str], Path], tmp_path: Path) -> None:
    roots, _ = founding
    out = tmp_path / "r.html"
    r = run_cli("report", "--root", *roots[:3], "-o", str(out))
    d = run_cli("diagnose", "--root", *roots[:3])
    assert r.code == 2 == d.code
    assert "a trend needs at least 8 samples" in r.err
    assert r.err.splitlines()[-1] == d.err.splitlines()[-1]
    assert not out.exists()
    r = run_cli("report", "--root", *roots, "-o", str(tmp_path))
    assert r.code == 2 and "is a directory" in r.err
    r = run_cli("report", "--root", *roots, "-o", "-", "--json")
    assert r.code == 2
    r = run_cli("report", "--root", *roots, "--db", "x.db", "-o", str(out))
    assert r.code == 2 and "not --db and --root" in r.err
    assert run_cli("report", "--root", *roots).code == 2  # -o is required
    # --since counts back from the last sample of roots, as for diagnose
    r = run_cli("report", "--root", *roots, "--since", "1d", "-o", str(out))
    assert r.code == 2 and "3 samples over 86400 s" in r.err
    r = run_cli("report", "--root", *roots, "--since", "4d", "-o", str(out), "--json")
    assert r.code == 0 and out.exists()
    out.unlink()
    # a watch too short for a trend is refused before any sampling
    r = run_cli("report", "--watch", "10s", "--interval", "1", "-o", str(out))
    assert r.code == 2 and "too short" in r.err and not out.exists()
    r = run_cli("report", "--help")
    assert r.code == 0 and "memsleuth report" in r.out and "--redact" in r.out


def test_stdout(run_cli: Callable[..., CliResult], founding: tuple[list[str], Path]) -> None:
    roots, _ = founding
    r = run_cli("report", "--root", *roots, "-o", "-")
    assert r.code == 0 and r.out.startswith("<!DOCTYPE html>")


def _hostile_history() -> History:
    """A process that leaks, whose command line and cgroup path are markup."""
    t0 = 1_750_000_000.0
    times = tuple(t0 + 60.0 * i for i in range(90))
    flat = tuple(1.0e9 for _ in times)
    total = 16 * 1024 ** 3
    series = {f"meminfo.{k}": Series(key=f"meminfo.{k}", times=times, values=tuple(v for _ in times))
              for k, v in (("MemTotal", total), ("Cached", 4e9), ("AnonPages", 3e9), ("Slab", 5e8),
                           ("SReclaimable", 3e8), ("SUnreclaim", 2e8), ("Buffers", 1e8))}
    series["meminfo.MemFree"] = Series(key="meminfo.MemFree", times=times,
                                       values=tuple(8e9 - 2e6 * i for i in range(len(times))))
    leak = "proc.4242:777.pss_bytes"
    series[leak] = Series(key=leak, times=times, values=tuple(2e8 + 2e6 * i for i in range(len(times))))
    cg = "cgroup./evil<img src=x onerror=console.error('cg')>.slice.memory.current"
    series[cg] = Series(key=cg, times=times, values=flat)
    cmd = "python3 -c \"<img src=x onerror=console.error('xss')>\" </pre><script>console.error(1)</script>"
    procs = {"4242:777": ProcessInfo(pid=4242, starttime_ticks=777, comm="py<b>thon", cmdline=cmd, ppid=1)}
    return History(hostname="host<i>x</i>", kernel_release="6.1", series=series, processes=procs,
                   mem_total_bytes=total, source="test")


def test_machine_strings_are_escaped() -> None:
    report = diagnosed(_hostile_history())
    assert any(f.series_key.startswith("proc.4242") for f in report.findings)
    html = render_html(report, HtmlOptions()).html
    assert "<img" not in html and "<script>console" not in html and "<b>thon" not in html
    assert "<i>x</i>" not in html
    assert "&lt;img src=x onerror=console.error(&#x27;xss&#x27;)&gt;" in html
    assert "/evil&lt;img src=x" in html
    redacted = render_html(report, HtmlOptions(redact=True)).html
    assert "xss" not in redacted and "py&lt;b&gt;thon" in redacted


def test_thirty_days_of_ten_second_samples_stay_small() -> None:
    history = synthetic_history()
    assert len(history.series["meminfo.MemTotal"]) > 250_000
    report = diagnosed(history)
    (finding,) = [f for f in report.findings if f.series_key == "slab.dentry.size_bytes"]
    assert finding.onset is not None
    t = time.perf_counter()
    page = render_html(report, HtmlOptions())
    seconds = time.perf_counter() - t
    html = page.html
    points = polyline_points(html)
    assert points and max(points) <= MAX_POINTS + 1
    assert len(html.encode()) < 1_000_000, len(html.encode())
    assert seconds < 10, seconds
    assert "each point is the median of 72 minutes" in html
    assert "growth fit +60.0Mi/h from the onset" in html
    # the recording gap on day 12 and the processes' charts
    assert re.search(r"Gaps: 1, about 719 missing samples", html), re.findall(r"Gaps:[^<]*", html)
    assert "Processes: the 8 largest by PSS" in html and "java (pid 1000)" in html
    assert "Memory cgroups: the 4 largest by memory.current" in html
    assert not fetching(html)


_VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "area", "base", "col", "embed", "source",
                   "track", "wbr"})


class _Balance(HTMLParser):
    """Every element that is opened is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]} at {self.getpos()}")
            return
        self.stack.pop()


def test_the_page_is_well_formed(founding: tuple[list[str], Path]) -> None:
    for html in (founding[1].read_text(), render_html(diagnosed(_hostile_history()), HtmlOptions()).html):
        checker = _Balance()
        checker.feed(html)
        checker.close()
        assert checker.problems == [] and checker.stack == [], (checker.problems[:5], checker.stack)
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), "duplicate ids"


def test_ticks() -> None:
    ticks, scale = value_ticks(0.0, 37.5 * 1024 ** 3, "bytes")
    assert scale == 1024 ** 3 and ticks[0] == 0.0 and ticks[1] == 10 * 1024 ** 3
    times, fmt = time_ticks(1_700_000_000.0, 1_700_000_000.0 + 30 * 86400)
    assert fmt == "%Y-%m-%d" and all(t % 86400 == 0 for t in times) and 3 <= len(times) <= 8
    times, fmt = time_ticks(1_700_000_000.0, 1_700_000_000.0 + 0.5)
    assert times and fmt == "%H:%M:%S"


def test_fetching_detector_catches_what_it_should() -> None:
    assert fetching('<img src="https://x/y.png">') and fetching('<script src="//cdn/x.js"></script>')
    assert fetching("<style>@import 'x.css'</style>") and fetching('<link rel="stylesheet" href="a.css">')
    assert not fetching('<a href="https://lwn.net/Articles/894432/">x</a>')


def test_a_finding_without_projections_still_has_its_chart() -> None:
    report = diagnosed(_hostile_history())
    f = dataclasses.replace(report.findings[0], projections=())
    html = render_html(dataclasses.replace(report, findings=(f,)), HtmlOptions()).html
    assert "no projection" in html


def test_a_healthy_host_says_so() -> None:
    history = synthetic_history(days=3.0, interval=60.0)  # the leak starts on day 20
    report = diagnosed(history)
    assert report.healthy
    html = render_html(report, HtmlOptions()).html
    assert "No sustained growth found." in html and "What grows" not in html and "Root cause" not in html
    assert "Where the memory is now" in html and "Processes: the 8 largest" in html
