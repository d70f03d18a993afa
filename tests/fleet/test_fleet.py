"""``fleet`` against a real Prometheus holding the synthetic fleet: ranking, grouping, coverage and
the drain list checked against the generator's ground truth (tests/fleet/gen_fleet.py)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from typing import Any

import pytest

from memsleuth.cli.main import main
from memsleuth.collect.rules import load_rules
from memsleuth.fleet.client import PromClient
from memsleuth.fleet.model import FleetReport
from memsleuth.fleet.plan import hosts_per_batch, sample_estimate
from memsleuth.fleet.run import FleetRequest, run_fleet
from tests.fleet.conftest import Fleet

RANGE = 7 * 86400.0


def _run(fleet: Fleet, **kw: Any) -> tuple[FleetReport, float]:
    client = PromClient(fleet.url, timeout=60)
    t0 = time.monotonic()
    req = FleetRequest(inner=kw.pop("inner", ""), match="{}", range_s=RANGE, end=float(fleet.end), **kw)
    report = run_fleet(client, req, load_rules([]))
    return report, time.monotonic() - t0


@pytest.fixture(scope="module")
def by_cluster(fleet: Fleet) -> FleetReport:
    report, seconds = _run(fleet, group_by="cluster", top=20)
    how = "cached" if fleet.cached else "generated"
    print(f"\nfleet fixture setup {fleet.setup_seconds:.1f} s ({how}); fleet run (200 hosts, --group-by "
          f"cluster) {seconds:.1f} s, {report.queries} queries")
    return report


def test_every_leaker_is_found_and_nothing_else(fleet: Fleet, by_cluster: FleetReport) -> None:
    truth = {x["instance"]: x for x in fleet.manifest["leakers"]}
    found = {d.instance: d for d in by_cluster.diagnosed}
    assert len(by_cluster.diagnosed) <= 20
    assert set(found) == set(truth), (f"missed {sorted(set(truth) - set(found))}, "
                                      f"false positives {sorted(set(found) - set(truth))}")
    # the screen also fetched distractors (a sawtooth's upswing looks like a fresh leak for a few
    # hours): the detector, not the screen, cleared them
    assert by_cluster.cleared and not {c.instance for c in by_cluster.cleared} & set(truth)
    for inst, d in found.items():
        t = truth[inst]
        # the finding is about the leaking bucket (or the slab cache inside it) at the true rate
        if t["slab_cache"]:
            assert d.series_key == f"slab.{t['slab_cache']}.size_bytes", inst
            assert d.slab_caches == (t["slab_cache"],)
        else:
            assert d.series_key == t["series_key"], inst
        assert d.rate_bytes_per_hour == pytest.approx(t["rate_bytes_per_hour"], rel=0.15), inst
        assert d.growth_class == ("unbounded_cache" if t["kind"] == "reclaimable_slab" else "leak"), inst


def test_the_rebooted_host_is_judged_since_its_boot(fleet: Fleet, by_cluster: FleetReport) -> None:
    (t,) = [x for x in fleet.manifest["leakers"] if x["rebooted_at"]]
    (d,) = [d for d in by_cluster.diagnosed if d.instance == t["instance"]]
    assert d.rebooted_at == pytest.approx(t["rebooted_at"], abs=300)
    assert d.rate_bytes_per_hour == pytest.approx(t["rate_bytes_per_hour"], rel=0.15)


def test_onsets_are_roughly_right(fleet: Fleet, by_cluster: FleetReport) -> None:
    # a leak from day 2 of 7 (to 6 hours), and one that began 4 hours before the end (to 1 hour)
    late = [x for x in fleet.manifest["leakers"] if x["onset"]]
    assert len(late) == 2
    for t in late:
        (d,) = [d for d in by_cluster.diagnosed if d.instance == t["instance"]]
        fresh = fleet.end - t["onset"] < 86400
        assert d.onset is not None and abs(d.onset - t["onset"]) < (3600 if fresh else 6 * 3600)


def test_joined_left_and_gappy_hosts_have_partial_coverage(fleet: Fleet, by_cluster: FleetReport) -> None:
    partial = {s.instance: s.coverage for s in by_cluster.partial}
    dist = fleet.manifest["distractors"]
    for j in dist["joined"]:
        cov = partial[j["instance"]]
        assert cov.joined and cov.first == pytest.approx(j["at"], abs=600)
    for left in dist["left"]:
        cov = partial[left["instance"]]
        assert cov.left and cov.last == pytest.approx(left["at"], abs=600)
    gappy = {g["instance"] for g in dist["gaps"]}
    assert gappy <= set(partial)
    whole = {j["instance"] for j in dist["joined"]} | {x["instance"] for x in dist["left"]} | gappy
    assert set(partial) == whole, "a host with every sample is not partial"


def test_signature_groups_and_the_drain_list(fleet: Fleet, by_cluster: FleetReport) -> None:
    truth = fleet.manifest["leakers"]
    dentry = sorted(x["instance"] for x in truth if x["slab_cache"] == "dentry")
    (g,) = [g for g in by_cluster.groups if set(g.hosts) & set(dentry)]
    assert sorted(g.hosts) == dentry and g.group == "lb-bj"
    assert g.key.startswith("rule:")  # the memsleuth exporter's dentry series name the signature
    others = [g for g in by_cluster.groups if g.group != "lb-bj"]
    for g in others:  # plain node_exporter data: grouped by bucket and class
        kinds = {x["series_key"] for x in truth if x["instance"] in g.hosts}
        assert len(kinds) == 1 and g.key == f"bucket:{kinds.pop()}:leak"
    assert sum(len(g.hosts) for g in by_cluster.groups) == len(truth)
    hours = [d.hours for d in by_cluster.drain]
    assert hours == sorted(hours) and len(hours) == len(truth)
    # the fastest reclaimable leaker on a small host crosses 90% legacy used first
    fastest = max((x for x in truth if x["kind"] == "reclaimable_slab"),
                  key=lambda x: x["rate_bytes_per_hour"])
    assert by_cluster.drain[0].instance == fastest["instance"]


def test_batches_stay_under_the_sample_budget_and_give_the_same_answer(fleet: Fleet,
                                                                      by_cluster: FleetReport) -> None:
    small = 2_000_000
    report, _ = _run(fleet, top=20, max_samples=small)
    per = hosts_per_batch(RANGE, report.interval_s, small)
    assert sample_estimate(per, RANGE, report.interval_s) <= small / 2
    assert report.batches >= len(fleet.manifest["hosts"]) / per
    assert {d.instance for d in report.diagnosed} == {d.instance for d in by_cluster.diagnosed}


def test_cli_json_and_table(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fleet", "--prometheus", fleet.url, "--end", str(fleet.end), "--group-by", "cluster",
            "--top", "20"]
    assert main([*args, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "memsleuth.fleet/1"
    assert {h["instance"] for h in doc["hosts"]} == {x["instance"] for x in fleet.manifest["leakers"]}
    assert doc["drain"][0]["hours_to_90"] <= doc["drain"][-1]["hours_to_90"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert err == ""  # progress only on a terminal
    assert "same signature" in out and "drain first" in out and "partial coverage" in out
    dentry = [x for x in fleet.manifest["leakers"] if x["slab_cache"] == "dentry"]
    assert f"{len(dentry)} hosts of lb-bj: " in out


def test_a_match_narrows_the_fleet(fleet: Fleet) -> None:
    report, _ = _run(fleet, inner='cluster="db-gz"', top=5)
    assert {s.instance for s in report.screened} == {h["instance"] for h in fleet.manifest["hosts"]
                                                      if h["cluster"] == "db-gz"}
    assert {d.instance for d in report.diagnosed} == {x["instance"] for x in fleet.manifest["leakers"]
                                                      if x["cluster"] == "db-gz"}


def test_distractors_fetched_anyway_are_cleared_by_the_detector(fleet: Fleet) -> None:
    # the screen did not flag them; diagnosed on their raw series, the same detector as diagnose
    # finds nothing growing in a daily sawtooth, page-cache churn, a gappy, a joined or a left host
    dist = fleet.manifest["distractors"]
    leakers = {x["instance"] for x in fleet.manifest["leakers"]}
    picked = [*dist["sawtooth"][:4], *[c for c in dist["churn"] if c not in leakers][:4],
              *[g["instance"] for g in dist["gaps"] if g["instance"] not in leakers][:2],
              *[j["instance"] for j in dist["joined"]], *[x["instance"] for x in dist["left"]]]
    report, _ = _run(fleet, top=1, hosts=tuple(picked))
    assert {d.instance for d in report.cleared} == set(picked) - {d.instance for d in report.diagnosed}
    assert {d.instance for d in report.diagnosed} <= leakers, "a distractor was diagnosed as growing"
    assert len(report.diagnosed) == 1 and any("more flagged hosts" in n for n in report.notes)


def test_progress_on_a_terminal_only(fleet: Fleet) -> None:
    master, slave = pty.openpty()
    args = [sys.executable, "-m", "memsleuth", "fleet", "--prometheus", fleet.url, "--end", str(fleet.end),
            "--match", '{cluster="db-gz"}', "--json"]
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=slave, timeout=120, check=False)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 1 and json.loads(proc.stdout)["schema"] == "memsleuth.fleet/1"
    assert b"memsleuth: screening" in seen and b"diagnosing the top hosts" in seen
    piped = subprocess.run(args, capture_output=True, timeout=120, check=False)
    assert piped.returncode == 1 and piped.stderr == b""
