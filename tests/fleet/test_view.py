"""The fleet summary without a server: signature groups, the drain order, coverage from per-day
counts, a History from a range query's matrix, and the terminal/piped rendering of the JSON dict."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from memsleuth.fleet.model import Coverage, Diagnosed, FleetReport, Screen
from memsleuth.fleet.run import coverage, drain_of, groups_of, history_of, last_boot
from memsleuth.views.fleet import fmt_hours, group_line, render_fleet

END = 1_704_067_200.0
DAY = 86400.0
FULL = Coverage(samples=10081, expected=10081, first=END - 7 * DAY, last=END, joined=False, left=False,
                gaps=False)


def _host(name: str, group: str, *, rule: str | None, rate: float, h90: float | None,
          key: str = "meminfo.SReclaimable", cls: str = "unbounded_cache") -> Diagnosed:
    scr = Screen(instance=name, group=group, mem_total_bytes=16 * 2**30, coverage=FULL,
                 rates={"SReclaimable": rate}, top_bucket="SReclaimable", score=5.0)
    return Diagnosed(screen=scr, step_s=60, points=10081, series=12, longest_gap_s=0, findings=1,
                     subject=key.split(".")[-1], subject_kind="meminfo", series_key=key, growth_class=cls,
                     rate_bytes_per_hour=rate, rate_per_hour=rate, unit="bytes", confidence=0.9,
                     hours_to_80=None if h90 is None else h90 / 2, hours_to_90=h90, basis="legacy_used",
                     soonest_90_hours=h90, soonest_90_subject="SReclaimable", rule=rule,
                     rule_title="Negative dentries" if rule else None,
                     slab_caches=("dentry",) if rule else ())


def _report(found: tuple[Diagnosed, ...]) -> FleetReport:
    gone = Coverage(samples=6000, expected=10081, first=END - 7 * DAY, last=END - 3 * DAY, joined=False,
                    left=True, gaps=False)
    left = Screen(instance="old:9100", group="lb", mem_total_bytes=None, coverage=gone, rates={},
                  top_bucket=None, score=0.0)
    return FleetReport(prometheus="http://prom:9090", match="{}", range_s=7 * DAY, start=END - 7 * DAY,
                       end=END, group_by="cluster", top=20, interval_s=60, step_s=60, max_samples=50_000_000,
                       batches=2, queries=30, screened=(*(d.screen for d in found), left), diagnosed=found,
                       cleared=(), groups=groups_of(found), drain=drain_of(found, END))


def test_groups_by_rule_else_bucket_within_each_group_and_the_drain_order() -> None:
    found = (_host("a", "lb", rule="neg", rate=40e6, h90=50),
             _host("b", "lb", rule="neg", rate=42e6, h90=None),
             _host("c", "web", rule="neg", rate=30e6, h90=10),
             _host("d", "lb", rule=None, rate=20e6, h90=5, key="meminfo.AnonPages", cls="leak"))
    groups = {(g.group, g.key): g for g in groups_of(found)}
    assert set(groups) == {("lb", "rule:neg"), ("web", "rule:neg"), ("lb", "bucket:meminfo.AnonPages:leak")}
    assert groups[("lb", "rule:neg")].hosts == ("a", "b")
    assert groups[("lb", "rule:neg")].median_rate_bytes_per_hour == 41e6
    assert group_line(groups[("lb", "rule:neg")].to_json(), "cluster").startswith(
        "2 hosts of lb: Negative dentries (slab cache dentry) growing 39.1Mi/h (median)")
    assert [d.instance for d in drain_of(found, END)] == ["d", "c", "a"]  # b is not on a 90% trend


def test_coverage_from_the_per_day_counts() -> None:
    start, full = END - 7 * DAY, [1440] * 7
    assert not coverage(full, 10081, start=start, end=END, interval=60).partial
    joined = coverage([1440, 1440, 1440, 1440, 720, 0, 0], 10081, start=start, end=END, interval=60)
    assert joined.joined and not joined.left and joined.first == END - 4.5 * DAY
    left = coverage([0, 360, 1440, 1440, 1440, 1440, 1440], 10081, start=start, end=END, interval=60)
    assert left.left and not left.joined and left.last == END - 2 * DAY + 360 * 60
    gappy = coverage([1440, 1440, 1410, 1440, 1440, 1440, 1440], 10081, start=start, end=END, interval=60)
    assert gappy.gaps and gappy.partial and gappy.note == "scrape gaps"


def test_a_history_from_a_matrix_and_the_boot_inside_it() -> None:
    t = [END - 600 + 60 * i for i in range(10)]

    def m(name: str, v: list[float], **labels: str) -> dict[str, Any]:
        return {"metric": {"__name__": name, "instance": "h:9100", **labels},
                "values": [[x, str(y)] for x, y in zip(t, v, strict=True)]}

    result = [m("node_memory_MemTotal_bytes", [8e9] * 10), m("node_memory_Active_anon_bytes", [1e9] * 10),
              m("memsleuth_slab_cache_bytes", [1e6] * 10, cache="dentry"),
              m("memsleuth_dentries", [5e3] * 10, state="negative"),
              m("memsleuth_signature_match", [1] * 10, rule="negative-dentries-lookups"),
              m("node_boot_time_seconds", [END - 9e5] * 5 + [END - 300] * 5)]
    history, rules, boot = history_of("h:9100", result, source="prometheus x")
    assert set(history.series) == {"meminfo.MemTotal", "meminfo.Active(anon)", "slab.dentry.size_bytes",
                                   "dentry.nr_negative"}
    assert history.mem_total_bytes == 8_000_000_000 and history.hostname == "h:9100"
    assert rules == ("negative-dentries-lookups",) and boot == END - 300
    assert last_boot([(t[0], END - 9e5), (t[-1], END - 9e5)], t[0]) is None  # no reboot in the window


def test_render_piped_and_on_a_terminal() -> None:
    found = (_host("lb002.lb-bj.example.com:9100", "lb", rule="negative-dentries-lookups", rate=60 * 2**20,
                   h90=0.0), _host("web1:9100", "web", rule=None, rate=2**20, h90=None))
    doc = _report(found).to_json()
    assert doc["schema"] == "memsleuth.fleet/1" and doc["hosts_total"] == 3

    def render(terminal: bool) -> str:
        out = io.StringIO()
        Console(file=out, width=100, force_terminal=terminal, no_color=True).print(
            render_fleet(doc), crop=terminal, soft_wrap=not terminal)
        return out.getvalue()

    piped = render(False)
    assert "lb002.lb-bj.example.com:9100" in piped  # never cut when piped
    assert "60.0Mi/h" in piped and "now" in piped and "reclaimable" in piped
    assert "drain first" in piped and "old:9100: 59.5% of the range, left" in piped
    assert "1 host of lb: Negative dentries (slab cache dentry) growing 60.0Mi/h" in piped
    assert "HOST" in render(True)
    assert [fmt_hours(h) for h in (None, 0, 5.2, 50)] == ["-", "now", "5h", "2.1d"]
