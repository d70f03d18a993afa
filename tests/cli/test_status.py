"""``memsleuth status`` on the founding case and live."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import HOSTS, CliResult

KIB = 1024
ROOT = str(HOSTS / "centos6-founding")
#: the founding series' dentry growth per hour (tests/cli/test_diagnose.py)
STEP_KB = 500_000 * 4


def test_founding_case_status_json(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("--root", ROOT, "status", "--json").json()
    assert doc["schema"] == "memsleuth.status/1"
    assert doc["host"]["hostname"] == "lb-web-017"
    assert doc["legacy"]["used_percent"] == pytest.approx(86.35, abs=0.05)
    avail = doc["available"]
    assert avail["estimated"] is True
    assert avail["method"] == "zoneinfo"
    # the kernel's si_mem_available() on the fixture's zoneinfo (PROVENANCE.md)
    assert avail["available_bytes"] == 49887276 * KIB
    assert avail["used_percent"] == pytest.approx(24.3, abs=0.1)
    assert doc["reclaimable_slab_bytes"] == 38506072 * KIB
    assert doc["reasons"][0]["key"] == "slab_reclaimable"
    acct = doc["accounting"]
    total = sum(b["size_bytes"] or 0 for b in acct["buckets"]) + acct["unaccounted_bytes"]
    assert total == 65922868 * KIB
    assert acct["unaccounted_bytes"] == 156252 * KIB


def test_founding_case_status_text_says_why(run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", ROOT, "status")
    assert res.code == 0
    flat = " ".join(res.out.split())
    assert "86.3" in flat
    assert "MemAvailable*" in flat
    assert "Reclaimable slab alone is 36.7Gi" in flat
    assert "CentOS 6 free calls it used" in flat


def test_no_arguments_means_status(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("--root", ROOT).out == run_cli("--root", ROOT, "status").out


@pytest.mark.live
def test_live_status_buckets_add_up(run_cli: Callable[..., CliResult]) -> None:
    doc = run_cli("status", "--json").json()
    acct = doc["accounting"]
    total = sum(b["size_bytes"] or 0 for b in acct["buckets"]) + acct["unaccounted_bytes"]
    assert total == acct["total_bytes"]
    # on an idle VM the kernel itemises almost everything
    assert abs(acct["unaccounted_bytes"]) < 0.05 * acct["total_bytes"]


# -- the one screen: tree, glance, store, PSI, OOM -------------------------------------------


def test_status_shows_the_tree_the_glance_and_what_it_could_not_read(
        run_cli: Callable[..., CliResult]) -> None:
    res = run_cli("--root", ROOT, "status")
    assert res.code == 0
    flat = " ".join(res.out.split())
    assert "Where MemTotal goes" in flat and "Unaccounted (gap)" in flat
    assert "now (one snapshot)" in flat
    assert "reclaimable slab is 36.7Gi, 58% of RAM" in flat
    assert "store: not read for a bundle or root" in flat
    assert "memory pressure (PSI) not available" in flat
    assert "since boot (vmstat oom_kill): /proc/vmstat: not in this bundle or root" in flat
    doc = run_cli("--root", ROOT, "status", "--json").json()
    # the keys status/1 had are all still there
    for key in ("total_bytes", "legacy", "available", "reclaimable_slab_bytes", "groups_bytes", "reasons",
                "explanation", "accounting", "missing"):
        assert key in doc
    assert doc["store"]["state"] == "not read" and doc["growers"] == [] and doc["findings"] == []
    assert {o["key"] for o in doc["glance"]["observations"] if o["severity"] == "suspicious"} == {
        "reclaimable_slab", "views_disagree"}
    assert doc["pressure"] is None and "4.20" in doc["pressure_missing"]
    assert doc["oom"]["kills_since_boot"] is None and "vmstat" in doc["oom"]["kills_missing"]
    assert doc["oom"]["kernel_log"]["readable"] is False


def test_status_with_a_store_lists_growers_and_findings(run_cli: Callable[..., CliResult],
                                                        tmp_path: Path) -> None:
    from tests.cli.test_diagnose import _store_from_roots, make_roots

    db = tmp_path / "m.db"
    _store_from_roots(db, make_roots(tmp_path / "roots"))
    doc = run_cli("--root", ROOT, "status", "--db", str(db), "--json").json()
    assert doc["store"]["state"] == "read" and doc["store"]["samples"] == 8
    keys = [g["series_key"] for g in doc["growers"]]
    assert keys[0] in ("slab.dentry.size_bytes", "meminfo.SReclaimable"), keys
    assert doc["growers"][0]["per_hour_bytes"] == pytest.approx(STEP_KB * KIB, rel=0.01)
    assert {f["series_key"] for f in doc["findings"]} & {"slab.dentry.size_bytes", "meminfo.SReclaimable"}
    text = " ".join(run_cli("--root", ROOT, "status", "--db", str(db)).out.split())
    assert "top growers" in text and "slab cache dentry" in text and "open findings" in text
    # --last: the samples are from 2023, so the last 30 minutes hold none
    late = run_cli("--root", ROOT, "status", "--db", str(db), "--last", "30m", "--json").json()
    assert late["store"]["state"] == "empty" and late["store"]["last_seconds"] == 1800


@pytest.mark.live
def test_no_store_says_how_to_start_one(run_cli: Callable[..., CliResult], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import memsleuth.cli.commands.record as record

    monkeypatch.setattr(record, "DEFAULT_DB", str(tmp_path / "none.db"))
    res = run_cli("status")
    assert res.code == 0
    assert "no store: start 'memsleuth record'" in " ".join(res.out.split())
    assert run_cli("status", "--json").json()["store"]["state"] == "missing"


def test_status_bad_options(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("status", "--interval", "0").code == 2
    assert run_cli("status", "--count", "2").code == 2
    assert run_cli("status", "--last", "0").code == 2
